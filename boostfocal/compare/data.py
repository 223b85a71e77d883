"""Reading a user's table into a numeric data set, with one-line errors for anything unusable.

:func:`read_table` reads a CSV (optionally compressed, or tab-separated) or Parquet file;
:func:`dataset_from_frame` does the checks and the conversion for a pandas DataFrame. Both raise
:class:`DataError` with a message that says what is wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from ..datasets import Dataset
from .errors import CompareError, DataError

__all__ = ["dataset_from_frame", "encode_labels", "read_table"]

# Formats read_table understands (the --help of --data and docs/compare.md list these).
DATA_FORMATS = "CSV (also .gz, .bz2, .xz or .zip compressed; .tsv: tab-separated) or Parquet (.parquet, .pq)"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _name_list(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(repr(str(name)) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def read_table(path, label: str = "label", drop: Sequence[str] = ()) -> Dataset:
    """Read a CSV (optionally compressed) or Parquet file into a numeric :class:`Dataset`.

    The label column may hold integers, floats or strings; its distinct values, sorted, become the
    classes 0..K-1 and their names. Feature columns must be numeric (bool and numeric text are
    converted; missing values stay NaN, which both boosters handle). Columns named in ``drop`` are
    left out. Raises :class:`DataError` naming the problem for an unreadable file, a missing label
    column, missing labels, fewer than two classes, non-numeric or infinite features, or no rows.
    """
    try:
        import pandas as pd
    except ImportError as error:  # pragma: no cover - pandas is in the [bench] and [all] extras
        raise CompareError("reading --data needs pandas: pip install pandas") from error
    path = Path(path)
    if path.is_dir():
        raise DataError(f"cannot read {path}: it is a folder; give the path of a CSV or Parquet file")
    if not path.is_file():
        raise DataError(f"cannot read {path}: no such file")
    suffixes = [suffix.lower() for suffix in path.suffixes]
    try:
        if suffixes and suffixes[-1] in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            compressed = suffixes[-1] if suffixes else ""
            text_suffix = suffixes[-2] if compressed in (".gz", ".bz2", ".xz", ".zip", ".zst") and len(suffixes) > 1 else compressed
            frame = pd.read_csv(path, sep="\t" if text_suffix == ".tsv" else ",")
    except ImportError as error:
        raise CompareError(f"cannot read {path}: {_first_line(error)}") from error
    except Exception as error:  # pandas/pyarrow raise many types for a malformed file
        raise DataError(f"cannot read {path}: {_first_line(error)}") from error
    return dataset_from_frame(frame, label=label, drop=drop, name=path.name)


def dataset_from_frame(frame, label: str = "label", drop: Sequence[str] = (), name: str = "data") -> Dataset:
    """A numeric :class:`Dataset` from a pandas DataFrame (see :func:`read_table` for the rules)."""
    import pandas as pd

    columns = [str(column) for column in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if label not in columns:
        raise DataError(
            f"{name}: no label column {label!r}; the columns are {_name_list(columns)} "
            "(name the label column with --label)"
        )
    unknown = [column for column in drop if column not in columns]
    if unknown:
        raise DataError(f"{name}: --drop names column(s) not in the file: {_name_list(unknown)}")
    if len(frame) == 0:
        raise DataError(f"{name}: the file has no data rows")
    labels = frame[label]
    n_missing = int(labels.isna().sum())
    if n_missing:
        raise DataError(f"{name}: label column {label!r} has {n_missing} missing value(s)")
    y, class_names = encode_labels(labels.to_numpy())
    if len(class_names) < 2:
        raise DataError(
            f"{name}: label column {label!r} has only one class ({class_names[0]!r}); "
            "a classifier needs at least two"
        )
    feature_names = [column for column in columns if column != label and column not in drop]
    if not feature_names:
        raise DataError(f"{name}: no feature columns left besides the label {label!r}")
    converted, bad = {}, []
    for column in feature_names:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            converted[column] = values.astype(np.float64)
            continue
        # Text that is entirely numbers (for example "1.5" read as object) is usable as is.
        numbers = pd.to_numeric(values, errors="coerce") if values.dtype == object else None
        if numbers is not None and int(numbers.isna().sum()) == int(values.isna().sum()):
            converted[column] = numbers.astype(np.float64)
        else:
            bad.append(column)
    if bad:
        example = frame[bad[0]].dropna()
        sample = f" (e.g. {str(example.iloc[0])!r} in {bad[0]!r})" if len(example) else ""
        raise DataError(
            f"{name}: feature column(s) {_name_list(bad)} are not numeric{sample}; encode them as "
            f"numbers, or leave them out with --drop {','.join(bad[:8])}"
        )
    X = np.column_stack([converted[column].to_numpy() for column in feature_names])
    infinite = [feature_names[j] for j in np.flatnonzero(np.isinf(X).any(axis=0))]
    if infinite:
        raise DataError(f"{name}: feature column(s) {_name_list(infinite)} contain infinite values")
    return Dataset(
        X=np.ascontiguousarray(X, dtype=np.float64),
        y=y,
        feature_names=tuple(feature_names),
        class_names=tuple(class_names),
        name=name,
        source=name,
    )


def encode_labels(values) -> Tuple[np.ndarray, List[str]]:
    """Sorted distinct labels -> codes 0..K-1 (int64) and the labels' names as strings."""
    values = np.asarray(values)
    try:
        classes, codes = np.unique(values, return_inverse=True)
    except TypeError:  # mixed types (say, ints and strings in one column): compare as text
        classes, codes = np.unique(values.astype(str), return_inverse=True)
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        names = [str(int(value)) for value in classes]  # 1.0 -> "1": a float column of integers
    else:
        names = [str(value) for value in classes]
    return codes.reshape(-1).astype(np.int64), names

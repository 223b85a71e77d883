"""Focal loss against the built-in softmax objective, side by side, on one held-out split.

:func:`compare` trains, for each booster (XGBoost, LightGBM), the built-in softmax objective
(``multi:softprob`` / ``multiclass``) and the focal objective on the same stratified training split,
with the same rounds, learning rate, tree shape, seed and threads, and scores both on the held-out
rows. The focal models start from the focal loss's own optimal constant
(:meth:`FocalLoss.init_raw_prediction`), as the softmax ones start from the class priors.

:func:`read_table` turns a user's CSV or Parquet file into a numeric data set, raising
:class:`DataError` with a one-line message for anything it cannot use. :func:`format_report`,
:func:`save_json` and :func:`save_figure` render a result. The command line (``boostfocal compare``)
is a thin layer over these functions.

The metrics are computed here from the confusion matrix and the raw margins (scikit-learn is not
needed): macro-F1 (mean over classes of 2PR/(P+R), 0 for a class never predicted), balanced accuracy
(mean per-class recall) and multiclass log loss (mean of -log softmax(z)_t).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .datasets import Dataset
from .loss import FocalLoss, balanced_alpha

__all__ = [
    "BOOSTERS",
    "CompareError",
    "DataError",
    "classification_metrics",
    "compare",
    "format_report",
    "read_table",
    "save_figure",
    "save_json",
    "stratified_split",
]

BOOSTERS = ("xgboost", "lightgbm")
BOOSTER_TITLES = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}
# Tree shape used for every contender: each booster's own default.
XGBOOST_MAX_DEPTH = 6
LIGHTGBM_NUM_LEAVES = 31
# Points of the learning curves (evenly spaced rounds; every round when there are fewer).
CURVE_POINTS = 40
# Seconds between progress lines during one long training run.
PROGRESS_EVERY_S = 10.0

Progress = Optional[Callable[[str], None]]


class CompareError(Exception):
    """A problem the command line reports as one line (exit code 2) instead of a traceback."""


class DataError(CompareError, ValueError):
    """The user's data cannot be used as given (the message says why and what to do)."""


# ---------------------------------------------------------------------------------------- data
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


def stratified_split(y, test_size: float = 0.25, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) row indices with round(test_size * n_k) test rows of each class k,
    at least one in each part. Raises :class:`DataError` for a class with fewer than two rows."""
    y = np.asarray(y)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    counts = np.bincount(y)
    small = np.flatnonzero((counts > 0) & (counts < 2))
    if small.size:
        raise DataError(
            f"{small.size} class(es) have a single row (e.g. label code {small[0]}); each class "
            "needs at least 2 rows for a stratified train/test split"
        )
    rng = np.random.default_rng(seed)
    test_parts = []
    for k in np.flatnonzero(counts):
        rows = rng.permutation(np.flatnonzero(y == k))
        n_test = int(min(max(round(test_size * rows.size), 1), rows.size - 1))
        test_parts.append(rows[:n_test])
    test = np.sort(np.concatenate(test_parts))
    train = np.setdiff1d(np.arange(y.size), test, assume_unique=True)
    return train, test


# ------------------------------------------------------------------------------------- metrics
def _log_softmax(raw: np.ndarray) -> np.ndarray:
    shifted = raw - raw.max(axis=1, keepdims=True)  # max-subtracted: exp cannot overflow
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def classification_metrics(y_true, raw_prediction, n_classes: int) -> Dict[str, object]:
    """Scores of raw margins (n, K): macro-F1, balanced accuracy, accuracy, log loss, and per-class
    recall, precision, F1, support and the confusion matrix (rows: true class, columns: predicted).

    A class with no test rows has recall NaN and is left out of the macro averages; a class never
    predicted has precision 0 (as scikit-learn's ``zero_division=0``).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    raw = np.asarray(raw_prediction, dtype=np.float64)
    predicted = raw.argmax(axis=1)
    confusion = np.bincount(y_true * n_classes + predicted, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes)
    support = confusion.sum(axis=1)
    n_predicted = confusion.sum(axis=0)
    hits = np.diag(confusion).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, hits / support, np.nan)
        precision = np.where(n_predicted > 0, hits / n_predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = support > 0
    log_p_true = _log_softmax(raw)[np.arange(y_true.size), y_true]
    return {
        "macro_f1": float(np.mean(f1[present])),
        "balanced_accuracy": float(np.mean(recall[present])),
        "accuracy": float(hits.sum() / y_true.size),
        "log_loss": float(-np.mean(log_p_true)),
        "recall": recall.tolist(),
        "precision": precision.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
        "confusion": confusion.tolist(),
    }


# ------------------------------------------------------------------------------------ training
class _Ticker:
    """Emits 'round r/R' progress lines at most every PROGRESS_EVERY_S seconds."""

    def __init__(self, progress: Progress, prefix: str, rounds: int) -> None:
        self.progress, self.prefix, self.rounds = progress, prefix, rounds
        self.last = time.perf_counter()

    def __call__(self, finished_rounds: int) -> None:
        now = time.perf_counter()
        if self.progress is not None and now - self.last >= PROGRESS_EVERY_S:
            self.progress(f"{self.prefix}: round {finished_rounds}/{self.rounds}")
            self.last = now


def _curve_rounds(rounds: int) -> List[int]:
    return sorted(set(np.linspace(1, rounds, min(rounds, CURVE_POINTS)).round().astype(int).tolist()))


def _contenders(loss: FocalLoss, y_train: np.ndarray, n_classes: int) -> List[dict]:
    """softmax, [softmax with alpha as class weights,] focal. The weighted softmax is added when the
    focal loss has an alpha, so that focusing and re-weighting can be told apart."""
    focal = loss.resolve_alpha(y_train, n_classes=n_classes)
    contenders = [{"name": "softmax", "loss": None, "class_weight": None}]
    if focal.alpha is not None:
        contenders.append({"name": "softmax+w", "loss": None, "class_weight": np.asarray(focal.alpha)})
    contenders.append({"name": "focal", "loss": focal, "class_weight": None})
    return contenders


def _fit_xgboost(contender, X_train, y_train, X_test, n_classes, settings, ticker) -> Tuple[float, object]:
    import xgboost as xgb

    params = {
        "tree_method": "hist",
        "max_depth": XGBOOST_MAX_DEPTH,
        "learning_rate": settings["learning_rate"],
        "num_class": n_classes,
        "seed": settings["seed"],
        "nthread": settings["n_threads"],
        "device": settings["device"],
        "verbosity": 0,
    }
    loss = contender["loss"]
    weight = None if contender["class_weight"] is None else contender["class_weight"][y_train]

    class Tick(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            ticker(epoch + 1)
            return False

    start = time.perf_counter()
    dtrain = xgb.DMatrix(X_train, label=y_train, weight=weight, nthread=settings["n_threads"])
    if loss is None:
        params["objective"] = "multi:softprob"
        booster = xgb.train(params, dtrain, settings["rounds"], callbacks=[Tick()])
    else:
        # A length-K base_score is taken as the K starting margins (XGBoost >= 3.0).
        params["base_score"] = loss.init_raw_prediction(y_train, n_classes=n_classes).tolist()
        params["disable_default_eval_metric"] = 1
        booster = xgb.train(params, dtrain, settings["rounds"], obj=loss.xgboost_objective, callbacks=[Tick()])
    elapsed = time.perf_counter() - start
    dtest = xgb.DMatrix(X_test, nthread=settings["n_threads"])

    def raw_after(n_rounds: int) -> np.ndarray:
        return booster.predict(dtest, output_margin=True, iteration_range=(0, n_rounds))

    return elapsed, raw_after


def _fit_lightgbm(contender, X_train, y_train, X_test, n_classes, settings, ticker) -> Tuple[float, object]:
    import lightgbm as lgb

    params = {
        "num_class": n_classes,
        "learning_rate": settings["learning_rate"],
        "num_leaves": LIGHTGBM_NUM_LEAVES,
        "seed": settings["seed"],
        "num_threads": settings["n_threads"],
        "verbosity": -1,
    }
    if settings["device"] != "cpu":
        params["device_type"] = settings["lightgbm_device"]
    loss = contender["loss"]
    weight = None if contender["class_weight"] is None else contender["class_weight"][y_train]
    init = np.zeros(n_classes)

    def tick(env) -> None:
        ticker(env.iteration + 1)

    start = time.perf_counter()
    if loss is None:
        params["objective"] = "multiclass"
        train_set = lgb.Dataset(X_train, label=y_train, weight=weight)
    else:
        params["objective"] = loss.lightgbm_objective
        init = loss.init_raw_prediction(y_train, n_classes=n_classes)
        # LightGBM takes the starting margins per row (n, K) and leaves them out of predict().
        train_set = lgb.Dataset(
            X_train, label=y_train, weight=weight, init_score=np.tile(init, (y_train.size, 1))
        )
    try:
        booster = lgb.train(params, train_set, settings["rounds"], callbacks=[tick])
    except lgb.basic.LightGBMError as error:
        raise CompareError(f"LightGBM failed: {_first_line(error)}") from error
    elapsed = time.perf_counter() - start

    def raw_after(n_rounds: int) -> np.ndarray:
        raw = booster.predict(X_test, raw_score=True, num_iteration=n_rounds)
        return raw.reshape(X_test.shape[0], n_classes) + init

    return elapsed, raw_after


_FITTERS = {"xgboost": _fit_xgboost, "lightgbm": _fit_lightgbm}

# Below this many gradient entries (rows x classes) one focal kernel call takes well under a
# millisecond on one thread, and waking a thread pool costs more than it saves. XGBoost and Numba
# also bring separate OpenMP runtimes whose idle threads spin, so on a busy machine the pools fight.
SINGLE_THREAD_KERNEL_BELOW = 200_000


class _KernelThreads:
    """Context manager: Numba threads for the focal kernels while training, restored afterwards."""

    def __init__(self, n_entries: int, n_threads: int) -> None:
        self.wanted = 1 if n_entries < SINGLE_THREAD_KERNEL_BELOW else n_threads
        self.previous = None

    def __enter__(self):
        import numba

        self.previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(self.wanted, numba.config.NUMBA_NUM_THREADS)))
        return self

    def __exit__(self, *exc_info) -> None:
        import numba

        numba.set_num_threads(self.previous)


# Training sets smaller than this run on one thread by default: a round then takes milliseconds, and
# thread synchronisation costs more than it saves (badly so on a machine shared with other work).
MULTITHREAD_FROM_ROWS = 20_000


def _auto_threads(n_train: int) -> int:
    return 1 if n_train < MULTITHREAD_FROM_ROWS else (os.cpu_count() or 1)


def _booster_version(booster: str) -> str:
    import importlib

    try:
        return importlib.import_module(booster).__version__
    except ImportError as error:
        raise CompareError(
            f"--booster {booster} needs the {booster} package: pip install 'boostfocal[{booster}]'"
        ) from error


def _lightgbm_gpu_device() -> str:
    """LightGBM's device_type for --device cuda: "cuda" (CUDA build) or else "gpu" (OpenCL build),
    whichever trains one round on a few rows."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 2)), np.arange(200) % 2
    for device in ("cuda", "gpu"):
        try:
            lgb.train({"objective": "binary", "device_type": device, "verbosity": -1}, lgb.Dataset(X, label=y), 1)
            return device
        except lgb.basic.LightGBMError:
            continue
    raise CompareError(
        "this LightGBM build has no GPU support (neither CUDA nor OpenCL); "
        "use --booster xgboost or --device cpu"
    )


def _warm_up(booster: str, focal_contender: dict, n_classes: int, settings: dict) -> None:
    """One round on a few synthetic rows, so that Numba compiles (or loads from its cache) the
    kernel variant this booster calls (XGBoost passes float32 C-ordered margins, LightGBM float64
    Fortran-ordered ones) before any training is timed."""
    rng = np.random.default_rng(0)
    # Enough rows that LightGBM keeps the features (it drops those it could never split).
    y = np.arange(max(200, 2 * n_classes), dtype=np.int64) % n_classes
    X = rng.normal(size=(y.size, 2))
    tiny = {**settings, "rounds": 1, "n_threads": 1}
    _FITTERS[booster](focal_contender, X, y, X[:2], n_classes, tiny, lambda finished: None)


def compare(
    X,
    y,
    *,
    loss: Optional[FocalLoss] = None,
    boosters: Sequence[str] = BOOSTERS,
    rounds: int = 100,
    learning_rate: float = 0.1,
    test_size: float = 0.25,
    seed: int = 0,
    device: str = "cpu",
    n_threads: Optional[int] = None,
    class_names: Optional[Sequence[str]] = None,
    data_name: str = "data",
    progress: Progress = None,
) -> Dict[str, object]:
    """Train softmax and focal models side by side and score them on a held-out split.

    Parameters
    ----------
    X : (n_samples, n_features) numeric array (NaN = missing)
    y : (n_samples,) integer labels 0..K-1, every class with at least 2 rows
    loss : FocalLoss, default FocalLoss() (gamma=2). With an alpha (a vector or "balanced", resolved on
        the training rows) a third contender "softmax+w" trains softmax with alpha as class weights.
    boosters : subset of ("xgboost", "lightgbm")
    rounds, learning_rate : boosting rounds and shrinkage, the same for every contender
    test_size, seed : stratified held-out fraction and the seed of the split and of the boosters
    device : "cpu" or "cuda"
    n_threads : threads of the boosters and the focal kernels (default: 1 below 20,000 training
        rows, else all cores)
    progress : optional callable receiving one progress line at a time

    Returns
    -------
    dict (JSON-serialisable): ``config``, ``data`` (sizes, class names and counts) and ``results``
    keyed by booster, each with ``params`` and ``contenders`` keyed by name, holding the metrics of
    :func:`classification_metrics`, ``train_time_s`` and the learning curve ``curve`` (test log loss
    and macro-F1 after each of up to 40 evenly spaced rounds).
    """
    loss = FocalLoss() if loss is None else loss
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be 2-D and y 1-D with as many rows; got {X.shape} and {y.shape}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    unknown = [name for name in boosters if name not in BOOSTERS]
    if unknown or not boosters:
        raise ValueError(f"boosters must be a non-empty subset of {BOOSTERS}, got {list(boosters)}")
    n_classes = int(y.max()) + 1
    if class_names is None:
        class_names = [str(k) for k in range(n_classes)]
    if len(class_names) != n_classes:
        raise ValueError(f"{len(class_names)} class names for {n_classes} classes")
    counts = np.bincount(y, minlength=n_classes)
    if np.count_nonzero(counts) < 2:
        raise DataError("the labels hold a single class; a classifier needs at least two")
    single = [class_names[k] for k in np.flatnonzero(counts == 1)]
    if single:
        raise DataError(
            f"class(es) {_name_list(single)} have a single row; each class needs at least 2 rows "
            "for a stratified train/test split (drop or merge those rows)"
        )
    if isinstance(loss.alpha, np.ndarray) and loss.alpha.shape[0] != n_classes:
        raise DataError(
            f"--alpha has {loss.alpha.shape[0]} values but the data have {n_classes} classes "
            f"(in this order: {_name_list(list(class_names), 12)})"
        )
    versions = {name: _booster_version(name) for name in boosters}

    train, test = stratified_split(y, test_size, seed)
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    settings = {
        "rounds": int(rounds),
        "learning_rate": float(learning_rate),
        "seed": int(seed),
        "device": device,
        "n_threads": int(n_threads) if n_threads else _auto_threads(train.size),
    }
    if device == "cuda" and "lightgbm" in boosters:
        settings["lightgbm_device"] = _lightgbm_gpu_device()
    contenders = _contenders(loss, y_train, n_classes)
    curve_rounds = _curve_rounds(settings["rounds"])

    results: Dict[str, object] = {}
    for booster in boosters:
        entry: Dict[str, object] = {"version": versions[booster], "contenders": {}}
        entry["params"] = (
            {"tree_method": "hist", "max_depth": XGBOOST_MAX_DEPTH}
            if booster == "xgboost"
            else {"num_leaves": LIGHTGBM_NUM_LEAVES}
        )
        if device == "cuda":
            entry["params"]["device" if booster == "xgboost" else "device_type"] = (
                "cuda" if booster == "xgboost" else settings["lightgbm_device"]
            )
        _warm_up(booster, contenders[-1], n_classes, settings)
        for contender in contenders:
            prefix = f"{booster} {contender['name']}"
            if progress is not None:
                progress(f"{prefix}: training {settings['rounds']} rounds on {y_train.size} rows")
            ticker = _Ticker(progress, prefix, settings["rounds"])
            with _KernelThreads(y_train.size * n_classes, settings["n_threads"]):
                elapsed, raw_after = _FITTERS[booster](
                    contender, X_train, y_train, X_test, n_classes, settings, ticker
                )
            scores = classification_metrics(y_test, raw_after(settings["rounds"]), n_classes)
            curve = {"rounds": curve_rounds, "log_loss": [], "macro_f1": []}
            for n_rounds in curve_rounds:
                point = classification_metrics(y_test, raw_after(n_rounds), n_classes)
                curve["log_loss"].append(point["log_loss"])
                curve["macro_f1"].append(point["macro_f1"])
            scores.update(train_time_s=elapsed, curve=curve)
            entry["contenders"][contender["name"]] = scores
            if progress is not None:
                progress(f"{prefix}: {elapsed:.2f} s, macro-F1 {scores['macro_f1']:.4f}")
        results[booster] = entry

    focal = contenders[-1]["loss"]
    return {
        "config": {
            "gamma": focal.gamma,
            "alpha": loss.alpha if isinstance(loss.alpha, (str, type(None))) else np.asarray(loss.alpha).tolist(),
            "alpha_resolved": None if focal.alpha is None else np.asarray(focal.alpha).tolist(),
            "hessian": focal.hessian,
            "rounds": settings["rounds"],
            "learning_rate": settings["learning_rate"],
            "test_size": float(test_size),
            "seed": settings["seed"],
            "device": device,
            "n_threads": settings["n_threads"],
            "boosters": list(boosters),
        },
        "data": {
            "name": data_name,
            "n_train": int(train.size),
            "n_test": int(test.size),
            "n_features": int(X.shape[1]),
            "class_names": [str(name) for name in class_names],
            "train_counts": np.bincount(y_train, minlength=n_classes).tolist(),
            "test_counts": np.bincount(y_test, minlength=n_classes).tolist(),
        },
        "results": results,
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.machine(),
            **versions,
        },
    }


# ----------------------------------------------------------------------------------- rendering
def _rarest_first(result: Dict[str, object], limit: int) -> List[int]:
    counts = np.asarray(result["data"]["train_counts"])
    order = np.argsort(counts, kind="stable")
    return order[: min(limit, counts.size)].tolist()


def format_report(result: Dict[str, object], max_classes: int = 6) -> str:
    """Plain-text tables, one per booster: metrics by contender and focal minus softmax.

    Per-class recall is listed for all classes when there are at most ``max_classes``, otherwise for
    the ``max_classes`` rarest (by training rows); the JSON holds every class.
    """
    data, config = result["data"], result["config"]
    alpha = config["alpha"] if config["alpha"] is None or isinstance(config["alpha"], str) else "vector"
    lines = [
        f"data: {data['name']}, {data['n_train']} training / {data['n_test']} test rows (stratified), "
        f"{data['n_features']} features, {len(data['class_names'])} classes",
        f"focal loss: gamma={config['gamma']:g}, alpha={alpha}, hessian={config['hessian']!r}; "
        f"{config['rounds']} rounds, learning rate {config['learning_rate']:g}, seed {config['seed']}, "
        f"device {config['device']}, {config['n_threads']} threads",
    ]
    classes = _rarest_first(result, max_classes)
    for booster, entry in result["results"].items():
        names = list(entry["contenders"])
        columns = names + ["focal-softmax"]
        rows: List[Tuple[str, List[float], str]] = [
            ("macro-F1", [entry["contenders"][n]["macro_f1"] for n in names], "diff"),
            ("balanced accuracy", [entry["contenders"][n]["balanced_accuracy"] for n in names], "diff"),
            ("log loss", [entry["contenders"][n]["log_loss"] for n in names], "diff"),
        ]
        for k in classes:
            label = f"recall {data['class_names'][k]} (n={data['test_counts'][k]})"
            rows.append((label, [entry["contenders"][n]["recall"][k] for n in names], "diff"))
        rows.append(("training time (s)", [entry["contenders"][n]["train_time_s"] for n in names], "ratio"))
        width = max(24, max(len(row[0]) for row in rows) + 2)
        params = ", ".join(f"{key} {value}" for key, value in entry["params"].items())
        lines += ["", f"{BOOSTER_TITLES[booster]} {entry['version']} ({params})"]
        lines.append(f"{'':<{width}}" + "".join(f"{column:>15}" for column in columns))
        for label, values, kind in rows:
            first, focal = values[0], values[-1]
            if kind == "ratio":
                cells = [f"{value:15.2f}" for value in values] + [f"{'x%.2f' % (focal / first):>15}"]
            else:
                cells = [f"{value:15.4f}" for value in values] + [f"{focal - first:+15.4f}"]
            lines.append(f"{label:<{width}}" + "".join(cells))
    return "\n".join(lines)


def _json_ready(value):
    """NaN/inf -> None (JSON has no NaN), numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_json(result: Dict[str, object], path) -> Path:
    """Write the result (every figure of the table and of the plot) as strict JSON."""
    path = Path(path)
    path.write_text(json.dumps(_json_ready(result), indent=1, allow_nan=False) + "\n")
    return path


def save_figure(result: Dict[str, object], path, max_classes: int = 20) -> Path:
    """PNG: per booster, per-class test recall (rarest classes first) and learning curves.

    matplotlib is imported here only, and its Agg canvas is used directly, so no global backend is
    switched and no display is needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = result["data"]
    boosters = list(result["results"])
    classes = _rarest_first(result, max_classes)
    figure = Figure(figsize=(15, 4.2 * len(boosters)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(boosters), 3, squeeze=False)
    for row, booster in enumerate(boosters):
        entry = result["results"][booster]
        names = list(entry["contenders"])
        title = BOOSTER_TITLES[booster]
        bars = axes[row][0]
        width = 0.8 / len(names)
        positions = np.arange(len(classes))
        for i, name in enumerate(names):
            recall = np.asarray(entry["contenders"][name]["recall"], dtype=float)[classes]
            bars.bar(positions + (i - (len(names) - 1) / 2) * width, recall, width, label=name)
        bars.set_xticks(
            positions,
            [f"{data['class_names'][k]}\n(n={data['test_counts'][k]})" for k in classes],
            fontsize=8,
        )
        bars.set_ylim(0, 1.05)
        bars.set_ylabel("test recall")
        bars.set_title(f"{title}: per-class recall (rarest first)")
        bars.legend(fontsize=8, loc="lower right")
        for column, key, label in ((1, "log_loss", "test log loss"), (2, "macro_f1", "test macro-F1")):
            ax = axes[row][column]
            for name in names:
                curve = entry["contenders"][name]["curve"]
                ax.plot(curve["rounds"], curve[key], label=name)
            ax.set_xlabel("boosting rounds")
            ax.set_ylabel(label)
            ax.set_title(f"{title}: {label}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        axes[row][1].set_yscale("log")
    config = result["config"]
    figure.suptitle(
        f"{data['name']}: softmax vs focal (gamma={config['gamma']:g}, hessian={config['hessian']}), "
        f"{data['n_test']} held-out rows"
    )
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path

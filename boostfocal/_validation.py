"""Input checks shared by the losses and the adapters.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, bad value)
with a message that names the argument. None of them modifies its input; conversions copy only
what they must (labels and weights, never the raw predictions unless their dtype is not float).

What reaches a kernel is read-only and of few types. Numba compiles a kernel once per combination
of argument types (dtype, layout, writability): every label dtype, read-only or writable input was
one more compilation, 15-40 s each for the multiclass kernel on a slow host, in the user's process
(and in CI). So the checks hand the kernels read-only views (a view's flag, the caller's array is
untouched), labels as int64, float32 or float64 (other integer and boolean labels are copied to
int64: n values, against the kernel's n x K), contiguous labels and weights, and one empty weight
vector for "no weights".
"""

from __future__ import annotations

import numbers

import numpy as np

HESSIAN_POLICIES = ("exact", "psd", "floor")


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (its own flags; ``array`` stays as it was)."""
    view = array.view()
    view.flags.writeable = False
    return view


# "No weights" for the kernels (all ones): one read-only empty vector, one type.
NO_WEIGHTS = read_only(np.empty(0, dtype=np.float64))


def check_gamma(gamma) -> float:
    if isinstance(gamma, (bool, np.bool_)) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number, got {type(gamma).__name__}")
    gamma = float(gamma)
    if not np.isfinite(gamma):
        raise ValueError(f"gamma must be finite, got {gamma}")
    if gamma < 0.0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    return gamma


def check_hessian_policy(hessian) -> str:
    if not isinstance(hessian, str):
        raise TypeError(f"hessian must be one of {HESSIAN_POLICIES}, got {hessian!r}")
    if hessian not in HESSIAN_POLICIES:
        raise ValueError(f"unknown hessian policy {hessian!r}; choose one of {HESSIAN_POLICIES}")
    return hessian


def check_hessian_floor(hessian_floor) -> float:
    if isinstance(hessian_floor, (bool, np.bool_)) or not isinstance(hessian_floor, numbers.Real):
        raise TypeError(f"hessian_floor must be a real number, got {type(hessian_floor).__name__}")
    hessian_floor = float(hessian_floor)
    if not (np.isfinite(hessian_floor) and hessian_floor > 0.0):
        raise ValueError(f"hessian_floor must be finite and > 0, got {hessian_floor}")
    return hessian_floor


def check_alpha_vector(alpha, name: str = "alpha") -> np.ndarray:
    """A 1-D float64 copy of non-negative, finite class weights, not all zero."""
    if isinstance(alpha, (str, bytes)):
        raise ValueError(f"{name} must be None, 'balanced' or a sequence of class weights, got {alpha!r}")
    try:
        values = np.array(alpha, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a sequence of real class weights: {error}") from None
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one weight per class), got shape {values.shape}")
    if values.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got {values}")
    if np.any(values < 0.0):
        raise ValueError(f"{name} must be non-negative, got {values}")
    if not np.any(values > 0.0):
        raise ValueError(f"{name} must not be all zero")
    values.setflags(write=False)
    return values


def check_raw_prediction(raw_prediction, *, ndim: int = 2) -> np.ndarray:
    """The raw predictions as a float32/float64 array of ``ndim`` dimensions, in any memory layout.

    Finiteness is checked by the kernels, in their single pass over the data.
    """
    array = np.asarray(_host(raw_prediction))
    if array.dtype.kind not in "fiub" or array.dtype.kind == "b":
        raise TypeError(f"raw_prediction must be numeric (float), got dtype {array.dtype}")
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if array.ndim != ndim:
        raise ValueError(f"raw_prediction must be {ndim}-D, got shape {array.shape}")
    return read_only(array)


def check_labels(y_true, n_samples: int, n_classes: int) -> np.ndarray:
    """Integer class labels in [0, n_classes) as a fresh int64 array of length n_samples."""
    labels = label_array(y_true, n_samples)
    _check_integer_values(labels)
    if n_samples:
        low, high = labels.min(), labels.max()
        if low < 0 or high >= n_classes:
            raise ValueError(
                f"y_true must lie in [0, {n_classes}) for {n_classes} classes, "
                f"found labels from {low:g} to {high:g}"
            )
    return labels.astype(np.int64)


def _check_integer_values(labels: np.ndarray) -> None:
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)):
            raise ValueError("y_true contains NaN or inf")
        if np.any(labels != np.floor(labels)):
            raise ValueError("y_true must hold integer class labels, found non-integer values")


def n_classes_from_labels(y_true) -> int:
    """max(y_true) + 1 (0 for no labels), after the checks :func:`check_labels` makes: numeric,
    1-D, finite, integer-valued, >= 0. For callers that must count classes before they know K."""
    labels = np.asarray(_host(y_true))
    labels = label_array(labels, labels.shape[0] if labels.ndim else -1)
    _check_integer_values(labels)
    if labels.shape[0] == 0:
        return 0
    low, high = labels.min(), labels.max()
    if low < 0:
        raise ValueError(f"y_true must hold class labels >= 0, found labels from {low:g} to {high:g}")
    return int(high) + 1


def _host(array):
    if hasattr(array, "__cuda_array_interface__") and hasattr(array, "get"):
        return array.get()  # CuPy: the kernels run on the host
    return array


def label_array(y_true, n_samples: int) -> np.ndarray:
    """The labels as a read-only, contiguous int64, float32 or float64 vector (a view where they
    are one already), checked for kind and shape only; the kernels check the values (integer, in
    range) in their own pass. On a bad value call :func:`check_labels` for the message."""
    labels = np.asarray(_host(y_true))
    kind, dtype = labels.dtype.kind, labels.dtype
    if kind not in "fiub":
        raise TypeError(f"y_true must hold integer class labels, got dtype {dtype}")
    if kind == "b" or (kind in "iu" and dtype.itemsize < 8) or (kind == "i" and not dtype.isnative):
        # False / True are classes 0 / 1; narrower integers widen exactly.
        labels = labels.astype(np.int64)
    elif not (dtype.isnative and dtype in (np.int64, np.float32, np.float64)):
        # uint64, float16 and other byte orders: float64 keeps every valid label exact (and an
        # invalid one invalid: uint64 values above 2^53 stay far above any class count).
        labels = labels.astype(np.float64)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {labels.shape}")
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"y_true has {labels.shape[0]} labels but raw_prediction has {n_samples} rows"
        )
    return read_only(np.ascontiguousarray(labels))


def weight_array(sample_weight, n_samples: int) -> np.ndarray:
    """The weights as a read-only, contiguous float64 vector (a copy only if needed), checked for
    kind and shape; the kernels check the values. :data:`NO_WEIGHTS` (empty) stands for all ones."""
    if sample_weight is None:
        return NO_WEIGHTS
    weights = np.asarray(_host(sample_weight))
    if weights.dtype.kind not in "fiu":
        raise TypeError(f"sample_weight must be numeric, got dtype {weights.dtype}")
    if weights.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {weights.shape}")
    if weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {weights.shape[0]} entries but there are {n_samples} samples"
        )
    return read_only(np.ascontiguousarray(weights, dtype=np.float64))


def raise_for_bad_input(y_true, sample_weight, n_samples: int, n_classes: int, bad_row: int) -> None:
    """After a kernel reported an invalid label or weight in ``bad_row``: raise the full message."""
    if bad_row < 0:
        return
    check_labels(y_true, n_samples, n_classes)
    check_sample_weight(sample_weight, n_samples)
    raise ValueError(f"invalid label or sample weight in row {bad_row}")


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Non-negative finite weights as a float64 array; an empty array stands for all ones."""
    weights = weight_array(sample_weight, n_samples)
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or inf")
    if np.any(weights < 0.0):
        raise ValueError("sample_weight must be non-negative")
    return weights


def check_output_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def check_out_pair(out, shape) -> tuple:
    """``out=(gradient, hessian)``: two distinct writable float32/float64 arrays of ``shape``."""
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError("out must be a pair (gradient, hessian) of NumPy arrays")
    for name, array in zip(("gradient", "hessian"), out):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"out {name} must be a NumPy array, got {type(array).__name__}")
        check_output_dtype(array.dtype)
        if array.shape != tuple(shape):
            raise ValueError(f"out {name} has shape {array.shape}, expected {tuple(shape)}")
        if not array.flags.writeable:
            raise ValueError(f"out {name} is read-only")
    if np.shares_memory(out[0], out[1]):
        raise ValueError("out gradient and hessian must not share memory")
    return out[0], out[1]


def raise_for_bad_row(bad_row: int) -> None:
    if bad_row >= 0:
        raise ValueError(f"raw_prediction contains NaN or inf (first seen in row {bad_row})")

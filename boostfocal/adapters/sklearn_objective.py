"""``objective=`` of ``xgboost.XGBClassifier`` and ``lightgbm.LGBMClassifier``, and the booster-level
checks that all three adapters share.

The checks catch set-up mistakes that the loss itself could only report in its own terms (a wrong
``num_class``, a binary booster given the multiclass loss, probabilities where margins belong) and say
how to fix the booster's parameters. They hold no math.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validation import check_labels
from ..kernels.threads import inside_booster


def as_host_array(array) -> np.ndarray:
    """A NumPy view of ``array``; CuPy arrays are copied to the host (the kernels run there)."""
    if hasattr(array, "__cuda_array_interface__") and hasattr(array, "get"):
        return array.get()
    return np.asarray(array)


def _looks_like_probabilities(raw: np.ndarray) -> bool:
    """True when every row lies in [0, 1] and sums to 1.

    Margins of a model in training practically never satisfy this for K >= 3 classes, while
    softmax probabilities always do. (Not used for K = 2: XGBoost starts every margin at 0.5 and the
    two class trees of a softmax round are mirror images, so margin rows keep summing to 1 there.)
    """
    if raw.shape[0] == 0:
        return False
    first = raw[0]
    # Every row must qualify, so the first row settles the usual case in O(K), not O(nK).
    if first.min() < 0.0 or first.max() > 1.0 or abs(float(first.sum()) - 1.0) > 1e-4:
        return False
    if raw.min() < 0.0 or raw.max() > 1.0:
        return False
    # float32 rows of probabilities sum to 1 within a few ulps times K; 1e-4 leaves room.
    return bool(np.allclose(raw.sum(axis=1, dtype=np.float64), 1.0, rtol=0.0, atol=1e-4))


def check_booster_margins(loss, y_true, raw_prediction, *, source: str, training: bool) -> None:
    """Check that a booster's raw scores fit the loss, naming the booster parameter to fix.

    Parameters
    ----------
    loss : FocalLoss or BinaryFocalLoss
    y_true : array of labels as the booster stores them (floats).
    raw_prediction : NumPy array of raw margins as the booster passes them.
    source : str
        Who passed the margins, for the messages (e.g. ``"XGBoost"``).
    training : bool
        True in objectives: then classes that never occur in the labels are reported with a
        ``UserWarning`` (legitimate in a cross-validation fold, but usually a ``num_class`` that is
        too large or labels that start at 1).

    Raises
    ------
    ValueError
        Multiclass loss with one margin per row; binary loss with several; labels outside
        [0, num_class); rows that look like probabilities instead of margins.
    """
    shape = raw_prediction.shape
    n_columns = 1 if len(shape) == 1 else shape[1]
    if getattr(loss, "is_binary", False):
        if len(shape) == 2 and n_columns != 1:
            raise ValueError(
                f"{source} passed {n_columns} margins per row (num_class={n_columns}), but "
                f"{type(loss).__name__} needs one: leave num_class unset for two classes, or use "
                f"FocalLoss for {n_columns} classes"
            )
        return  # label values are checked by the loss itself (hard or soft labels)
    if n_columns == 1:
        raise ValueError(
            f"{source} passed one margin per row (shape {tuple(shape)}), so the booster is set up "
            "for a single output (binary or regression); the multiclass FocalLoss needs one column "
            "per class: set num_class to the number of classes in the booster parameters (the "
            "scikit-learn wrappers do this when y has 3 or more classes), or use BinaryFocalLoss "
            "for two classes"
        )
    labels = as_host_array(y_true)
    if labels.size and labels.dtype.kind in "fiu":
        low, high = labels.min(), labels.max()
        if low < 0 or high >= n_columns:  # NaN compares False and is reported by the loss
            raise ValueError(
                f"labels run from {low:g} to {high:g}, but {source} passed {n_columns} margin "
                f"columns (num_class={n_columns}): labels must be integers in [0, num_class). "
                f"Encode the classes as 0..K-1 and set num_class=K"
            )
    if n_columns >= 3 and _looks_like_probabilities(raw_prediction):
        raise ValueError(
            f"{source} passed values that look like probabilities (every row in [0, 1], summing to "
            "1), but boostfocal needs raw margins. XGBoost gives custom_metric probabilities when "
            "its objective is built in (use obj=loss.xgboost_objective), LightGBM gives feval "
            "probabilities with a built-in objective (use params['objective']="
            "loss.lightgbm_objective); a base_score/init_score must be margins "
            "(loss.init_raw_prediction), not class priors"
        )
    if training and labels.size and labels.dtype.kind in "fiu":
        # The loss's own checks first (NaN, non-integer labels), with its messages.
        labels = check_labels(labels, labels.shape[0], n_columns)
        counts = np.bincount(labels, minlength=n_columns)
        absent = np.flatnonzero(counts == 0)
        if absent.size:
            warnings.warn(
                f"{source} has num_class={n_columns}, but classes {absent.tolist()} never occur in "
                "the training labels, so their margins are only pushed down. If that is not "
                "intended, encode the labels as 0..K-1 and set num_class=K",
                UserWarning,
                stacklevel=4,
            )


def objective(loss, y_true, y_pred, sample_weight=None):
    """(gradient, hessian) in the shape, dtype and memory layout of ``y_pred``.

    ``XGBClassifier`` passes C-ordered float32 margins, ``LGBMClassifier`` a Fortran-ordered float64
    (n, K) view; answering in the same layout spares LightGBM a transposing copy.
    """
    y_pred = as_host_array(y_pred)
    check_booster_margins(loss, y_true, y_pred, source="the scikit-learn wrapper", training=True)
    fortran = y_pred.ndim == 2 and y_pred.flags.f_contiguous and not y_pred.flags.c_contiguous
    with inside_booster():
        return loss.gradient_hessian(y_true, y_pred, sample_weight, order="F" if fortran else "C")

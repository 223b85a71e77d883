"""Log loss and error rate computed from raw margins, for monitoring boosters trained with focal loss.

With a custom objective the boosters hand metrics raw margins, and their built-in metrics can read
them wrongly: LightGBM's ``multi_logloss`` takes raw scores for probabilities, and XGBoost's metrics
depend on the booster's ``objective`` string. These metrics take margins and apply the link
themselves: softmax for (n, K) margins, sigmoid for (n,) or (n, 1).

* ``log_loss``: the weighted mean of -log p_{i,t_i}, which is the focal loss at gamma = 0 without
  alpha; it is computed by ``FocalLoss(gamma=0)`` / ``BinaryFocalLoss(gamma=0)`` (no new math).
* ``error_rate``: the weighted share of rows whose largest margin (binary: margin > 0, i.e.
  p > 0.5) is not the label.

Booster-shaped versions: ``xgboost_log_loss`` / ``xgboost_error_rate`` for ``custom_metric=`` (join
several with :func:`xgboost_metrics`) and ``lightgbm_log_loss`` / ``lightgbm_error_rate`` for
``feval=`` (LightGBM takes a list).
"""

from __future__ import annotations

from typing import Callable, List, Tuple

import numpy as np

from . import _validation as check
from .adapters.sklearn_objective import as_host_array, check_booster_margins

__all__ = [
    "log_loss",
    "error_rate",
    "xgboost_log_loss",
    "xgboost_error_rate",
    "xgboost_metrics",
    "lightgbm_log_loss",
    "lightgbm_error_rate",
]


def _is_binary_shape(raw: np.ndarray) -> bool:
    return raw.ndim == 1 or (raw.ndim == 2 and raw.shape[1] == 1)


def _cross_entropy(raw: np.ndarray):
    """The loss object whose gamma = 0, alpha = None case is the log loss for this shape."""
    if _is_binary_shape(raw):
        from .binary import BinaryFocalLoss

        return BinaryFocalLoss(gamma=0.0)
    from .loss import FocalLoss

    return FocalLoss(gamma=0.0)


def log_loss(y_true, raw_prediction, sample_weight=None) -> float:
    """Weighted mean log loss sum_i w_i (-log p_{i,t_i}) / sum_i w_i of raw margins.

    Parameters
    ----------
    y_true : (n_samples,) integer labels in [0, K) (binary: 0 and 1).
    raw_prediction : (n_samples, K) softmax margins, or (n_samples,) / (n_samples, 1) logits.
        Raw margins, never probabilities.
    sample_weight : (n_samples,) non-negative weights, optional.
    """
    raw = as_host_array(raw_prediction)
    return _cross_entropy(raw).mean_loss(y_true, raw, sample_weight)


def error_rate(y_true, raw_prediction, sample_weight=None) -> float:
    """Weighted share of misclassified rows: argmax of the margins (binary: margin > 0) != label.

    Same arguments as :func:`log_loss`. Margins must be finite.
    """
    raw = as_host_array(raw_prediction)
    if raw.ndim not in (1, 2):
        raise ValueError(f"raw_prediction must be 1-D or 2-D, got shape {raw.shape}")
    raw = check.check_raw_prediction(raw, ndim=raw.ndim)
    if not np.all(np.isfinite(raw)):
        raise ValueError("raw_prediction contains NaN or inf")
    if _is_binary_shape(raw):
        predicted = (raw.reshape(-1) > 0.0).astype(np.int64)  # sigmoid(z) > 0.5 <=> z > 0
        n_classes = 2
    else:
        if raw.shape[1] < 2:
            raise ValueError(
                f"raw_prediction has {raw.shape[1]} columns; give one column per class (>= 2) or "
                "one logit per row"
            )
        predicted = np.argmax(raw, axis=1)
        n_classes = raw.shape[1]
    labels = check.check_labels(y_true, raw.shape[0], n_classes)
    weights = check.check_sample_weight(sample_weight, raw.shape[0])
    wrong = (predicted != labels).astype(np.float64)
    if weights.size == 0:
        if wrong.size == 0:
            raise ValueError("the error rate needs at least one sample")
        return float(wrong.mean())
    # Divided (exactly) by a power of two near max(w): the sums stay finite for weights near the
    # float64 limit, as in mean_loss.
    weights = weights / np.ldexp(1.0, int(np.frexp(weights.max())[1]) - 1)
    total = weights.sum()
    if total <= 0.0:
        raise ValueError("the error rate needs a positive total sample weight")
    return float(np.dot(weights, wrong) / total)


# ---------------------------------------------------------------------- booster-shaped versions
def _xgboost_inputs(predt, dmatrix):
    from .adapters.xgboost import labels_and_weights

    predt = as_host_array(predt)
    labels, weights = labels_and_weights(dmatrix)
    check_booster_margins(_cross_entropy(predt), labels, predt, source="XGBoost", training=False)
    return labels, predt, weights


def _lightgbm_inputs(preds, eval_data):
    from .adapters.lightgbm import labels_and_weights

    labels, weights = labels_and_weights(eval_data)
    preds = as_host_array(preds)
    check_booster_margins(_cross_entropy(preds), labels, preds, source="LightGBM", training=False)
    return labels, preds, weights


def xgboost_log_loss(predt, dmatrix) -> Tuple[str, float]:
    """``custom_metric=`` of ``xgboost.train``: ("log_loss", value) from the raw margins."""
    return "log_loss", log_loss(*_xgboost_inputs(predt, dmatrix))


def xgboost_error_rate(predt, dmatrix) -> Tuple[str, float]:
    """``custom_metric=`` of ``xgboost.train``: ("error_rate", value) from the raw margins."""
    return "error_rate", error_rate(*_xgboost_inputs(predt, dmatrix))


def xgboost_metrics(*metrics: Callable) -> Callable:
    """One ``custom_metric=`` that reports several ``(predt, dmatrix) -> (name, value)`` metrics.

    XGBoost takes a single custom metric but accepts a list of (name, value) pairs from it; early
    stopping watches the last one. Example::

        custom_metric=xgboost_metrics(xgboost_log_loss, xgboost_error_rate, loss.xgboost_metric)
    """
    if not metrics or not all(callable(metric) for metric in metrics):
        raise TypeError("xgboost_metrics needs one or more callables (predt, dmatrix) -> (name, value)")

    def combined(predt, dmatrix) -> List[Tuple[str, float]]:
        return [metric(predt, dmatrix) for metric in metrics]

    return combined


def lightgbm_log_loss(preds, eval_data) -> Tuple[str, float, bool]:
    """``feval=`` of ``lightgbm.train``: ("log_loss", value, False) from the raw scores."""
    return "log_loss", log_loss(*_lightgbm_inputs(preds, eval_data)), False


def lightgbm_error_rate(preds, eval_data) -> Tuple[str, float, bool]:
    """``feval=`` of ``lightgbm.train``: ("error_rate", value, False) from the raw scores."""
    return "error_rate", error_rate(*_lightgbm_inputs(preds, eval_data)), False

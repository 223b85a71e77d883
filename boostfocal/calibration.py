"""How good predicted probabilities are: log loss, Brier score, expected calibration error, the
reliability curve, and the two kinds of probabilities a focal model offers.

A model trained with focal loss gives two sets of class probabilities from the same margins: the
softmax (``loss.predict_proba``), which focal loss pushes away from the class posterior, and the
posterior correction (``loss.posterior_proba``), which undoes the focusing and alpha.
:func:`probability_kinds` returns both; :func:`probability_scores` scores either.

Probabilities are (n_samples, n_classes) rows summing to 1, or for two classes a (n_samples,)
vector of P(class 1). Labels are integers in [0, n_classes).
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

__all__ = ["PROBABILITY_KINDS", "check_probability_kind", "probability_kinds", "probability_scores",
           "reliability_curve"]

# What an estimator's predict_proba can return (its ``probability`` parameter).
PROBABILITY_KINDS = ("softmax", "posterior")


def check_probability_kind(probability) -> str:
    """``probability`` if it is one of :data:`PROBABILITY_KINDS`, else ValueError."""
    if not isinstance(probability, str) or probability not in PROBABILITY_KINDS:
        raise ValueError(f"probability must be one of {PROBABILITY_KINDS}, got {probability!r}")
    return probability

# Probabilities are clipped to [LOG_LOSS_FLOOR, 1] inside the log loss, so that one row with
# probability 0 for its label costs -log(1e-15) = 34.5 instead of making the mean infinite.
LOG_LOSS_FLOOR = 1e-15


def probability_kinds(loss, raw_prediction) -> Dict[str, np.ndarray]:
    """{"softmax": loss.predict_proba(raw), "posterior": loss.posterior_proba(raw)} for a focal
    loss with resolved alpha (``loss.resolve_alpha(y_train)``); for ``loss=None`` (a model trained
    with plain cross-entropy, whose softmax already estimates the posterior) both are the softmax."""
    if loss is None:
        from .loss import FocalLoss

        softmax = FocalLoss(0.0).predict_proba(raw_prediction)
        return {"softmax": softmax, "posterior": softmax}
    return {"softmax": loss.predict_proba(raw_prediction), "posterior": loss.posterior_proba(raw_prediction)}


def _as_table(y_true, probabilities, n_classes: Optional[int]):
    labels = np.asarray(y_true)
    proba = np.asarray(probabilities, dtype=np.float64)
    if proba.ndim == 1 or (proba.ndim == 2 and proba.shape[1] == 1):
        positive = proba.reshape(-1)
        proba = np.column_stack([1.0 - positive, positive])
    if proba.ndim != 2:
        raise ValueError(f"probabilities must be (n_samples, n_classes) or (n_samples,), got {proba.shape}")
    if labels.shape != (proba.shape[0],):
        raise ValueError(f"y_true has shape {labels.shape}, expected ({proba.shape[0]},)")
    if n_classes is not None and proba.shape[1] != n_classes:
        raise ValueError(f"probabilities have {proba.shape[1]} columns, expected n_classes={n_classes}")
    if not np.all(np.isfinite(proba)) or np.any(proba < 0.0) or np.any(proba > 1.0 + 1e-9):
        raise ValueError("probabilities must be finite and lie in [0, 1]")
    if labels.size and (labels.dtype.kind not in "iu" and not np.all(labels == np.floor(labels))):
        raise ValueError("y_true must hold integer class labels")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= proba.shape[1]):
        raise ValueError(f"y_true must lie in [0, {proba.shape[1]})")
    if labels.size == 0:
        raise ValueError("no rows to score")
    return labels, proba


def reliability_curve(y_true, probabilities, n_bins: int = 15, n_classes: Optional[int] = None) -> dict:
    """Top-label reliability: rows binned by their largest probability (``n_bins`` equal-width bins
    on [0, 1]); per bin the mean confidence, the accuracy (share of rows whose argmax is the label)
    and the row count (empty bins: confidence and accuracy NaN)."""
    labels, proba = _as_table(y_true, probabilities, n_classes)
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == labels).astype(np.float64)
    # Bin b holds confidences in (b/n_bins, (b+1)/n_bins]; a confidence of exactly 0 goes to bin 0.
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(bins, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {"edges": edges, "confidence": mean_confidence, "accuracy": accuracy, "count": count}


def probability_scores(y_true, probabilities, n_bins: int = 15, n_classes: Optional[int] = None) -> Dict[str, float]:
    """Scores of class probabilities against integer labels:

    * ``log_loss``: mean of -log p_{i,t_i}, probabilities clipped below at 1e-15;
    * ``brier``: mean over rows of sum_k (p_ik - [t_i = k])^2 (0 is perfect, 2 the worst);
    * ``ece``: expected calibration error of the top label, sum_b (n_b / n) |accuracy_b -
      confidence_b| over ``n_bins`` equal-width bins (Guo et al., 2017);
    * ``macro_f1``: macro-F1 of the argmax (classes with no rows of their own left out).
    """
    labels, proba = _as_table(y_true, probabilities, n_classes)
    n_samples, n_labels = proba.shape
    rows = np.arange(n_samples)
    log_loss = float(-np.mean(np.log(np.maximum(proba[rows, labels], LOG_LOSS_FLOOR))))
    residual = proba.copy()
    residual[rows, labels] -= 1.0
    brier = float(np.mean(np.sum(residual * residual, axis=1)))
    curve = reliability_curve(labels, proba, n_bins)
    filled = curve["count"] > 0
    ece = float(np.sum(curve["count"][filled] * np.abs(curve["accuracy"][filled] - curve["confidence"][filled]))
                / n_samples)
    predicted = proba.argmax(axis=1)
    confusion = np.bincount(labels * n_labels + predicted, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    support, n_predicted, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, hits / support, 0.0)
        precision = np.where(n_predicted > 0, hits / n_predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"log_loss": log_loss, "brier": brier, "ece": ece, "macro_f1": float(np.mean(f1[support > 0]))}

"""Scores of one fold, and the statistics over folds: mean differences to the baseline with a 95%
interval from the corrected resampled t-test, and a verdict that claims no more than the interval.

Metrics are computed from the confusion matrix and the predicted probabilities (scikit-learn is not
needed): macro-F1 (mean over classes of 2PR/(P+R), 0 for a class never predicted), balanced accuracy
(mean per-class recall), the recall of the minority class (fewest rows in the whole data set), and
from :func:`boostfocal.calibration.probability_scores` the multiclass log loss (mean of -log p_t),
the Brier score and the top-label expected calibration error (15 bins).

The interval (Nadeau and Bengio, 2003, "Inference for the Generalization Error", Machine Learning
52:239-281): with J = k r fold differences d_j of mean d and sample variance s^2,

    d +- t_{0.975, J-1} * sqrt((1/J + n_test/n_train) * s^2)

The n_test/n_train term widens the naive 1/J interval for the overlap of the training sets across
folds and repeats, which makes the d_j positively correlated.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

__all__ = [
    "CALIBRATION_BINS",
    "METRICS",
    "PROBABILITIES",
    "classification_metrics",
    "corrected_interval",
    "fold_scores",
    "student_t_quantile",
    "verdict",
]

# (key, label, higher is better): the metrics of the table, the statistics and the figure.
METRICS = (
    ("macro_f1", "macro-F1", True),
    ("balanced_accuracy", "balanced accuracy", True),
    ("minority_recall", "minority recall", True),
    ("log_loss", "log loss", False),
    ("brier", "Brier", False),
    ("ece", "ECE", False),
)
# Equal-width confidence bins of the expected calibration error and the reliability diagram.
CALIBRATION_BINS = 15
CONFIDENCE = 0.95
NO_DIFFERENCE = "no detectable difference"


# --------------------------------------------------------------------------------- probabilities
def softmax_probability(loss, raw: np.ndarray) -> np.ndarray:
    """p = softmax(raw): how both the built-in softmax and the focal models turn margins into
    probabilities (``loss`` is the fitted FocalLoss, or None for the built-in softmax)."""
    shifted = raw - raw.max(axis=1, keepdims=True)  # max-subtracted: exp cannot overflow
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def posterior_probability(loss, raw: np.ndarray) -> np.ndarray:
    """The focal posterior correction (:meth:`FocalLoss.posterior_proba`: undoes the focusing and
    alpha); for the built-in softmax (``loss`` None), whose softmax already estimates the posterior,
    the softmax."""
    if loss is None:
        return softmax_probability(None, raw)
    return loss.posterior_proba(raw)


# Probability kinds by name: a contender names one, and every score of its folds is computed from
# the probabilities it returns. A new kind (say, a prior-corrected focal posterior) is one entry here.
PROBABILITIES: Dict[str, Callable[[object, np.ndarray], np.ndarray]] = {
    "softmax": softmax_probability,
    "posterior": posterior_probability,
}


# ---------------------------------------------------------------------------------------- scores
def _log_softmax(raw: np.ndarray) -> np.ndarray:
    shifted = raw - raw.max(axis=1, keepdims=True)  # max-subtracted: exp cannot overflow
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def classification_metrics(y_true, raw_prediction, n_classes: int, *, probability=None) -> Dict[str, object]:
    """Scores of raw margins (n, K), or of ``probability`` (n, K) where given: macro-F1, balanced
    accuracy, accuracy, log loss, and per-class recall, precision, F1, support and the confusion
    matrix (rows: true class, columns: predicted, the class of highest probability).

    A class with no test rows has recall NaN and is left out of the macro averages; a class never
    predicted has precision 0 (as scikit-learn's ``zero_division=0``). Log loss from margins uses
    log-softmax directly; from probabilities, log max(p_t, smallest normal float).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    if probability is None:
        raw = np.asarray(raw_prediction, dtype=np.float64)
        predicted = raw.argmax(axis=1)
        log_p_true = _log_softmax(raw)[np.arange(y_true.size), y_true]
    else:
        probability = np.asarray(probability, dtype=np.float64)
        predicted = probability.argmax(axis=1)
        p_true = probability[np.arange(y_true.size), y_true]
        log_p_true = np.log(np.maximum(p_true, np.finfo(np.float64).tiny))  # p_t = 0 would give inf
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


def fold_scores(y_true, probability: np.ndarray, n_classes: int, minority: int) -> Dict[str, object]:
    """The metrics of :data:`METRICS` for one test fold, plus accuracy and per-class recall. Log
    loss, Brier score and ECE are :func:`boostfocal.calibration.probability_scores`'s."""
    from ..calibration import probability_scores

    scores = classification_metrics(y_true, None, n_classes, probability=probability)
    calibration = probability_scores(y_true, probability, n_bins=CALIBRATION_BINS, n_classes=n_classes)
    return {
        "macro_f1": scores["macro_f1"],
        "balanced_accuracy": scores["balanced_accuracy"],
        "minority_recall": scores["recall"][minority],
        "log_loss": calibration["log_loss"],
        "brier": calibration["brier"],
        "ece": calibration["ece"],
        "accuracy": scores["accuracy"],
        "recall": scores["recall"],
    }


def pooled_reliability(parts: Sequence[dict]) -> Dict[str, object]:
    """One reliability curve from per-fold :func:`boostfocal.calibration.reliability_curve` results
    over the same bins: per bin the row-weighted mean confidence and accuracy (NaN where no fold has
    a row in the bin) and the total count."""
    count = np.sum([part["count"] for part in parts], axis=0)
    weighted = {key: np.sum([np.nan_to_num(part[key]) * part["count"] for part in parts], axis=0)
                for key in ("confidence", "accuracy")}
    with np.errstate(invalid="ignore", divide="ignore"):
        means = {key: np.where(count > 0, value / np.maximum(count, 1), np.nan) for key, value in weighted.items()}
    return {"edges": np.asarray(parts[0]["edges"]).tolist(), "confidence": means["confidence"].tolist(),
            "accuracy": means["accuracy"].tolist(), "count": count.astype(np.int64).tolist()}


# ------------------------------------------------------------------------------------ statistics
def _t_two_sided_mass(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer df (Abramowitz and Stegun 26.7.3-4: finite series
    in theta = atan(t / sqrt(df)), exact for integer df)."""
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2 == 1:
        term, series = 1.0, 1.0 if df > 1 else 0.0
        for j in range(1, (df - 1) // 2):  # terms (2*4*..*2j)/(1*3*..*(2j+1)) cos^2j
            term *= (2 * j) / (2 * j + 1) * cos2
            series += term
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * series)
    term, series = 1.0, 1.0
    for j in range(1, df // 2):  # terms (1*3*..*(2j-1))/(2*4*..*2j) cos^2j
        term *= (2 * j - 1) / (2 * j) * cos2
        series += term
    return math.sin(theta) * series


def student_t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile (> 0.5) of Student's t with integer ``df`` >= 1, by bisection."""
    if not 0.5 < probability < 1 or df < 1:
        raise ValueError(f"need 0.5 < probability < 1 and df >= 1, got {probability}, {df}")
    mass = 2 * probability - 1
    low, high = 0.0, 1.0
    while _t_two_sided_mass(high, df) < mass:
        high *= 2
    for _ in range(200):
        middle = 0.5 * (low + high)
        if _t_two_sided_mass(middle, df) < mass:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return 0.5 * (low + high)


def corrected_interval(differences: Sequence[float], n_test: float, n_train: float,
                       confidence: float = CONFIDENCE) -> Dict[str, float]:
    """Mean of per-fold differences with the corrected resampled t interval (Nadeau and Bengio, 2003).

    Variance of the mean: (1/J + n_test/n_train) * s^2 over the J = k r folds; Student's t with J - 1
    degrees of freedom. Identical differences on every fold give s = 0 and the zero-width interval
    [d, d]; with one fold there is no interval (NaN).
    """
    d = np.asarray(differences, dtype=np.float64)
    n = d.size
    mean = float(d.mean())
    if n < 2 or not np.all(np.isfinite(d)):
        return {"mean": mean, "low": math.nan, "high": math.nan, "std_error": math.nan, "df": n - 1}
    variance = float(d.var(ddof=1))
    std_error = math.sqrt((1.0 / n + n_test / n_train) * variance)
    half = student_t_quantile(0.5 + confidence / 2, n - 1) * std_error
    return {"mean": mean, "low": mean - half, "high": mean + half, "std_error": std_error, "df": n - 1}


def verdict(low: float, high: float, higher_is_better: bool) -> str:
    """"better" / "worse" only when the whole interval is on one side of 0, else "no detectable
    difference" (also for a zero-width interval at 0, and for a missing one)."""
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0.0 <= high:
        return NO_DIFFERENCE
    above = low > 0.0
    return "better" if above == higher_is_better else "worse"


def summarize(fits: List[dict], baseline: str, contenders: Sequence[str], boosters: Sequence[str],
              confidence: float = CONFIDENCE) -> List[dict]:
    """One record per (booster, contender other than the baseline, metric): both means, the mean
    difference contender - baseline over the folds, its interval and verdict."""
    records = []
    for booster in boosters:
        by_name = {
            name: sorted((f for f in fits if f["booster"] == booster and f["contender"] == name),
                         key=lambda f: (f["repeat"], f["fold"]))
            for name in contenders
        }
        base = by_name[baseline]
        n_test = float(np.mean([f["n_test"] for f in base]))
        n_train = float(np.mean([f["n_train"] for f in base]))
        for name in contenders:
            if name == baseline:
                continue
            runs = by_name[name]
            for key, label, higher_is_better in METRICS:
                ours = np.array([f[key] for f in runs], dtype=np.float64)
                theirs = np.array([f[key] for f in base], dtype=np.float64)
                interval = corrected_interval(ours - theirs, n_test, n_train, confidence)
                records.append({
                    "booster": booster,
                    "contender": name,
                    "metric": key,
                    "metric_label": label,
                    "higher_is_better": higher_is_better,
                    "contender_mean": float(ours.mean()),
                    "baseline_mean": float(theirs.mean()),
                    "difference": interval["mean"],
                    "ci_low": interval["low"],
                    "ci_high": interval["high"],
                    "std_error": interval["std_error"],
                    "df": interval["df"],
                    "verdict": verdict(interval["low"], interval["high"], higher_is_better),
                })
    return records


def verdict_line(records: Sequence[dict], metric_labels: Optional[Dict[str, str]] = None) -> str:
    """One line for one (booster, contender): the metrics grouped by verdict, e.g. "better on log
    loss; no detectable difference on macro-F1, balanced accuracy, minority recall"."""
    groups: Dict[str, List[str]] = {}
    for record in records:
        label = (metric_labels or {}).get(record["metric"], record["metric_label"])
        groups.setdefault(record["verdict"], []).append(label)
    order = ("better", "worse", NO_DIFFERENCE)
    parts = [f"{word} on {', '.join(groups[word])}" for word in order if word in groups]
    if set(groups) == {NO_DIFFERENCE}:
        return f"{NO_DIFFERENCE} on any metric"
    return "; ".join(parts)

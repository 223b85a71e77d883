"""boostfocal.calibration: probability scores against scikit-learn and hand-computed values."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, log_loss

from boostfocal import FocalLoss
from boostfocal.calibration import probability_kinds, probability_scores, reliability_curve


def _case(seed=0, n=200, k=4):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(k), size=n)
    y = np.array([rng.choice(k, p=p) for p in proba])
    return y, proba


def test_scores_match_scikit_learn_and_the_definitions():
    y, proba = _case()
    scores = probability_scores(y, proba)
    assert scores["log_loss"] == pytest.approx(log_loss(y, proba, labels=range(4)), rel=1e-12)
    onehot = np.eye(4)[y]
    assert scores["brier"] == pytest.approx(np.mean(np.sum((proba - onehot) ** 2, axis=1)), rel=1e-12)
    assert scores["macro_f1"] == pytest.approx(f1_score(y, proba.argmax(axis=1), average="macro"), rel=1e-12)
    # ECE by a direct loop over the 15 bins (b/15, (b+1)/15].
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    ece = 0.0
    for b in range(15):
        inside = (confidence > b / 15) & (confidence <= (b + 1) / 15)
        if inside.any():
            ece += inside.sum() / len(y) * abs(correct[inside].mean() - confidence[inside].mean())
    assert scores["ece"] == pytest.approx(ece, rel=1e-12)


def test_binary_vector_equals_two_columns_and_perfect_scores():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=100)
    y = (rng.uniform(size=100) < p).astype(int)
    assert probability_scores(y, p) == pytest.approx(probability_scores(y, np.column_stack([1 - p, p])))
    perfect = probability_scores(np.array([0, 1, 2]), np.eye(3))
    assert perfect == {"log_loss": pytest.approx(0.0, abs=1e-12), "brier": 0.0,
                       "ece": 0.0, "macro_f1": 1.0}


def test_reliability_curve_counts_and_empty_bins():
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.95, 0.05], [0.55, 0.45], [0.2, 0.8], [0.5, 0.5]])
    curve = reliability_curve(y, proba, n_bins=10)
    assert curve["count"].sum() == 4 and curve["count"][9] == 1 and curve["count"][4] == 1
    assert np.isnan(curve["accuracy"][0])
    assert curve["accuracy"][5] == 0.0 and curve["confidence"][5] == pytest.approx(0.55)


def test_probability_kinds_and_bad_input():
    raw = np.random.default_rng(2).normal(size=(10, 3))
    loss = FocalLoss(2.0)
    kinds = probability_kinds(loss, raw)
    np.testing.assert_array_equal(kinds["softmax"], loss.predict_proba(raw))
    np.testing.assert_array_equal(kinds["posterior"], loss.posterior_proba(raw))
    plain = probability_kinds(None, raw)
    np.testing.assert_array_equal(plain["posterior"], plain["softmax"])
    with pytest.raises(ValueError, match="lie in"):
        probability_scores(np.array([0, 3]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="finite"):
        probability_scores(np.array([0, 1]), np.array([[np.nan, 1.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="n_bins"):
        reliability_curve(np.array([0]), np.array([[1.0, 0.0]]), n_bins=0)

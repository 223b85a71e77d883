"""posterior_proba: the focal posterior correction against an mpmath reference of the textbook formula,
against scipy's minimiser of the focal risk, limit cases, dtypes, layouts and bad input."""

import math

import mpmath
import numpy as np
import pytest
from scipy.optimize import minimize

from boostfocal import BinaryFocalLoss, FocalLoss

GAMMAS = [0.0, 0.3, 1.0, 2.0, 3.7, 10.0]


def reference_posterior(z, gamma, alpha=None):
    """eta_k ∝ 1 / (alpha_k g(q_k)), g(q) = (1-q)^gamma / q - gamma (1-q)^(gamma-1) log q, written
    as in the derivation, with q = softmax(z) and 1 - q formed directly. The working precision is
    raised with the logit gap, so that 1 - q does not round to 0 even at gaps of 2e4."""
    gap = float(np.max(z) - np.min(z))
    with mpmath.workdps(50 + int(gap / 2.3)):
        zs = [mpmath.mpf(float(v)) for v in z]
        top = max(zs)
        e = [mpmath.exp(v - top) for v in zs]
        total = mpmath.fsum(e)
        q = [v / total for v in e]
        alpha = [1] * len(zs) if alpha is None else [mpmath.mpf(float(a)) for a in alpha]
        g = mpmath.mpf(gamma)
        h = []
        for q_k, a_k in zip(q, alpha):
            r = 1 - q_k
            slope = r**g / q_k - (g * r ** (g - 1) * mpmath.log(q_k) if gamma > 0 else 0)
            h.append(1 / (a_k * slope))
        norm = mpmath.fsum(h)
        return np.array([float(v / norm) for v in h])


def rows_of_margins():
    rng = np.random.default_rng(3)
    return {
        "normal": rng.normal(0.0, 2.0, (6, 4)),
        "q_near_1": np.array([[40.0, 0.0, -3.0], [15.0, 0.0, 0.5], [700.0, 0.0, -1.0]]),
        "q_near_0": np.array([[-40.0, 0.0, 0.5], [-800.0, 1.0, 0.0]]),
        "ties": np.array([[0.0, 0.0, 0.0], [2.0, 2.0, -1.0], [1e-9, 0.0, -1e-9]]),
        "logits_1e4": np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4 - 5.0], [1e4, 1e4 - 3.0, -1e4]]),
    }


def assert_close_to_reference(got, reference, rtol):
    """Entry-wise relative error, except for values that underflow float64."""
    representable = reference > 1e-290
    np.testing.assert_allclose(got[representable], reference[representable], rtol=rtol, atol=0)
    assert np.all(got[~representable] < 1e-280)


# The logits_1e4 reference needs ~8700 digits (slow); alpha does not touch its cancellations.
KINDS_AND_ALPHAS = [(kind, alpha_kind) for kind in rows_of_margins() for alpha_kind in ("none", "vector")
                    if (kind, alpha_kind) != ("logits_1e4", "vector")]


@pytest.mark.parametrize("gamma", GAMMAS, ids=lambda g: f"gamma{g}")
@pytest.mark.parametrize("kind, alpha_kind", KINDS_AND_ALPHAS, ids=lambda v: str(v))
def test_multiclass_matches_high_precision_reference(kind, alpha_kind, gamma):
    raw = rows_of_margins()[kind]
    alpha = None if alpha_kind == "none" else np.linspace(0.3, 2.5, raw.shape[1])
    got = FocalLoss(gamma, alpha).posterior_proba(raw)
    reference = np.array([reference_posterior(row, gamma, alpha) for row in raw])
    assert_close_to_reference(got, reference, rtol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0], ids=lambda g: f"gamma{g}")
def test_float32_input_gives_float32_close_to_reference(gamma):
    raw = np.concatenate([rows_of_margins()["normal"][:, :3], rows_of_margins()["logits_1e4"]])
    raw32 = raw.astype(np.float32)
    got = FocalLoss(gamma).posterior_proba(raw32)
    assert got.dtype == np.float32
    reference = np.array([reference_posterior(row, gamma) for row in raw32.astype(np.float64)])
    assert_close_to_reference(got.astype(np.float64), reference, rtol=2e-6)


@pytest.mark.parametrize("n_classes", [2, 5, 1000], ids=lambda k: f"K{k}")
def test_gamma_zero_without_alpha_is_the_softmax(n_classes):
    rng = np.random.default_rng(n_classes)
    raw = rng.normal(0.0, 10.0, (50, n_classes))
    raw[0, 0] = 1e4
    raw[1, :] = -1e4
    loss = FocalLoss(0.0)
    got, softmax = loss.posterior_proba(raw), loss.predict_proba(raw)
    tiny = softmax < 1e-300  # flushed to zero by the softmax kernel, subnormal here
    np.testing.assert_allclose(got[~tiny], softmax[~tiny], rtol=1e-13, atol=0)
    assert np.all(got[tiny] < 1e-290)


def test_gamma_zero_with_alpha_divides_out_alpha():
    raw = np.random.default_rng(1).normal(size=(8, 3))
    alpha = np.array([0.5, 2.0, 4.0])
    softmax = FocalLoss(0.0).predict_proba(raw)
    expected = softmax / alpha
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(FocalLoss(0.0, alpha).posterior_proba(raw), expected, rtol=1e-13)


def _focal_risk_minimiser(eta, alpha, gamma):
    """Margins (z_0 = 0) minimising sum_k eta_k alpha_k phi(softmax(z)_k), by scipy."""

    def risk(free):
        z = np.concatenate([[0.0], free])
        log_q = z - np.logaddexp.reduce(z)
        q = np.exp(log_q)
        return float(np.sum(eta * alpha * -((1.0 - q) ** gamma) * log_q))

    start = np.log(eta[1:]) - np.log(eta[0])
    result = minimize(risk, start, method="BFGS", options={"gtol": 1e-11})
    return np.concatenate([[0.0], result.x])


@pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0], ids=lambda g: f"gamma{g}")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_posterior_of_the_focal_risk_minimiser_is_eta(gamma, seed):
    rng = np.random.default_rng(seed)
    n_classes = 3 + seed
    eta = rng.dirichlet(np.ones(n_classes))
    alpha = rng.uniform(0.3, 3.0, n_classes)
    z = _focal_risk_minimiser(eta, alpha, gamma)
    softmax = FocalLoss(gamma, alpha).predict_proba(z[None, :])[0]
    got = FocalLoss(gamma, alpha).posterior_proba(z[None, :])[0]
    assert np.max(np.abs(softmax - eta)) > 1e-3  # the correction has something to undo
    np.testing.assert_allclose(got, eta, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("gamma", GAMMAS, ids=lambda g: f"gamma{g}")
def test_binary_matches_reference_and_the_two_column_case(gamma):
    z = np.array([-1e4, -800.0, -40.0, -3.0, -1e-9, 0.0, 0.7, 15.0, 40.0, 700.0, 1e4])
    loss = BinaryFocalLoss(gamma, 0.3)
    got = loss.posterior_proba(z)
    reference = np.array([reference_posterior(np.array([0.0, v]), gamma, [0.7, 0.3])[1] for v in z])
    assert_close_to_reference(got, reference, rtol=1e-12)
    # P(y=0) to full relative accuracy where P(y=1) is near 1: swap the classes (-z, alpha 0.7).
    reference_0 = np.array([reference_posterior(np.array([0.0, v]), gamma, [0.7, 0.3])[0] for v in z])
    assert_close_to_reference(BinaryFocalLoss(gamma, 0.7).posterior_proba(-z), reference_0, rtol=1e-12)
    two_columns = FocalLoss(gamma, [0.7, 0.3]).posterior_proba(np.column_stack([np.zeros_like(z), z]))
    np.testing.assert_array_equal(got, two_columns[:, 1])


def test_binary_gamma_zero_is_the_sigmoid_and_keeps_shape_and_dtype():
    z = np.linspace(-50.0, 50.0, 41)
    loss = BinaryFocalLoss(0.0)
    np.testing.assert_allclose(loss.posterior_proba(z), loss.predict_proba(z), rtol=1e-14, atol=0)
    column = z.astype(np.float32)[:, None]
    got = loss.posterior_proba(column)
    assert got.shape == (41, 1) and got.dtype == np.float32


def test_layouts_read_only_input_and_no_modification():
    raw = np.asfortranarray(np.random.default_rng(5).normal(0.0, 3.0, (30, 4)))
    raw.setflags(write=False)
    before = raw.copy()
    loss = FocalLoss(2.0, [1.0, 2.0, 0.5, 1.0])
    got = loss.posterior_proba(raw)
    np.testing.assert_array_equal(raw, before)
    np.testing.assert_allclose(got, loss.posterior_proba(np.ascontiguousarray(before)), rtol=0, atol=0)
    np.testing.assert_allclose(got[::3], loss.posterior_proba(before[::3]), rtol=0, atol=0)


def test_many_rows_use_every_chunk():
    raw = np.random.default_rng(6).normal(0.0, 3.0, (5000, 3))
    loss = FocalLoss(2.0)
    got = loss.posterior_proba(raw)
    np.testing.assert_allclose(got[4321], loss.posterior_proba(raw[4321:4322])[0], rtol=0, atol=0)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize(
    "loss, raw, message",
    [
        (FocalLoss(2.0), np.array([[0.0, np.nan]]), "NaN or inf"),
        (FocalLoss(2.0), np.zeros((3, 1)), "column"),
        (FocalLoss(2.0, [1.0, 0.0]), np.zeros((3, 2)), "alpha is 0 for class"),
        (FocalLoss(2.0, "balanced"), np.zeros((3, 2)), "resolve_alpha"),
        (BinaryFocalLoss(2.0, 1.0), np.zeros(3), "alpha is 0 for class"),
        (BinaryFocalLoss(2.0), np.array([np.inf]), "NaN or inf"),
    ],
    ids=["nan", "one_column", "zero_alpha", "unresolved", "binary_zero_alpha", "binary_inf"],
)
def test_bad_input_raises(loss, raw, message):
    with pytest.raises(ValueError, match=message):
        loss.posterior_proba(raw)


def test_huge_gamma_stays_finite():
    raw = np.array([[1e4, -1e4, 0.0], [3.0, 1.0, 0.0]])
    got = FocalLoss(1e200).posterior_proba(raw)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got.sum(axis=1), 1.0)
    assert math.isclose(got[0, 0], 1.0)


# ------------------------------------------------------------------------------ estimators
def _estimator(booster_name, **params):
    pytest.importorskip(booster_name)
    from boostfocal.sklearn import FocalLGBMClassifier, FocalXGBClassifier

    if booster_name == "xgboost":
        return FocalXGBClassifier(n_estimators=8, max_depth=3, random_state=0, **params)
    return FocalLGBMClassifier(n_estimators=8, num_leaves=7, random_state=0, **params)


@pytest.mark.parametrize("n_classes", [2, 3], ids=["binary", "multiclass"])
@pytest.mark.parametrize("booster_name", ["xgboost", "lightgbm"])
def test_estimator_probability_posterior(booster_name, n_classes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0] + 0.3 * rng.normal(size=300), [-0.5, 0.7][: n_classes - 1])
    labels = np.array(["a", "b", "c"])[y]
    alpha = 0.3 if n_classes == 2 else [1.0, 3.0, 0.5]
    softmax_model = _estimator(booster_name, gamma=3.0, alpha=alpha, probability="softmax").fit(X, labels)
    model = _estimator(booster_name, gamma=3.0, alpha=alpha).fit(X, labels)  # the default: posterior
    raw = model.decision_function(X)
    expected = model.loss_.posterior_proba(raw)
    if n_classes == 2:
        expected = np.column_stack([1.0 - expected, expected])
    got = model.predict_proba(X)
    np.testing.assert_allclose(got, expected, rtol=0, atol=0)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)
    # Same margins and decisions as the default; only the probabilities differ.
    np.testing.assert_array_equal(raw, softmax_model.decision_function(X))
    np.testing.assert_array_equal(model.predict(X), softmax_model.predict(X))
    assert np.max(np.abs(got - softmax_model.predict_proba(X))) > 1e-3


@pytest.mark.parametrize("booster_name", ["xgboost", "lightgbm"])
def test_estimator_rejects_unknown_probability_kind(booster_name):
    X = np.random.default_rng(1).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="probability must be one of"):
        _estimator(booster_name, probability="calibrated").fit(X, y)
    model = _estimator(booster_name).fit(X, y)
    model.set_params(probability="Posterior")
    with pytest.raises(ValueError, match="probability must be one of"):
        model.predict_proba(X)

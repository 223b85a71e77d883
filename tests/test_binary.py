"""BinaryFocalLoss: derivatives against finite differences, limit cases, agreement with the
two-class FocalLoss and with the boosters' logistic objectives, real-data training, bad input."""

import pickle

import numpy as np
import pytest
from scipy.special import expit, log_expit

from boostfocal import BinaryFocalLoss, FocalLoss, balanced_alpha, kernel_threads

GAMMAS = [0.0, 0.5, 1.0, 2.0, 5.0]
ALPHAS = [None, 0.25, 0.75]
POLICIES = ["exact", "psd", "floor"]
EXTREMES = [-1e4, -700.0, -100.0, -40.0, 40.0, 100.0, 700.0, 1e4]
LOGITS = np.concatenate([np.linspace(-30.0, 30.0, 121), EXTREMES])
EPS = np.finfo(np.float64).eps


def central_difference(function, z, step):
    """4th-order central difference of function(z) (elementwise) at z, steps per element."""
    near = function(z + step) - function(z - step)
    far = function(z + 2 * step) - function(z - 2 * step)
    return (8 * near - far) / (12 * step)


def fd_tolerance(differenced_values, step):
    """Absolute rounding error of a difference quotient: a few ulps of the values over the step."""
    return 50 * EPS * np.abs(differenced_values) / step


def alpha_pair(alpha):
    """(a_0, a_1) of a binary alpha: the mapping the docstring promises."""
    if alpha is None:
        return np.ones(2)
    if np.ndim(alpha) == 0:
        return np.array([1 - alpha, alpha])
    return np.asarray(alpha, dtype=float)


# ---------------------------------------------------------------- derivatives


@pytest.mark.parametrize("alpha", ALPHAS, ids=lambda a: f"alpha{a}")
@pytest.mark.parametrize("gamma", GAMMAS, ids=lambda g: f"gamma{g}")
def test_gradient_and_exact_hessian_match_finite_differences(gamma, alpha):
    """Relative accuracy over [-30, 30] and the extremes, including the tails where the values are
    tiny (a fixed absolute tolerance would pass anything there)."""
    loss = BinaryFocalLoss(gamma, alpha, hessian="exact")
    weight = np.random.default_rng(3).uniform(0.2, 3.0, LOGITS.shape[0])
    step = 1e-3 * np.maximum(1.0, np.abs(LOGITS) / 100)
    for label in (0, 1):
        y = np.full(LOGITS.shape, label)
        gradient, hessian = loss.gradient_hessian(y, LOGITS, weight)
        values = loss.loss(y, LOGITS, weight)
        gradient_fd = central_difference(lambda z: loss.loss(y, z, weight), LOGITS, step)
        hessian_fd = central_difference(
            lambda z: loss.gradient_hessian(y, z, weight)[0], LOGITS, step
        )
        # Truncation error is O(step^4) relative; rounding is bounded by fd_tolerance.
        gradient_error = np.abs(gradient - gradient_fd) - fd_tolerance(values, step)
        hessian_error = np.abs(hessian - hessian_fd) - fd_tolerance(gradient, step)
        bad_gradient = gradient_error > 1e-8 * np.abs(gradient_fd)
        bad_hessian = hessian_error > 1e-6 * np.abs(hessian_fd)
        assert not np.any(bad_gradient), (label, LOGITS[bad_gradient])
        assert not np.any(bad_hessian), (label, LOGITS[bad_hessian])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_soft_labels_match_finite_differences_and_mix_the_hard_rows(gamma):
    loss = BinaryFocalLoss(gamma, [0.3, 1.7], hessian="exact", soft_labels=True)
    rng = np.random.default_rng(5)
    z = rng.normal(0, 6, 200)
    y = rng.uniform(0, 1, 200)
    y[:20] = 0.0
    y[20:40] = 1.0
    step = 1e-3
    gradient, hessian = loss.gradient_hessian(y, z)
    gradient_fd = central_difference(lambda v: loss.loss(y, v), z, step)
    hessian_fd = central_difference(lambda v: loss.gradient_hessian(y, v)[0], z, step)
    np.testing.assert_allclose(gradient, gradient_fd, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(hessian, hessian_fd, rtol=1e-6, atol=1e-11)
    ones, zeros = np.ones_like(y), np.zeros_like(y)
    for policy in POLICIES:
        soft = loss.copy(hessian=policy)
        hard = BinaryFocalLoss(gamma, [0.3, 1.7], hessian=policy)
        expected_loss = y * hard.loss(ones, z) + (1 - y) * hard.loss(zeros, z)
        np.testing.assert_allclose(soft.loss(y, z), expected_loss, rtol=1e-13)
        as_one, as_zero = hard.gradient_hessian(ones, z), hard.gradient_hessian(zeros, z)
        for got, one, zero in zip(soft.gradient_hessian(y, z), as_one, as_zero):
            np.testing.assert_allclose(got, y * one + (1 - y) * zero, rtol=1e-13, atol=1e-300)
    # Hard labels give the same results with and without soft_labels.
    hard_labels = (z > 0).astype(int)
    np.testing.assert_array_equal(
        loss.loss(hard_labels, z), loss.copy(soft_labels=False).loss(hard_labels, z)
    )


@pytest.mark.parametrize("policy", POLICIES)
def test_gamma_zero_is_the_logistic_loss(policy):
    """Loss log(1 + e^-m), gradient p - y, Hessian p (1 - p) (floored for the positive policies)."""
    loss = BinaryFocalLoss(0.0, hessian=policy)
    z = np.concatenate([np.linspace(-35, 35, 141), EXTREMES])
    for label in (0, 1):
        y = np.full(z.shape, label)
        p = expit(z)
        margin = z if label else -z
        np.testing.assert_allclose(loss.loss(y, z), -log_expit(margin), rtol=1e-14, atol=0)
        gradient, hessian = loss.gradient_hessian(y, z)
        # p - y without cancellation: -(1 - p) = -expit(-z) for y = 1.
        np.testing.assert_allclose(gradient, p if label == 0 else -expit(-z), rtol=1e-14, atol=0)
        expected_hessian = expit(z) * expit(-z)
        if policy != "exact":
            expected_hessian = np.maximum(expected_hessian, 1e-16)
        np.testing.assert_allclose(hessian, expected_hessian, rtol=1e-13, atol=0)
    # Soft labels: the gradient is p - y as well.
    soft = BinaryFocalLoss(0.0, soft_labels=True)
    y = np.linspace(0, 1, z.shape[0])
    np.testing.assert_allclose(soft.gradient_hessian(y, z)[0], expit(z) - y, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("gamma", GAMMAS, ids=lambda g: f"gamma{g}")
def test_positive_policies_are_positive_and_exact_where_psi_is_convex(gamma):
    """psd and floor are > 0 everywhere; psd equals exact wherever psi''(s) >= 0, which is computed
    here independently by differencing psi(s) = -(1 - e^s)^gamma s in s = log p_t."""
    # Up to z = 15 (p_t = 1 - 3e-7) the differences in s below stay well above rounding noise.
    z = np.linspace(-40, 15, 801)
    alpha = [0.4, 1.3]
    exact, psd, floor = (
        BinaryFocalLoss(gamma, alpha, hessian=policy).gradient_hessian(np.ones(z.shape), z)[1]
        for policy in POLICIES
    )
    assert np.all(psd > 0) and np.all(floor > 0)
    np.testing.assert_array_equal(floor, np.maximum(exact, 1e-16 * alpha[1]))
    assert np.all(psd >= exact)

    s = log_expit(z)  # label 1: p_t = sigmoid(z)

    def psi(v):
        return -(-np.expm1(v)) ** gamma * v

    step = np.minimum(1e-3, -s / 4)  # stay inside s < 0
    near = psi(s + step) + psi(s - step)
    far = psi(s + 2 * step) + psi(s - 2 * step)
    psi_2 = (16 * near - far - 30 * psi(s)) / (12 * step**2)  # 4th-order second difference
    convex = (psi_2 > 1e-6) & (exact > 1e-16 * alpha[1])
    concave = psi_2 < -1e-6
    assert gamma == 0.0 or (np.sum(convex) > 20 and np.sum(concave) > 20)
    np.testing.assert_allclose(psd[convex], exact[convex], rtol=1e-14)
    assert np.all(psd[concave] > exact[concave])
    if gamma == 0.0:
        np.testing.assert_array_equal(psd, np.maximum(exact, 1e-16 * alpha[1]))
    if gamma > 0.0:
        # The exact Hessian does turn negative for badly classified rows: the policies matter.
        assert np.any(exact < 0)


# ---------------------------------------------------------------- accuracy at the extremes


@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.5, 0.99, 1.0, 2.0, 5.0, 10.0])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extremes_stay_finite(gamma, policy, dtype):
    z = np.array([-1e4, -1e3, -88.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 88.0, 1e3, 1e4], dtype=dtype)
    for label in (0, 1):
        loss = BinaryFocalLoss(gamma, 0.25, hessian=policy)
        y = np.full(z.shape, label)
        gradient, hessian = loss.gradient_hessian(y, z)
        assert gradient.dtype == hessian.dtype == dtype
        assert np.all(np.isfinite(loss.loss(y, z)))
        assert np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))
        if policy != "exact":
            assert np.all(hessian > 0)
        # Badly classified at |z| = 1e4: loss alpha_t |z| and gradient -sigma alpha_t, exactly.
        alpha_t = 0.25 if label else 0.75
        bad = 0 if label else -1
        assert loss.loss(y, z)[bad] == pytest.approx(alpha_t * 1e4, rel=1e-15)
        assert gradient[bad] == pytest.approx(-alpha_t if label else alpha_t, rel=1e-7)
        probability = loss.predict_proba(z)
        assert np.all(np.isfinite(probability)) and probability.dtype == dtype


def test_tails_are_relatively_accurate_where_textbook_forms_fail():
    """At z = 40 with y = 1, q = 1 - p = e^-40 / (1 + e^-40): 1 - p is 0 in doubles and
    (1 - p)^(gamma - 1) would be inf for gamma < 1. Leading terms: loss = q^gamma log(1 + e^-z)
    ~ e^-(gamma+1) z, gradient ~ -(1 + gamma) e^-(gamma+1) z, relative corrections ~ e^-40."""
    z = np.array([40.0])
    y = np.array([1])
    for gamma in (0.0, 0.5, 2.0):
        loss = BinaryFocalLoss(gamma, hessian="exact")
        expected = np.exp(-(gamma + 1) * 40.0)
        assert loss.loss(y, z)[0] == pytest.approx(expected, rel=1e-13)
        gradient, hessian = loss.gradient_hessian(y, z)
        assert gradient[0] == pytest.approx(-(1 + gamma) * expected, rel=1e-13)
        assert hessian[0] == pytest.approx((1 + gamma) ** 2 * expected, rel=1e-13)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 10.0])
@pytest.mark.parametrize("logit", [-700.0, -30.0, -3.0, 0.0, 2.5, 30.0, 45.0, 300.0])
def test_values_match_50_digit_reference(gamma, logit):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    g = mpmath.mpf(gamma)

    def focal(v):  # label 1, alpha 1: -(1 - p)^gamma log p in 50 digits, 1 - p = sigmoid(-v)
        return (1 / (1 + mpmath.exp(v))) ** g * mpmath.log1p(mpmath.exp(-v))

    loss = BinaryFocalLoss(gamma, hessian="exact")
    z = mpmath.mpf(logit)
    gradient, hessian = loss.gradient_hessian([1], [logit])
    assert loss.loss([1], [logit])[0] == pytest.approx(float(focal(z)), rel=1e-13, abs=1e-300)
    assert gradient[0] == pytest.approx(float(mpmath.diff(focal, z, 1)), rel=1e-11, abs=1e-300)
    assert hessian[0] == pytest.approx(float(mpmath.diff(focal, z, 2)), rel=1e-9, abs=1e-300)


# ---------------------------------------------------------------- the two-class FocalLoss

# (binary alpha, multiclass alpha) pairs that must describe the same loss.
CORRESPONDING_ALPHAS = {
    "none": (None, None),
    "float0.25": (0.25, [0.75, 0.25]),
    "pair": ([2.0, 0.5], [2.0, 0.5]),
}


@pytest.mark.parametrize(
    "alphas", list(CORRESPONDING_ALPHAS.values()), ids=list(CORRESPONDING_ALPHAS)
)
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0], ids=lambda g: f"gamma{g}")
def test_agrees_with_two_class_focal_loss_on_the_logit_difference(gamma, policy, alphas):
    """softmax(z_0, z_1)_1 = sigmoid(z_1 - z_0): losses equal, and the binary gradient/Hessian in
    d = z_1 - z_0 equal the multiclass ones in z_1 (= minus/plus those in z_0)."""
    rng = np.random.default_rng(11)
    n = 400
    raw = rng.normal(0, 8, (n, 2))
    raw[:100] += rng.choice([-1e3, 1e3], (100, 1))  # large common shifts change nothing
    raw[100:120, 1] = raw[100:120, 0] + rng.choice([-50.0, 50.0], 20)  # saturated rows
    y = rng.integers(0, 2, n)
    weight = rng.uniform(0.1, 3, n)
    binary_alpha, multiclass_alpha = alphas
    binary = BinaryFocalLoss(gamma, binary_alpha, hessian=policy)
    multiclass = FocalLoss(gamma, multiclass_alpha, hessian=policy)
    difference = raw[:, 1] - raw[:, 0]

    np.testing.assert_allclose(
        binary.loss(y, difference, weight), multiclass.loss(y, raw, weight), rtol=1e-12, atol=1e-300
    )
    assert binary.mean_loss(y, difference, weight) == pytest.approx(
        multiclass.mean_loss(y, raw, weight), rel=1e-13
    )
    gradient, hessian = binary.gradient_hessian(y, difference, weight)
    gradient_mc, hessian_mc = multiclass.gradient_hessian(y, raw, weight)
    np.testing.assert_allclose(gradient, gradient_mc[:, 1], rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(gradient, -gradient_mc[:, 0], rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(hessian, hessian_mc[:, 1], rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(hessian, hessian_mc[:, 0], rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(
        binary.predict_proba(difference), multiclass.predict_proba(raw)[:, 1], rtol=1e-14
    )
    margins = multiclass.init_raw_prediction(y, weight, n_classes=2)
    assert binary.init_raw_prediction(y, weight) == pytest.approx(margins[1] - margins[0], abs=1e-9)


def test_balanced_alpha_agrees_with_the_multiclass_resolution():
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    weight = np.linspace(0.5, 2.0, 100)
    loss = BinaryFocalLoss(2.0, "balanced")
    assert not loss.alpha_is_resolved
    with pytest.raises(ValueError, match="resolve_alpha"):
        loss.loss(y, np.zeros(100))
    resolved = loss.resolve_alpha(y, weight)
    assert resolved.alpha_is_resolved and loss.alpha == "balanced"
    # Balanced classes carry equal total weight, so the best constant logit is 0.
    assert abs(resolved.init_raw_prediction(y, weight)) < 1e-12
    np.testing.assert_allclose(resolved.alpha, balanced_alpha(y, 2, weight), rtol=1e-14)
    multiclass = FocalLoss(2.0, "balanced").resolve_alpha(y, weight, 2)
    np.testing.assert_allclose(resolved.alpha, multiclass.alpha, rtol=1e-14)
    # Soft labels split each row's weight between the classes.
    soft = BinaryFocalLoss(2.0, "balanced", soft_labels=True).resolve_alpha([0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(soft.alpha, 4 / (2 * np.array([1.5, 2.5])))
    # The FocalLoss call signature with n_classes=2 (as generic callers use it) works the same.
    np.testing.assert_array_equal(loss.resolve_alpha(y, weight, n_classes=2).alpha, resolved.alpha)
    assert resolved.init_raw_prediction(y, weight, n_classes=2) == resolved.init_raw_prediction(
        y, weight
    )
    # Other alphas pass through.
    assert BinaryFocalLoss(2.0, 0.25).resolve_alpha(y) == BinaryFocalLoss(2.0, 0.25)


# ---------------------------------------------------------------- constant initial margin


@pytest.mark.parametrize("alpha", [None, 0.25, [3.0, 0.2]], ids=["none", "float", "pair"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_init_raw_prediction_minimises_the_mean_loss(gamma, alpha):
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(2)
    y = (rng.uniform(size=300) < 0.08).astype(int)
    weight = rng.uniform(0.5, 2.0, 300)
    loss = BinaryFocalLoss(gamma, alpha)
    margin = loss.init_raw_prediction(y, weight)
    assert isinstance(margin, float)

    def objective(b):
        return loss.mean_loss(y, np.full(300, b), weight)

    best = minimize_scalar(objective, bracket=(-5.0, 0.0), tol=1e-12)
    assert margin == pytest.approx(best.x, abs=1e-5)
    assert objective(margin) <= objective(best.x) + 1e-14
    if gamma == 0.0:
        a_0, a_1 = alpha_pair(alpha)
        expected = np.log(a_1 * weight[y == 1].sum()) - np.log(a_0 * weight[y == 0].sum())
        assert margin == pytest.approx(expected, rel=1e-14)


def test_init_raw_prediction_with_one_class_is_finite():
    loss = BinaryFocalLoss(2.0)
    assert loss.init_raw_prediction([1, 1, 1]) == pytest.approx(np.log(1e12))
    assert loss.init_raw_prediction([0, 0]) == pytest.approx(-np.log(1e12))
    # alpha = 1.0 gives class 0 no weight at all.
    assert BinaryFocalLoss(2.0, 1.0).init_raw_prediction([0, 1]) == pytest.approx(np.log(1e12))
    with pytest.raises(ValueError, match="positive total weight"):
        loss.init_raw_prediction([0, 1], [0.0, 0.0])


# ---------------------------------------------------------------- weights, dtypes, layouts, state


@pytest.mark.parametrize("policy", POLICIES)
def test_alpha_and_sample_weight_multiply(policy):
    rng = np.random.default_rng(0)
    z = rng.normal(0, 5, 100)
    y = rng.integers(0, 2, 100)
    weight = rng.uniform(0, 3, 100)
    plain = BinaryFocalLoss(1.5, hessian=policy)
    weighted = BinaryFocalLoss(1.5, [0.2, 4.0], hessian=policy)
    factor = np.where(y == 1, 4.0, 0.2) * weight
    np.testing.assert_allclose(weighted.loss(y, z, weight), factor * plain.loss(y, z), rtol=1e-14)
    for got, base in zip(weighted.gradient_hessian(y, z, weight), plain.gradient_hessian(y, z)):
        np.testing.assert_allclose(got, factor * base, rtol=1e-14)
    assert weighted.mean_loss(y, z, weight) == pytest.approx(
        np.sum(factor * plain.loss(y, z)) / weight.sum(), rel=1e-13
    )


@pytest.mark.parametrize("policy", POLICIES)
def test_dtypes_layouts_column_shape_and_read_only_inputs(policy):
    rng = np.random.default_rng(1)
    n = 9000  # several chunks
    z = rng.normal(0, 6, n)
    y = rng.integers(0, 2, n)
    weight = rng.uniform(0, 2, n)
    loss = BinaryFocalLoss(2.0, 0.25, hessian=policy)
    gradient, hessian = loss.gradient_hessian(y, z, weight)
    wide = np.zeros((n, 3))
    wide[:, 1] = z
    frozen = [a.copy() for a in (z, y, weight)]
    for array in frozen:
        array.setflags(write=False)
    # The variants run on the serial kernel's compilations (see the multiclass twin of this test
    # in test_focal_loss.py: each layout and dtype is one more compilation, about 3.5x as long for
    # the parallel kernel); the reference above comes from the parallel one.
    with kernel_threads(1):
        variants = {
            "strided": (wide[:, 1], (n,)),
            "column_C": (z[:, None].copy(), (n, 1)),
            "column_F": (np.asfortranarray(z[:, None]), (n, 1)),
            "column_strided": (wide[:, 1:2], (n, 1)),
            "read_only": (frozen[0], (n,)),
        }
        for name, (raw, shape) in variants.items():
            got_gradient, got_hessian = loss.gradient_hessian(frozen[1], raw, frozen[2], order="F")
            assert got_gradient.shape == got_hessian.shape == shape, name
            np.testing.assert_array_equal(got_gradient.reshape(-1), gradient, err_msg=name)
            np.testing.assert_array_equal(got_hessian.reshape(-1), hessian, err_msg=name)
            np.testing.assert_array_equal(loss.loss(y, raw, weight), loss.loss(y, z, weight))
            assert loss.predict_proba(raw).shape == shape
        # float32 in: float32 out, computed in float64 from the float32 values.
        z32 = z.astype(np.float32)
        gradient32, hessian32 = loss.gradient_hessian(y, z32, weight)
        assert gradient32.dtype == hessian32.dtype == np.float32
        expected = loss.gradient_hessian(y, z32.astype(np.float64), weight)
        np.testing.assert_array_equal(gradient32, expected[0].astype(np.float32))
        np.testing.assert_array_equal(hessian32, expected[1].astype(np.float32))
        assert loss.gradient_hessian(y, z32, dtype=np.float64)[0].dtype == np.float64
        assert loss.gradient_hessian(y, z.astype(int))[0].dtype == np.float64
        assert loss.predict_proba(z32).dtype == np.float32
        # Labels as floats, small ints, lists and columns are all accepted.
        for labels in (y.astype(np.float32), y.astype(np.uint8), y.tolist(), y[:, None]):
            np.testing.assert_array_equal(loss.loss(labels, z), loss.loss(y, z))
    # Nothing was modified.
    np.testing.assert_array_equal(wide[:, 1], z)


def test_out_arrays_are_filled_and_returned():
    rng = np.random.default_rng(11)
    raw = rng.normal(scale=4.0, size=2000)
    y = (rng.random(2000) < 0.3).astype(np.float64)
    loss = BinaryFocalLoss(2.5, 0.3)
    expected = loss.gradient_hessian(y, raw)
    for shape, dtype in (((2000,), np.float64), ((2000, 1), np.float32)):
        out = (np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype))
        result = loss.gradient_hessian(y, raw.reshape(shape), out=out)
        assert result[0] is out[0] and result[1] is out[1]
        np.testing.assert_allclose(out[0].reshape(-1), expected[0], rtol=1e-6 if dtype == np.float32 else 0)
        np.testing.assert_allclose(out[1].reshape(-1), expected[1], rtol=1e-6 if dtype == np.float32 else 0)
    bad_outs = {
        "pair": (np.zeros(2000), TypeError),
        "shape": ((np.zeros(1999), np.zeros(1999)), ValueError),
        "share": ((expected[0].copy(),) * 2, ValueError),
        "C-contiguous": ((np.zeros(4000)[::2], np.zeros(2000)), ValueError),
        "read-only": ((np.zeros(2000), np.zeros(2000)), ValueError),
    }
    bad_outs["read-only"][0][0].setflags(write=False)
    for message, (out, error) in bad_outs.items():
        with pytest.raises(error, match=message):
            loss.gradient_hessian(y, raw, out=out)


def test_empty_input_gives_empty_results():
    loss = BinaryFocalLoss()
    assert loss.loss(np.zeros(0), np.zeros(0)).shape == (0,)
    gradient, hessian = loss.gradient_hessian(np.zeros(0), np.zeros((0, 1)))
    assert gradient.shape == hessian.shape == (0, 1)


def test_parameters_copy_equality_and_pickling():
    y = np.array([0, 1, 1, 0, 0])
    z = np.array([-3.0, 2.0, -0.5, 0.1, 40.0])
    losses = [
        BinaryFocalLoss(),
        BinaryFocalLoss(0.7, 0.25, hessian="floor", hessian_floor=1e-3),
        BinaryFocalLoss(3.0, [1.0, 5.0], hessian="exact"),
        BinaryFocalLoss(2.0, "balanced"),
        BinaryFocalLoss(2.0, "balanced").resolve_alpha(y),
        BinaryFocalLoss(1.0, soft_labels=True),
    ]
    for loss in losses:
        clone = pickle.loads(pickle.dumps(loss))
        assert clone == loss and repr(clone) == repr(loss)
        assert BinaryFocalLoss(**loss.get_params()) == loss
        assert loss.copy() == loss and loss.copy() is not loss
        if loss.alpha_is_resolved:
            np.testing.assert_array_equal(clone.loss(y, z), loss.loss(y, z))
    assert BinaryFocalLoss.is_binary is True and BinaryFocalLoss().is_binary
    assert BinaryFocalLoss(alpha=0.25).get_params()["alpha"] == 0.25
    assert BinaryFocalLoss(alpha=np.array([1, 2])).get_params()["alpha"] == [1.0, 2.0]
    assert BinaryFocalLoss().copy(gamma=0.0) == BinaryFocalLoss(0.0)
    assert BinaryFocalLoss(2.0) != BinaryFocalLoss(2.5) and BinaryFocalLoss() != FocalLoss()
    assert "alpha=0.25" in repr(BinaryFocalLoss(alpha=0.25))
    with pytest.raises(TypeError):
        hash(BinaryFocalLoss())


# ---------------------------------------------------------------- bad input

Y3 = np.array([0, 1, 1])
Z3 = np.zeros(3)

BAD_INPUTS = {
    "labels_two": (lambda l: l.loss([0, 1, 2], Z3), ValueError, r"\[0, 2\)"),
    "labels_negative": (lambda l: l.loss([0, -1, 1], Z3), ValueError, r"\[0, 2\)"),
    "labels_fraction": (lambda l: l.loss([0, 0.5, 1], Z3), ValueError, "non-integer"),
    "labels_nan": (lambda l: l.loss([0, np.nan, 1], Z3), ValueError, "NaN"),
    "labels_strings": (lambda l: l.loss(["a", "b", "c"], Z3), TypeError, "y_true"),
    "labels_wrong_length": (lambda l: l.loss([0, 1], Z3), ValueError, "2 labels"),
    "labels_2d": (lambda l: l.loss(np.zeros((3, 2)), Z3), ValueError, "1-D"),
    "soft_labels_out_of_range": (
        lambda l: l.copy(soft_labels=True).loss([0, 1.5, 1], Z3), ValueError, r"\[0, 1\]"),
    "soft_labels_nan": (
        lambda l: l.copy(soft_labels=True).loss([0, np.nan, 1], Z3), ValueError, "NaN"),
    "raw_two_columns": (lambda l: l.loss(Y3, np.zeros((3, 2))), ValueError, "FocalLoss"),
    "raw_3d": (lambda l: l.loss(Y3, np.zeros((3, 1, 1))), ValueError, "n_samples"),
    "raw_nan": (lambda l: l.loss(Y3, [0.0, np.nan, 1.0]), ValueError, "row 1"),
    "raw_inf_gradient": (
        lambda l: l.gradient_hessian(Y3, [0.0, 1.0, -np.inf]), ValueError, "row 2"),
    "raw_strings": (lambda l: l.loss(Y3, np.array(["a", "b", "c"])), TypeError, "raw_prediction"),
    "proba_nan": (lambda l: l.predict_proba([np.nan]), ValueError, "NaN"),
    "weight_negative": (lambda l: l.loss(Y3, Z3, [1.0, -1.0, 1.0]), ValueError, "non-negative"),
    "weight_wrong_length": (lambda l: l.loss(Y3, Z3, [1.0, 1.0]), ValueError, "sample_weight"),
    "mean_zero_weight": (
        lambda l: l.mean_loss(Y3, Z3, [0.0, 0.0, 0.0]), ValueError, "positive total"),
    "dtype_int": (lambda l: l.gradient_hessian(Y3, Z3, dtype=np.int32), TypeError, "dtype"),
    "alpha_above_one": (lambda l: BinaryFocalLoss(alpha=1.5), ValueError, r"\[0, 1\]"),
    "alpha_negative": (lambda l: BinaryFocalLoss(alpha=-0.1), ValueError, r"\[0, 1\]"),
    "alpha_nan": (lambda l: BinaryFocalLoss(alpha=float("nan")), ValueError, r"\[0, 1\]"),
    "alpha_three_weights": (lambda l: BinaryFocalLoss(alpha=[1, 2, 3]), ValueError, "2 entries"),
    "alpha_negative_weight": (lambda l: BinaryFocalLoss(alpha=[1, -2]), ValueError, "non-negative"),
    "alpha_bool": (lambda l: BinaryFocalLoss(alpha=True), TypeError, "bool"),
    "alpha_unknown_string": (lambda l: BinaryFocalLoss(alpha="auto"), ValueError, "balanced"),
    "gamma_negative": (lambda l: BinaryFocalLoss(gamma=-1.0), ValueError, "gamma"),
    "gamma_string": (lambda l: BinaryFocalLoss(gamma="2"), TypeError, "gamma"),
    "hessian_unknown": (lambda l: BinaryFocalLoss(hessian="diag"), ValueError, "hessian"),
    "hessian_floor_zero": (
        lambda l: BinaryFocalLoss(hessian_floor=0.0), ValueError, "hessian_floor"),
    "soft_labels_not_bool": (
        lambda l: BinaryFocalLoss(soft_labels="yes"), TypeError, "soft_labels"),
    "n_classes_three": (lambda l: l.init_raw_prediction(Y3, n_classes=3), ValueError, "n_classes"),
    "balanced_unresolved_init": (
        lambda l: l.copy(alpha="balanced").init_raw_prediction(Y3), ValueError, "resolve_alpha"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_raises_a_clear_error(case):
    call, error, message = case
    with pytest.raises(error, match=message):
        call(BinaryFocalLoss(2.0))


# ---------------------------------------------------------------- boosters: logistic reproduction


def _logistic_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] - 0.7 * X[:, 1] + 0.8 * rng.normal(size=n) > 1.0).astype(np.float64)
    weight = rng.uniform(0.5, 2.0, n)
    return X, y, weight


def test_reproduces_xgboost_binary_logistic_and_base_score_semantics():
    """gamma = 0 with the exact Hessian is binary:logistic. With a custom objective XGBoost 3.2 does
    not estimate base_score; it reads it through the link of params["objective"]: a probability
    when objective="binary:logistic" (as XGBClassifier sets it), a raw margin when no objective is
    given (reg:squarederror, identity link)."""
    xgb = pytest.importorskip("xgboost")
    X, y, weight = _logistic_data()
    dtrain = xgb.DMatrix(X, label=y, weight=weight)
    loss = BinaryFocalLoss(0.0, hessian="exact")
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "base_score": 0.3}
    logistic = dict(params, objective="binary:logistic")
    evals, focal_evals = {}, {}
    reference = xgb.train(
        dict(logistic, eval_metric="logloss"), dtrain, 8,
        evals=[(dtrain, "train")], evals_result=evals, verbose_eval=False,
    )
    expected = reference.predict(dtrain, output_margin=True)
    assert abs(expected.mean()) > 0.1  # a real model, not a constant

    custom = xgb.train(
        dict(logistic, disable_default_eval_metric=1), dtrain, 8,
        obj=loss.xgboost_objective, custom_metric=loss.xgboost_metric,
        evals=[(dtrain, "train")], evals_result=focal_evals, verbose_eval=False,
    )
    margins = custom.predict(dtrain, output_margin=True)
    np.testing.assert_allclose(margins, expected, rtol=0, atol=2e-5)
    # The focal metric at gamma = 0 is the weighted log loss.
    np.testing.assert_allclose(
        focal_evals["train"]["focal_loss"], evals["train"]["logloss"], rtol=1e-5
    )

    # No objective given: base_score is a margin, so logit(0.3) reproduces the same model ...
    margin_params = dict(params, base_score=float(np.log(0.3 / 0.7)))
    as_margin = xgb.train(margin_params, dtrain, 8, obj=loss.xgboost_objective)
    margins = as_margin.predict(dtrain, output_margin=True)
    np.testing.assert_allclose(margins, expected, rtol=0, atol=2e-5)
    # ... and 0.3 itself, taken as a margin, gives a different model.
    as_probability = xgb.train(params, dtrain, 8, obj=loss.xgboost_objective)
    assert np.max(np.abs(as_probability.predict(dtrain, output_margin=True) - expected)) > 0.5


def test_reproduces_lightgbm_binary():
    lgb = pytest.importorskip("lightgbm")
    X, y, weight = _logistic_data()
    params = {"num_leaves": 7, "learning_rate": 0.2, "num_threads": 1, "verbose": -1,
              "boost_from_average": False, "deterministic": True, "force_row_wise": True}
    reference = lgb.train(dict(params, objective="binary"), lgb.Dataset(X, y, weight=weight), 8)
    expected = reference.predict(X, raw_score=True)
    assert abs(expected.mean()) > 0.1
    loss = BinaryFocalLoss(0.0, hessian="exact")
    custom = lgb.train(
        dict(params, objective=loss.lightgbm_objective), lgb.Dataset(X, y, weight=weight), 8
    )
    np.testing.assert_allclose(custom.predict(X, raw_score=True), expected, rtol=0, atol=1e-6)
    result = loss.lightgbm_metric(expected, lgb.Dataset(X, y, weight=weight).construct())
    assert result[0] == "focal_loss" and result[2] is False
    log_loss = -log_expit(np.where(y == 1, expected, -expected))
    # LightGBM stores the weights as float32; the mean is then taken in float64.
    float32_weight = weight.astype(np.float32).astype(np.float64)
    expected_metric = np.sum(float32_weight * log_loss) / float32_weight.sum()
    assert result[1] == pytest.approx(expected_metric, rel=1e-12)


# ---------------------------------------------------------------- a real imbalanced binary task


@pytest.fixture(scope="module")
def thyroid_binary():
    """UCI thyroid (ann): abnormal (classes 0 and 1, ~7.5 %) against normal (class 2)."""
    from conftest import load_shared_csv

    X_train, y_train = load_shared_csv("thyroid_ann_train")
    X_test, y_test = load_shared_csv("thyroid_ann_test")
    return X_train, (y_train < 2).astype(int), X_test, (y_test < 2).astype(int)


def _average_precision(y, score):
    from sklearn.metrics import average_precision_score

    return average_precision_score(y, score)


def test_real_task_trains_with_xgboost_train_and_sklearn_apis(thyroid_binary):
    xgb = pytest.importorskip("xgboost")
    X_train, y_train, X_test, y_test = thyroid_binary
    loss = BinaryFocalLoss(2.0, "balanced").resolve_alpha(y_train)
    base_score = float(loss.predict_proba([loss.init_raw_prediction(y_train)])[0])
    params = {"objective": "binary:logistic", "base_score": base_score, "max_depth": 3,
              "learning_rate": 0.3, "tree_method": "hist"}
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dtest = xgb.DMatrix(X_test, label=y_test)
    history = {}
    booster = xgb.train(
        dict(params, nthread=1, disable_default_eval_metric=1), dtrain, 30,
        obj=loss.xgboost_objective, custom_metric=loss.xgboost_metric,
        evals=[(dtest, "test")], evals_result=history, verbose_eval=False,
    )
    focal = history["test"]["focal_loss"]
    assert focal[-1] < 0.25 * focal[0]
    margin = booster.predict(dtest, output_margin=True)
    assert _average_precision(y_test, margin) > 0.9

    sklearn_params = {key: value for key, value in params.items() if key != "objective"}
    model = xgb.XGBClassifier(
        n_estimators=30, objective=loss.sklearn_objective, n_jobs=1, **sklearn_params
    )
    model.fit(X_train, y_train)
    # Same trees through both APIs; predict_proba applies the sigmoid (objective binary:logistic).
    np.testing.assert_allclose(model.predict(X_test, output_margin=True), margin, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        model.predict_proba(X_test)[:, 1], loss.predict_proba(margin), rtol=1e-5, atol=1e-7
    )


def test_real_task_trains_with_lightgbm_train_and_sklearn_apis(thyroid_binary):
    lgb = pytest.importorskip("lightgbm")
    X_train, y_train, X_test, y_test = thyroid_binary
    loss = BinaryFocalLoss(2.0, 0.25)
    init = loss.init_raw_prediction(y_train)
    params = {"num_leaves": 7, "learning_rate": 0.2, "min_child_samples": 10, "verbose": -1,
              "deterministic": True, "force_row_wise": True}
    train_set = lgb.Dataset(X_train, y_train, init_score=np.full(y_train.shape, init))
    test_set = lgb.Dataset(
        X_test, y_test, init_score=np.full(y_test.shape, init), reference=train_set
    )
    history = {}
    booster = lgb.train(
        dict(params, objective=loss.lightgbm_objective, metric="None", num_threads=1),
        train_set,
        30,
        valid_sets=[test_set], valid_names=["test"], feval=loss.lightgbm_metric,
        callbacks=[lgb.record_evaluation(history)],
    )
    focal = history["test"]["focal_loss"]
    assert focal[-1] < 0.25 * focal[0]
    margin = booster.predict(X_test, raw_score=True) + init
    assert _average_precision(y_test, margin) > 0.9

    model = lgb.LGBMClassifier(
        n_estimators=30, objective=loss.sklearn_objective, n_jobs=1, **params
    )
    model.fit(X_train, y_train, init_score=np.full(y_train.shape, init))
    # LightGBM returns raw scores for custom objectives; the same trees through both APIs.
    np.testing.assert_allclose(
        model.predict(X_test, raw_score=True), margin - init, rtol=0, atol=1e-9
    )


def test_boolean_labels_are_classes_zero_and_one():
    rng = np.random.default_rng(4)
    raw = rng.normal(0, 3, 50)
    labels = rng.random(50) > 0.7
    for loss in (BinaryFocalLoss(2.0, 0.25), BinaryFocalLoss(2.0, soft_labels=True)):
        expected = loss.gradient_hessian(labels.astype(int), raw)
        result = loss.gradient_hessian(labels, raw)
        np.testing.assert_array_equal(result[0], expected[0])
        np.testing.assert_array_equal(result[1], expected[1])

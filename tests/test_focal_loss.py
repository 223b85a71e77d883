"""FocalLoss: derivatives against finite differences, limit cases, policies, extremes, bad input."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

from boostfocal import FocalLoss, balanced_alpha, kernel_threads

GAMMAS = [0.0, 0.5, 1.0, 2.0, 3.7, 5.0]
N_CLASSES = [2, 3, 10]
LOGIT_KINDS = ["normal1", "normal5", "extreme_rows"]
POLICIES = ["exact", "psd", "floor"]


def make_case(n_classes, logit_kind, seed=0, n_samples=24):
    """Labels and raw predictions; "extreme_rows" puts p_t near 1 in half the rows and near 0 in
    the other half."""
    rng = np.random.default_rng([seed, n_classes, LOGIT_KINDS.index(logit_kind)])
    y = rng.integers(0, n_classes, n_samples)
    if logit_kind == "normal1":
        raw = rng.normal(0.0, 1.0, (n_samples, n_classes))
    elif logit_kind == "normal5":
        raw = rng.normal(0.0, 5.0, (n_samples, n_classes))
    else:
        raw = rng.normal(0.0, 1.0, (n_samples, n_classes))
        sign = np.where(np.arange(n_samples) % 2 == 0, 1.0, -1.0)
        raw[np.arange(n_samples), y] = sign * 9.0  # p_t ~ 1 - 1e-4 * K or ~ 1e-4 / K
    return y, raw


def central_difference(function, raw, column, step):
    """4th-order central difference of function(raw) (per row) w.r.t. raw[:, column]."""

    def at(offset):
        shifted = raw.copy()
        shifted[:, column] += offset
        return function(shifted)

    return (-at(2 * step) + 8 * at(step) - 8 * at(-step) + at(-2 * step)) / (12 * step)


def assert_exact_derivatives_match_finite_differences(loss, y, raw, weight):
    """Every column of the gradient and of the exact Hessian diagonal against 4th-order central
    differences of the loss and of the gradient; returns (gradient, hessian)."""
    gradient, hessian = loss.gradient_hessian(y, raw, weight)
    step = 1e-3
    for column in range(raw.shape[1]):
        gradient_fd = central_difference(lambda z: loss.loss(y, z, weight), raw, column, step)
        hessian_fd = central_difference(
            lambda z: loss.gradient_hessian(y, z, weight)[0][:, column], raw, column, step
        )
        # Truncation error is O(step^4) ~ 1e-12 times the 5th derivative; rounding ~ 1e-16 / step.
        np.testing.assert_allclose(gradient[:, column], gradient_fd, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(hessian[:, column], hessian_fd, rtol=1e-6, atol=1e-9)
    return gradient, hessian


def _grid_ids(value):
    return repr(value)


@pytest.mark.parametrize("logit_kind", LOGIT_KINDS)
@pytest.mark.parametrize("n_classes", N_CLASSES, ids=lambda k: f"K{k}")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha_kind", ["none", "vector"])
@pytest.mark.parametrize("gamma", GAMMAS, ids=lambda g: f"gamma{g}")
def test_gradient_and_exact_hessian_match_finite_differences(
    gamma, alpha_kind, weighted, n_classes, logit_kind
):
    y, raw = make_case(n_classes, logit_kind)
    rng = np.random.default_rng(7)
    alpha = None if alpha_kind == "none" else rng.uniform(0.2, 3.0, n_classes)
    weight = rng.uniform(0.1, 4.0, y.shape[0]) if weighted else None
    loss = FocalLoss(gamma, alpha, hessian="exact")
    assert_exact_derivatives_match_finite_differences(loss, y, raw, weight)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("n_classes", [63, 64, 65, 300], ids=lambda k: f"K{k}")
def test_many_classes_match_finite_differences_on_both_output_paths(n_classes, policy):
    """Up to multiclass.TRANSPOSED_UP_TO classes the kernel builds its outputs in transposed blocks,
    above it writes each row straight out: both against finite differences (exact policy), at a
    non-integer gamma, with weights and per-class alpha, on every column of rows with p_t near 0,
    near 1 and in between; the positive policies keep the gradient and a positive Hessian
    ("floor": the exact one raised to the floor)."""
    from boostfocal.kernels.multiclass import TRANSPOSED_UP_TO

    assert 63 <= TRANSPOSED_UP_TO < 65  # the parameters straddle the switch
    y, raw = make_case(n_classes, "extreme_rows", n_samples=12)
    raw[:4] = make_case(n_classes, "normal5", n_samples=4)[1]
    rng = np.random.default_rng(3)
    alpha = rng.uniform(0.2, 3.0, n_classes)
    weight = rng.uniform(0.1, 4.0, y.shape[0])
    exact = FocalLoss(2.5, alpha, hessian="exact")
    gradient, hessian = assert_exact_derivatives_match_finite_differences(exact, y, raw, weight)
    if policy != "exact":
        gradient_p, hessian_p = FocalLoss(2.5, alpha, hessian=policy).gradient_hessian(y, raw, weight)
        np.testing.assert_array_equal(gradient_p, gradient)
        assert np.all(hessian_p > 0)
        if policy == "floor":  # the exact Hessian, raised to the floor where it is below it
            floor = 1e-16 * weight[:, None] * alpha[y][:, None]
            np.testing.assert_allclose(hessian_p, np.maximum(hessian, floor), rtol=1e-12, atol=0)


def softmax_reference(raw):
    shifted = raw - raw.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n_classes", [2, 3, 10, 50])
@pytest.mark.parametrize("policy", ["exact", "psd"])
def test_gamma_zero_is_softmax_cross_entropy(n_classes, policy):
    y, raw = make_case(n_classes, "normal5", n_samples=200)
    loss = FocalLoss(0.0, None, hessian=policy)
    gradient, hessian = loss.gradient_hessian(y, raw)
    p = softmax_reference(raw)
    one_hot = np.eye(n_classes)[y]
    np.testing.assert_allclose(gradient, p - one_hot, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hessian, p * (1 - p), rtol=1e-12, atol=1e-15)
    log_p = raw - raw.max(1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
    # The reference log-softmax loses ~1e-16 absolute to cancellation as p_t -> 1; ours does not.
    np.testing.assert_allclose(loss.loss(y, raw), -log_p[np.arange(len(y)), y], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_alpha_and_sample_weight_multiply_loss_gradient_hessian(gamma, policy):
    y, raw = make_case(4, "normal5", n_samples=300)
    rng = np.random.default_rng(3)
    alpha = rng.uniform(0.1, 5.0, 4)
    weight = rng.uniform(0.0, 3.0, y.shape[0])
    plain = FocalLoss(gamma, None, hessian=policy)
    weighted = FocalLoss(gamma, alpha, hessian=policy)
    factor = alpha[y] * weight
    np.testing.assert_allclose(weighted.loss(y, raw, weight), factor * plain.loss(y, raw), rtol=1e-13)
    gradient, hessian = weighted.gradient_hessian(y, raw, weight)
    gradient_plain, hessian_plain = plain.gradient_hessian(y, raw)
    np.testing.assert_allclose(gradient, factor[:, None] * gradient_plain, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(hessian, factor[:, None] * hessian_plain, rtol=1e-13, atol=1e-300)
    assert weighted.mean_loss(y, raw, weight) == pytest.approx(
        np.sum(factor * plain.loss(y, raw)) / weight.sum(), rel=1e-12
    )


def psi_derivatives_reference(p_true, gamma):
    """psi'(s), psi''(s) for psi(s) = -(1 - e^s)^gamma s, textbook forms (moderate p_t only)."""
    s = np.log(p_true)
    q = 1.0 - p_true
    psi_1 = gamma * p_true * q ** (gamma - 1) * s - q**gamma
    psi_2 = gamma * p_true * q ** (gamma - 2) * (q * (s + 2) - (gamma - 1) * p_true * s)
    return psi_1, psi_2


@pytest.mark.parametrize("gamma", GAMMAS, ids=lambda g: f"gamma{g}")
@pytest.mark.parametrize("n_classes", [2, 3, 10, 30])
def test_positive_policies_are_positive_and_exact_where_convex(gamma, n_classes):
    rng = np.random.default_rng(11)
    y = rng.integers(0, n_classes, 400)
    raw = rng.normal(0, 3.0, (400, n_classes))
    alpha = rng.uniform(0.5, 2.0, n_classes)
    exact = FocalLoss(gamma, alpha, hessian="exact").gradient_hessian(y, raw)[1]
    psd = FocalLoss(gamma, alpha, hessian="psd").gradient_hessian(y, raw)[1]
    floor = FocalLoss(gamma, alpha, hessian="floor", hessian_floor=1e-6).gradient_hessian(y, raw)[1]
    assert np.all(psd > 0) and np.all(floor > 0)
    np.testing.assert_allclose(floor, alpha[y][:, None] * np.maximum(exact / alpha[y][:, None], 1e-6))

    # Independent construction of the psd matrix: max(psi'', 0) (e_t-p)(e_t-p)^T - psi' (diag p - pp^T).
    p = softmax_reference(raw)
    p_true = p[np.arange(len(y)), y]
    psi_1, psi_2 = psi_derivatives_reference(p_true, gamma)
    for i in range(0, len(y), 37):
        e_minus_p = np.eye(n_classes)[y[i]] - p[i]
        matrix = alpha[y[i]] * (
            max(psi_2[i], 0.0) * np.outer(e_minus_p, e_minus_p)
            - psi_1[i] * (np.diag(p[i]) - np.outer(p[i], p[i]))
        )
        assert np.linalg.eigvalsh(matrix).min() > -1e-12
        np.testing.assert_allclose(np.maximum(np.diag(matrix), alpha[y[i]] * 1e-16), psd[i], rtol=1e-9)

    convex = psi_2 >= 0
    above_floor = exact > alpha[y][:, None] * 1e-16
    mask = convex[:, None] & above_floor
    assert mask.any()
    np.testing.assert_allclose(psd[mask], exact[mask], rtol=1e-12)
    if gamma == 0.0:
        np.testing.assert_allclose(psd[above_floor], exact[above_floor], rtol=1e-12)


def test_exact_hessian_turns_negative_for_the_true_class_at_18_classes():
    loss = FocalLoss(2.0, hessian="exact")
    for n_classes, negative in [(17, False), (18, True), (100, True), (1000, True)]:
        hessian = loss.gradient_hessian(np.zeros(1, int), np.zeros((1, n_classes)))[1]
        assert (hessian[0, 0] < 0) == negative, n_classes
        assert np.all(hessian[0, 1:] > 0)
        psd = FocalLoss(2.0).gradient_hessian(np.zeros(1, int), np.zeros((1, n_classes)))[1]
        assert np.all(psd > 0)


# ---------------------------------------------------------------- initial score


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, [1.0, 2.0, 0.5, 4.0]], ids=["alpha_none", "alpha_vec"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_init_raw_prediction_matches_scipy_minimize(gamma, alpha, weighted):
    from scipy.optimize import minimize

    rng = np.random.default_rng(5)
    y = rng.choice(4, size=500, p=[0.7, 0.2, 0.08, 0.02])
    weight = rng.uniform(0.5, 2.0, y.shape[0]) if weighted else None
    loss = FocalLoss(gamma, alpha)
    raw = loss.init_raw_prediction(y, weight)
    assert raw.shape == (4,)

    def objective(b):
        return loss.mean_loss(y, np.broadcast_to(b, (y.shape[0], 4)), weight)

    def gradient(b):
        g, _ = loss.gradient_hessian(y, np.broadcast_to(b, (y.shape[0], 4)), weight)
        return g.sum(0) / (y.shape[0] if weight is None else weight.sum())

    result = minimize(objective, np.zeros(4), jac=gradient, method="BFGS", options={"gtol": 1e-12})
    assert objective(raw) <= result.fun + 1e-12
    np.testing.assert_allclose(
        loss.predict_proba(raw[None])[0], loss.predict_proba(result.x[None])[0], atol=1e-6
    )


def test_init_raw_prediction_gamma_zero_is_log_prior_and_absent_class_is_finite():
    y = np.array([0, 0, 0, 1, 1, 2])
    np.testing.assert_allclose(FocalLoss(0.0).init_raw_prediction(y), np.log([3 / 6, 2 / 6, 1 / 6]))
    raw = FocalLoss(2.0).init_raw_prediction(y, n_classes=4)
    assert np.all(np.isfinite(raw)) and raw[3] < raw[:3].min() - 20


# ---------------------------------------------------------------- extremes and accuracy


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0, 2.0, 7.5, 10.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 10, 1000])
@pytest.mark.parametrize("policy", POLICIES)
def test_extremes_stay_finite(gamma, dtype, n_classes, policy):
    rng = np.random.default_rng(2)
    raw = rng.choice([-1e4, -30.0, 0.0, 30.0, 1e4], size=(40, n_classes)).astype(dtype)
    y = rng.integers(0, n_classes, 40)
    raw[0, :] = -1e4
    raw[0, y[0]] = 1e4  # p_t = 1 exactly in floating point
    raw[1, :] = 1e4
    raw[1, y[1]] = -1e4  # p_t underflows to 0
    loss = FocalLoss(gamma, hessian=policy)
    values = loss.loss(y, raw)
    gradient, hessian = loss.gradient_hessian(y, raw)
    assert gradient.dtype == dtype and hessian.dtype == dtype
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    assert np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))
    assert values[0] == 0.0 and values[1] == pytest.approx(2e4 + np.log(n_classes - 1), rel=1e-12)
    # The gradient of each row sums to zero (softmax is shift-invariant).
    np.testing.assert_allclose(gradient.astype(np.float64).sum(1), 0.0, atol=1e-6)
    if policy != "exact":
        assert np.all(hessian > 0)
    assert np.all(np.isfinite(loss.predict_proba(raw)))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 10.0])
@pytest.mark.parametrize("true_logit", [0.0, 10.0, 30.0, 45.0, -30.0, -700.0])
def test_values_accurate_to_high_precision_reference(gamma, true_logit):
    """Loss, gradient and exact Hessian against 50-digit arithmetic, including p_t -> 1 where
    1 - p_t must not be computed by cancellation."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    raw = np.array([[true_logit, 0.5, -1.25, 2.0]])
    y = np.array([0])
    loss = FocalLoss(gamma, hessian="exact")
    values = loss.loss(y, raw)[0]
    gradient, hessian = loss.gradient_hessian(y, raw)

    z = [mpmath.mpf(float(v)) for v in raw[0]]
    g = mpmath.mpf(gamma)

    def focal(zs, t=0):
        log_norm = mpmath.log(sum(mpmath.exp(v) for v in zs))
        log_p = zs[t] - log_norm
        q = 1 - mpmath.exp(log_p)
        return -(q**g) * log_p

    expected_loss = focal(z)
    assert values == pytest.approx(float(expected_loss), rel=1e-12, abs=1e-300)
    for j in range(4):
        d1 = mpmath.diff(lambda v: focal(z[:j] + [v] + z[j + 1 :]), z[j], 1)
        d2 = mpmath.diff(lambda v: focal(z[:j] + [v] + z[j + 1 :]), z[j], 2)
        assert gradient[0, j] == pytest.approx(float(d1), rel=1e-10, abs=1e-300)
        assert hessian[0, j] == pytest.approx(float(d2), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("gamma", [0.7, 2.5, 6.3])
def test_q_power_on_both_sides_of_the_switch_to_pow(gamma):
    """Non-integer gamma: the kernels take q^gamma as exp(gamma log q) down to q^gamma = e^-64 and
    from libm's pow below (exp(gamma log q) alone is off by up to about |gamma log q| 2^-53: 7e-14
    measured where the outputs are still normal numbers). Rows whose q^gamma spans e^-10 .. e^-700
    (outputs ~ q^(gamma+1) down to 0), against 50-digit arithmetic: within 2e-14 relative."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    # q ~ 3 e^-gap for logits (gap, 0, 0, 0): gamma log q from about -10 to -700 in small steps,
    # so that rows fall just above and just below -64.
    gaps = np.linspace(10.0 / gamma, 700.0 / gamma, 139)
    raw = np.zeros((gaps.size, 4))
    raw[:, 0] = gaps
    y = np.zeros(gaps.size, dtype=int)
    loss = FocalLoss(gamma, hessian="exact")
    values = loss.loss(y, raw)
    gradient, _ = loss.gradient_hessian(y, raw)
    g = mpmath.mpf(gamma)
    for row, gap in enumerate(gaps):
        gap = mpmath.mpf(float(gap))
        q = 3 / (mpmath.exp(gap) + 3)
        log_p = -mpmath.log1p(3 * mpmath.exp(-gap))
        assert values[row] == pytest.approx(float(-(q**g) * log_p), rel=2e-14, abs=1e-300)
        # d/dz_1 (any non-label column) = -A p_1 with A = q^gamma (gamma p_t r - 1), r = log p_t / q.
        p_t, p_1 = 1 - q, 1 / (mpmath.exp(gap) + 3)
        slope = -(q**g) * (g * p_t * log_p / q - 1) * p_1
        assert gradient[row, 1] == pytest.approx(float(slope), rel=2e-14, abs=1e-300)


def test_vectorized_elementary_functions_against_50_digits():
    """exp_nonpositive, log1p_unit and log_normal, which the kernels use instead of libm so that
    their loops vectorize, to within 4 ulp of the correctly rounded value over their domains."""
    mpmath = pytest.importorskip("mpmath")
    import numba

    from boostfocal.kernels.multiclass import exp_nonpositive, log1p_unit, log_normal

    mpmath.mp.dps = 50

    @numba.njit
    def apply(function, x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = function(x[i])
        return out

    rng = np.random.default_rng(7)
    tiny = np.finfo(np.float64).tiny
    cases = {
        # Above -708; below it, results under 2**-1022 are flushed to 0 (checked after the loop).
        exp_nonpositive: (np.concatenate([-rng.uniform(0, 707.9, 3000), -rng.uniform(0, 1e-6, 300), [0.0]]),
                          mpmath.exp),
        log1p_unit: (np.concatenate([rng.uniform(0, 1, 3000), rng.uniform(0, 1e-9, 300), [0.0, 0.5, 1.0]]),
                     mpmath.log1p),
        log_normal: (np.concatenate([np.exp(rng.uniform(-708, 709, 3000)), 1 + rng.uniform(-1e-6, 1e-6, 300),
                                     [tiny, 1.0, np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0), np.sqrt(2.0),
                                      np.finfo(np.float64).max]]),
                     mpmath.log),
    }
    for function, (x, reference) in cases.items():
        got = apply(function, x)
        expected = np.array([float(reference(mpmath.mpf(float(v)))) for v in x])
        ulps = np.abs(got - expected) / np.spacing(np.abs(expected))
        assert np.all(ulps[expected != 0] <= 4), (function.__name__, x[np.argmax(ulps)], ulps.max())
        assert np.all(got[expected == 0] == 0), function.__name__
    assert np.all(apply(exp_nonpositive, np.array([-708.0, -745.0, -1e4, -np.inf, np.nan])) == 0)


def test_vectorized_elementary_functions_convert_no_float_to_integer():
    """exp_nonpositive, log1p_unit, log_normal and the binary kernel's exp convert between floats
    and integers only through bit patterns. A float-to-int64 conversion (LLVM's ``fptosi``) has no
    AVX2 vector instruction: the one exp_reduced had became four scalar conversions in every vector
    of the kernels' loops, and exp_nonpositive took 2.8 ns a value instead of 1.3 on an AVX2 host.
    Read from the LLVM IR of a loop over each function; a control with that old form must show it."""
    import math

    import numba

    from boostfocal.kernels.binary import _exp_nonpositive
    from boostfocal.kernels.multiclass import exp_nonpositive, log1p_unit, log_normal

    @numba.njit(inline="always")
    def floor_then_int64(x):  # the old rounding of exp_reduced
        k = math.floor(x * 1.4426950408889634 + 0.5)
        return x - k * 0.6931471805599453 + np.int64(k)

    def conversions(function):
        @numba.njit(error_model="numpy", fastmath={"contract"})
        def apply(x, out):
            for i in range(x.size):
                out[i] = function(x[i])

        x = -np.linspace(0.0, 700.0, 64)
        apply(x, np.empty_like(x))
        ir = "\n".join(apply.inspect_llvm().values())
        return [line.strip() for line in ir.splitlines() if " fptosi " in line or " fptoui " in line]

    assert conversions(floor_then_int64), "the check no longer sees a float-to-integer conversion"
    for function in (exp_nonpositive, _exp_nonpositive, log1p_unit, log_normal):
        assert conversions(function) == [], function.__name__


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0, 10.0])
def test_large_logit_gaps_match_the_binary_loss(gamma, policy):
    """Two classes whose logits differ by 300 to 720 (where others^2 underflows): the multiclass
    derivatives equal the binary ones of the difference, and every entry is finite."""
    from boostfocal import BinaryFocalLoss

    gaps = np.array([30.0, 300.0, 354.0, 360.0, 400.0, 500.0, 700.0, 710.0, 720.0])
    raw = np.zeros((2 * gaps.size, 2))
    raw[: gaps.size, 1] = -gaps  # label 0 far ahead: p_t -> 1
    raw[gaps.size :, 1] = gaps  # label 0 far behind: p_t -> 0
    y = np.zeros(2 * gaps.size, dtype=int)
    gradient, hessian = FocalLoss(gamma, hessian=policy).gradient_hessian(y, raw)
    assert np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))
    # z_1 - z_0 is the binary logit of class 1; the label 0 is class 0 of the binary loss.
    binary_gradient, binary_hessian = BinaryFocalLoss(gamma, hessian=policy).gradient_hessian(
        y, raw[:, 1] - raw[:, 0]
    )
    np.testing.assert_allclose(gradient[:, 1], binary_gradient, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(hessian[:, 1], binary_hessian, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    "dtype", ["bool", "uint8", "uint64", "int16", ">i4", "<i8", "float16", ">f8", "float32"]
)
def test_labels_of_every_numeric_dtype(dtype):
    n_classes = 2 if dtype == "bool" else 3
    y, raw = make_case(n_classes, "normal1")
    loss = FocalLoss(2.0)
    expected = loss.gradient_hessian(y, raw)
    labels = y.astype(dtype)
    np.testing.assert_array_equal(loss.gradient_hessian(labels, raw)[0], expected[0])
    np.testing.assert_array_equal(loss.loss(labels, raw), loss.loss(y, raw))


# ---------------------------------------------------------------- layouts, dtypes, immutability


@pytest.mark.parametrize("policy", POLICIES)
def test_float32_c_f_strided_and_read_only_inputs_agree(policy):
    y, raw = make_case(7, "normal5", n_samples=5000)
    weight = np.random.default_rng(0).uniform(0, 2, y.shape[0])
    loss = FocalLoss(2.0, np.linspace(0.5, 2, 7), hessian=policy)
    reference = loss.gradient_hessian(y, raw, weight)
    wide = np.zeros((raw.shape[0], 2 * raw.shape[1]))
    wide[:, ::2] = raw
    variants = {
        "C": np.ascontiguousarray(raw),
        "F": np.asfortranarray(raw),
        "strided": wide[:, ::2],
    }
    # Every layout and dtype is one more Numba compilation of the kernel. The variants run on the
    # calling thread, i.e. on the serial kernel's compilations: from a cold cache the parallel
    # kernel took 16.7 s to compile and the serial one 4.7 s (Zen 4 host), and in CI this test took
    # over 3 minutes with the parallel ones. 5,000 rows still span several chunks; the reference
    # above comes from the parallel kernel, so the comparisons also hold the two to the same bits.
    with kernel_threads(1):
        for name, variant in variants.items():
            frozen = variant.copy(order="K")
            variant.setflags(write=False)
            frozen_y, frozen_w = y.copy(), weight.copy()
            y.setflags(write=False)
            weight.setflags(write=False)
            gradient, hessian = loss.gradient_hessian(y, variant, weight)
            np.testing.assert_array_equal(gradient, reference[0], err_msg=name)
            np.testing.assert_array_equal(hessian, reference[1], err_msg=name)
            np.testing.assert_array_equal(variant, frozen)
            np.testing.assert_array_equal(y, frozen_y)
            np.testing.assert_array_equal(weight, frozen_w)
            y.setflags(write=True)
            weight.setflags(write=True)
        gradient32, hessian32 = loss.gradient_hessian(y, raw.astype(np.float32), weight)
        assert gradient32.dtype == np.float32
        exact_for_rounded = loss.gradient_hessian(y, raw.astype(np.float32).astype(np.float64), weight)
        np.testing.assert_allclose(gradient32, exact_for_rounded[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(hessian32, exact_for_rounded[1], rtol=1e-6, atol=1e-7)
        gradient_f, _ = loss.gradient_hessian(y, raw, weight, order="F", dtype=np.float32)
        assert gradient_f.flags.f_contiguous and gradient_f.dtype == np.float32


def test_out_arrays_are_filled_and_returned():
    # 2,000 rows: one chunk, the serial kernel (a float32 Fortran output is one more compilation,
    # about 3.5x as long for the parallel kernel; what out= does is the same on both).
    y, raw = make_case(5, "normal5", n_samples=2000)
    loss = FocalLoss(2.0, np.linspace(1, 2, 5))
    expected = loss.gradient_hessian(y, raw)
    for order, dtype in (("C", np.float64), ("F", np.float32)):
        out = (np.full(raw.shape, np.nan, dtype, order=order), np.full(raw.shape, np.nan, dtype, order=order))
        result = loss.gradient_hessian(y, raw, out=out)
        assert result[0] is out[0] and result[1] is out[1]
        np.testing.assert_allclose(out[0], expected[0], rtol=1e-6 if dtype == np.float32 else 0)
        np.testing.assert_allclose(out[1], expected[1], rtol=1e-6 if dtype == np.float32 else 0)


def test_integer_labels_in_float_and_other_dtypes_are_accepted():
    y, raw = make_case(3, "normal1")
    loss = FocalLoss(1.5)
    expected = loss.loss(y, raw)
    for labels in (y.astype(np.float32), y.astype(np.uint8), y.tolist()):
        np.testing.assert_array_equal(loss.loss(labels, raw), expected)


def test_empty_input_gives_empty_results():
    loss = FocalLoss(2.0)
    assert loss.loss(np.zeros(0), np.zeros((0, 3))).shape == (0,)
    gradient, hessian = loss.gradient_hessian(np.zeros(0), np.zeros((0, 3)))
    assert gradient.shape == hessian.shape == (0, 3)
    assert loss.predict_proba(np.zeros((0, 3))).shape == (0, 3)


def test_pickling_round_trip_keeps_parameters_and_results():
    y, raw = make_case(3, "normal5")
    for loss in (
        FocalLoss(),
        FocalLoss(0.7, [1.0, 2.0, 3.0], hessian="floor", hessian_floor=1e-3),
        FocalLoss(2.0, "balanced"),
        FocalLoss(2.0, "balanced").resolve_alpha(y),
    ):
        clone = pickle.loads(pickle.dumps(loss))
        assert clone == loss and repr(clone) == repr(loss)
        if isinstance(clone.alpha, np.ndarray):
            assert not clone.alpha.flags.writeable
        if loss.alpha_is_resolved:
            np.testing.assert_array_equal(clone.loss(y, raw), loss.loss(y, raw))


def test_balanced_alpha_comes_from_training_labels_only():
    y_train = np.array([0] * 80 + [1] * 15 + [2] * 5)
    y_eval = np.array([0, 1, 2, 2, 2, 2])
    spec = FocalLoss(2.0, "balanced")
    with pytest.raises(ValueError, match="balanced"):
        spec.loss(y_eval, np.zeros((6, 3)))
    resolved = spec.resolve_alpha(y_train)
    np.testing.assert_allclose(resolved.alpha, 100 / (3 * np.array([80, 15, 5])))
    assert spec.alpha == "balanced"  # the request itself is unchanged
    before = resolved.alpha.copy()
    resolved.loss(y_eval, np.zeros((6, 3)))
    np.testing.assert_array_equal(resolved.alpha, before)
    weights = np.r_[np.full(80, 0.5), np.ones(20)]
    np.testing.assert_allclose(balanced_alpha(y_train, 3, weights), 60 / (3 * np.array([40, 15, 5])))
    np.testing.assert_allclose(balanced_alpha(np.array([0, 0, 1]), 3), [0.75, 1.5, 1.5])


def test_import_compiles_nothing_and_imports_no_booster():
    code = (
        "import sys, boostfocal\n"
        "from boostfocal.kernels import multiclass as m\n"
        "assert all(not k.signatures for k in (m.focal_loss_gradient_hessian, m.focal_loss_per_sample, m.softmax))\n"
        "assert not {'xgboost', 'lightgbm', 'dask', 'sklearn'} & set(sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# ---------------------------------------------------------------- bad input

GOOD_Y = np.array([0, 1, 2])
GOOD_RAW = np.zeros((3, 3))
GOOD_OUT = np.zeros((3, 3))
READ_ONLY_OUT = np.zeros((3, 3))
READ_ONLY_OUT.setflags(write=False)

BAD_INPUTS = {
    "labels_non_integer": (lambda l: l.loss([0, 1.5, 2], GOOD_RAW), ValueError, "non-integer"),
    "labels_negative": (lambda l: l.loss([0, -1, 2], GOOD_RAW), ValueError, r"\[0, 3\)"),
    "labels_too_large": (lambda l: l.loss([0, 1, 3], GOOD_RAW), ValueError, r"\[0, 3\)"),
    "labels_nan": (lambda l: l.loss([0, np.nan, 2], GOOD_RAW), ValueError, "NaN"),
    "labels_strings": (lambda l: l.loss(["a", "b", "c"], GOOD_RAW), TypeError, "y_true"),
    "labels_wrong_length": (lambda l: l.loss([0, 1], GOOD_RAW), ValueError, "2 labels"),
    "labels_2d": (lambda l: l.loss(np.zeros((3, 2)), GOOD_RAW), ValueError, "1-D"),
    "raw_1d": (lambda l: l.loss(GOOD_Y, np.zeros(3)), ValueError, "2-D"),
    "raw_one_column": (lambda l: l.loss([0, 0, 0], np.zeros((3, 1))), ValueError, "BinaryFocalLoss"),
    "raw_nan": (lambda l: l.loss(GOOD_Y, np.array([[0, 0, 0], [0, np.nan, 0], [0, 0, 0.0]])), ValueError, "row 1"),
    "raw_inf_gradient": (lambda l: l.gradient_hessian(GOOD_Y, np.array([[0, 0, np.inf]] * 3)), ValueError, "NaN or inf"),
    "raw_inf_proba": (lambda l: l.predict_proba(np.array([[0, 0, -np.inf]])), ValueError, "NaN or inf"),
    "raw_strings": (lambda l: l.loss(GOOD_Y, np.array([["a"] * 3] * 3)), TypeError, "numeric"),
    "weight_negative": (lambda l: l.loss(GOOD_Y, GOOD_RAW, [1, -1, 1]), ValueError, "non-negative"),
    "weight_nan": (lambda l: l.loss(GOOD_Y, GOOD_RAW, [1, np.nan, 1]), ValueError, "NaN"),
    "weight_wrong_length": (lambda l: l.loss(GOOD_Y, GOOD_RAW, [1, 1]), ValueError, "2 entries"),
    "dtype_int_output": (lambda l: l.gradient_hessian(GOOD_Y, GOOD_RAW, dtype=np.int32), TypeError, "float32"),
    "out_not_pair": (lambda l: l.gradient_hessian(GOOD_Y, GOOD_RAW, out=np.zeros((3, 3))), TypeError, "pair"),
    "out_wrong_shape": (lambda l: l.gradient_hessian(GOOD_Y, GOOD_RAW, out=(np.zeros((3, 2)), np.zeros((3, 2)))), ValueError, "shape"),
    "out_same_array": (lambda l: l.gradient_hessian(GOOD_Y, GOOD_RAW, out=(GOOD_OUT, GOOD_OUT)), ValueError, "share"),
    "out_read_only": (lambda l: l.gradient_hessian(GOOD_Y, GOOD_RAW, out=(READ_ONLY_OUT, np.zeros((3, 3)))), ValueError, "read-only"),
}

BAD_PARAMETERS = {
    "alpha_wrong_length": (lambda: FocalLoss(2, [1, 2]).loss(GOOD_Y, GOOD_RAW), ValueError, "2 entries"),
    "alpha_negative": (lambda: FocalLoss(2, [1, -1, 1]), ValueError, "non-negative"),
    "alpha_nan": (lambda: FocalLoss(2, [1, np.nan, 1]), ValueError, "finite"),
    "alpha_all_zero": (lambda: FocalLoss(2, [0, 0, 0]), ValueError, "all zero"),
    "alpha_unknown_string": (lambda: FocalLoss(2, "inverse"), ValueError, "balanced"),
    "alpha_2d": (lambda: FocalLoss(2, [[1, 2]]), ValueError, "1-D"),
    "gamma_negative": (lambda: FocalLoss(-0.5), ValueError, ">= 0"),
    "gamma_nan": (lambda: FocalLoss(np.nan), ValueError, "finite"),
    "gamma_inf": (lambda: FocalLoss(np.inf), ValueError, "finite"),
    "gamma_string": (lambda: FocalLoss("2"), TypeError, "gamma"),
    "gamma_bool": (lambda: FocalLoss(True), TypeError, "gamma"),
    "hessian_unknown": (lambda: FocalLoss(2, hessian="diag"), ValueError, "unknown hessian"),
    "hessian_not_string": (lambda: FocalLoss(2, hessian=1), TypeError, "hessian"),
    "hessian_floor_zero": (lambda: FocalLoss(2, hessian_floor=0.0), ValueError, "hessian_floor"),
    "init_one_class": (lambda: FocalLoss(2).init_raw_prediction([0, 0], n_classes=1), ValueError, "n_classes"),
    "init_all_zero_weight": (lambda: FocalLoss(2).init_raw_prediction([0, 1], [0, 0]), ValueError, "positive total"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=str)
def test_bad_input_raises_clear_error(case):
    call, error, pattern = BAD_INPUTS[case]
    with pytest.raises(error, match=pattern):
        call(FocalLoss(2.0))


@pytest.mark.parametrize("case", BAD_PARAMETERS, ids=str)
def test_bad_parameters_raise_clear_error(case):
    call, error, pattern = BAD_PARAMETERS[case]
    with pytest.raises(error, match=pattern):
        call()

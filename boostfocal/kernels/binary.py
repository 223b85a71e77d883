"""Numba kernels of the binary (sigmoid) focal loss.

For one row with raw prediction (logit) z, label y in {0, 1}, sign sigma = 2y - 1, margin
m = sigma * z, p_t = sigmoid(m), q = 1 - p_t = sigmoid(-m) and s = log p_t = log sigmoid(m)::

    L(z) = alpha_t * psi(s),        psi(s) = -(1 - e^s)^gamma * s = -q^gamma * log p_t

Since ds/dm = q, dq/dm = -p_t q and sigma^2 = 1, the chain rule gives::

    dL/dz     = sigma * alpha_t * psi'(s) * q
    d2L/dz2   = alpha_t * [psi''(s) * q^2 - psi'(s) * p_t * q]

with (differentiating psi in s, using d e^s/ds = p_t and dq/ds = -p_t)::

    psi'(s)  = q^gamma * (gamma * p_t * s / q - 1)                                  (< 0)
    psi''(s) = gamma * p_t * q^(gamma-1) * (s + 2 - (gamma - 1) * p_t * s / q)

Each term is used multiplied by q or q^2, which cancels every division by q::

    G := psi'(s) q       = q^gamma * (gamma * p_t * log p_t - q)                      (slope, <= 0)
    C := psi''(s) q^2    = gamma * p_t * q^gamma * (q * (log p_t + 2) - (gamma - 1) * p_t * log p_t)
    S := -psi'(s) p_t q  = p_t * q^gamma * (q - gamma * p_t * log p_t)               (spread, >= 0)

The textbook forms contain q^(gamma-1) and q^(gamma-2), which overflow as p_t -> 1 for gamma < 1 and
gamma < 2 (0 * inf); these contain only q^gamma, finite for every gamma >= 0 (the multiclass kernel
needs r = log(1-q)/q for the same job because it also needs psi' without a factor q).
In G and S both terms have the same sign, so they are free of cancellation.

Hessian policies (C + S is the exact second derivative):

* ``HESSIAN_EXACT``: C + S. For gamma > 0, C < 0 once p_t is small (below about 0.10 at
  gamma = 2) and outweighs S further down, so the exact Hessian turns negative (below p_t of
  about 0.06 at gamma = 2, 0.02 at gamma = 0.5).
* ``HESSIAN_PSD``: max(C, 0) + S, i.e. psi''(s) clipped at 0. Since S >= 0 this is >= 0, and it
  equals the exact Hessian wherever psi'' >= 0 and at gamma = 0. For K = 2 it is the diagonal
  entry of the multiclass "psd" Hessian in the logit difference.
* ``HESSIAN_FLOOR``: the exact value clipped from below.

Both positive policies are finally raised to at least ``hessian_floor`` (before alpha and the
weights are applied), as in the multiclass kernel, so that rows with p_t -> 0 or 1 still count.

Soft labels y in [0, 1] give the mixture y * (row with label 1) + (1 - y) * (row with label 0), each
part computed as above (its policy applied on its own); for y in {0, 1} only one part is evaluated.

Reference: Lin, Goyal, Girshick, He, Dollar (2017), "Focal Loss for Dense Object Detection".

These functions import only numpy, numba and math. They check nothing: callers validate inputs.
"""

import math

import numba
import numpy as np

HESSIAN_EXACT = 0
HESSIAN_PSD = 1
HESSIAN_FLOOR = 2

# Rows per parallel work item: enough work per item to amortise scheduling, and one slot per item
# for the first non-finite row it meets.
ROWS_PER_CHUNK = 4096


@numba.njit(cache=True, inline="always")
def _log_sigmoid(margin):
    """(p, q, log p, log q) for p = sigmoid(margin), q = 1 - p, without overflow or cancellation."""
    # exp(-|m|) <= 1 never overflows, even at |m| = 1e4.
    e = math.exp(-abs(margin))
    inverse = 1.0 / (1.0 + e)
    # log(1 + e^-|m|): log1p keeps it accurate (~e^-|m|) where it is tiny.
    log_small = math.log1p(e)
    if margin >= 0.0:
        p = inverse
        # q from e directly, not 1 - p: exact down to the smallest doubles as p -> 1.
        q = e * inverse
        log_p = -log_small
        log_q = -margin - log_small
    else:
        p = e * inverse
        q = inverse
        # log p = m - log(1 + e^m): no exp(-m) that could overflow for m << 0.
        log_p = margin - log_small
        log_q = -log_small
    return p, q, log_p, log_q


@numba.njit(cache=True, inline="always")
def _side_terms(margin, gamma):
    """For p_t = sigmoid(margin): (psi, G, C, S) as in the module docstring (derivatives in m)."""
    p, q, log_p, log_q = _log_sigmoid(margin)
    # q^gamma as exp(gamma log q): finite log q even where q underflows to 0 (then q^gamma = 0 for
    # gamma > 0 and exp(0) = 1 for gamma = 0, the logistic loss exactly), and an exp costs a fifth
    # of a general pow; relative error ~ gamma |log q| 1e-16. The default gamma = 2 multiplies.
    q_pow = q * q if gamma == 2.0 else math.exp(gamma * log_q)
    psi = -q_pow * log_p
    slope = q_pow * (gamma * p * log_p - q)
    curvature = gamma * p * q_pow * (q * (log_p + 2.0) - (gamma - 1.0) * p * log_p)
    spread = p * q_pow * (q - gamma * p * log_p)
    return psi, slope, curvature, spread


@numba.njit(cache=True, inline="always")
def _side_hessian(curvature, spread, hessian_policy, hessian_floor):
    """d2 psi/dm2 under the Hessian policy (before alpha and weights)."""
    if hessian_policy == HESSIAN_PSD and curvature < 0.0:
        curvature = 0.0  # psi'' clipped at 0: what is left, S, is >= 0
    hessian = curvature + spread
    if hessian_policy != HESSIAN_EXACT and hessian < hessian_floor:
        hessian = hessian_floor
    return hessian


@numba.njit(cache=True, parallel=True)
def focal_loss_gradient_hessian(
    y_true,
    raw_prediction,
    alpha,
    sample_weight,
    gamma,
    hessian_policy,
    hessian_floor,
    soft_labels,
    loss_out,
    gradient_out,
    hessian_out,
):
    """One pass over the rows: per-sample loss, gradient and Hessian w.r.t. the logit.

    y_true: (n,) labels of any numeric dtype, 0 or 1 (any value in [0, 1] with ``soft_labels``);
    raw_prediction: float (n,), any stride; alpha: float64 (2,) = (alpha_0, alpha_1);
    sample_weight: float64 (n,) or (0,) for all ones. Outputs are written only where their length
    is n (pass shape (0,) to skip one). Returns (first row holding a NaN or inf raw prediction,
    whose outputs are NaN; first row with an invalid label or weight), each -1 when there is none.
    Labels and weights are checked here, in the pass made anyway, rather than in NumPy passes.
    """
    n_samples = raw_prediction.shape[0]
    want_loss = loss_out.shape[0] == n_samples
    want_gradient = gradient_out.shape[0] == n_samples
    want_hessian = hessian_out.shape[0] == n_samples
    weighted = sample_weight.shape[0] == n_samples
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    bad_row_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    bad_input_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    for chunk in numba.prange(n_chunks):
        stop = min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)
        for i in range(chunk * ROWS_PER_CHUNK, stop):
            label = np.float64(y_true[i])
            weight = sample_weight[i] if weighted else 1.0
            if soft_labels:
                valid = label >= 0.0 and label <= 1.0  # False for NaN
            else:
                valid = label == 0.0 or label == 1.0
            if not (valid and weight >= 0.0 and weight < np.inf):
                if bad_input_of_chunk[chunk] < 0:
                    bad_input_of_chunk[chunk] = i
                label = 0.0
            z = np.float64(raw_prediction[i])
            # Checked here, in the pass we make anyway, instead of in an extra pass with a mask.
            if not math.isfinite(z):
                if bad_row_of_chunk[chunk] < 0:
                    bad_row_of_chunk[chunk] = i
                if want_loss:
                    loss_out[i] = np.nan
                if want_gradient:
                    gradient_out[i] = np.nan
                if want_hessian:
                    hessian_out[i] = np.nan
                continue
            loss = 0.0
            gradient = 0.0
            hessian = 0.0
            # Hard labels evaluate one side only; a soft label mixes both with weights y, 1 - y.
            if label > 0.0:
                share = alpha[1] if label == 1.0 else label * alpha[1]
                psi, slope, curvature, spread = _side_terms(z, gamma)  # m = z
                loss += share * psi
                gradient += share * slope  # dm/dz = +1
                hessian += share * _side_hessian(curvature, spread, hessian_policy, hessian_floor)
            if label < 1.0:
                share = alpha[0] if label == 0.0 else (1.0 - label) * alpha[0]
                psi, slope, curvature, spread = _side_terms(-z, gamma)  # m = -z
                loss += share * psi
                gradient -= share * slope  # dm/dz = -1
                hessian += share * _side_hessian(curvature, spread, hessian_policy, hessian_floor)
            if want_loss:
                loss_out[i] = weight * loss
            if want_gradient:
                gradient_out[i] = weight * gradient
            if want_hessian:
                hessian_out[i] = weight * hessian
    return _first_bad_row(bad_row_of_chunk), _first_bad_row(bad_input_of_chunk)


@numba.njit(cache=True)
def _first_bad_row(bad_row_of_chunk):
    for chunk in range(bad_row_of_chunk.shape[0]):
        if bad_row_of_chunk[chunk] >= 0:
            return bad_row_of_chunk[chunk]
    return -1


@numba.njit(cache=True, parallel=True)
def sigmoid(raw_prediction, out):
    """sigmoid(raw_prediction) (n,) into ``out``; exp of -|z| only, so no overflow."""
    for i in numba.prange(raw_prediction.shape[0]):
        z = np.float64(raw_prediction[i])
        e = math.exp(-abs(z))
        out[i] = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)


@numba.njit(cache=True)
def _constant_slope(margin, negative_total, positive_total, gamma):
    """d/db of c_1 psi(log sigmoid(b)) + c_0 psi(log sigmoid(-b)) at b = margin."""
    positive_slope = _side_terms(margin, gamma)[1]
    negative_slope = _side_terms(-margin, gamma)[1]
    return positive_total * positive_slope - negative_total * negative_slope


@numba.njit(cache=True)
def optimal_constant_margin(negative_total, positive_total, gamma):
    """argmin over b of c_1 psi(log sigmoid(b)) + c_0 psi(log sigmoid(-b)), for c_0, c_1 > 0.

    ``negative_total`` c_0 and ``positive_total`` c_1 are the sums over rows of alpha_y * w_i
    (times 1 - y and y for soft labels). In p = sigmoid(b) the objective is c_1 phi(p) +
    c_0 phi(1 - p) with phi(p) = -(1-p)^gamma log p convex, so its derivative in p increases and
    changes sign once; the derivative in b has the same sign (dp/db > 0), so bisection on the sign
    finds the unique minimiser even where the objective is not convex in b. For gamma = 0 the
    answer is log(c_1 / c_0).
    """
    if gamma == 0.0:
        return math.log(positive_total) - math.log(negative_total)
    # At b = -800 the slope is ~ -c_1 < 0 and at b = 800 it is ~ +c_0 > 0.
    low, high = -800.0, 800.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle == low or middle == high:
            break
        slope = _constant_slope(middle, negative_total, positive_total, gamma)
        if slope == 0.0:
            return middle  # e.g. b = 0 exactly for c_0 = c_1 (alpha="balanced")
        if slope < 0.0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)

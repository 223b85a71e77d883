"""Numba kernels of the multiclass (softmax) focal loss.

For one row with raw prediction z in R^K, label t, p = softmax(z), s = log p_t and q = 1 - p_t::

    L(z)   = alpha_t * psi(s),        psi(s) = -(1 - e^s)^gamma * s = -q^gamma * log p_t
    dL/dz_j = alpha_t * psi'(s) * (delta_jt - p_j)
    d2L/dz_j^2 = alpha_t * [psi''(s) * (delta_jt - p_j)^2 - psi'(s) * p_j * (1 - p_j)]

with, writing r = s / q = log(1 - q) / q (in (-inf, -1], and -1 in the limit q -> 0),

    A := psi'(s)        = q^gamma * (gamma * p_t * r - 1)                          (always < 0)
    B := psi''(s) * q^2 = gamma * p_t * q^(gamma+1) * (q*r + 2 - (gamma-1) * p_t * r)

These forms are finite for every gamma >= 0, also as p_t -> 1 where the textbook forms contain
q^(gamma-1) and q^(gamma-2), which overflow for gamma < 1 and gamma < 2.

Hessian policies (the diagonal over classes):

* ``HESSIAN_EXACT``: the true diagonal above. Its true-class entry B - A p_t q turns negative once
  p_t is small (about p_t < 0.06 at gamma = 2).
* ``HESSIAN_PSD``: psi''(s) replaced by max(psi''(s), 0). Since -psi' > 0, the full Hessian
  psi'' (e_t - p)(e_t - p)^T - psi' (diag(p) - p p^T) then is positive semidefinite, so its
  diagonal is >= 0; it equals the exact diagonal wherever psi'' >= 0 and at gamma = 0.
* ``HESSIAN_FLOOR``: the exact diagonal clipped from below.

Both positive policies are finally raised to at least ``hessian_floor`` (before the weights are
applied), as XGBoost does for its own softmax, so that rows with p_j -> 0 still count.

Reference: Lin, Goyal, Girshick, He, Dollar (2017), "Focal Loss for Dense Object Detection".

These functions import only numpy, numba and math. They check nothing: callers validate inputs.
"""

import math

import numba
import numpy as np

HESSIAN_EXACT = 0
HESSIAN_PSD = 1
HESSIAN_FLOOR = 2

# Rows per parallel work item: large enough to amortise the per-item scratch allocation, small
# enough to balance the load on a few threads.
ROWS_PER_CHUNK = 2048


@numba.njit(cache=True, inline="always")
def _row_softmax(raw_row, label, exp_buffer):
    """exp(z - max z) into ``exp_buffer``; returns (total, argmax, rest, log_p_true, q, others).

    total = sum_j exp(z_j - max z), rest = total - 1 (the sum without the arg-max term),
    q = 1 - p_t and others = q * total = sum_{j != t} exp(z_j - max z).
    """
    n_classes = raw_row.shape[0]
    argmax = 0
    z_max = np.float64(raw_row[0])
    for j in range(1, n_classes):
        if raw_row[j] > z_max:
            z_max = np.float64(raw_row[j])
            argmax = j
    # Max-subtracted exponentials: every term is <= 1, so nothing overflows even at |z| = 1e4.
    rest = 0.0
    for j in range(n_classes):
        e = math.exp(np.float64(raw_row[j]) - z_max)
        exp_buffer[j] = e
        if j != argmax:
            rest += e
    # Summing the arg-max term (exactly 1) separately keeps rest = total - 1 free of cancellation.
    total = 1.0 + rest
    if label == argmax:
        others = rest
        # log p_t = -log(1 + rest): log1p stays exact as p_t -> 1.
        log_p_true = -math.log1p(rest)
    else:
        # p_t <= 1/2 here, so 1 - p_t has no cancellation; rest - e_t sums the remaining terms.
        others = 1.0 + (rest - exp_buffer[label])
        log_p_true = (np.float64(raw_row[label]) - z_max) - math.log(total)
    # q = 1 - p_t as a ratio of sums of positive terms: accurate down to the smallest doubles.
    q = others / total
    return total, argmax, rest, log_p_true, q, others


@numba.njit(cache=True, inline="always")
def _psi_terms(log_p_true, q, gamma):
    """Return (psi(s), A = psi'(s), B = psi''(s) q^2) for s = log p_t, q = 1 - p_t."""
    p_true = math.exp(log_p_true)
    # r = log(1 - q) / q -> -1 as q -> 0; it carries the 0 * inf limit of q^(gamma-1) * log p_t.
    if q > 0.0:
        r = log_p_true / q
    else:
        r = -1.0
    q_pow = math.pow(q, gamma)  # 0 ** 0 == 1: gamma = 0 gives cross-entropy exactly
    psi = -q_pow * log_p_true
    psi_1 = q_pow * (gamma * p_true * r - 1.0)
    psi_2_q2 = gamma * p_true * q_pow * q * (q * r + 2.0 - (gamma - 1.0) * p_true * r)
    return psi, psi_1, psi_2_q2


@numba.njit(cache=True, parallel=True)
def focal_loss_gradient_hessian(
    y_true,
    raw_prediction,
    alpha,
    sample_weight,
    gamma,
    hessian_policy,
    hessian_floor,
    loss_out,
    gradient_out,
    hessian_out,
):
    """One pass over the rows: per-sample loss, gradient and Hessian diagonal.

    y_true: int64 (n,); raw_prediction: float (n, K), any layout; alpha: float64 (K,);
    sample_weight: float64 (n,) or (0,) for all ones. Outputs are written only where their first
    dimension is n (pass shape (0,) / (0, K) to skip one). Returns the index of a row holding a
    NaN or inf raw prediction, or -1; such rows get NaN outputs.
    """
    n_samples, n_classes = raw_prediction.shape
    want_loss = loss_out.shape[0] == n_samples
    want_gradient = gradient_out.shape[0] == n_samples
    want_hessian = hessian_out.shape[0] == n_samples
    weighted = sample_weight.shape[0] == n_samples
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    bad_row_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    for chunk in numba.prange(n_chunks):
        exp_buffer = np.empty(n_classes, dtype=np.float64)
        stop = min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)
        for i in range(chunk * ROWS_PER_CHUNK, stop):
            raw_row = raw_prediction[i]
            # Inputs are checked here, in the pass we make anyway, instead of in a full extra pass
            # that would allocate a mask the size of the input.
            finite = True
            for j in range(n_classes):
                if not math.isfinite(raw_row[j]):
                    finite = False
            if not finite:
                if bad_row_of_chunk[chunk] < 0:
                    bad_row_of_chunk[chunk] = i
                if want_loss:
                    loss_out[i] = np.nan
                for j in range(n_classes):
                    if want_gradient:
                        gradient_out[i, j] = np.nan
                    if want_hessian:
                        hessian_out[i, j] = np.nan
                continue
            label = y_true[i]
            total, argmax, rest, log_p_true, q, others = _row_softmax(raw_row, label, exp_buffer)
            psi, psi_1, psi_2_q2 = _psi_terms(log_p_true, q, gamma)
            factor = alpha[label]
            if weighted:
                factor *= sample_weight[i]
            if want_loss:
                loss_out[i] = factor * psi
            if not (want_gradient or want_hessian):
                continue
            p_true = math.exp(log_p_true)
            curvature = psi_2_q2  # psi''(s) * q^2
            if hessian_policy == HESSIAN_PSD and curvature < 0.0:
                curvature = 0.0
            for j in range(n_classes):
                if j == label:
                    gradient = psi_1 * q
                    hessian = curvature - psi_1 * p_true * q
                else:
                    p_j = exp_buffer[j] / total
                    # 1 - p_j: only the arg-max class can have p_j > 1/2; use its exact complement.
                    one_minus_p_j = rest / total if j == argmax else 1.0 - p_j
                    # psi'' p_j^2 = (psi'' q^2) (p_j / q)^2 with p_j / q = e_j / others <= 1.
                    ratio = exp_buffer[j] / others if others > 0.0 else 0.0
                    gradient = -psi_1 * p_j
                    hessian = curvature * ratio * ratio - psi_1 * p_j * one_minus_p_j
                if hessian_policy != HESSIAN_EXACT and hessian < hessian_floor:
                    hessian = hessian_floor
                if want_gradient:
                    gradient_out[i, j] = factor * gradient
                if want_hessian:
                    hessian_out[i, j] = factor * hessian
    for chunk in range(n_chunks):
        if bad_row_of_chunk[chunk] >= 0:
            return bad_row_of_chunk[chunk]
    return -1


@numba.njit(cache=True, parallel=True)
def softmax(raw_prediction, out):
    """Row-wise softmax of ``raw_prediction`` (n, K) into ``out``; max-subtracted, so no overflow."""
    n_samples, n_classes = raw_prediction.shape
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    for chunk in numba.prange(n_chunks):
        exp_buffer = np.empty(n_classes, dtype=np.float64)
        stop = min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)
        for i in range(chunk * ROWS_PER_CHUNK, stop):
            total, argmax, rest, log_p_true, q, others = _row_softmax(
                raw_prediction[i], 0, exp_buffer
            )
            for j in range(n_classes):
                out[i, j] = exp_buffer[j] / total


@numba.njit(cache=True, inline="always")
def _focal_slope(logit, gamma):
    """phi'(p) for phi(p) = -(1-p)^gamma log p at p = sigmoid(logit), in the finite form
    q^gamma (gamma r - 1/p) with q = 1 - p, r = log(p) / q."""
    # Both p and q from the logit, so neither suffers cancellation near 0 or 1.
    if logit >= 0.0:
        e = math.exp(-logit)
        p = 1.0 / (1.0 + e)
        q = e / (1.0 + e)
        log_p = -math.log1p(e)
    else:
        e = math.exp(logit)
        p = e / (1.0 + e)
        q = 1.0 / (1.0 + e)
        log_p = logit - math.log1p(e)
    r = log_p / q if q > 0.0 else -1.0
    return math.pow(q, gamma) * (gamma * r - 1.0 / p)


@numba.njit(cache=True)
def _probability_at_slope(target_slope, gamma):
    """The p in (0, 1) with phi'(p) = target_slope (< 0), by bisection on logit(p).

    phi is convex on (0, 1] for gamma >= 0, so phi' increases from -inf to phi'(1) and the root is
    unique.
    """
    low, high = -700.0, 700.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle == low or middle == high:
            break
        if _focal_slope(middle, gamma) < target_slope:
            low = middle
        else:
            high = middle
    logit = 0.5 * (low + high)
    return 1.0 / (1.0 + math.exp(-logit))


@numba.njit(cache=True)
def optimal_constant_probabilities(class_totals, gamma):
    """argmin over the simplex of sum_k c_k phi(p_k), phi(p) = -(1-p)^gamma log p.

    ``class_totals`` c_k >= 0 (sum over rows of label k of alpha_k * w_i). The problem is convex, and
    its Lagrange condition c_k phi'(p_k) = lambda gives each p_k as an increasing function of the
    multiplier lambda < 0, found by bisection on log(-lambda) so that sum_k p_k = 1. Classes with
    c_k = 0 get p_k = 0. For gamma = 0 the answer is c / sum(c).
    """
    n_classes = class_totals.shape[0]
    probabilities = np.zeros(n_classes)
    grand_total = class_totals.sum()
    if gamma == 0.0:
        for k in range(n_classes):
            probabilities[k] = class_totals[k] / grand_total
        return probabilities
    low, high = -800.0, 800.0  # bounds on log(-lambda)
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle == low or middle == high:
            break
        multiplier = -math.exp(middle)
        mass = 0.0
        for k in range(n_classes):
            if class_totals[k] > 0.0:
                mass += _probability_at_slope(multiplier / class_totals[k], gamma)
        # A more negative multiplier (larger log(-lambda)) gives smaller probabilities.
        if mass > 1.0:
            low = middle
        else:
            high = middle
    multiplier = -math.exp(0.5 * (low + high))
    for k in range(n_classes):
        if class_totals[k] > 0.0:
            probabilities[k] = _probability_at_slope(multiplier / class_totals[k], gamma)
    return probabilities / probabilities.sum()

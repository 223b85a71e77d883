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
part computed as above (its policy applied on its own). Hard labels evaluate only their own part;
with soft labels both parts are evaluated, the absent one with share exactly 0 for y in {0, 1}.

Reference: Lin, Goyal, Girshick, He, Dollar (2017), "Focal Loss for Dense Object Detection".

These functions import only numpy, numba, math and the bit cast of the multiclass kernels. Apart from
the label, weight and finiteness checks of the main kernel they check nothing: callers validate inputs.
"""

import math

import numba
import numpy as np

from .multiclass import _first_bad_row, _float64_from_bits, exp_reduced, log1p_unit
from .threads import parallel_kernel

HESSIAN_EXACT = 0
HESSIAN_PSD = 1
HESSIAN_FLOOR = 2

# Rows per parallel work item: enough work per item to amortise scheduling, and one slot per item
# for the first non-finite row it meets.
ROWS_PER_CHUNK = 4096

# Rows handled together inside a chunk: loaded and checked in one loop, their loss terms computed
# in a second, branch-free loop that LLVM vectorizes, and stored in a third (any dtype and stride).
BLOCK_ROWS = 256


@numba.njit(cache=True, inline="always")
def _exp_nonpositive(x):
    """exp(x) for x <= 0 to about 1 ulp, subnormal results included, branch-free (vectorizes).

    As ``multiclass.exp_nonpositive``, but the scale 2^k is applied in two halves so that results
    between 2^-1074 and 2^-1022 (x down to about -745) are kept, as ``math.exp`` keeps them: here
    q = e^-|m| itself is an output (the gradient at gamma = 0). NaN and -inf give 0 or 2^-1074.
    """
    # Clamping keeps k in range for any input (NaN and -inf too, as the comparison is false);
    # exp(-746) rounds to 0 like every smaller argument.
    poly, exponent = exp_reduced(x if x > -746.0 else -746.0)
    # 2^k = 2^half * 2^(k - half), both halves >= 2^-538 and so normal: the first product is exact
    # and the second rounds once, correctly, also into the subnormal range.
    half = exponent >> 1
    first = _float64_from_bits((half + 1023) << 52)
    second = _float64_from_bits((exponent - half + 1023) << 52)
    return (poly * first) * second


@numba.njit(cache=True, inline="always")
def _log_sigmoid(margin):
    """(p, q, log p, log q) for p = sigmoid(margin), q = 1 - p, without overflow or cancellation."""
    # exp(-|m|) <= 1 never overflows, even at |m| = 1e4.
    e = _exp_nonpositive(-abs(margin))
    inverse = 1.0 / (1.0 + e)
    # log(1 + e^-|m|), accurate (~e^-|m|) where it is tiny.
    log_small = log1p_unit(e)
    # Selects, not a branch: the sign of the margin is unpredictable, and the loop vectorizes.
    positive = margin >= 0.0
    p = inverse if positive else e * inverse
    # q from e directly, not 1 - p: exact down to the smallest doubles as p -> 1.
    q = e * inverse if positive else inverse
    # For m < 0, log p = m - log(1 + e^m): no exp(-m) that could overflow.
    log_p = -log_small if positive else margin - log_small
    log_q = -margin - log_small if positive else -log_small
    return p, q, log_p, log_q


@numba.njit(cache=True, inline="always")
def _q_power(q, log_q, gamma, gamma_is_two):
    """q^gamma for q = 1 - p_t in [0, 1]."""
    # q^gamma as exp(gamma log q): finite log q even where q underflows to 0 (then q^gamma = 0 for
    # gamma > 0 and exp(0) = 1 for gamma = 0, the logistic loss exactly), and an exp costs a fifth
    # of a general pow; relative error ~ gamma |log q| 1e-16. The default gamma = 2 multiplies.
    return q * q if gamma_is_two else _exp_nonpositive(gamma * log_q)


@numba.njit(cache=True, inline="always")
def _terms(p, q, log_p, q_pow, gamma):
    """(psi, G, C, S) of the module docstring from p_t, q, log p_t and q^gamma."""
    psi = -q_pow * log_p
    slope = q_pow * (gamma * p * log_p - q)
    curvature = gamma * p * q_pow * (q * (log_p + 2.0) - (gamma - 1.0) * p * log_p)
    spread = p * q_pow * (q - gamma * p * log_p)
    return psi, slope, curvature, spread


@numba.njit(cache=True, inline="always")
def _side_terms(margin, gamma, gamma_is_two):
    """For p_t = sigmoid(margin): (psi, G, C, S) as in the module docstring (derivatives in m)."""
    p, q, log_p, log_q = _log_sigmoid(margin)
    return _terms(p, q, log_p, _q_power(q, log_q, gamma, gamma_is_two), gamma)


@numba.njit(cache=True, inline="always")
def _side_hessian(curvature, spread, clip_curvature, lowest):
    """d2 psi/dm2 under the Hessian policy (before alpha and weights), as selects.

    ``clip_curvature``: the psd policy; ``lowest``: hessian_floor for the positive policies and
    -inf for the exact one (then the max is a no-op).
    """
    # psi'' clipped at 0 for psd: what is left, S, is >= 0.
    hessian = (0.0 if clip_curvature and curvature < 0.0 else curvature) + spread
    return hessian if hessian >= lowest else lowest


@numba.njit(cache=True, inline="always")
def _hard_block(margin, alpha_t, sign, weight, gamma, gamma_is_two, clip, lowest,
                loss_b, gradient_b, hessian_b, p_b, q_b, log_p_b, q_pow_b):
    """Weighted loss terms of a block of BLOCK_ROWS rows (a constant trip count, see the caller),
    one side each; ``p_b`` .. ``q_pow_b`` are scratch.

    Three branch-free loops, so that q^gamma is chosen once per block: in one loop a select
    between q * q and the exp evaluates both (vector code computes both sides of a select), which
    cost gamma = 2 a fifth more time.
    """
    for r in range(BLOCK_ROWS):
        p_b[r], q_b[r], log_p_b[r], q_pow_b[r] = _log_sigmoid(margin[r])  # q_pow_b holds log q here
    if gamma_is_two:
        for r in range(BLOCK_ROWS):
            q_pow_b[r] = _q_power(q_b[r], q_pow_b[r], 2.0, True)
    else:
        for r in range(BLOCK_ROWS):
            q_pow_b[r] = _q_power(q_b[r], q_pow_b[r], gamma, False)
    for r in range(BLOCK_ROWS):
        psi, slope, curvature, spread = _terms(p_b[r], q_b[r], log_p_b[r], q_pow_b[r], gamma)
        share = alpha_t[r]
        loss_b[r] = weight[r] * (share * psi)
        gradient_b[r] = weight[r] * (sign[r] * (share * slope))  # dm/dz = sign
        hessian_b[r] = weight[r] * (share * _side_hessian(curvature, spread, clip, lowest))


@numba.njit(cache=True, inline="always")
def _input_is_valid(y_true, sample_weight, weighted, soft_labels, i):
    """Whether row i has a valid label (0 or 1; in [0, 1] if soft) and a finite weight >= 0."""
    label = np.float64(y_true[i])
    weight = sample_weight[i] if weighted else 1.0
    # & rather than and: no branches, so the loading loop stays simple. False for NaN.
    if soft_labels:
        valid = (label >= 0.0) & (label <= 1.0)
    else:
        valid = (label == 0.0) | (label == 1.0)
    return valid & (weight >= 0.0) & (weight < np.inf)


# cost_per_entry: a row's serial time in multiclass entries (7 and 10 classes), which depends on the
# host: 4.6-5.1 ns a row against 4-4.4 an entry on the Zen 4 (AVX-512) machine
# (benchmarks/results/kernel_checkouts_block_views.md), about 1.1; 13.4 ns against 7.3-9.1 on the
# Zen 3 (AVX2) one (kernel_checkouts_exp_shifter.md), about 1.6. 1.5 sends 2,000,000 rows at 2
# threads to the serial kernel, which trained faster there on both hosts: focal / built-in 1.108
# serial against 1.128 pool on Zen 4 (booster_threads_cpu.md) and 1.108 against 1.192 on Zen 3
# (booster_threads_cpu_zen3.md). (It was 2.0, from the kernels before the block views.)
@parallel_kernel(cost_per_entry=1.5, fastmath={"contract"})
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
    clip = hessian_policy == HESSIAN_PSD
    # -inf makes the floor a no-op for the exact policy without a branch in the loop.
    lowest = -np.inf if hessian_policy == HESSIAN_EXACT else hessian_floor
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    bad_row_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    bad_input_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    n_sides = 2 if soft_labels else 1
    alpha_negative = np.float64(alpha[0])
    alpha_positive = np.float64(alpha[1])
    for chunk in numba.prange(n_chunks):
        logit = np.empty(BLOCK_ROWS)
        label = np.empty(BLOCK_ROWS)
        weight = np.empty(BLOCK_ROWS)
        margin = np.empty(BLOCK_ROWS)  # m = sign * z
        alpha_t = np.empty(BLOCK_ROWS)  # the side's alpha, times y or 1 - y for soft labels
        sign = np.empty(BLOCK_ROWS)
        part_loss, part_gradient, part_hessian = (
            np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS)
        )
        loss_b, gradient_b, hessian_b = np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS)
        # Scratch of _hard_block, allocated once per chunk (per block it cost 1.5 ns a row).
        p_b, q_b, log_p_b, q_pow_b = (np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS),
                                      np.empty(BLOCK_ROWS))
        chunk_stop = min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)
        for start in range(chunk * ROWS_PER_CHUNK, chunk_stop, BLOCK_ROWS):
            count = min(BLOCK_ROWS, chunk_stop - start)
            # Views of the block, indexed from 0: with raw_prediction[start + r] Numba's
            # negative-index wrap-around test (start's sign is unknown to LLVM) stays in the loop and
            # keeps it scalar; with r from range(count) LLVM drops the test and vectorizes. The
            # serial kernel took 6.8 ns a row that way, 4.6 this way (2,000,000 float32 margins,
            # gamma 2; benchmarks/results/kernel_checkouts_block_views.md).
            raw_block = raw_prediction[start:start + count]
            label_block = y_true[start:start + count]
            weight_block = sample_weight[start:start + count]  # (0,) stays (0,) when unweighted
            # Counts instead of branches: the rare bad rows are located afterwards.
            n_invalid = 0
            n_non_finite = 0
            for r in range(count):
                valid = _input_is_valid(label_block, weight_block, weighted, soft_labels, r)
                n_invalid += 0 if valid else 1
                # An invalid label is replaced by 0, so that the row is still computed.
                label[r] = np.float64(label_block[r]) if valid else 0.0
                z = np.float64(raw_block[r])
                logit[r] = z
                # z * 0 is NaN exactly when z is NaN or +-inf.
                n_non_finite += 0 if z * 0.0 == 0.0 else 1
                weight[r] = weight_block[r] if weighted else 1.0
            # A short last block is padded to BLOCK_ROWS rows (z = 0, label 0, weight 0; computed,
            # never stored): every compute loop below then runs a constant BLOCK_ROWS times, all of
            # it vectorized, in the serial and the parallel compilation alike. With a variable count
            # their remainder rows could take a scalar loop in one and a vector loop in the other,
            # whose fused multiply-adds ("contract") round differently: 1 ulp between the two.
            for r in range(count, BLOCK_ROWS):
                label[r] = 0.0
                logit[r] = 0.0
                weight[r] = 0.0
            if n_sides > 1:
                for r in range(BLOCK_ROWS):
                    loss_b[r] = 0.0
                    gradient_b[r] = 0.0
                    hessian_b[r] = 0.0
            # Hard labels: one side per row, the label's (sign +1 for y = 1, -1 for y = 0). Soft
            # labels: both sides, side 0 weighted by y (m = z), side 1 by 1 - y (m = -z); for
            # y in {0, 1} the other side enters with share exactly 0, so the values equal the
            # hard-label ones. One call site only: each inlined copy of the side evaluation costs
            # seconds of compilation, hence also gamma = 2 as a run-time flag.
            for side in range(n_sides):
                # Two loops, the label kind chosen outside them, and alpha read into scalars above:
                # with alpha[0] and alpha[1] read in the loop (an array LLVM cannot prove apart from
                # the three it writes) and the kind tested in it, this loop took about 5 ns a row, a
                # sixth of the serial kernel on a Zen 1 host (benchmarks/bench_binary_kernel_parts.py).
                if soft_labels:
                    side_sign = 1.0 if side == 0 else -1.0
                    side_alpha = alpha_positive if side == 0 else alpha_negative
                    for r in range(BLOCK_ROWS):
                        margin[r] = side_sign * logit[r]
                        alpha_t[r] = (label[r] if side == 0 else 1.0 - label[r]) * side_alpha
                        sign[r] = side_sign
                else:
                    for r in range(BLOCK_ROWS):
                        positive = label[r] == 1.0
                        margin[r] = logit[r] if positive else -logit[r]
                        alpha_t[r] = alpha_positive if positive else alpha_negative
                        sign[r] = 1.0 if positive else -1.0
                # One side: written straight into the block's results, nothing to add up.
                one_side = n_sides == 1
                _hard_block(margin, alpha_t, sign, weight, gamma, gamma == 2.0, clip, lowest,
                            loss_b if one_side else part_loss, gradient_b if one_side else part_gradient,
                            hessian_b if one_side else part_hessian, p_b, q_b, log_p_b, q_pow_b)
                if not one_side:
                    for r in range(BLOCK_ROWS):
                        loss_b[r] += part_loss[r]
                        gradient_b[r] += part_gradient[r]
                        hessian_b[r] += part_hessian[r]
            if want_loss:
                loss_block = loss_out[start:start + count]
                for r in range(count):
                    loss_block[r] = loss_b[r]
            if want_gradient:
                gradient_block = gradient_out[start:start + count]
                for r in range(count):
                    gradient_block[r] = gradient_b[r]
            if want_hessian:
                hessian_block = hessian_out[start:start + count]
                for r in range(count):
                    hessian_block[r] = hessian_b[r]
            if n_invalid > 0 and bad_input_of_chunk[chunk] < 0:
                for i in range(start, start + count):
                    if not _input_is_valid(y_true, sample_weight, weighted, soft_labels, i):
                        bad_input_of_chunk[chunk] = i
                        break
            if n_non_finite > 0:
                for i in range(start, start + count):
                    if not math.isfinite(np.float64(raw_prediction[i])):
                        if bad_row_of_chunk[chunk] < 0:
                            bad_row_of_chunk[chunk] = i
                        if want_loss:
                            loss_out[i] = np.nan
                        if want_gradient:
                            gradient_out[i] = np.nan
                        if want_hessian:
                            hessian_out[i] = np.nan
    return _first_bad_row(bad_row_of_chunk), _first_bad_row(bad_input_of_chunk)


@parallel_kernel()
def sigmoid(raw_prediction, out):
    """sigmoid(raw_prediction) (n,) into ``out``; exp of -|z| only, so no overflow."""
    for i in numba.prange(raw_prediction.shape[0]):
        z = np.float64(raw_prediction[i])
        e = math.exp(-abs(z))
        out[i] = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)


@numba.njit(cache=True)
def _constant_slope(margin, negative_total, positive_total, gamma):
    """d/db of c_1 psi(log sigmoid(b)) + c_0 psi(log sigmoid(-b)) at b = margin."""
    positive_slope = _side_terms(margin, gamma, gamma == 2.0)[1]
    negative_slope = _side_terms(-margin, gamma, gamma == 2.0)[1]
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

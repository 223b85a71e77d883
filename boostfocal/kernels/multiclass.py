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

Probabilities below 2**-1022 (about 2e-308) are flushed to zero by ``exp_nonpositive``.

The kernels work on blocks of BLOCK_ROWS rows held transposed (class by row), so that every stage
is a branch-free loop over rows that LLVM vectorizes whatever K is: the max-subtracted
exponentials, the per-row terms (p_t, log p_t, q^gamma, A, B; :func:`_block_true_class`) and the
columns of the outputs. Exponentials and logarithms there are the polynomial ``exp_nonpositive``
and ``log_normal`` (libm's calls are scalar and block vectorization; ``log1p_unit`` is the binary
kernel's), their series evaluated in Estrin's scheme. q^gamma is a
product for gamma in {0, 1, 2} and exp(gamma log q) otherwise, accurate to about
|gamma log q| 2^-53 relative; below q^gamma = e^-64 libm's pow takes over, so the per-row terms stay
within about 1e-14 relative of exact. :func:`_true_class_terms` is the scalar form of the same
terms (libm's log and pow), which the CUDA kernels run per thread.

Reference: Lin, Goyal, Girshick, He, Dollar (2017), "Focal Loss for Dense Object Detection".

These functions import only numpy, numba and math; `parallel_kernel` (.threads) compiles each parallel
kernel a second time, serially. Apart from the label, weight and finiteness checks of the main
kernels they check nothing: callers validate inputs.
"""

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from .threads import parallel_kernel

HESSIAN_EXACT = 0
HESSIAN_PSD = 1
HESSIAN_FLOOR = 2

# Rows per parallel work item: large enough to amortise the per-item scratch allocation, small
# enough to balance the load on a few threads.
ROWS_PER_CHUNK = 2048


@intrinsic
def _float64_from_bits(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (a bit cast, no conversion)."""
    signature = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return signature, codegen


@intrinsic
def _bits_of_float64(typingctx, value):
    """The bits of a float64 as an int64 (a bit cast, no conversion)."""
    signature = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return signature, codegen


# ln 2 split Cody-Waite style: the high part has trailing zero bits, so k * LN2_HIGH is exact for
# every integer |k| < 2^21.
LN2_HIGH = 0.6931471803691238
LN2_LOW = 1.9082149292705877e-10


# 1.5 * 2^52: adding it to a float64 of magnitude below 2^51 rounds it to an integer (to nearest,
# ties to even) and leaves that integer plus 2^51 in the low bits of the sum.
_ROUNDING_SHIFTER = 6755399441055744.0


@numba.njit(cache=True, inline="always")
def exp_reduced(x):
    """(exp(r), k) with exp(x) = 2^k exp(r), for |x| < 2^20 (the callers pass [-746, 0]);
    branch-free, so LLVM vectorizes it.

    ``math.exp`` is a scalar libm call (several times slower here, and it blocks vectorization; the
    llvmlite wheels ship without Intel SVML). The callers clamp x and apply 2^k.
    """
    # k = round(x / ln 2), |r| <= ln(2) / 2, by the shifter: k as a float is shifted - shifter
    # (exact), and as an int64 the difference of the two bit patterns. No float-to-int64
    # conversion: AVX2 has no vector instruction for it (AVX-512 does), and LLVM made it four
    # scalar ones, which took exp_nonpositive from 1.3 to 2.8 ns a value on this project's AVX2
    # machine. k * LN2_HIGH is exact (|k| < 2^21), so r is rounded only in its low part.
    # Never compile this with reassociation (fastmath "reassoc"/"nsz", or fastmath=True): LLVM then
    # folds (a + shifter) - shifter into a, k stops being an integer, and the result is off by up
    # to a factor sqrt(2). parallel_kernel refuses those flags.
    shifted = x * 1.4426950408889634 + _ROUNDING_SHIFTER
    k = shifted - _ROUNDING_SHIFTER
    r = (x - k * LN2_HIGH) - k * LN2_LOW
    # Taylor series of exp(r) to degree 13: truncation error < 5e-18 for |r| <= 0.347. Written as
    # 1 + (r + r^2 tail(r)) with the tail (coefficients 1/2! .. 1/13!) in Estrin's scheme: pairs
    # c_i + c_(i+1) r combined with r^2 and r^4, six dependent operations instead of Horner's twelve.
    # The loops around this are bound by that chain's latency, not by the count of operations: in a
    # loop over 1,000,000 values exp_nonpositive took 1.13 ns a value this way, 1.30 with Horner
    # (AVX2 host). The tail's rounding is scaled by r^2 <= 0.12, so it stays well below an ulp of
    # the sum; 1 / 13! is multiplied, not divided (a vector division costs as much as the series).
    r2 = r * r
    r4 = r2 * r2
    pair_2 = 1.0 / 2 + r * (1.0 / 6)
    pair_4 = 1.0 / 24 + r * (1.0 / 120)
    pair_6 = 1.0 / 720 + r * (1.0 / 5040)
    pair_8 = 1.0 / 40320 + r * (1.0 / 362880)
    pair_10 = 1.0 / 3628800 + r * (1.0 / 39916800)
    pair_12 = 1.0 / 479001600 + r * (1.0 / 6227020800.0)
    tail = (pair_2 + r2 * pair_4) + r4 * ((pair_6 + r2 * pair_8) + r4 * (pair_10 + r2 * pair_12))
    poly = 1.0 + (r + r2 * tail)
    return poly, _bits_of_float64(shifted) - _bits_of_float64(_ROUNDING_SHIFTER)


@numba.njit(cache=True, inline="always")
def exp_nonpositive(x):
    """exp(x) for x <= 0, to about 1 ulp. Results below 2**-1022 (x <= -708), and NaN inputs, give
    0: the kernels below rely on every positive sum of these being >= 2**-1022 (its reciprocal is
    then finite)."""
    # Clamping first keeps k in range for any input (NaN and -inf too, as the comparison is false).
    poly, k = exp_reduced(x if x > -708.0 else -708.0)
    # 2^k written straight into the exponent bits; k >= -1021 here, so it is a normal number.
    scale = _float64_from_bits((k + 1023) << 52)
    return poly * scale if x > -708.0 else 0.0


@numba.njit(cache=True, inline="always")
def log1p_unit(e):
    """log(1 + e) for e in [0, 1] to about 1 ulp, branch-free (vectorizes; math.log1p does not).

    log(1 + e) = 2 atanh(u) = 2 u (1 + u^2/3 + u^4/5 + ...) with u = e / (2 + e); for e > 1/2 the
    argument is halved first, log(1 + e) = ln 2 + 2 atanh((e - 1) / (e + 3)), so |u| <= 1/5.
    """
    upper = e > 0.5
    # e - 1 is exact for e in [1/2, 1] (Sterbenz), so u is rounded only by the division.
    u = (e - 1.0 if upper else e) / (e + (3.0 if upper else 2.0))
    s = u * u
    s2 = s * s
    s4 = s2 * s2
    # atanh series to s^11: truncation error < s^12 / 25 < 1e-18 relative, as s <= 1/25. Written
    # 2u + 2u s tail(s), the tail (1/3 .. 1/23) in Estrin's scheme as in exp_reduced: a shorter
    # dependent chain, and the tail's rounding is scaled by s <= 1/25.
    tail = ((1.0 / 3 + s * (1.0 / 5)) + s2 * (1.0 / 7 + s * (1.0 / 9))) + s4 * (
        ((1.0 / 11 + s * (1.0 / 13)) + s2 * (1.0 / 15 + s * (1.0 / 17)))
        + s4 * ((1.0 / 19 + s * (1.0 / 21)) + s2 * (1.0 / 23)))
    # u + u, not 2 * u (equal, exact): with FMA contraction allowed LLVM fuses one of the two
    # products of a sum of products into an FMA, and which one can differ between compilations of
    # the same code (it did for _argmax_hessian); a sum plus a product fuses one way only.
    two_u = u + u
    # ln 2 >= 2 * 2 |u| (1 + s tail), so adding it cancels at most one bit.
    return (0.6931471805599453 if upper else 0.0) + (two_u + two_u * (s * tail))


@numba.njit(cache=True, inline="always")
def log_normal(x):
    """log(x) for a finite positive normal x (>= 2**-1022) to about 1 ulp, branch-free (vectorizes;
    math.log is a scalar libm call). Zero, subnormal, NaN and inf inputs give finite garbage."""
    bits = _bits_of_float64(x)
    # x = 2^e m with m in [1, 2): the exponent field, as a float through the 2^52 trick (int64 to
    # float64 conversion has no vector instruction before AVX-512), and the mantissa bits under
    # the exponent of 1.
    exponent = _float64_from_bits((bits >> 52) | 0x4330000000000000) - (4503599627370496.0 + 1023.0)
    mantissa = _float64_from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    # Halving m above sqrt(2) (exact) keeps |u| <= 0.172 below, and log x accurate near 1 from
    # either side.
    high = mantissa > 1.4142135623730951
    mantissa = 0.5 * mantissa if high else mantissa
    exponent = exponent + 1.0 if high else exponent
    # log m = 2 atanh(u), u = (m - 1) / (m + 1); m - 1 is exact (Sterbenz), so u is rounded once.
    u = (mantissa - 1.0) / (mantissa + 1.0)
    s = u * u
    s2 = s * s
    s4 = s2 * s2
    # atanh series to s^10: truncation error < s^11 / 23 < 1e-18 relative, as s <= 0.0295; the
    # tail (1/3 .. 1/21) in Estrin's scheme, as in log1p_unit.
    tail = ((1.0 / 3 + s * (1.0 / 5)) + s2 * (1.0 / 7 + s * (1.0 / 9))) + s4 * (
        ((1.0 / 11 + s * (1.0 / 13)) + s2 * (1.0 / 15 + s * (1.0 / 17))) + s4 * (1.0 / 19 + s * (1.0 / 21)))
    two_u = u + u  # not 2 * u: see log1p_unit
    # e ln 2 in two parts, the exact high one added last, so log m keeps its bits.
    return exponent * LN2_HIGH + (exponent * LN2_LOW + (two_u + two_u * (s * tail)))


@numba.njit(cache=True, inline="always")
def _power(base, exponent):
    """base ** exponent for base in [0, 1]; small integer exponents by multiplication (faster than
    libm pow, and exact for exponent 1 and 2). 0 ** 0 == 1, so gamma = 0 gives cross-entropy."""
    if exponent == 2.0:
        return base * base
    if exponent == 0.0:
        return 1.0
    if exponent == 1.0:
        return base
    return math.pow(base, exponent)


# Classes up to which the gradient kernel builds its outputs in transposed blocks and stores them in
# the output's order; above, each row is written straight out. Serially, the rows written out took
# 0.83-0.93 of the blocks' time at 300 and 1,000 classes, where three (K, BLOCK_ROWS) float64 blocks
# outgrow the core's cache (benchmarks/results/kernel_checkouts_transposed_all.md); in the same
# comparison with the switch at 32, the blocks were about 10 % faster at 40 classes and even at 64.
TRANSPOSED_UP_TO = 64

# Rows handled together by the block routines below: their exponentials are held transposed,
# (n_classes, BLOCK_ROWS), so every inner loop runs over rows, long and contiguous, and vectorizes
# even when K is small.
BLOCK_ROWS = 128


@numba.njit(cache=True, inline="always")
def _block_scratch(n_classes):
    """Per-thread scratch of :func:`_block_softmax`: (exp_t, z_max, rest, argmax, finite)."""
    return (
        np.empty((n_classes, BLOCK_ROWS)),
        np.empty(BLOCK_ROWS),
        np.empty(BLOCK_ROWS),
        np.empty(BLOCK_ROWS, dtype=np.int64),
        np.empty(BLOCK_ROWS, dtype=np.bool_),
    )


@numba.njit(cache=True, inline="always")
def _block_softmax(raw_prediction, start, count, exp_t, z_max, argmax, rest, finite):
    """Max-subtracted exponentials of rows start .. start+count, transposed into ``exp_t``.

    Per row r: argmax[r], rest[r] = sum of exp(z_j - max z) over j != arg-max (the arg-max term is
    exactly 1, so total = 1 + rest with no cancellation in total - 1), finite[r] (False when the row
    holds a NaN or inf; its other outputs are then meaningless).
    """
    n_classes = raw_prediction.shape[1]
    # rest holds the finiteness probe meanwhile: v * 0 is NaN exactly when v is NaN or +-inf, so
    # one test per row after the loop checks the whole row.
    if raw_prediction.strides[0] <= raw_prediction.strides[1]:
        # Columns contiguous (Fortran order, as LightGBM hands its scores): column by column, each
        # over the block's rows, so the reads are contiguous and the running max and arg-max of
        # many rows are updated at once (vectorized).
        # Column views of the block, indexed from 0 (1-D and contiguous for a Fortran input): with
        # raw_prediction[start + r, j] Numba's negative-index wrap-around test (LLVM cannot know
        # the sign of start) stays in the loop and keeps it scalar: the serial kernel on Fortran
        # float64 input took 5.7-6.0 ns an entry at 7 classes that way, 3.8-4.0 this way
        # (benchmarks/results/kernel_checkouts_block_views.md).
        first = raw_prediction[start:start + count, 0]
        for r in range(count):
            value = np.float64(first[r])
            exp_t[0, r] = value
            z_max[r] = value
            argmax[r] = 0
            rest[r] = value * 0.0
        for j in range(1, n_classes):
            column = exp_t[j]
            column_in = raw_prediction[start:start + count, j]
            for r in range(count):
                value = np.float64(column_in[r])
                column[r] = value
                rest[r] += value * 0.0
                # Selects rather than a branch (the arg-max position is unpredictable on real
                # data); the first maximum wins.
                greater = value > z_max[r]
                argmax[r] = j if greater else argmax[r]
                z_max[r] = value if greater else z_max[r]
    else:
        # Rows contiguous (C order): row by row, so each row's values are read together (measured
        # faster here than the strided column reads above).
        for r in range(count):
            # Row views (not raw_prediction[start + r, j]) keep the indexing cheap for any layout.
            row = raw_prediction[start + r]
            best = 0
            best_value = np.float64(row[0])
            probe = 0.0
            for j in range(n_classes):
                value = np.float64(row[j])
                exp_t[j, r] = value
                probe += value * 0.0
                greater = value > best_value
                best = j if greater else best
                best_value = value if greater else best_value
            rest[r] = probe
            z_max[r] = best_value
            argmax[r] = best
    for r in range(count):
        finite[r] = rest[r] == 0.0
        rest[r] = 0.0
    # Two columns a pass: each pass reads z_max, argmax and rest once for two exponentials, and the
    # two independent exponentials overlap. The exponential loop took 1.8-2.2 ns an entry this way
    # at 7 and 10 classes, 2.1-2.4 one column a pass (AVX2 host); rest is summed in the same order.
    for j in range(0, n_classes - 1, 2):
        column, next_column = exp_t[j], exp_t[j + 1]
        for r in range(count):
            # Max-subtracted: every argument is <= 0, so nothing overflows even at |z| = 1e4.
            top, shift = argmax[r], z_max[r]
            e = exp_nonpositive(column[r] - shift)
            e_next = exp_nonpositive(next_column[r] - shift)
            column[r], next_column[r] = e, e_next
            # The arg-max term (exactly 1) is left out of rest, so total - 1 never cancels.
            rest[r] = (rest[r] + (e if j != top else 0.0)) + (e_next if j + 1 != top else 0.0)
    if n_classes % 2 == 1:
        column, j = exp_t[n_classes - 1], n_classes - 1
        for r in range(count):
            e = exp_nonpositive(column[r] - z_max[r])
            column[r] = e
            rest[r] += e if j != argmax[r] else 0.0


@numba.njit(cache=True, inline="always")
def _psi_terms(p_true, q, log_p_true, q_pow, gamma):
    """(psi, A = psi'(s), B = psi''(s) q^2) from p_t, q = 1 - p_t, s = log p_t and q^gamma, in the
    finite forms of the module docstring."""
    # r = log(1 - q) / q -> -1 as q -> 0; it carries the 0 * inf limit of q^(gamma-1) * log p_t.
    ratio = log_p_true / q if q > 0.0 else -1.0
    # p_t * r -> 0 as p_t -> 0. Where p_t underflowed to 0, log p_t may be -inf (a logit gap beyond
    # the float range, e.g. 1e308 - -1e308): take that limit instead of 0 * inf = NaN.
    ratio = ratio if p_true > 0.0 else 0.0
    psi = -q_pow * log_p_true
    psi_1 = q_pow * (gamma * p_true * ratio - 1.0)
    psi_2_q2 = gamma * p_true * q_pow * q * (q * ratio + 2.0 - (gamma - 1.0) * p_true * ratio)
    return psi, psi_1, psi_2_q2


@numba.njit(cache=True, inline="always")
def _column_entry(e_j, scale, curvature, inverse_total, inverse_others, lowest):
    """(g_j, h_j) of a column j that is neither the label nor the arg-max, from e_j = e^(z_j - max z)
    and the row's scale = -alpha_t w A, curvature = alpha_t w psi'' q^2, 1 / total, 1 / others::

        p_j = e_j / total,  g_j = scale p_j,  h_j = curvature (e_j / others)^2 + g_j (1 - p_j)

    with h_j raised to at least ``lowest`` (a select, not ``max``, so that the CUDA twins compile
    it too)."""
    p_j = e_j * inverse_total
    gradient = scale * p_j
    # psi'' p_j^2 = (psi'' q^2) (e_j / others)^2: the ratio is formed before squaring, as others^2
    # alone underflows once the top logit leads by more than ~354 (1 / others stays finite).
    ratio = e_j * inverse_others
    hessian = curvature * ratio * ratio + gradient * (1.0 - p_j)
    return gradient, (hessian if hessian >= lowest else lowest)


@numba.njit(cache=True, inline="always")
def _argmax_hessian(scale, curvature, inverse_total, inverse_others, rest, lowest):
    """h of the arg-max column when it is not the label: the only class that can have p_j > 1/2,
    so 1 - p_j is taken as its exact complement rest / total (others >= 1 here, 1 / others <= 1);
    at least ``lowest``. The gradient kernel also evaluates it when the arg-max is the label, and
    then overwrites the result."""
    hessian = curvature * inverse_others * inverse_others + scale * inverse_total * (rest * inverse_total)
    return hessian if hessian >= lowest else lowest


@numba.njit(cache=True, inline="always")
def _true_class_terms(raw_row, label, argmax, rest, z_max, exp_label, gamma):
    """For one row: (p_t, q = 1 - p_t, others = q * total, psi, A = psi'(s), B = psi''(s) q^2).

    psi(s) = -q^gamma s with s = log p_t. The scalar form of :func:`_block_true_class` (libm's log
    and pow), which the CUDA kernels run per thread.
    """
    total = 1.0 + rest
    if label == argmax:
        others = rest
        # log p_t = -log(1 + rest): log1p stays exact as p_t -> 1.
        log_p_true = -math.log1p(rest)
    else:
        # p_t <= 1/2 here, so 1 - p_t has no cancellation; rest - e_t sums the remaining terms.
        others = 1.0 + (rest - exp_label)
        log_p_true = (np.float64(raw_row[label]) - z_max) - math.log(total)
    # q = 1 - p_t as a ratio of sums of positive terms: accurate down to the smallest doubles.
    q = others / total
    p_true = exp_label / total
    psi, psi_1, psi_2_q2 = _psi_terms(p_true, q, log_p_true, _power(q, gamma), gamma)
    return p_true, q, others, psi, psi_1, psi_2_q2


# q^gamma = exp(gamma log q) is accurate to about |gamma log q| * 2^-53 relative (the exponent is
# rounded in absolute terms): below q^gamma = e^-64 (7e-15 relative) math.pow recomputes it.
_EXP_LOG_FLOOR = 1.6038109389511792e-28  # e^-64


@numba.njit(cache=True, inline="always")
def _block_true_class(rest, argmax, labels, exp_label, gap, gamma, count,
                      p_b, q_b, others_b, log_p_b, q_pow_b):
    """p_t, q = 1 - p_t, others = q * total, log p_t and q^gamma of a block's rows into the
    ``*_b`` arrays: what :func:`_true_class_terms` computes, in loops over all BLOCK_ROWS rows that
    LLVM vectorizes (branch-free, and log through :func:`log_normal` rather
    than libm). Rows from ``count`` on are padding: any finite inputs.

    ``exp_label``: e^(z_t - max z); ``gap``: z_t - max z (0 when the label is the arg-max).
    """
    for r in range(BLOCK_ROWS):
        rest_r = rest[r]
        total = 1.0 + rest_r
        # p_t <= 1/2 unless the label is the arg-max, so 1 - p_t has no cancellation; rest - e_t
        # sums the remaining terms.
        others = rest_r if labels[r] == argmax[r] else 1.0 + (rest_r - exp_label[r])
        # log total = log1p(rest), exact as p_t -> 1 (rest -> 0): log of the rounded total plus
        # the first-order correction c / total for its rounding error c = rest - (total - 1),
        # which is exact (total - 1 is, for total < 2^53, and rest is within a factor 2 of it; rest
        # <= K - 1 here). One logarithm instead of log1p_unit and log_normal both, which a vector
        # select evaluates: this stage took 3.1 ns a row against 4.6 at gamma 2 (AVX2 host).
        log_total = log_normal(total) + (rest_r - (total - 1.0)) / total
        log_p_b[r] = gap[r] - log_total
        # q = 1 - p_t as a ratio of sums of positive terms: accurate down to the smallest doubles.
        q_b[r] = others / total
        p_b[r] = exp_label[r] / total
        others_b[r] = others
        q_pow_b[r] = log_total  # kept for the general power below
    # One loop per kind of gamma, chosen once per block: in one loop a select would evaluate
    # every kind (vector code computes both sides of a select).
    if gamma == 2.0:
        for r in range(BLOCK_ROWS):
            q_pow_b[r] = q_b[r] * q_b[r]
    elif gamma == 1.0:
        for r in range(BLOCK_ROWS):
            q_pow_b[r] = q_b[r]
    elif gamma == 0.0:
        for r in range(BLOCK_ROWS):
            q_pow_b[r] = 1.0  # 0 ** 0 == 1: gamma = 0 gives cross-entropy
    else:
        n_far = 0
        for r in range(BLOCK_ROWS):
            # log q = log others - log total; the min keeps q^gamma <= 1 where rounding makes the
            # difference a hair above 0 (q -> 1).
            exponent = min(gamma * (log_normal(others_b[r]) - q_pow_b[r]), 0.0)
            q_pow = exp_nonpositive(exponent)
            q_pow_b[r] = q_pow
            # others = 0 (q = 0) has no logarithm: those rows go to math.pow as well.
            n_far += 1 if (q_pow < _EXP_LOG_FLOOR) | (others_b[r] <= 0.0) else 0
        if n_far > 0:
            for r in range(count):
                if q_pow_b[r] < _EXP_LOG_FLOOR or others_b[r] <= 0.0:
                    q_pow_b[r] = math.pow(q_b[r], gamma)


@numba.njit(cache=True, inline="always")
def _block_rows():
    """Per-thread scratch of the per-row stage: (labels, factor, exp_label, gap, p_t, q, others,
    log p_t, q^gamma)."""
    return (np.empty(BLOCK_ROWS, dtype=np.int64), np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS),
            np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS),
            np.empty(BLOCK_ROWS), np.empty(BLOCK_ROWS))


@numba.njit(cache=True, inline="always")
def _block_labels(y_true, raw_prediction, sample_weight, weighted, alpha, start, count, exp_t, z_max,
                  argmax, rest, labels, factor, exp_label, gap):
    """Label, alpha_t w, e^(z_t - max z) and z_t - max z of each row of the block; padding rows
    (count .. BLOCK_ROWS) get finite values. Returns the first row with an invalid label or
    weight (-1 if none)."""
    first_invalid = -1
    # Views of the block, indexed from 0 (no wrap-around test on start + r, see _block_softmax).
    label_block = y_true[start:start + count]
    weight_block = sample_weight[start:start + count]  # (0,) stays (0,) when unweighted
    raw_block = raw_prediction[start:start + count]
    for r in range(count):
        label, factor[r], valid = _label_and_factor(label_block, weight_block, weighted, alpha, r)
        if not valid and first_invalid < 0:
            first_invalid = start + r
        labels[r] = label
        exp_label[r] = exp_t[label, r]
        gap[r] = np.float64(raw_block[r, label]) - z_max[r]
    for r in range(count, BLOCK_ROWS):
        # Two equal classes: p_t = q = 1/2, nothing extreme.
        labels[r], argmax[r], rest[r], factor[r], exp_label[r], gap[r] = 0, 0, 1.0, 0.0, 1.0, 0.0
        for j in range(exp_t.shape[0]):
            exp_t[j, r] = 0.0
    return first_invalid


@numba.njit(cache=True, inline="always")
def _label_and_factor(y_true, sample_weight, weighted, alpha, i):
    """(label t, alpha[t] * w_i, valid) for row i.

    Labels may have any integer or float dtype (the boosters pass float32); ``valid`` is False for
    a label that is not an integer in [0, K) or a weight that is negative, NaN or inf, and label 0
    is then used so that every index stays in bounds. Checking here costs nothing, where a separate
    NumPy check would take several passes and temporaries per call.
    """
    value = y_true[i]
    valid = value >= 0 and value < alpha.shape[0]  # False for NaN too
    # np.int64 on both branches: int(uint64) and a literal 0 would unify to a float index.
    label = np.int64(value) if valid else np.int64(0)
    if label != value:
        valid = False
        label = 0
    weight = sample_weight[i] if weighted else 1.0
    if not (weight >= 0.0 and weight < np.inf):
        valid = False
    return label, alpha[label] * weight, valid


@numba.njit(cache=True, inline="always")
def _store_block(block_t, out, start, count):
    """out[start + r, j] = block_t[j, r] for the block's rows, in the order of the output's layout."""
    n_classes = block_t.shape[0]
    if out.strides[0] <= out.strides[1]:
        # Columns contiguous (Fortran order): column by column, contiguous stores.
        for j in range(n_classes):
            column = block_t[j]
            column_out = out[start:start + count, j]  # indexed from 0, as in _block_softmax
            for r in range(count):
                column_out[r] = column[r]
    else:
        for r in range(count):
            row = out[start + r]
            for j in range(n_classes):
                row[j] = block_t[j, r]


# Up to this many classes the two transposed blocks are stored in one pass (see _store_blocks).
FUSED_STORE_UP_TO = 10


@numba.njit(cache=True, inline="always")
def _store_blocks(gradient_t, hessian_t, gradient_out, hessian_out, start, count):
    """Both transposed blocks into their outputs: :func:`_store_block` of each, except that two
    row-ordered (C) outputs of up to FUSED_STORE_UP_TO classes are written in one pass over the rows."""
    n_classes = gradient_t.shape[0]
    if (n_classes <= FUSED_STORE_UP_TO and gradient_out.strides[0] > gradient_out.strides[1]
            and hessian_out.strides[0] > hessian_out.strides[1]):
        # One row loop for both, each row's entries read strided from the two blocks: the serial
        # kernel took 0.925-0.929 of its time with two such passes at 7 classes and 0.97-1.00 at
        # 10, float32 C outputs (XGBoost's), on a Zen 1 host, but 1.03-1.04 at 30 and 40 classes,
        # where the two blocks' rows read at once outgrow the core's L1 cache
        # (benchmarks/results/kernel_checkouts_stores.md).
        for r in range(count):
            gradient_row, hessian_row = gradient_out[start + r], hessian_out[start + r]
            for j in range(n_classes):
                gradient_row[j] = gradient_t[j, r]
                hessian_row[j] = hessian_t[j, r]
    else:
        _store_block(gradient_t, gradient_out, start, count)
        _store_block(hessian_t, hessian_out, start, count)


@numba.njit(cache=True)
def _first_bad_row(bad_row_of_chunk):
    for chunk in range(bad_row_of_chunk.shape[0]):
        if bad_row_of_chunk[chunk] >= 0:
            return bad_row_of_chunk[chunk]
    return -1


@parallel_kernel(fastmath={"contract"})
def focal_loss_per_sample(y_true, raw_prediction, alpha, sample_weight, gamma, loss_out):
    """Per-sample loss alpha[t] * w * psi(log p_t) into ``loss_out`` (n,).

    Arguments and returned row indices as in :func:`focal_loss_gradient_hessian`.
    """
    n_samples, n_classes = raw_prediction.shape
    weighted = sample_weight.shape[0] == n_samples
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    bad_row_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    bad_input_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    for chunk in numba.prange(n_chunks):
        exp_t, z_max, rest, argmax, finite = _block_scratch(n_classes)
        labels, factor, exp_label, gap, p_b, q_b, others_b, log_p_b, q_pow_b = _block_rows()
        chunk_stop = min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)
        for start in range(chunk * ROWS_PER_CHUNK, chunk_stop, BLOCK_ROWS):
            count = min(BLOCK_ROWS, chunk_stop - start)
            _block_softmax(raw_prediction, start, count, exp_t, z_max, argmax, rest, finite)
            invalid = _block_labels(y_true, raw_prediction, sample_weight, weighted, alpha, start, count,
                                    exp_t, z_max, argmax, rest, labels, factor, exp_label, gap)
            if invalid >= 0 and bad_input_of_chunk[chunk] < 0:
                bad_input_of_chunk[chunk] = invalid
            _block_true_class(rest, argmax, labels, exp_label, gap, gamma, count,
                              p_b, q_b, others_b, log_p_b, q_pow_b)
            for r in range(count):
                i = start + r
                if not finite[r]:
                    if bad_row_of_chunk[chunk] < 0:
                        bad_row_of_chunk[chunk] = i
                    loss_out[i] = np.nan
                    continue
                loss_out[i] = factor[r] * -(q_pow_b[r] * log_p_b[r])  # psi = -q^gamma log p_t
    return _first_bad_row(bad_row_of_chunk), _first_bad_row(bad_input_of_chunk)


@parallel_kernel(fastmath={"contract"})
def focal_loss_gradient_hessian(
    y_true,
    raw_prediction,
    alpha,
    sample_weight,
    gamma,
    hessian_policy,
    hessian_floor,
    gradient_out,
    hessian_out,
):
    """One pass over the rows: gradient and Hessian diagonal w.r.t. the raw predictions.

    y_true: (n,) integer-valued labels of any numeric dtype; raw_prediction: float (n, K), any
    layout; alpha: float64 (K,); sample_weight: float64 (n,), or (0,) for all ones; outputs (n, K)
    float32/float64, any layout. Returns (first row holding a NaN or inf raw prediction, whose
    outputs are NaN; first row with an invalid label or weight), each -1 when there is none.
    """
    n_samples, n_classes = raw_prediction.shape
    weighted = sample_weight.shape[0] == n_samples
    floored = hessian_policy != HESSIAN_EXACT
    clip = hessian_policy == HESSIAN_PSD
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    bad_row_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    bad_input_of_chunk = np.full(n_chunks, -1, dtype=np.int64)
    for chunk in numba.prange(n_chunks):
        exp_t, z_max, rest, argmax, finite = _block_scratch(n_classes)
        labels, factor, exp_label, gap, p_b, q_b, others_b, log_p_b, q_pow_b = _block_rows()
        # Per-row values for the branch-free column loop and the label column.
        inverse_total = np.empty(BLOCK_ROWS)
        gradient_scale = np.empty(BLOCK_ROWS)  # -alpha_t w A
        curvature_scale = np.empty(BLOCK_ROWS)  # alpha_t w psi'' q^2 (psi'' clipped for psd)
        inverse_others = np.empty(BLOCK_ROWS)  # 1 / others, 0 when others == 0
        gradient_label = np.empty(BLOCK_ROWS)
        hessian_label = np.empty(BLOCK_ROWS)
        lowest = np.empty(BLOCK_ROWS)
        # The block's outputs, transposed like exp_t, up to TRANSPOSED_UP_TO classes.
        transposed = n_classes <= TRANSPOSED_UP_TO
        block_classes = n_classes if transposed else 1
        gradient_t = np.empty((block_classes, BLOCK_ROWS))
        hessian_t = np.empty((block_classes, BLOCK_ROWS))
        chunk_stop = min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)
        for start in range(chunk * ROWS_PER_CHUNK, chunk_stop, BLOCK_ROWS):
            count = min(BLOCK_ROWS, chunk_stop - start)
            _block_softmax(raw_prediction, start, count, exp_t, z_max, argmax, rest, finite)
            invalid = _block_labels(y_true, raw_prediction, sample_weight, weighted, alpha, start, count,
                                    exp_t, z_max, argmax, rest, labels, factor, exp_label, gap)
            if invalid >= 0 and bad_input_of_chunk[chunk] < 0:
                bad_input_of_chunk[chunk] = invalid
            _block_true_class(rest, argmax, labels, exp_label, gap, gamma, count,
                              p_b, q_b, others_b, log_p_b, q_pow_b)
            # Over all BLOCK_ROWS rows (padding included), branch-free: LLVM vectorizes it.
            for r in range(BLOCK_ROWS):
                p_true, q, others = p_b[r], q_b[r], others_b[r]
                _, psi_1, curvature = _psi_terms(p_true, q, log_p_b[r], q_pow_b[r], gamma)
                # max(psi'', 0) for psd: keeps the Hessian positive semidefinite.
                curvature = 0.0 if clip and curvature < 0.0 else curvature
                row_factor = factor[r]
                inverse_total[r] = 1.0 / (1.0 + rest[r])
                gradient_scale[r] = -row_factor * psi_1
                curvature_scale[r] = row_factor * curvature  # see _column_entry
                inverse_others[r] = 1.0 / others if others > 0.0 else 0.0
                gradient_label[r] = row_factor * (psi_1 * q)
                hessian_label[r] = row_factor * (curvature - psi_1 * p_true * q)
                # The floor applies before the weights, so the weighted floor is factor * floor;
                # -inf for the exact policy turns max(h, lowest) into a no-op without a branch.
                lowest[r] = row_factor * hessian_floor if floored else -np.inf
            if transposed:
                # Every column as if it were neither the label nor the arg-max, into the transposed
                # block: column by column over all BLOCK_ROWS rows, contiguous and branch-free, so
                # LLVM vectorizes it for any K. The label and arg-max entries are rewritten below.
                for j in range(n_classes):
                    e_column, gradient_column, hessian_column = exp_t[j], gradient_t[j], hessian_t[j]
                    for r in range(BLOCK_ROWS):
                        gradient_column[r], hessian_column[r] = _column_entry(
                            e_column[r], gradient_scale[r], curvature_scale[r], inverse_total[r],
                            inverse_others[r], lowest[r])
            for r in range(count):
                label, top = labels[r], argmax[r]
                if not transposed:
                    # Straight into the output row; its own loop over the K classes is long enough
                    # to vectorize.
                    gradient_row, hessian_row = gradient_out[start + r], hessian_out[start + r]
                    scale, curvature_r, inverse, low, inverse_o = (
                        gradient_scale[r], curvature_scale[r], inverse_total[r], lowest[r],
                        inverse_others[r],
                    )
                    e_row = exp_t[:, r]
                    for j in range(n_classes):
                        gradient_row[j], hessian_row[j] = _column_entry(
                            e_row[j], scale, curvature_r, inverse, inverse_o, low)
                # The arg-max entry first, the label's after it: when the label is the arg-max its
                # entry overwrites the other (that value may then be inf, 1 / others being large),
                # so no branch on whether they are equal, which is data-dependent and mispredicts.
                # Here, in this scalar loop, not in the vectorized one above: there LLVM fused one
                # or the other product of _argmax_hessian's sum into an FMA depending on the
                # argument types (read-only arrays gave other last bits).
                gradient_label_r = gradient_label[r]
                hessian_label_r = max(hessian_label[r], lowest[r])
                hessian_top = _argmax_hessian(gradient_scale[r], curvature_scale[r], inverse_total[r],
                                              inverse_others[r], rest[r], lowest[r])
                if transposed:
                    hessian_t[top, r] = hessian_top
                    gradient_t[label, r] = gradient_label_r
                    hessian_t[label, r] = hessian_label_r
                else:
                    i = start + r
                    hessian_out[i, top] = hessian_top
                    gradient_out[i, label] = gradient_label_r
                    hessian_out[i, label] = hessian_label_r
            if transposed:
                _store_blocks(gradient_t, hessian_t, gradient_out, hessian_out, start, count)
            for r in range(count):
                if not finite[r]:
                    i = start + r
                    if bad_row_of_chunk[chunk] < 0:
                        bad_row_of_chunk[chunk] = i
                    for j in range(n_classes):
                        gradient_out[i, j] = np.nan
                        hessian_out[i, j] = np.nan
    return _first_bad_row(bad_row_of_chunk), _first_bad_row(bad_input_of_chunk)


@parallel_kernel(fastmath={"contract"})
def softmax(raw_prediction, out):
    """Row-wise softmax of finite ``raw_prediction`` (n, K) into ``out``; max-subtracted."""
    n_samples, n_classes = raw_prediction.shape
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    for chunk in numba.prange(n_chunks):
        exp_t, z_max, rest, argmax, finite = _block_scratch(n_classes)
        chunk_stop = min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)
        for start in range(chunk * ROWS_PER_CHUNK, chunk_stop, BLOCK_ROWS):
            count = min(BLOCK_ROWS, chunk_stop - start)
            _block_softmax(raw_prediction, start, count, exp_t, z_max, argmax, rest, finite)
            for r in range(count):
                out_row = out[start + r]
                inverse_total = 1.0 / (1.0 + rest[r])
                for j in range(n_classes):
                    out_row[j] = exp_t[j, r] * inverse_total


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

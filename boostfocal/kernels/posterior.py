"""Numba kernel of the focal posterior correction: class posteriors from focal-trained margins.

Focal loss is classification-calibrated but not strictly proper (Charoenphakdee, Vongkulbhisal,
Chairatanakul, Sugiyama, CVPR 2021): the softmax q of a focal minimiser is not the class posterior
eta. For one input x the conditional risk is, with phi(q) = -(1 - q)^gamma log q,

    R(q) = sum_k eta_k alpha_k phi(q_k),    q on the probability simplex.

At its minimiser the Lagrange condition eta_k alpha_k phi'(q_k) = lambda holds for every k, so

    eta_k = h_k / sum_j h_j,    h_k = 1 / (alpha_k g(q_k)),
    g(q) = -phi'(q) = (1 - q)^gamma / q - gamma (1 - q)^(gamma - 1) log q  (> 0 on (0, 1)).

With r = 1 - q and l = -log q >= 0, g factors into forms with no negative power of r (which would
overflow for gamma < 1 as q -> 1) and no 1/q (which overflows as q -> 0):

    g(q)     = r^gamma (1/q + gamma l / r)
    log g(q) = gamma log r + l + log1p(gamma q (l / r))

so the kernel forms log h_k = -log alpha_k - log g(q_k) and a max-subtracted softmax of it.
Every ingredient comes from the margins, never from a rounded probability:

* log q_k from the log-softmax, with the largest class's log-normaliser as log1p of the sum of the
  others (exact as q -> 1);
* r for the largest class as the sum of the other probabilities, kept in log space (so r = 1e-8000 at
  logit gaps of 2e4 is still a finite log r), and l / r = log1p(T) (1 + T) / T with T that sum
  relative to the largest class; every other class has q <= 1/2, where log1p(-q) is accurate.

At gamma = 0, log h_k = log q_k - log alpha_k: without alpha the correction returns the softmax.

These functions import only numpy, numba and math. They check nothing: callers validate inputs.
"""

import math

import numba
import numpy as np

from .threads import parallel_kernel

ROWS_PER_CHUNK = 2048

# Logit gaps below this are clamped: exp() of anything below -746 is 0 already, and a bounded gap
# keeps gamma * log r finite (the result is the same: those classes get posterior 0).
_MOST_NEGATIVE_GAP = -1.0e100


@numba.njit(cache=True, inline="always")
def _log1p_over(t):
    """log1p(t) / t for t >= 0, accurate as t -> 0 (and 1 at t = 0)."""
    if t < 1e-5:
        return 1.0 - t * (0.5 - t / 3.0)  # Taylor series; the next term t^3/4 is below 2.5e-16
    return math.log1p(t) / t


@numba.njit(cache=True)
def _posterior_row(z, log_alpha, gamma, log_h, out_row):
    """Posterior correction of one row of margins ``z`` (K >= 2) into ``out_row``."""
    n_classes = z.shape[0]
    top = 0
    for j in range(1, n_classes):
        if z[j] > z[top]:
            top = j
    z_top = float(z[top])
    # Second largest margin: the sum T = sum_{j != top} exp(z_j - z_top) is formed relative to it,
    # so that log T stays finite even when every term underflows.
    z_second = -np.inf
    for j in range(n_classes):
        if j != top and z[j] > z_second:
            z_second = float(z[j])
    second_gap = max(z_second - z_top, _MOST_NEGATIVE_GAP)  # <= 0
    relative_sum = 0.0
    for j in range(n_classes):
        if j != top:
            relative_sum += math.exp(max(float(z[j]) - z_second, _MOST_NEGATIVE_GAP))  # >= 1 in all
    log_t = second_gap + math.log(relative_sum)
    t = math.exp(log_t)  # may underflow to 0; log_t does not
    log_normaliser = math.log1p(t)  # log sum_j exp(z_j - z_top): log1p keeps q_top -> 1 exact
    for j in range(n_classes):
        if j == top:
            log_q = -log_normaliser
            # r = T / (1 + T): the sum of the other probabilities, not 1 - q (which cancels).
            log_r = log_t - log_normaliser
            # l / r = log1p(T) (1 + T) / T, finite as T -> 0 (it tends to 1).
            l_over_r = _log1p_over(t) * (1.0 + t)
        else:
            log_q = max(float(z[j]) - z_top, _MOST_NEGATIVE_GAP) - log_normaliser
            q_j = math.exp(log_q)
            # q_j <= 1/2 for every class but the largest one, so 1 - q_j does not cancel.
            log_r = math.log1p(-q_j)
            l_over_r = -log_q / (1.0 - q_j)
        q = math.exp(log_q)
        ell = -log_q
        focusing = gamma * log_r if gamma > 0.0 else 0.0  # r^gamma; 0 * log r is 1 at gamma = 0
        value = -log_alpha[j] - focusing - ell - math.log1p(gamma * q * l_over_r)
        # An astronomically large gamma can push the largest class to +inf; its posterior is then 1.
        log_h[j] = min(value, 1.0e308)
    # Max-subtracted softmax of log h.
    largest = log_h[0]
    for j in range(1, n_classes):
        largest = max(largest, log_h[j])
    total = 0.0
    for j in range(n_classes):
        log_h[j] = math.exp(log_h[j] - largest)
        total += log_h[j]
    for j in range(n_classes):
        out_row[j] = log_h[j] / total


@parallel_kernel()
def focal_posterior(raw_prediction, log_alpha, gamma, out):
    """Rows of ``out`` (n, K) = the focal posterior correction of ``raw_prediction`` (n, K).

    ``raw_prediction`` finite, K >= 2; ``log_alpha`` (K,) finite (every alpha_k > 0); gamma >= 0.
    Arithmetic in float64 whatever the dtypes.
    """
    n_samples, n_classes = raw_prediction.shape
    n_chunks = (n_samples + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    for chunk in numba.prange(n_chunks):
        log_h = np.empty(n_classes)
        for i in range(chunk * ROWS_PER_CHUNK, min(n_samples, (chunk + 1) * ROWS_PER_CHUNK)):
            _posterior_row(raw_prediction[i], log_alpha, gamma, log_h, out[i])

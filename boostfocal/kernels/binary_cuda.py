"""CUDA twin of the binary kernel in :mod:`.binary`: one thread per row, same math.

The per-side terms (psi, G, C, S of the module docstring of :mod:`.binary`), the Hessian policy
and the label/weight check are the CPU kernel's own ``@numba.njit`` helpers (``_side_terms``,
``_side_hessian``, ``_input_is_valid``), compiled by Numba's CUDA target as device functions (see
:mod:`.multiclass_cuda`). What is written here is the side loop of
``binary.focal_loss_gradient_hessian`` for one row, in the same order of operations: hard labels
evaluate their own side, soft labels both sides with shares y and 1 - y.

Inputs are device arrays: y_true (n,), raw_prediction (n,), alpha float64 (2,) = (alpha_0,
alpha_1), sample_weight float64 (n,) or (0,); each output is written only where its length is n
(pass a (0,) array to skip one). ``first_bad`` as in :mod:`.multiclass_cuda`.

These functions import only numpy, numba and math.
"""

import math

import numpy as np
from numba import cuda

from . import binary
from .binary import HESSIAN_EXACT, HESSIAN_PSD, _side_hessian, _side_terms
from .multiclass_cuda import THREADS_PER_BLOCK, blocks_for, simulator_safe  # noqa: F401

# Takes the label and weight arrays, so under the simulator it runs as Python (simulator_safe);
# the other helpers take scalars only.
_input_is_valid = simulator_safe(binary._input_is_valid)


@cuda.jit
def focal_loss_gradient_hessian(
    y_true, raw_prediction, alpha, sample_weight, gamma, hessian_policy, hessian_floor,
    soft_labels, loss_out, gradient_out, hessian_out, first_bad,
):
    """Loss, gradient and second derivative w.r.t. the logit of row ``cuda.grid(1)``."""
    i = cuda.grid(1)
    n_samples = raw_prediction.shape[0]
    if i >= n_samples:
        return
    weighted = sample_weight.shape[0] == n_samples
    valid = _input_is_valid(y_true, sample_weight, weighted, soft_labels, i)
    if not valid:
        cuda.atomic.min(first_bad, 1, i)
    # An invalid label is replaced by 0, so that the row is still computed (as on the CPU).
    label = np.float64(y_true[i]) if valid else 0.0
    weight = sample_weight[i] if weighted else 1.0
    logit = np.float64(raw_prediction[i])
    if not math.isfinite(logit):
        cuda.atomic.min(first_bad, 0, i)
        if loss_out.shape[0] == n_samples:
            loss_out[i] = np.nan
        if gradient_out.shape[0] == n_samples:
            gradient_out[i] = np.nan
        if hessian_out.shape[0] == n_samples:
            hessian_out[i] = np.nan
        return
    clip = hessian_policy == HESSIAN_PSD
    # -inf makes the floor a no-op for the exact policy.
    lowest = -math.inf if hessian_policy == HESSIAN_EXACT else hessian_floor
    loss = 0.0
    gradient = 0.0
    hessian = 0.0
    for side in range(2 if soft_labels else 1):
        if soft_labels:
            positive = side == 0
            share = label if positive else 1.0 - label
        else:
            positive = label == 1.0
            share = 1.0
        margin = logit if positive else -logit  # m = sign * z
        alpha_t = share * (alpha[1] if positive else alpha[0])
        sign = 1.0 if positive else -1.0
        psi, slope, curvature, spread = _side_terms(margin, gamma, gamma == 2.0)
        loss += weight * (alpha_t * psi)
        gradient += weight * (sign * (alpha_t * slope))  # dm/dz = sign
        hessian += weight * (alpha_t * _side_hessian(curvature, spread, clip, lowest))
    if loss_out.shape[0] == n_samples:
        loss_out[i] = loss
    if gradient_out.shape[0] == n_samples:
        gradient_out[i] = gradient
    if hessian_out.shape[0] == n_samples:
        hessian_out[i] = hessian

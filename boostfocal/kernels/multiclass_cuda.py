"""CUDA twins of the multiclass kernels in :mod:`.multiclass`: one thread per row, same math.

The scalar helpers (``exp_nonpositive``, ``_label_and_factor``, ``_true_class_terms`` and its
``_psi_terms``, ``_column_entry``, ``_argmax_hessian``) are ``@numba.njit`` functions of
:mod:`.multiclass`; the CPU kernels run them, or (``_true_class_terms``) its vectorized block form.
Numba's CUDA target compiles a CPU dispatcher met inside a ``cuda.jit`` kernel as a device function
from the same Python source (``CUDATypingContext.resolve_value_type`` in numba/cuda/target.py, Numba
0.68 and numba-cuda), so the loss formulas, the max-subtracted softmax, the finite forms of psi' and
psi'' q^2 and the per-column gradient and Hessian exist once. What is written here is the row loop
the CPU kernel runs over blocks of rows: per column (``_column_entry``)

    p_j = e_j / total,  g_j = -alpha_t w A p_j,
    h_j = alpha_t w psi'' q^2 (e_j / others)^2 + g_j (1 - p_j)          (j != t, j != arg-max)

with the label column and the arg-max column rewritten exactly as in
``multiclass.focal_loss_gradient_hessian`` (see its comments for the reasons of each form). The
arithmetic is float64 as on the CPU; outputs take the dtype of the output arrays.

Inputs are device arrays (CuPy, Numba, anything with ``__cuda_array_interface__``): y_true (n,),
raw_prediction (n, K), alpha float64 (K,), sample_weight float64 (n,) or (0,), outputs (n, K).
``first_bad`` is an int64 device array of two entries, set by the caller to n: the kernels lower
entry 0 to the first row holding a NaN or inf raw prediction (its outputs are NaN) and entry 1 to
the first row with an invalid label or weight, by atomic min.

Under ``NUMBA_ENABLE_CUDASIM=1`` these kernels run in Numba's CUDA simulator (slowly), which is
how CI checks them against the CPU kernels.

These functions import only numpy, numba and math.
"""

import math

import numba
import numpy as np
from numba import cuda

from . import multiclass
from .multiclass import HESSIAN_EXACT, HESSIAN_PSD, exp_nonpositive


def simulator_safe(helper):
    """``helper`` for use inside a ``cuda.jit`` kernel. Numba's CUDA simulator hands kernels its own
    array objects, which compiled CPU functions cannot take: there the helper runs as its Python
    source (the same formulas); on a GPU the compiled helper becomes a device function."""
    return helper.py_func if numba.config.ENABLE_CUDASIM else helper


_label_and_factor = simulator_safe(multiclass._label_and_factor)
_true_class_terms = simulator_safe(multiclass._true_class_terms)
_column_entry = simulator_safe(multiclass._column_entry)
_argmax_hessian = simulator_safe(multiclass._argmax_hessian)

# Threads per block of the launches below: a multiple of the warp size that keeps every SM busy.
THREADS_PER_BLOCK = 256


def blocks_for(n_rows: int) -> int:
    """Blocks of :data:`THREADS_PER_BLOCK` threads that cover ``n_rows`` rows (at least one)."""
    return max(1, (n_rows + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)


@numba.njit(inline="always")
def _at_least(value, lowest):
    """max(value, lowest) for finite values, as a select (the builtin max does not compile for
    the CUDA target in every Numba version)."""
    return value if value >= lowest else lowest


@simulator_safe
@numba.njit(inline="always")
def _row_max_and_rest(row):
    """(max z, arg-max, sum of exp(z_j - max z) over j != arg-max, all finite) of one row.

    The same order of operations as ``multiclass._block_softmax``: the first maximum wins, and the
    arg-max term (exactly 1) is left out of the sum, so that 1 - p_t never cancels. A CPU-jitted
    function like the shared helpers, so that it compiles as a device function the same way.
    """
    n_classes = row.shape[0]
    best = 0
    best_value = np.float64(row[0])
    # v * 0 is NaN exactly when v is NaN or +-inf: one test after the loop checks the whole row.
    probe = 0.0
    for j in range(n_classes):
        value = np.float64(row[j])
        probe += value * 0.0
        if value > best_value:
            best = j
            best_value = value
    rest = 0.0
    for j in range(n_classes):
        # Max-subtracted: every argument is <= 0, so nothing overflows even at |z| = 1e4.
        e = exp_nonpositive(np.float64(row[j]) - best_value)
        rest += e if j != best else 0.0
    return best_value, best, rest, probe == 0.0


@cuda.jit
def focal_loss_gradient_hessian(
    y_true, raw_prediction, alpha, sample_weight, gamma, hessian_policy, hessian_floor,
    gradient_out, hessian_out, first_bad,
):
    """Gradient and Hessian diagonal of row ``cuda.grid(1)``; see the module docstring."""
    i = cuda.grid(1)
    n_samples, n_classes = raw_prediction.shape
    if i >= n_samples:
        return
    weighted = sample_weight.shape[0] == n_samples
    row = raw_prediction[i]
    gradient_row = gradient_out[i]
    hessian_row = hessian_out[i]
    label, factor, valid = _label_and_factor(y_true, sample_weight, weighted, alpha, i)
    if not valid:
        cuda.atomic.min(first_bad, 1, i)
    z_max, top, rest, finite = _row_max_and_rest(row)
    if not finite:
        cuda.atomic.min(first_bad, 0, i)
        for j in range(n_classes):
            gradient_row[j] = np.nan
            hessian_row[j] = np.nan
        return
    exp_label = exp_nonpositive(np.float64(row[label]) - z_max)
    p_true, q, others, psi, psi_1, curvature = _true_class_terms(
        row, label, top, rest, z_max, exp_label, gamma
    )
    if hessian_policy == HESSIAN_PSD and curvature < 0.0:
        curvature = 0.0  # max(psi'', 0): keeps the Hessian positive semidefinite
    inverse = 1.0 / (1.0 + rest)
    scale = -factor * psi_1
    curvature_r = factor * curvature
    inverse_o = 1.0 / others if others > 0.0 else 0.0
    # The floor applies before the weights; -inf turns it into a no-op for the exact policy.
    low = factor * hessian_floor if hessian_policy != HESSIAN_EXACT else -math.inf
    for j in range(n_classes):
        gradient_row[j], hessian_row[j] = _column_entry(
            exp_nonpositive(np.float64(row[j]) - z_max), scale, curvature_r, inverse, inverse_o, low)
    if top != label:
        hessian_row[top] = _argmax_hessian(scale, curvature_r, inverse, inverse_o, rest, low)
    gradient_row[label] = factor * (psi_1 * q)
    hessian_row[label] = _at_least(factor * (curvature - psi_1 * p_true * q), low)


@cuda.jit
def focal_loss_per_sample(y_true, raw_prediction, alpha, sample_weight, gamma, loss_out, first_bad):
    """Per-sample loss alpha[t] * w * psi(log p_t) of row ``cuda.grid(1)`` into ``loss_out``."""
    i = cuda.grid(1)
    n_samples = raw_prediction.shape[0]
    if i >= n_samples:
        return
    weighted = sample_weight.shape[0] == n_samples
    row = raw_prediction[i]
    label, factor, valid = _label_and_factor(y_true, sample_weight, weighted, alpha, i)
    if not valid:
        cuda.atomic.min(first_bad, 1, i)
    z_max, top, rest, finite = _row_max_and_rest(row)
    if not finite:
        cuda.atomic.min(first_bad, 0, i)
        loss_out[i] = np.nan
        return
    exp_label = exp_nonpositive(np.float64(row[label]) - z_max)
    terms = _true_class_terms(row, label, top, rest, z_max, exp_label, gamma)
    loss_out[i] = factor * terms[3]

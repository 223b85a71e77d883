"""Where the serial binary kernel's time goes: its math alone in one plain loop, against the kernel.

Times, serially, in one process, interleaved (medians of 9 calls after a warm-up, 2,000,000 float32
margins, gamma = 2, the "psd" policy): a copy of the margins to float64; the branch-free exp and
log1p of ``kernels/binary.py``; ``_log_sigmoid`` (p, q, log p, log q); the whole per-row math with
the Hessian policy (``_terms``, ``_side_hessian``), each in one loop that writes one float64 per row;
and ``focal_loss_gradient_hessian.serial`` itself (labels and weights checked, NaN rows located,
float32 gradient and Hessian written). The difference between the last two is what the kernel's
block structure costs beyond the math. Prints nanoseconds per row; writes nothing.

    python benchmarks/bench_binary_kernel_parts.py
"""

from __future__ import annotations

import time

import numba
import numpy as np

from boostfocal.kernels import binary
from boostfocal.kernels.multiclass import log1p_unit

N_ROWS = 2_000_000
GAMMA = 2.0


@numba.njit(fastmath={"contract"}, error_model="numpy")
def copy_only(margins, out):
    for i in range(margins.shape[0]):
        out[i] = np.float64(margins[i])


@numba.njit(fastmath={"contract"}, error_model="numpy")
def exp_only(margins, out):
    for i in range(margins.shape[0]):
        out[i] = binary._exp_nonpositive(-abs(np.float64(margins[i])))


@numba.njit(fastmath={"contract"}, error_model="numpy")
def log1p_only(margins, out):
    for i in range(margins.shape[0]):
        out[i] = log1p_unit(min(abs(np.float64(margins[i])) * 0.1, 1.0))


@numba.njit(fastmath={"contract"}, error_model="numpy")
def log_sigmoid_only(margins, out):
    for i in range(margins.shape[0]):
        p, q, log_p, log_q = binary._log_sigmoid(np.float64(margins[i]))
        out[i] = p + q + log_p + log_q


@numba.njit(fastmath={"contract"}, error_model="numpy")
def all_math(margins, out):
    for i in range(margins.shape[0]):
        p, q, log_p, _ = binary._log_sigmoid(np.float64(margins[i]))
        psi, slope, curvature, spread = binary._terms(p, q, log_p, q * q, GAMMA)
        out[i] = psi + slope + binary._side_hessian(curvature, spread, True, 1e-16)


def main() -> int:
    rng = np.random.default_rng(0)
    margins = rng.normal(0.0, 2.0, N_ROWS).astype(np.float32)
    labels = (rng.random(N_ROWS) < 0.3).astype(np.float32)
    out = np.empty(N_ROWS)
    gradient, hessian = np.empty(N_ROWS, np.float32), np.empty(N_ROWS, np.float32)
    kernel_arguments = (labels, margins, np.ones(2), np.empty(0), GAMMA, binary.HESSIAN_PSD, 1e-16, False,
                        np.empty(0), gradient, hessian)
    contenders = {
        "copy to float64": lambda: copy_only(margins, out),
        "exp": lambda: exp_only(margins, out),
        "log1p": lambda: log1p_only(margins, out),
        "log_sigmoid": lambda: log_sigmoid_only(margins, out),
        "all the per-row math": lambda: all_math(margins, out),
        "the serial kernel": lambda: binary.focal_loss_gradient_hessian.serial(*kernel_arguments),
    }
    for run in contenders.values():
        run()  # compilation
    times = {name: [] for name in contenders}
    for _ in range(9):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name:22s} {np.median(values) / N_ROWS * 1e9:6.2f} ns a row (min {min(values) / N_ROWS * 1e9:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

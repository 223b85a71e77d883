"""How the parallel kernels are launched: small inputs run on the calling thread alone.

Waking Numba's thread pool costs from tens of microseconds on an idle machine to milliseconds on a
busy one, which dominates the kernels on a few thousand rows (evaluation sets, per-fold objectives,
Dask partitions). The kernels split their rows into chunks of ``rows_per_chunk`` and give each chunk to
one thread, so an input of at most one chunk gains nothing from the pool.
"""

import numba


def run_kernel(kernel, n_rows, rows_per_chunk, *args):
    """``kernel(*args)``, on one thread when ``n_rows <= rows_per_chunk``."""
    previous = numba.get_num_threads()
    if n_rows > rows_per_chunk or previous == 1:
        return kernel(*args)
    numba.set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(previous)

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


class kernel_threads:
    """Context manager: at most ``n_threads`` Numba threads for the kernels called in this thread.

    ``None`` or a value below 1 leaves the setting alone; a value above Numba's pool size is capped
    at it. Numba's thread count is per calling thread, so other threads are not affected.
    """

    def __init__(self, n_threads):
        self.n_threads = n_threads
        self.previous = None

    def __enter__(self):
        if self.n_threads is not None and self.n_threads >= 1:
            self.previous = numba.get_num_threads()
            numba.set_num_threads(min(int(self.n_threads), numba.config.NUMBA_NUM_THREADS))
        return self

    def __exit__(self, *exc_info):
        if self.previous is not None:
            numba.set_num_threads(self.previous)
            self.previous = None
        return False

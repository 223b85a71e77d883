"""How the kernels are launched: each is compiled twice, serial and parallel, and every call picks one.

Every kernel is one Python function compiled by :func:`parallel_kernel` into a parallel Numba
dispatcher (its ``numba.prange`` loop split over Numba's thread pool) and, as ``.serial``, a serial one
(``prange`` is ``range`` there): same source, same results, no parallel region entered.
:func:`run_kernel` picks the serial one

* inside booster callbacks (objectives and metrics, see :func:`inside_booster`) below
  ``BOOSTER_PARALLEL_FROM`` entries: the booster's own OpenMP pool (XGBoost ships its own libgomp)
  keeps its threads spinning between its parallel loops, and so does Numba's after each kernel, so
  two pools fight over the same cores; that cost grows with the rounds, not with the data, and made
  small trainings up to 1.5x slower;
* for inputs of one chunk of rows (nothing to split);
* when the thread count asked for (:func:`kernel_threads`, :func:`set_kernel_threads`, or else
  Numba's ``NUMBA_NUM_THREADS`` / ``numba.set_num_threads``) is 1;
* when another thread is running a parallel kernel at that moment: at most one parallel kernel runs
  at a time, which Numba's ``workqueue`` layer needs (it aborts the process on concurrent parallel
  regions) and which avoids oversubscribing the cores under ``omp`` and ``tbb``;
* in a process started by ``fork`` from one whose Numba thread pool was running (GNU OpenMP kills
  such a child on its first parallel region).

So any thread may call any kernel at any time, under every threading layer.
"""

from __future__ import annotations

import operator
import os
import threading
import types

import numba

# Inside booster callbacks, inputs of at least this many entries (rows x outputs, times the kernel's
# cost_per_entry) use Numba's pool: there one serial kernel call (about 7-11 ns per multiclass entry on
# one core, 15 ms at 200,000 x 7) costs more than the pools' wake-up and spin (see the README's
# Threads paragraph for the measurements).
BOOSTER_PARALLEL_FROM = 1_000_000

_requested = threading.local()  # .n_threads (kernel_threads), .in_booster (inside_booster)
_default_threads = None  # set_kernel_threads
_parallel_lock = threading.Lock()  # held while a parallel kernel runs
_pool_inherited = False  # set in a fork child whose parent had Numba's pool running


def _after_fork_in_child() -> None:
    global _pool_inherited, _parallel_lock
    from numba.np.ufunc import parallel

    _pool_inherited = _pool_inherited or parallel._is_initialized
    _parallel_lock = threading.Lock()  # a lock held by a parent thread would never be released


os.register_at_fork(after_in_child=_after_fork_in_child)


def parallel_kernel(cost_per_entry: float = 1.0, **options):
    """Decorator: ``numba.njit(cache=True, parallel=True, error_model="numpy", **options)`` of the
    function, with the serial compilation of the same function as its ``.serial`` attribute.
    ``cost_per_entry``: its serial time per input entry relative to the multiclass gradient kernel's,
    for the booster rule."""

    # NumPy's error model (x / 0 gives inf or NaN instead of raising ZeroDivisionError) for both:
    # Numba compiles the body of a prange loop with it anyway (numba/parfors/parfor_lowering.py,
    # ``flags.error_model = "numpy"``), so the serial compilation computes exactly what the parallel
    # one does, and without the zero test on every division LLVM vectorizes loops that divide (the
    # serial binary kernel ran 3.5x slower with Python's model). The kernels never divide by zero.
    options = {"error_model": "numpy", **options}

    def compile_both(function):
        parallel = numba.njit(cache=True, parallel=True, **options)(function)
        parallel.cost_per_entry = cost_per_entry
        # A copy under another qualified name: Numba's disk cache names its files by that name and
        # keys them by signature only, so the two compilations would otherwise overwrite each other.
        copy = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                  function.__defaults__, function.__closure__)
        copy.__qualname__ = function.__qualname__ + "_serial"
        copy.__doc__ = function.__doc__
        parallel.serial = numba.njit(cache=True, **options)(copy)
        return parallel

    return compile_both


def _check_threads(n_threads):
    if n_threads is None:
        return None
    try:
        if isinstance(n_threads, bool):
            raise TypeError
        n_threads = operator.index(n_threads)  # int or NumPy integer
    except TypeError:
        raise TypeError(f"n_threads must be None or a positive integer, got {n_threads!r}") from None
    if n_threads < 1:
        raise ValueError(f"n_threads must be None or a positive integer, got {n_threads}")
    return int(n_threads)


def set_kernel_threads(n_threads) -> None:
    """Threads of the focal kernels in every Python thread without a :func:`kernel_threads` block.

    ``None`` (the default) takes Numba's thread count (``NUMBA_NUM_THREADS``,
    ``numba.set_num_threads``); ``1`` always runs them on the calling thread; ``k > 1`` lets the
    calls that the module docstring's rules send to the pool use k of Numba's threads (at most
    ``NUMBA_NUM_THREADS``). Those rules (small inputs and small booster callbacks serial, one
    parallel kernel at a time, none in a forked child of a process with a running pool) hold for
    every setting.
    """
    global _default_threads
    _default_threads = _check_threads(n_threads)


def get_kernel_threads():
    """The setting in force in this Python thread: an int, or None for automatic."""
    requested = getattr(_requested, "n_threads", None)
    return requested if requested is not None else _default_threads


class kernel_threads:
    """Context manager: :func:`set_kernel_threads` for the kernels called in this Python thread.

    ``None`` or a value below 1 (scikit-learn's ``n_jobs=None`` / ``-1``) leaves the setting alone.
    Other Python threads are not affected.
    """

    def __init__(self, n_threads):
        self.n_threads = None if n_threads is None or n_threads < 1 else _check_threads(n_threads)
        self.previous = None

    def __enter__(self):
        self.previous = getattr(_requested, "n_threads", None)
        if self.n_threads is not None:
            _requested.n_threads = self.n_threads
        return self

    def __exit__(self, *exc_info):
        _requested.n_threads = self.previous
        return False


class inside_booster:
    """Context manager for the adapters: the kernels called in this Python thread serve a booster
    callback, so that the automatic setting keeps small inputs off Numba's pool."""

    def __enter__(self):
        self.previous = getattr(_requested, "in_booster", False)
        _requested.in_booster = True
        return self

    def __exit__(self, *exc_info):
        _requested.in_booster = self.previous
        return False


def _parallel_threads(raw_shape, rows_per_chunk, cost_per_entry=1.0) -> int:
    """How many threads a call on raw predictions of this shape may use; 1 for the serial kernel."""
    n_rows = raw_shape[0]
    if n_rows <= rows_per_chunk or _pool_inherited:
        return 1
    n_entries = n_rows * (raw_shape[1] if len(raw_shape) > 1 else 1) * cost_per_entry
    if getattr(_requested, "in_booster", False) and n_entries < BOOSTER_PARALLEL_FROM:
        return 1
    requested = get_kernel_threads()
    if requested is None:
        return numba.get_num_threads()
    return min(requested, numba.config.NUMBA_NUM_THREADS)


def run_kernel(kernel, raw_shape, rows_per_chunk, *args):
    """``kernel(*args)`` (a :func:`parallel_kernel`) on raw predictions of shape ``raw_shape``, by
    the serial or the parallel compilation as the module docstring says."""
    n_threads = _parallel_threads(raw_shape, rows_per_chunk, getattr(kernel, "cost_per_entry", 1))
    if n_threads <= 1 or not _parallel_lock.acquire(blocking=False):
        return kernel.serial(*args)
    try:
        if get_kernel_threads() is None:
            return kernel(*args)  # Numba's own per-thread setting, as read above
        previous = numba.get_num_threads()
        numba.set_num_threads(n_threads)
        try:
            return kernel(*args)
        finally:
            numba.set_num_threads(previous)
    finally:
        _parallel_lock.release()

"""How the kernels are launched: each is compiled twice, serial and parallel, and every call picks one.

Every kernel is one Python function compiled by :func:`parallel_kernel` into a parallel Numba
dispatcher (its ``numba.prange`` loop split over Numba's thread pool) and, as ``.serial``, a serial one
(``prange`` is ``range`` there): same source, same results, no parallel region entered.
:func:`run_kernel` picks the serial one

* inside booster callbacks (objectives and metrics, see :func:`inside_booster`) unless the pool
  would save the serial time of ``BOOSTER_PARALLEL_SAVING_FROM`` entries: the booster's own OpenMP
  pool (XGBoost ships its own libgomp) keeps its threads spinning between its parallel loops, and so
  does Numba's after each kernel, so two pools fight over the same cores; that cost comes with every
  call, not with the data, and made small trainings up to 1.5x slower;
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

import hashlib
import mmap
import operator
import os
import struct
import sys
import threading
import types

import numba

# Inside booster callbacks Numba's pool runs a kernel only when it saves the serial time of at least
# this many entries: n_entries x (1 - 1 / threads), with n_entries = rows x outputs x the kernel's
# cost_per_entry. Going parallel saves that share of the serial call (about 4-5 ns per multiclass
# entry on one core) and costs the two pools' wake-up and spin each call. On the 2-core machine, at
# default threads, the serial kernel trained faster at 200,000 x 7 and x 10 and at 500,000 binary
# rows (which puts that cost at about 10 ms a round), the two were within noise at 2,000,000 binary
# rows, and the pool was ahead at 2,000,000 x 7 (benchmarks/bench_booster_threads.py). So the pool
# from 4,000,000 entries on 2 threads, from 2,133,334 on 16 (not measured there).
BOOSTER_PARALLEL_SAVING_FROM = 2_000_000

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
    # Reassociation would undo the kernels' exact forms: (a + 1.5 * 2^52) - 1.5 * 2^52 folded into a
    # in multiclass.exp_reduced (results off by up to a factor sqrt(2)), and the orders of evaluation
    # chosen against cancellation, as 1 + (rest - e_t). Contraction into fused multiply-adds is fine.
    fastmath = options.get("fastmath", False)
    unsafe = {"fast", "reassoc", "nsz"} & (set(fastmath) if isinstance(fastmath, (set, frozenset)) else set())
    if fastmath is True or unsafe:
        raise ValueError(f"parallel_kernel: fastmath={fastmath!r} allows reassociation, which breaks the "
                         'kernels\' exact arithmetic; the kernels use fastmath={"contract"}')

    def compile_both(function):
        # Numba's disk cache names its files by the qualified name and keys them by signature and
        # bytecode, not by the compile options, and refreshes them only when the function's own file
        # changes: the options' digest in the name makes a change of options (as of error_model)
        # compile anew instead of loading stale machine code; "_serial" keeps the two apart.
        name = f"{function.__qualname__}_{_options_digest(options)}"
        parallel = numba.njit(cache=True, parallel=True, **options)(_renamed(function, name))
        parallel.cost_per_entry = cost_per_entry
        parallel.serial = numba.njit(cache=True, **options)(_renamed(function, name + "_serial"))
        return parallel

    return compile_both


def _options_digest(options) -> str:
    """Eight hex digits that change with the compile options (sets written sorted, so stable)."""
    canonical = repr(sorted((key, sorted(value) if isinstance(value, (set, frozenset)) else value)
                            for key, value in options.items()))
    return hashlib.sha1(canonical.encode()).hexdigest()[:8]


def _renamed(function, qualname):
    """A copy of ``function`` (same code, globals, defaults and docstring) under ``qualname``."""
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__qualname__ = qualname
    copy.__doc__ = function.__doc__
    return copy


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
    callback, so that the automatic setting keeps small inputs off Numba's pool.

    ``booster_library``: path of the booster's shared library, where the adapter knows it. When
    that library runs its threads on the very OpenMP runtime of Numba's ``omp`` layer
    (:func:`shares_numbas_openmp`; LightGBM's Linux wheels do), there is one thread pool and
    nothing to fight over, so the kernels follow the ordinary rules instead. XGBoost's wheels bring
    their own renamed libgomp, a second pool.
    """

    def __init__(self, booster_library=None):
        self.booster_library = booster_library

    def __enter__(self):
        self.previous = (getattr(_requested, "in_booster", False), getattr(_requested, "booster_library", None))
        _requested.in_booster, _requested.booster_library = True, self.booster_library
        return self

    def __exit__(self, *exc_info):
        _requested.in_booster, _requested.booster_library = self.previous
        return False


# OpenMP runtimes by file name prefix. A vendored copy keeps the prefix but is renamed (XGBoost's
# wheel needs libgomp-e985bcbb.so.1.0.0), and so is a runtime of its own.
_OPENMP_PREFIXES = ("libgomp", "libomp", "libiomp")
_shared_runtimes = {}  # booster library path -> shares_numbas_openmp's answer


def elf_dynamic_names(path):
    """(DT_NEEDED names, DT_SONAME or None) of a 64-bit little-endian ELF shared library: the
    libraries the loader maps with it, and the name it is known by. ``(set(), None)`` for anything
    else or on a read error."""
    try:
        # Mapped, not read: only the headers and a few strings are touched (libxgboost.so is 225 MiB).
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _dynamic_names(data)
    except (OSError, ValueError, OverflowError, struct.error, StopIteration, UnicodeDecodeError):
        return set(), None


def _dynamic_names(data):
    """:func:`elf_dynamic_names` of the file's bytes (a buffer); malformed files raise."""
    if data[:6] != b"\x7fELF\x02\x01":  # magic, 64-bit, little-endian
        return set(), None
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1:  # PT_LOAD: maps file offsets to addresses
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:  # PT_DYNAMIC
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return set(), None
    entries = []
    for offset in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<qQ", data, offset)
        if tag == 0:  # DT_NULL ends the table
            break
        entries.append((tag, value))
    # DT_STRTAB (5) is an address; DT_NEEDED (1) and DT_SONAME (14) are offsets into it.
    strtab = next(value for tag, value in entries if tag == 5)
    base = next(offset + strtab - vaddr for vaddr, offset, size in loads if vaddr <= strtab < vaddr + size)

    def name(value):
        end = data.find(b"\0", base + value)
        if end < 0:
            raise ValueError("unterminated string in the ELF string table")
        return bytes(data[base + value:end]).decode()

    needed = {name(value) for tag, value in entries if tag == 1}
    sonames = [name(value) for tag, value in entries if tag == 14]
    return needed, (sonames[0] if sonames else None)


def _mapped_openmp_runtimes():
    """{real path: soname} of the OpenMP runtimes mapped into this process (from /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as maps:
            # address, permissions, offset, device, inode, then the path for file mappings
            fields = (line.split(None, 5) for line in maps)
            paths = {parts[5].strip() for parts in fields if len(parts) == 6}
    except OSError:
        return {}
    return {path: elf_dynamic_names(path)[1] for path in paths
            if os.path.basename(path).startswith(_OPENMP_PREFIXES) and os.path.isfile(path)}


def _openmp_runtime_of(library, runtimes):
    """The mapped runtime (real path) that ``library``'s OpenMP dependency resolved to, or None when
    it has none or the answer is not unique. The loader reuses a mapped library whose file name or
    soname equals the name needed."""
    wanted = {name for name in elf_dynamic_names(library)[0] if name.startswith(_OPENMP_PREFIXES)}
    matches = {path for path, soname in runtimes.items()
               if os.path.basename(path) in wanted or soname in wanted}
    return matches.pop() if len(matches) == 1 else None


def shares_numbas_openmp(booster_library) -> bool:
    """Whether the shared library at ``booster_library`` and Numba's kernels run on one OpenMP
    runtime, and so on one thread pool: Numba's threading layer is ``omp`` and the OpenMP library
    its pool extension needs is the very file mapped for the booster's.

    Starts Numba's pool if it has not started yet (its threading layer is chosen then), and is
    cached per library. Linux only; False elsewhere and whenever the answer is not clear.
    """
    known = _shared_runtimes.get(booster_library)
    if known is not None:
        return known
    shared = False
    if sys.platform.startswith("linux"):
        from numba.np.ufunc import parallel

        parallel._launch_threads()  # idempotent; what every parallel kernel's first call does
        if numba.threading_layer() == "omp":
            from numba.np.ufunc import omppool

            runtimes = _mapped_openmp_runtimes()
            numbas = _openmp_runtime_of(omppool.__file__, runtimes)
            shared = numbas is not None and numbas == _openmp_runtime_of(booster_library, runtimes)
    _shared_runtimes[booster_library] = shared
    return shared


def kernel_thread_cap() -> int:
    """The most threads a kernel call may use: the setting in force (:func:`get_kernel_threads`),
    at most ``NUMBA_NUM_THREADS``; read without asking Numba's pool, which that would start."""
    requested = get_kernel_threads()
    most = numba.config.NUMBA_NUM_THREADS
    return most if requested is None else min(requested, most)


def weighted_entries(raw_shape, cost_per_entry=1.0) -> float:
    """A call's size in multiclass gradient entries: rows x outputs per row x the kernel's
    ``cost_per_entry``, for raw predictions of shape (n,) or (n, K). The size rules of the booster
    callbacks (here) and of XGBoost's OpenMP team (openmp_team) both count this."""
    return raw_shape[0] * (raw_shape[1] if len(raw_shape) > 1 else 1) * cost_per_entry


def _parallel_threads(raw_shape, rows_per_chunk, cost_per_entry=1.0) -> int:
    """How many threads a call on raw predictions of this shape may use; 1 for the serial kernel.

    The cheap tests come first and Numba's pool is asked last: ``numba.get_num_threads`` starts it,
    and a started pool sends later fork children to the serial kernels.
    """
    n_rows = raw_shape[0]
    if n_rows <= rows_per_chunk or _pool_inherited:
        return 1
    requested = get_kernel_threads()
    most = kernel_thread_cap()
    if most <= 1:
        return 1
    n_entries = weighted_entries(raw_shape, cost_per_entry)
    # The most threads the call could get stands in for its count: asking Numba's per-thread count
    # would start the pool, which small callbacks never need.
    saved_entries = n_entries * (1.0 - 1.0 / most)
    if getattr(_requested, "in_booster", False) and saved_entries < BOOSTER_PARALLEL_SAVING_FROM:
        # Only a booster on Numba's own OpenMP runtime (which this may start the pool to learn).
        library = getattr(_requested, "booster_library", None)
        if library is None or not shares_numbas_openmp(library):
            return 1
    return numba.get_num_threads() if requested is None else most


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

"""The gradient kernels on a booster's own OpenMP team: no second thread pool inside its rounds.

XGBoost's wheels bring a renamed copy of GNU OpenMP (``libgomp-<hash>.so``); Numba's ``omp`` layer
runs on the system's. After each of XGBoost's parallel loops its threads keep spinning for a while,
so a kernel on Numba's pool, between two of XGBoost's loops, runs its threads against XGBoost's
spinning ones on the same cores, and the serial kernel leaves every core but one idle. Here the
kernel runs on XGBoost's threads instead: ``GOMP_parallel`` of XGBoost's runtime, called from the
thread that trains (the one whose team XGBoost's loops use), runs a Numba ``cfunc`` on every thread
of that team; each thread takes pieces of rows off a shared counter (an atomic add) and runs the
serial compilation of the kernel on them. Same kernel, same arithmetic per row, so the same results
as the serial and the Numba-parallel calls, bit for bit.

A piece's results (first bad row, first bad input; -1 for none) go to its own slots; the caller
takes the first row over the pieces in row order (``multiclass._first_bad_row``, as the parallel
kernels take it over their chunks).

The per-sample losses of the focal metric (``multiclass.focal_loss_per_sample``, and the binary
kernel with only its loss output) run on the team the same way, into a float64 vector: the metric
of ``xgboost_train``'s evaluation sets, whose sum is then the same to the bit.

The workers take one dtype combination, the one of XGBoost's CPU loop (``xgboost_train``): labels
float32 (XGBoost's label vector), margins float32 (its prediction cache), weights float64 (n,) or
(0,), alpha float64, gradient and Hessian float32 (per-sample losses float64), all C-contiguous,
more than one chunk of rows, and at least ``TEAM_FROM_ENTRIES`` weighted entries (smaller calls do
not pay for the team). For anything else the team's methods return None and the caller goes through
:func:`.threads.run_kernel`. Measured on 16 cores, focal / built-in training time with the kernel on
XGBoost's team, on Numba's pool and serial: 1.114 / 1.576 / 1.454 at 200,000 x 7, 1.039 / 1.374 /
1.791 at 200,000 x 10 (docs/threads.md, benchmarks/bench_booster_threads.py).
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import sys
import threading

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import binary, multiclass
from .multiclass import _float64_from_bits
from .threads import weighted_entries

# Context vector of one call, int64 slots (addresses, sizes and the bits of float64 values).
NEXT_PIECE, N_PIECES, ROWS_PER_PIECE, N_ROWS, N_CLASSES = 0, 1, 2, 3, 4
LABELS, RAW, ALPHA, N_ALPHA, WEIGHTS, N_WEIGHTS = 5, 6, 7, 8, 9, 10
GAMMA_BITS, POLICY, FLOOR_BITS, GRADIENT, HESSIAN, RESULTS, SOFT_LABELS = 11, 12, 13, 14, 15, 16, 17
JOINED, WORKERS = 18, 19  # threads of the team that joined so far; how many may work
LOSS = 20  # the per-sample loss vector (float64) of the loss workers
CONTEXT_SLOTS = 21
NOT_RUN = -2  # result slots before their piece runs (a piece writes -1 or a row)

# The team takes a call from this many entries on (rows x outputs x the kernel's cost_per_entry, in
# multiclass gradient entries); smaller calls go back to the caller, whose rules (threads.run_kernel)
# run them serially inside a booster, or on Numba's pool where the booster shares Numba's OpenMP
# runtime. Below it, what the team saves (about half a serial call of 4-5 ns an entry on
# 2 threads) does not pay for waking XGBoost's threads and the call's own 18 us of Python. Measured
# on the 2-core Zen 4 host, XGBoost at default threads, focal / built-in with the kernel on the team
# and serial, 11 interleaved repeats (benchmarks/bench_booster_threads.py --cells ...,
# results/booster_threads_team_threshold_cpu*.md): binary 5,000 rows 1.035 / 1.004, 10,000 1.089 /
# 1.064, 20,000 1.060 / 1.062, 50,000 1.097 / 1.074 (75,000 entries), 100,000 1.028 / 1.057
# (150,000), 200,000 1.028 / 1.039; 5,000 x 7 0.883 / 0.878 (35,000), 20,000 x 7 0.998 / 1.004
# (140,000). On 16 cores, binary 20,000 rows: 1.222 / 1.114 (docs/threads.md, stop 27).
TEAM_FROM_ENTRIES = 100_000

# The serial compilations, as globals: Numba resolves a module global, not an attribute chain.
_multiclass_serial = multiclass.focal_loss_gradient_hessian.serial
_binary_serial = binary.focal_loss_gradient_hessian.serial
_multiclass_loss_serial = multiclass.focal_loss_per_sample.serial


@intrinsic
def _address(typingctx, value):
    """An int64 address as a data pointer (for ``numba.carray``)."""
    signature = types.voidptr(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return signature, codegen


@intrinsic
def _fetch_add(typingctx, vector, index, value):
    """Atomically add ``value`` to ``vector[index]`` (int64) and return the value before."""
    signature = types.int64(vector, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        slot = builder.gep(array.data, [args[1]])
        return builder.atomic_rmw("add", slot, args[2], "monotonic")

    return signature, codegen


@numba.njit(inline="always")
def _next_piece(context):
    """(first row, end row, piece index) of the next piece; first row -1 when none is left."""
    piece = _fetch_add(context, NEXT_PIECE, 1)
    if piece >= context[N_PIECES]:
        return -1, -1, piece
    start = piece * context[ROWS_PER_PIECE]
    return start, min(start + context[ROWS_PER_PIECE], context[N_ROWS]), piece


@numba.njit(inline="always")
def _shared_inputs(context):
    """(labels, alpha, weights, per-piece results, gamma, Hessian floor) from a context vector."""
    labels = numba.carray(_address(context[LABELS]), (context[N_ROWS],), np.float32)
    alpha = numba.carray(_address(context[ALPHA]), (context[N_ALPHA],), np.float64)
    weights = numba.carray(_address(context[WEIGHTS]), (context[N_WEIGHTS],), np.float64)
    results = numba.carray(_address(context[RESULTS]), (2 * context[N_PIECES],), np.int64)
    # The float64 values travel as their bits in int64 slots (_float_bits): no conversion.
    return (labels, alpha, weights, results,
            _float64_from_bits(context[GAMMA_BITS]), _float64_from_bits(context[FLOOR_BITS]))


@numba.njit(inline="always")
def _record(results, piece, start, bad_row, bad_input):
    """A piece's (bad row, bad input), made rows of the whole input, into its slots: bad rows in the
    first half of ``results``, bad inputs in the second, each in piece (so row) order."""
    n_pieces = results.shape[0] // 2
    results[piece] = bad_row + start if bad_row >= 0 else -1
    results[n_pieces + piece] = bad_input + start if bad_input >= 0 else -1


def multiclass_worker(context_address):
    """One thread's share of ``multiclass.focal_loss_gradient_hessian`` (float32 labels and margins)."""
    context = numba.carray(context_address, (CONTEXT_SLOTS,), np.int64)
    if _fetch_add(context, JOINED, 1) >= context[WORKERS]:
        return  # the team is XGBoost's size; the kernel thread setting may allow fewer
    n, k = context[N_ROWS], context[N_CLASSES]
    labels, alpha, weights, results, gamma, floor = _shared_inputs(context)
    raw = numba.carray(_address(context[RAW]), (n, k), np.float32)
    gradient = numba.carray(_address(context[GRADIENT]), (n, k), np.float32)
    hessian = numba.carray(_address(context[HESSIAN]), (n, k), np.float32)
    while True:
        start, end, piece = _next_piece(context)
        if start < 0:
            return
        # No weights: the empty vector stays empty (its slice too), which the kernel reads as none.
        piece_weights = weights[start:end] if weights.shape[0] == n else weights
        bad_row, bad_input = _multiclass_serial(
            labels[start:end], raw[start:end], alpha, piece_weights, gamma, context[POLICY], floor,
            gradient[start:end], hessian[start:end])
        _record(results, piece, start, bad_row, bad_input)


@numba.njit(inline="always")
def _binary_pieces(context, loss, gradient, hessian):
    """The binary kernel on the pieces this thread takes; each output is (n,), or (0,) to skip it."""
    n = context[N_ROWS]
    labels, alpha, weights, results, gamma, floor = _shared_inputs(context)
    raw = numba.carray(_address(context[RAW]), (n,), np.float32)
    while True:
        start, end, piece = _next_piece(context)
        if start < 0:
            return
        # Empty vectors (no weights, a skipped output) stay empty, their slices too.
        piece_weights = weights[start:end] if weights.shape[0] == n else weights
        piece_loss = loss[start:end] if loss.shape[0] == n else loss
        piece_gradient = gradient[start:end] if gradient.shape[0] == n else gradient
        piece_hessian = hessian[start:end] if hessian.shape[0] == n else hessian
        bad_row, bad_input = _binary_serial(
            labels[start:end], raw[start:end], alpha, piece_weights, gamma, context[POLICY], floor,
            context[SOFT_LABELS] != 0, piece_loss, piece_gradient, piece_hessian)
        _record(results, piece, start, bad_row, bad_input)


def binary_worker(context_address):
    """One thread's share of ``binary.focal_loss_gradient_hessian`` (float32 labels and margins)."""
    context = numba.carray(context_address, (CONTEXT_SLOTS,), np.int64)
    if _fetch_add(context, JOINED, 1) >= context[WORKERS]:
        return
    n = context[N_ROWS]
    _binary_pieces(context, np.empty(0, dtype=np.float32),
                   numba.carray(_address(context[GRADIENT]), (n,), np.float32),
                   numba.carray(_address(context[HESSIAN]), (n,), np.float32))


def multiclass_loss_worker(context_address):
    """One thread's share of ``multiclass.focal_loss_per_sample`` (float32 labels and margins)."""
    context = numba.carray(context_address, (CONTEXT_SLOTS,), np.int64)
    if _fetch_add(context, JOINED, 1) >= context[WORKERS]:
        return
    n, k = context[N_ROWS], context[N_CLASSES]
    labels, alpha, weights, results, gamma, _ = _shared_inputs(context)
    raw = numba.carray(_address(context[RAW]), (n, k), np.float32)
    loss = numba.carray(_address(context[LOSS]), (n,), np.float64)
    while True:
        start, end, piece = _next_piece(context)
        if start < 0:
            return
        piece_weights = weights[start:end] if weights.shape[0] == n else weights
        bad_row, bad_input = _multiclass_loss_serial(
            labels[start:end], raw[start:end], alpha, piece_weights, gamma, loss[start:end])
        _record(results, piece, start, bad_row, bad_input)


def binary_loss_worker(context_address):
    """One thread's share of ``binary.focal_loss_gradient_hessian`` with the loss output only."""
    context = numba.carray(context_address, (CONTEXT_SLOTS,), np.int64)
    if _fetch_add(context, JOINED, 1) >= context[WORKERS]:
        return
    no_output = np.empty(0, dtype=np.float32)
    _binary_pieces(context, numba.carray(_address(context[LOSS]), (context[N_ROWS],), np.float64),
                   no_output, no_output)


_WORKERS = {"multiclass": multiclass_worker, "binary": binary_worker,
            "multiclass_loss": multiclass_loss_worker, "binary_loss": binary_loss_worker}
# Each kind's cost per entry for the size rule, the one the fallback's rule (threads.run_kernel) uses
# for the same call: the gradient kernels' cost_per_entry (a loss-only binary pass costs less).
_COST_PER_ENTRY = {"multiclass": multiclass.focal_loss_gradient_hessian.cost_per_entry,
                   "binary": binary.focal_loss_gradient_hessian.cost_per_entry,
                   "multiclass_loss": multiclass.focal_loss_per_sample.cost_per_entry,
                   "binary_loss": binary.focal_loss_gradient_hessian.cost_per_entry}
_compiled = {}  # kind -> the cfunc, compiled (or loaded from Numba's cache) once
_compile_lock = threading.Lock()


def _worker(kind: str):
    """The worker of ``kind`` as a ``cfunc``, compiled at its first use rather than at import, so
    that a failure to compile costs the team only, not the import (and a training without
    evaluation sets never compiles the loss workers)."""
    with _compile_lock:
        if kind not in _compiled:
            signature = types.void(types.voidptr)
            _compiled[kind] = numba.cfunc(signature, cache=True, error_model="numpy")(_WORKERS[kind])
        return _compiled[kind]


def _workers():
    """The two gradient workers, compiled (:func:`team_of` makes a team only where they compile)."""
    return {kind: _worker(kind) for kind in ("multiclass", "binary")}


def _float_bits(value) -> int:
    """The bits of a float64 as an int64, in the machine's byte order, for a context slot (the
    workers reinterpret them, no conversion)."""
    return int(np.float64(value).view(np.int64))


class OpenMPTeam:
    """``GOMP_parallel`` of one OpenMP runtime (a GNU libgomp, or LLVM's libomp, which exports the
    same entry point), driving the workers.

    ``team_threads``: the team size to ask for, the booster's own thread count, so that its team is
    reused as it stands (a team of another size makes the runtime stop or start threads).
    ``workers``: how many of them work (the kernel thread setting may allow fewer; the others
    return at once). Pieces: about four per worker, so that a thread that joins late takes fewer.
    ``from_entries``: the smallest call taken, in weighted entries, :data:`TEAM_FROM_ENTRIES` as it
    stands when the team is made (one training).
    """

    def __init__(self, runtime_path: str, team_threads: int, workers: int):
        library = ctypes.CDLL(runtime_path)  # already mapped by the booster: a new handle only
        self._parallel = library.GOMP_parallel
        self._parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        self._parallel.restype = None
        self._workers = _workers()  # the gradient workers: no team where they do not compile
        self._unavailable = set()  # kinds whose worker failed to compile
        self.runtime_path = runtime_path
        self.team_threads = int(team_threads)
        self.workers = min(int(workers), self.team_threads)
        self.from_entries = TEAM_FROM_ENTRIES
        self._context = np.zeros(CONTEXT_SLOTS, dtype=np.int64)
        self._results = np.empty(0, dtype=np.int64)
        self._lock = threading.Lock()  # one context vector: one call at a time per team object

    @staticmethod
    def _takes(labels, raw, alpha, weights, outputs, rows_per_chunk, raw_ndim) -> bool:
        """Whether the workers take these arrays: more than one chunk of rows (one chunk runs on
        the calling thread, as :func:`.threads.run_kernel` runs it), the dtypes above, matching
        shapes (the workers read raw addresses), C-contiguous. ``outputs``: (array, dtype, shape)
        of each output; ``raw_ndim``: 2 for the multiclass workers, 1 for the binary ones."""
        n = raw.shape[0]
        return (raw.ndim == raw_ndim and n > rows_per_chunk and labels.dtype == np.float32 and raw.dtype == np.float32
                and all(out.dtype == dtype and out.shape == shape for out, dtype, shape in outputs)
                and weights.dtype == np.float64 and alpha.dtype == np.float64 and labels.shape == (n,)
                and weights.ndim == 1 and weights.shape[0] in (0, n) and alpha.ndim == 1
                and alpha.shape[0] >= (raw.shape[1] if raw.ndim == 2 else 2)
                and all(a.flags.c_contiguous for a in (labels, raw, alpha, weights))
                and all(out.flags.c_contiguous and out.flags.writeable for out, _, _ in outputs))

    def _run(self, kind, labels, raw, alpha, weights, gamma, rows_per_chunk, *, policy=0, floor=1.0,
             soft_labels=False, gradient=None, hessian=None, loss=None):
        if gradient is not None:
            outputs = [(gradient, np.float32, raw.shape), (hessian, np.float32, raw.shape)]
        else:
            outputs = [(loss, np.float64, (raw.shape[0],))]
        raw_ndim = 2 if kind.startswith("multiclass") else 1
        if weighted_entries(raw.shape, _COST_PER_ENTRY[kind]) < self.from_entries:
            return None  # too small to pay for the team: the caller runs it by its own rules
        if kind in self._unavailable or not self._takes(labels, raw, alpha, weights, outputs, rows_per_chunk,
                                                        raw_ndim):
            return None
        try:
            worker = _worker(kind)  # compiled at the team's start for the gradients, here for losses
        except Exception as error:  # noqa: BLE001 (a Numba that cannot compile this worker)
            import warnings

            self._unavailable.add(kind)  # warned once; not compiled again every round
            warnings.warn(f"boostfocal: the {kind} kernel cannot run on XGBoost's OpenMP threads "
                          f"({error!r}); it runs on the calling thread or Numba's pool instead",
                          RuntimeWarning, stacklevel=3)
            return None
        n = raw.shape[0]
        n_pieces = min(4 * max(self.workers, 1), -(-n // rows_per_chunk))
        rows_per_piece = -(-n // n_pieces)
        n_pieces = -(-n // rows_per_piece)
        with self._lock:
            if self._results.shape[0] < 2 * n_pieces:
                self._results = np.empty(2 * n_pieces, dtype=np.int64)
            results = self._results[:2 * n_pieces]
            results[:] = NOT_RUN
            context = self._context
            context[:] = 0
            context[N_PIECES], context[ROWS_PER_PIECE], context[N_ROWS] = n_pieces, rows_per_piece, n
            context[N_CLASSES] = raw.shape[1] if raw.ndim == 2 else 1
            context[LABELS], context[RAW] = labels.ctypes.data, raw.ctypes.data
            context[ALPHA], context[N_ALPHA] = alpha.ctypes.data, alpha.shape[0]
            context[WEIGHTS], context[N_WEIGHTS] = weights.ctypes.data, weights.shape[0]
            context[GAMMA_BITS], context[FLOOR_BITS] = _float_bits(gamma), _float_bits(floor)
            context[POLICY], context[SOFT_LABELS] = policy, int(bool(soft_labels))
            if gradient is not None:
                context[GRADIENT], context[HESSIAN] = gradient.ctypes.data, hessian.ctypes.data
            else:
                context[LOSS] = loss.ctypes.data
            context[RESULTS], context[WORKERS] = results.ctypes.data, self.workers
            # The arrays stay referenced by the caller for the call; ctypes releases the GIL, and
            # the workers touch no Python object.
            self._parallel(worker.address, context.ctypes.data, self.team_threads, 0)
            if (results == NOT_RUN).any():
                # A piece that did not finish (a worker failed, e.g. out of memory for its scratch):
                # nothing to trust; the caller computes the whole call the ordinary way.
                return None
            # The first over the pieces in row order, as the parallel kernels take it over chunks.
            return (int(multiclass._first_bad_row(results[:n_pieces])),
                    int(multiclass._first_bad_row(results[n_pieces:])))

    def multiclass(self, labels, raw, alpha, weights, gamma, policy, floor, gradient, hessian):
        """``multiclass.focal_loss_gradient_hessian``'s (bad row, bad input) on the team, or None
        when the workers do not take these arrays (then the caller computes them)."""
        return self._run("multiclass", labels, raw, alpha, weights, gamma, multiclass.ROWS_PER_CHUNK,
                         policy=policy, floor=floor, gradient=gradient, hessian=hessian)

    def binary(self, labels, raw, alpha, weights, gamma, policy, floor, soft_labels, gradient, hessian):
        """As :meth:`multiclass`, for ``binary.focal_loss_gradient_hessian`` on (n,) margins."""
        return self._run("binary", labels, raw, alpha, weights, gamma, binary.ROWS_PER_CHUNK,
                         policy=policy, floor=floor, soft_labels=soft_labels,
                         gradient=gradient, hessian=hessian)

    def multiclass_loss(self, labels, raw, alpha, weights, gamma, loss):
        """``multiclass.focal_loss_per_sample`` into ``loss`` (float64 (n,)) on the team: (bad
        row, bad input), or None when the workers do not take these arrays."""
        return self._run("multiclass_loss", labels, raw, alpha, weights, gamma, multiclass.ROWS_PER_CHUNK,
                         loss=loss)

    def binary_loss(self, labels, raw, alpha, weights, gamma, policy, floor, soft_labels, loss):
        """``binary.focal_loss_gradient_hessian`` with only its loss output, on the team."""
        return self._run("binary_loss", labels, raw, alpha, weights, gamma, binary.ROWS_PER_CHUNK,
                         policy=policy, floor=floor, soft_labels=soft_labels, loss=loss)


def _read_ints(path):
    """The whitespace-separated integers of a small system file; [] when unreadable or not all
    integers (cgroup v2 writes "max" for no quota)."""
    try:
        with open(path) as file:
            return [int(word) for word in file.read(256).split()]
    except (OSError, ValueError):
        return []


def cgroup_cpu_count() -> int:
    """The CPU quota of this process's cgroup as XGBoost 3.2 reads it (``common::GetCfsCPUCount``,
    src/common/threading_utils.cc), or -1 for none: cgroup v2 ``/sys/fs/cgroup/cpu.max`` ("quota
    period", rounded up; "max" means none), else v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``
    (rounded down), at least 1."""
    if os.path.exists("/sys/fs/cgroup/cpu.max"):
        values = _read_ints("/sys/fs/cgroup/cpu.max")
        if len(values) >= 2 and values[0] > 0 and values[1] > 0:
            return max(math.ceil(values[0] / values[1]), 1)
        return -1
    quota, period = _read_ints("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), _read_ints("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    if quota and period and quota[0] > 0 and period[0] > 0:
        return max(quota[0] // period[0], 1)
    return -1


def xgboost_threads(library, nthread: int) -> int:
    """The threads XGBoost 3.2 trains on (``Context::Threads``): ``nthread`` (0 or less: all),
    capped by the runtime's ``min(omp_get_num_procs(), omp_get_max_threads(),
    omp_get_thread_limit())`` (``common::OmpGetNumThreads``) and by the cgroup's CPU quota."""
    most = min(library.omp_get_num_procs(), library.omp_get_max_threads(), library.omp_get_thread_limit())
    threads = most if nthread is None or nthread <= 0 else min(int(nthread), most)
    quota = cgroup_cpu_count()
    if quota > 0:
        threads = min(threads, quota)
    return max(threads, 1)


@functools.lru_cache(maxsize=None)
def _runtime_of(booster_library: str):
    """(path, ctypes handle) of the OpenMP runtime with ``GOMP_parallel`` that ``booster_library``
    runs on, or None. Once per library and process: reading the mappings and the ELF headers took
    about 4 ms, at the start of every training otherwise."""
    from .threads import _mapped_openmp_runtimes, _openmp_runtime_of

    path = _openmp_runtime_of(booster_library, _mapped_openmp_runtimes())
    if path is None:
        return None
    try:
        library = ctypes.CDLL(path)  # already mapped by the booster: a new handle only
        library.GOMP_parallel  # noqa: B018 (raises AttributeError where it is missing)
    except (OSError, AttributeError):
        return None
    return path, library


def team_of(booster_library: str, booster_threads: int = 0):
    """An :class:`OpenMPTeam` on the OpenMP runtime that XGBoost's ``booster_library`` (a mapped
    shared library) runs on, or None: on other systems, where there is no such runtime with
    ``GOMP_parallel``, in a process forked from one whose Numba pool ran (the rule of
    :mod:`.threads`), where XGBoost or the kernels get one thread, or where the workers fail to
    compile (with a warning).

    ``booster_threads``: XGBoost's ``nthread`` as set (0 or less for its default); the team takes
    XGBoost's own count of it (:func:`xgboost_threads`), of which the kernel thread setting
    (:func:`.threads.set_kernel_threads`, else ``NUMBA_NUM_THREADS``) says how many work.
    """
    from . import threads as kernel_threads

    if kernel_threads._pool_inherited or not sys.platform.startswith("linux"):
        return None
    most = kernel_threads.kernel_thread_cap()
    if most <= 1 or booster_threads == 1:
        return None
    runtime = _runtime_of(booster_library)
    if runtime is None:
        return None
    team_threads = xgboost_threads(runtime[1], booster_threads)
    if team_threads <= 1:
        return None
    try:
        return OpenMPTeam(runtime[0], team_threads, min(team_threads, most))
    except Exception as error:  # noqa: BLE001 (a Numba that cannot compile the workers)
        import warnings

        warnings.warn(f"boostfocal: the kernels cannot run on XGBoost's OpenMP threads ({error!r}); "
                      "they run on the calling thread or Numba's pool instead", RuntimeWarning, stacklevel=2)
        return None

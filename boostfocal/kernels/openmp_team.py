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
takes the first row over the pieces in row order, as the parallel kernels do over their chunks.

The workers take one dtype combination, the one of XGBoost's CPU loop (``xgboost_train``): labels
float32 (XGBoost's label vector), margins float32 (its prediction cache), weights float64 (n,) or
(0,), alpha float64, gradient and Hessian float32, all C-contiguous, more than one chunk of rows.
For anything else the team's methods return None and the caller goes through
:func:`.threads.run_kernel`. Measured on 16 cores, focal / built-in training time with the kernel on
XGBoost's team, on Numba's pool and serial: 1.026 / 2.418 / 1.045 at 20,000 x 7, 1.039 / 1.374 / 1.791
at 200,000 x 10 (docs/threads.md, benchmarks/bench_booster_threads.py).
"""

from __future__ import annotations

import ctypes
import struct
import sys
import threading

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import binary, multiclass
from .multiclass import _float64_from_bits

# Context vector of one call, int64 slots (addresses, sizes and the bits of float64 values).
NEXT_PIECE, N_PIECES, ROWS_PER_PIECE, N_ROWS, N_CLASSES = 0, 1, 2, 3, 4
LABELS, RAW, ALPHA, N_ALPHA, WEIGHTS, N_WEIGHTS = 5, 6, 7, 8, 9, 10
GAMMA_BITS, POLICY, FLOOR_BITS, GRADIENT, HESSIAN, RESULTS, SOFT_LABELS = 11, 12, 13, 14, 15, 16, 17
CONTEXT_SLOTS = 18

# The serial compilations, as globals: Numba resolves a module global, not an attribute chain.
_multiclass_serial = multiclass.focal_loss_gradient_hessian.serial
_binary_serial = binary.focal_loss_gradient_hessian.serial


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
    results[2 * piece] = bad_row + start if bad_row >= 0 else -1
    results[2 * piece + 1] = bad_input + start if bad_input >= 0 else -1


@numba.cfunc(types.void(types.voidptr), cache=True, error_model="numpy")
def multiclass_worker(context_address):
    """One thread's share of ``multiclass.focal_loss_gradient_hessian`` (float32 labels and margins)."""
    context = numba.carray(context_address, (CONTEXT_SLOTS,), np.int64)
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


@numba.cfunc(types.void(types.voidptr), cache=True, error_model="numpy")
def binary_worker(context_address):
    """One thread's share of ``binary.focal_loss_gradient_hessian`` (float32 labels and margins)."""
    context = numba.carray(context_address, (CONTEXT_SLOTS,), np.int64)
    n = context[N_ROWS]
    labels, alpha, weights, results, gamma, floor = _shared_inputs(context)
    raw = numba.carray(_address(context[RAW]), (n,), np.float32)
    gradient = numba.carray(_address(context[GRADIENT]), (n,), np.float32)
    hessian = numba.carray(_address(context[HESSIAN]), (n,), np.float32)
    no_loss = np.empty(0, dtype=np.float32)
    while True:
        start, end, piece = _next_piece(context)
        if start < 0:
            return
        piece_weights = weights[start:end] if weights.shape[0] == n else weights
        bad_row, bad_input = _binary_serial(
            labels[start:end], raw[start:end], alpha, piece_weights, gamma, context[POLICY], floor,
            context[SOFT_LABELS] != 0, no_loss, gradient[start:end], hessian[start:end])
        _record(results, piece, start, bad_row, bad_input)


def _float_bits(value) -> int:
    """The bits of a float64 as an int64, for a context slot (the workers cast them back)."""
    return struct.unpack("<q", struct.pack("<d", float(value)))[0]


def _first(results):
    """(first bad row, first bad input) over the pieces, in row order; -1 for none."""
    rows, inputs = results[0::2], results[1::2]
    found_rows, found_inputs = rows[rows >= 0], inputs[inputs >= 0]
    return (int(found_rows[0]) if found_rows.size else -1,
            int(found_inputs[0]) if found_inputs.size else -1)


class OpenMPTeam:
    """``GOMP_parallel`` of one OpenMP runtime (a GNU libgomp, or LLVM's libomp, which exports the
    same entry point), driving :data:`multiclass_worker` / :data:`binary_worker`.

    ``threads``: the team size to ask for, the booster's own thread count (its team is then reused
    as it stands). Pieces: about four per thread, so that a thread that joins late takes fewer.
    """

    def __init__(self, runtime_path: str, threads: int):
        library = ctypes.CDLL(runtime_path)  # already mapped by the booster: a new handle only
        self._parallel = library.GOMP_parallel
        self._parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        self._parallel.restype = None
        self.runtime_path = runtime_path
        self.threads = int(threads)
        self._context = np.zeros(CONTEXT_SLOTS, dtype=np.int64)
        self._results = np.empty(0, dtype=np.int64)
        self._lock = threading.Lock()  # one context vector: one call at a time per team object

    def _takes(self, labels, raw, alpha, weights, gradient, hessian, rows_per_chunk) -> bool:
        """Whether the workers take these arrays: more than one chunk of rows (one chunk runs on
        the calling thread, as :func:`.threads.run_kernel` runs it), the dtypes above, C-contiguous."""
        return (raw.shape[0] > rows_per_chunk and labels.dtype == np.float32
                and raw.dtype == np.float32 and gradient.dtype == np.float32
                and hessian.dtype == np.float32 and weights.dtype == np.float64
                and alpha.dtype == np.float64
                and all(a.flags.c_contiguous for a in (labels, raw, alpha, weights, gradient, hessian)))

    def _run(self, worker, labels, raw, alpha, weights, gamma, policy, floor, gradient, hessian,
             rows_per_chunk, soft_labels=False):
        if not self._takes(labels, raw, alpha, weights, gradient, hessian, rows_per_chunk):
            return None
        n = raw.shape[0]
        n_pieces = min(4 * self.threads, -(-n // rows_per_chunk))
        rows_per_piece = -(-n // n_pieces)
        n_pieces = -(-n // rows_per_piece)
        with self._lock:
            if self._results.shape[0] < 2 * n_pieces:
                self._results = np.empty(2 * n_pieces, dtype=np.int64)
            context = self._context
            context[:] = 0
            context[N_PIECES], context[ROWS_PER_PIECE], context[N_ROWS] = n_pieces, rows_per_piece, n
            context[N_CLASSES] = raw.shape[1] if raw.ndim == 2 else 1
            context[LABELS], context[RAW] = labels.ctypes.data, raw.ctypes.data
            context[ALPHA], context[N_ALPHA] = alpha.ctypes.data, alpha.shape[0]
            context[WEIGHTS], context[N_WEIGHTS] = weights.ctypes.data, weights.shape[0]
            context[GAMMA_BITS], context[FLOOR_BITS] = _float_bits(gamma), _float_bits(floor)
            context[POLICY], context[SOFT_LABELS] = policy, int(bool(soft_labels))
            context[GRADIENT], context[HESSIAN] = gradient.ctypes.data, hessian.ctypes.data
            context[RESULTS] = self._results.ctypes.data
            # The arrays stay referenced by the caller for the call; ctypes releases the GIL, and
            # the workers touch no Python object.
            # The whole team even for fewer pieces (threads without one return at once): a team of
            # the size XGBoost's loops use is reused as it stands, with no threads docked or added.
            self._parallel(worker.address, context.ctypes.data, self.threads, 0)
            return _first(self._results[:2 * n_pieces])

    def multiclass(self, labels, raw, alpha, weights, gamma, policy, floor, gradient, hessian):
        """``multiclass.focal_loss_gradient_hessian``'s (bad row, bad input) on the team, or None
        when the workers do not take these arrays (then nothing was computed)."""
        return self._run(multiclass_worker, labels, raw, alpha, weights, gamma, policy, floor,
                         gradient, hessian, multiclass.ROWS_PER_CHUNK)

    def binary(self, labels, raw, alpha, weights, gamma, policy, floor, soft_labels, gradient, hessian):
        """As :meth:`multiclass`, for ``binary.focal_loss_gradient_hessian`` on (n,) margins."""
        return self._run(binary_worker, labels, raw, alpha, weights, gamma, policy, floor,
                         gradient, hessian, binary.ROWS_PER_CHUNK, soft_labels)


def team_of(booster_library: str, booster_threads: int = 0):
    """An :class:`OpenMPTeam` on the OpenMP runtime that ``booster_library`` (a mapped shared
    library) runs on, or None: where there is no such runtime with ``GOMP_parallel`` (other
    systems, other runtimes), in a process forked from one whose Numba pool ran (the rule of
    :mod:`.threads`), or where the kernels get one thread.

    ``booster_threads``: the booster's thread setting (XGBoost's ``nthread``; 0 or less for its
    default, which is the runtime's ``min(omp_get_num_procs(), omp_get_max_threads())``, as
    XGBoost's ``common::OmpGetNumThreads`` takes it). The kernel thread setting
    (:func:`.threads.set_kernel_threads`, ``NUMBA_NUM_THREADS``) caps it.
    """
    from . import threads as kernel_threads

    if kernel_threads._pool_inherited or not sys.platform.startswith("linux"):
        return None
    runtime = kernel_threads._openmp_runtime_of(booster_library, kernel_threads._mapped_openmp_runtimes())
    if runtime is None:
        return None
    try:
        library = ctypes.CDLL(runtime)
        library.GOMP_parallel  # noqa: B018 (raises AttributeError where it is missing)
        if booster_threads is None or booster_threads <= 0:
            booster_threads = min(library.omp_get_num_procs(), library.omp_get_max_threads())
    except (OSError, AttributeError):
        return None
    requested = kernel_threads.get_kernel_threads()
    most = numba.config.NUMBA_NUM_THREADS if requested is None else min(requested, numba.config.NUMBA_NUM_THREADS)
    threads = min(int(booster_threads), most)
    return OpenMPTeam(runtime, threads) if threads > 1 else None

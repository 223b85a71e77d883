"""Threads: which compilation (serial / parallel) each call uses, concurrent calls from Python threads
under every Numba threading layer, and kernels called in a fork-started child.

The layer tests run in subprocesses, since Numba picks its threading layer once per process
(``NUMBA_THREADING_LAYER``). Each subprocess runs one script and reports per check.
"""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from boostfocal.kernels import threads
from boostfocal.kernels.threads import (
    BOOSTER_PARALLEL_SAVING_FROM,
    inside_booster,
    kernel_threads,
    run_kernel,
    set_kernel_threads,
)

numba = pytest.importorskip("numba")


# ------------------------------------------------------------------ which compilation runs
class RecordingKernel:
    """Stands in for a parallel_kernel: says which compilation was called."""

    def __call__(self, *args):
        return "parallel", numba.get_num_threads()

    def serial(self, *args):
        return "serial", None


CHUNK = 2048


def choice(shape):
    return run_kernel(RecordingKernel(), shape, CHUNK)[0]


@pytest.fixture
def two_numba_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(previous)
    set_kernel_threads(None)


# At 2 threads the pool saves half a serial call: booster callbacks go parallel from twice
# BOOSTER_PARALLEL_SAVING_FROM entries.
BOOSTER_PARALLEL_AT_2 = 2 * BOOSTER_PARALLEL_SAVING_FROM


def test_automatic_choice(two_numba_threads):
    assert choice((CHUNK, 7)) == "serial"  # one chunk of rows: nothing to split
    assert choice((CHUNK + 1, 7)) == "parallel"
    with kernel_threads(2), inside_booster():
        # Booster callbacks keep inputs whose parallel run saves too little off Numba's pool.
        assert choice((BOOSTER_PARALLEL_AT_2 // 7 - 1, 7)) == "serial"
        assert choice((BOOSTER_PARALLEL_AT_2 // 7 + 1, 7)) == "parallel"
        assert choice((BOOSTER_PARALLEL_AT_2 - 1,)) == "serial"
        # A kernel that costs 4 entries' time per entry reaches the pool at a quarter of the rows.
        costly = RecordingKernel()
        costly.cost_per_entry = 4
        assert run_kernel(costly, (BOOSTER_PARALLEL_AT_2 // 4 + 1,), CHUNK)[0] == "parallel"
        assert run_kernel(costly, (BOOSTER_PARALLEL_AT_2 // 4 - 1,), CHUNK)[0] == "serial"
    assert choice((CHUNK + 1, 7)) == "parallel"  # the flag is gone after the block
    numba.set_num_threads(1)  # Numba's own setting is respected
    assert choice((10 * CHUNK, 7)) == "serial"


def test_the_thread_count_sets_the_booster_rule_without_numbas_pool(monkeypatch):
    """The pool saves n x (1 - 1/threads) of a serial call, so more threads reach it sooner: with 8
    callbacks go parallel from 8/7 of BOOSTER_PARALLEL_SAVING_FROM entries, with 2 from twice as
    many. The count is the most the call could get (kernel_threads, else NUMBA_NUM_THREADS), read
    without starting Numba's pool; a stand-in config of 8 threads makes this run on any machine."""
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 8)
    asked = []
    monkeypatch.setattr(threads.numba, "get_num_threads", lambda: asked.append(1) or 8)
    at_8 = BOOSTER_PARALLEL_SAVING_FROM * 8 // 7
    with inside_booster():
        assert threads._parallel_threads((at_8 - 1,), CHUNK) == 1
        assert not asked  # decided serial without asking Numba for its per-thread count
        assert threads._parallel_threads((at_8 + 1,), CHUNK) == 8
        with kernel_threads(2):
            assert threads._parallel_threads((at_8 + 1,), CHUNK) == 1
            assert threads._parallel_threads((2 * BOOSTER_PARALLEL_SAVING_FROM + 1,), CHUNK) == 2


def test_booster_on_numbas_openmp_runtime_gets_the_ordinary_rules(two_numba_threads, monkeypatch):
    """One OpenMP pool, nothing to fight over: small callbacks of such a booster may use the pool."""
    monkeypatch.setitem(threads._shared_runtimes, "/shared/lib.so", True)
    monkeypatch.setitem(threads._shared_runtimes, "/own/lib.so", False)
    small = (BOOSTER_PARALLEL_AT_2 // 7 - 1, 7)
    with kernel_threads(2), inside_booster("/shared/lib.so"):
        assert choice(small) == "parallel"
        assert choice((CHUNK, 7)) == "serial"  # one chunk: still nothing to split
        with kernel_threads(1):
            assert choice(small) == "serial"
    for other in (inside_booster("/own/lib.so"), inside_booster()):
        with kernel_threads(2), other:
            assert choice(small) == "serial"
            assert choice((BOOSTER_PARALLEL_AT_2 // 7 + 1, 7)) == "parallel"


def test_elf_dynamic_names(tmp_path):
    from numba.np.ufunc import parallel

    parallel._launch_threads()
    if not sys.platform.startswith("linux") or numba.threading_layer() != "omp":
        pytest.skip("Linux with Numba's omp layer")
    from numba.np.ufunc import omppool

    needed, _ = threads.elf_dynamic_names(omppool.__file__)
    assert any(name.startswith("libc") for name in needed)
    assert any(name.startswith(threads._OPENMP_PREFIXES) for name in needed)
    runtime = threads._openmp_runtime_of(omppool.__file__, threads._mapped_openmp_runtimes())
    assert runtime is not None and os.path.basename(runtime).startswith(threads._OPENMP_PREFIXES)
    assert threads.elf_dynamic_names(runtime)[1].startswith(threads._OPENMP_PREFIXES)  # its soname
    not_elf = tmp_path / "lib.so"
    not_elf.write_bytes(b"\x7fELF\x02\x01" + b"\0" * 10)  # truncated
    assert threads.elf_dynamic_names(str(not_elf)) == (set(), None)
    assert threads.elf_dynamic_names(str(tmp_path / "missing.so")) == (set(), None)


def test_which_boosters_share_numbas_openmp_runtime():
    """On Linux with pip wheels: LightGBM links the system libgomp, as Numba's omp layer does;
    XGBoost brings a renamed copy of its own (a second pool)."""
    lightgbm_basic = pytest.importorskip("lightgbm.basic")
    xgboost_core = pytest.importorskip("xgboost.core")
    from numba.np.ufunc import parallel

    parallel._launch_threads()
    if not sys.platform.startswith("linux") or numba.threading_layer() != "omp":
        pytest.skip("Linux with Numba's omp layer")
    xgboost_vendors = any(name.startswith("libgomp-") for name in threads.elf_dynamic_names(xgboost_core._LIB._name)[0])
    lightgbm_system = "libgomp.so.1" in threads.elf_dynamic_names(lightgbm_basic._LIB._name)[0]
    if not (xgboost_vendors or lightgbm_system):
        pytest.skip("neither wheel links OpenMP the way the PyPI Linux wheels do")
    if xgboost_vendors:
        assert not threads.shares_numbas_openmp(xgboost_core._LIB._name)
    if lightgbm_system:
        assert threads.shares_numbas_openmp(lightgbm_basic._LIB._name)

def test_explicit_thread_counts(two_numba_threads):
    with kernel_threads(1):
        assert choice((10 * CHUNK, 7)) == "serial"
    set_kernel_threads(2)
    with inside_booster():
        assert choice((CHUNK + 1, 7)) == "serial"  # a count does not lift the automatic rules
        assert run_kernel(RecordingKernel(), (BOOSTER_PARALLEL_AT_2, 1), CHUNK) == ("parallel", 2)
        with kernel_threads(1):  # the per-thread block wins over the module setting
            assert choice((BOOSTER_PARALLEL_AT_2, 1)) == "serial"
    set_kernel_threads(None)
    numba.set_num_threads(1)
    with kernel_threads(2):  # an explicit count overrides Numba's per-thread count, and restores it
        assert run_kernel(RecordingKernel(), (CHUNK + 1, 7), CHUNK) == ("parallel", 2)
    assert numba.get_num_threads() == 1
    with kernel_threads(None), kernel_threads(-1):  # sklearn's n_jobs=None / -1: left alone
        assert threads.get_kernel_threads() is None


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_kernel_threads_rejects_bad_values(bad):
    with pytest.raises((TypeError, ValueError), match="n_threads must be None or a positive integer"):
        set_kernel_threads(bad)


def test_one_parallel_kernel_at_a_time(two_numba_threads):
    """While one thread runs a parallel kernel, the others get the serial one."""
    entered, release = threading.Event(), threading.Event()

    class Blocking(RecordingKernel):
        def __call__(self, *args):
            entered.set()
            release.wait(10)
            return "parallel", None

    worker = threading.Thread(target=run_kernel, args=(Blocking(), (10 * CHUNK, 7), CHUNK))
    worker.start()
    try:
        assert entered.wait(10)
        assert choice((10 * CHUNK, 7)) == "serial"
    finally:
        release.set()
        worker.join()
    assert choice((10 * CHUNK, 7)) == "parallel"


def test_forked_child_of_a_running_pool_runs_serially(two_numba_threads, monkeypatch):
    monkeypatch.setattr(threads, "_pool_inherited", True)
    assert choice((10 * CHUNK, 7)) == "serial"


def test_both_compilations_agree_and_are_cached_apart():
    from boostfocal import FocalLoss
    from boostfocal.kernels import multiclass

    kernel = multiclass.focal_loss_gradient_hessian
    assert kernel.serial.py_func.__qualname__ == kernel.py_func.__qualname__ + "_serial"
    assert kernel.targetoptions.get("parallel") and not kernel.serial.targetoptions.get("parallel")
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(3 * multiclass.ROWS_PER_CHUNK, 5))
    y = rng.integers(0, 5, size=raw.shape[0])
    with kernel_threads(1):
        serial = FocalLoss(2.0).gradient_hessian(y, raw)
    with kernel_threads(2):
        parallel = FocalLoss(2.0).gradient_hessian(y, raw)
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)



def _all_kernels():
    from boostfocal.kernels import binary, multiclass, posterior

    return [multiclass.focal_loss_gradient_hessian, multiclass.focal_loss_per_sample, multiclass.softmax,
            binary.focal_loss_gradient_hessian, binary.sigmoid, posterior.focal_posterior]


@pytest.mark.parametrize("index", range(6))
def test_both_compilations_use_numpys_error_model(index):
    """The prange body is compiled with NumPy's error model whatever the options say; the serial
    compilation must match it, or a division's zero test keeps its loops from vectorizing (the
    serial binary kernel was 3.5x slower than the parallel one on one thread)."""
    kernel = _all_kernels()[index]
    assert kernel.targetoptions.get("error_model") == "numpy"
    assert kernel.serial.targetoptions.get("error_model") == "numpy"
    assert hasattr(kernel, "cost_per_entry") and kernel.cost_per_entry > 0


def _divide(numerators, denominators, out):
    for i in numba.prange(out.shape[0]):
        out[i] = numerators[i] / denominators[i]


def test_compile_options_reach_both_compilations_and_name_their_cache():
    """1 / 0 is inf under NumPy's error model (ZeroDivisionError under Python's) in both; and the
    options' digest is part of the cached name, so that a change of options cannot load stale code."""
    kernel = threads.parallel_kernel()(_divide)
    for compilation in (kernel, kernel.serial):
        out = np.zeros(2)
        compilation(np.array([1.0, 1.0]), np.array([0.0, 2.0]), out)
        np.testing.assert_array_equal(out, [np.inf, 0.5])
    other = threads.parallel_kernel(fastmath={"contract"})(_divide)
    names = {kernel.py_func.__qualname__, other.py_func.__qualname__}
    assert len(names) == 2 and all(name.startswith("_divide_") for name in names)
    assert kernel.serial.py_func.__qualname__ == kernel.py_func.__qualname__ + "_serial"
    assert threads._options_digest({"a": {"y", "x"}}) == threads._options_digest({"a": {"x", "y"}})


@pytest.mark.parametrize("fastmath", [True, {"reassoc"}, {"contract", "nsz"}, frozenset({"fast"})])
def test_compile_options_that_reassociate_are_refused(fastmath):
    """Reassociation would fold multiclass.exp_reduced's (a + 1.5 * 2^52) - 1.5 * 2^52 into a (and
    undo the kernels' other exact forms): parallel_kernel refuses it; contraction alone is allowed."""
    with pytest.raises(ValueError, match="reassociation"):
        threads.parallel_kernel(fastmath=fastmath)(_divide)
    allowed = threads.parallel_kernel(fastmath={"contract"})(_divide)
    out = np.zeros(1)
    allowed.serial(np.array([1.0]), np.array([2.0]), out)
    assert out[0] == 0.5


def _binary_kernel_outputs(kernel, loss, y, raw, weights):
    """Loss, gradient and Hessian of one compilation of the binary kernel, called directly."""
    from boostfocal.binary import _POLICY_CODES

    labels, raw, _, alpha, weights = loss._prepare(y, raw, weights)
    outputs = [np.empty(raw.shape[0]), np.empty(raw.shape[0], np.float32), np.empty(raw.shape[0], np.float32)]
    kernel(labels, raw, alpha, weights, loss.gamma, _POLICY_CODES[loss.hessian], loss.hessian_floor,
           loss.soft_labels, *outputs)
    return outputs


def test_binary_compilations_agree_to_the_bit():
    """Serial and parallel compilations called directly (so whatever the thread count): equal to the
    bit, including the short last block, soft labels, float32 and strided input."""
    from boostfocal import BinaryFocalLoss
    from boostfocal.kernels import binary

    rng = np.random.default_rng(1)
    n = 3 * binary.ROWS_PER_CHUNK + 4
    raw = np.concatenate([rng.normal(scale=4.0, size=n - 4), [1e4, -1e4, 0.0, 40.0]])
    hard = (rng.random(n) < 0.4).astype(np.float32)
    weights = rng.random(n)
    cases = [(BinaryFocalLoss(2.0), hard, raw), (BinaryFocalLoss(0.7, alpha=0.3), hard, raw.astype(np.float32)),
             (BinaryFocalLoss(3.5, hessian="exact"), hard, np.repeat(raw, 2)[::2]),
             (BinaryFocalLoss(1.5, soft_labels=True), rng.random(n), raw)]
    kernel = binary.focal_loss_gradient_hessian
    for loss, y, margins in cases:
        serial = _binary_kernel_outputs(kernel.serial, loss, y, margins, weights)
        parallel = _binary_kernel_outputs(kernel, loss, y, margins, weights)
        for a, b in zip(serial, parallel):
            np.testing.assert_array_equal(a, b)


def test_multiclass_compilations_agree_to_the_bit():
    """The multiclass gradient kernel's serial and parallel compilations, and a read-only input,
    give equal bits: each is its own LLVM compilation, and with FMA contraction allowed LLVM may fuse
    either product of an a * b + c * d differently in each (a read-only input once changed the last
    bit of 4 % of the arg-max Hessians). K = 65 takes the untransposed path; the gammas take the
    multiplied, the exp-log and the pow forms of q^gamma; the rows include p_t -> 1 and p_t -> 0."""
    from boostfocal import FocalLoss
    from boostfocal.kernels import multiclass
    from boostfocal.loss import _POLICY_CODES

    rng = np.random.default_rng(3)
    kernel = multiclass.focal_loss_gradient_hessian
    n = 2 * multiclass.ROWS_PER_CHUNK + 5
    gammas = iter((2.0, 2.5, 0.0, 10.0, 2.0, 0.5, 1.0, 2.0, 3.5))
    # Every policy at each K: LLVM may compile a loop once per combination of its invariant flags.
    cases = [(n_classes, next(gammas), policy) for n_classes in (3, 7, 65) for policy in ("exact", "psd", "floor")]
    for n_classes, gamma, policy in cases:
        raw = rng.normal(scale=3.0, size=(n, n_classes))
        raw[:50] *= 400.0  # saturated rows: p_t -> 1 or -> 0, q^gamma below the exp-log range
        y = rng.integers(0, n_classes, n)
        weights = rng.uniform(0.0, 2.0, n)
        loss = FocalLoss(gamma, np.linspace(0.5, 2.0, n_classes), hessian=policy)
        read_only = raw.copy()
        read_only.setflags(write=False)
        # float64 C-ordered margins only: other layouts and dtypes are further compilations of a
        # large kernel (about 20 s each here), and the layout tests compare those to these.
        results = []
        for margins in (raw, read_only):
            labels, checked, alpha, checked_weights = loss._prepare(y, margins, weights)
            for compilation in (kernel, kernel.serial):
                gradient, hessian = np.empty(checked.shape), np.empty(checked.shape)
                compilation(labels, checked, alpha, checked_weights, loss.gamma, _POLICY_CODES[policy],
                            loss.hessian_floor, gradient, hessian)
                results.append((gradient, hessian))
        for gradient, hessian in results[1:]:
            np.testing.assert_array_equal(gradient, results[0][0])
            np.testing.assert_array_equal(hessian, results[0][1])
        assert np.all(np.isfinite(results[0][1]))


def test_xgboost_callbacks_leave_numbas_pool_alone():
    """A booster callback that will run serially must not start Numba's pool: a started pool sends
    every later fork child to the serial kernels, and NUMBA_THREADING_LAYER=tbb without TBB raises."""
    script = (
        "from numba.np.ufunc import parallel\n"
        "from boostfocal.kernels.threads import inside_booster, _parallel_threads\n"
        "with inside_booster():\n"
        "    assert _parallel_threads((100_000, 3), 2048) == 1\n"
        "print(parallel._is_initialized)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------ every threading layer
LAYER_SCRIPT = r"""
import json, multiprocessing, sys, threading
import numpy as np
import numba
from boostfocal import BinaryFocalLoss, FocalLoss
from boostfocal.kernels.threads import kernel_threads

rng = np.random.default_rng(0)
cases = []
for n_rows in (100, 5000, 9000):  # below and above one chunk (2,048 multiclass, 4,096 binary rows)
    raw = rng.normal(scale=3.0, size=(n_rows, 4)).astype(np.float32)
    y = rng.integers(0, 4, size=n_rows)
    cases.append((FocalLoss(2.0, alpha=[1.0, 2.0, 0.5, 1.0]), y, raw))
    cases.append((BinaryFocalLoss(2.0, 0.25), y % 2, raw[:, 0].copy()))


def compute(case):
    loss, y, raw = case
    gradient, hessian = loss.gradient_hessian(y, raw)
    return [gradient, hessian, loss.loss(y, raw), loss.predict_proba(raw)]


with kernel_threads(1):
    expected = [compute(case) for case in cases]

# One parallel call first, so that the pool runs (and forked children inherit it).
first = compute(cases[-2])
report = {"layer": numba.threading_layer()}

failures = []
def hammer(seed):
    order = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(cases)), CALLS))
    for index in order:
        got = compute(cases[index])
        if not all(np.array_equal(a, b) for a, b in zip(got, expected[index])):
            failures.append(int(index))

workers = [threading.Thread(target=hammer, args=(seed,)) for seed in range(4)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
report["threaded_mismatches"] = failures
report["threaded_calls"] = 4 * CALLS * len(cases)


def child(connection):
    try:
        results = [compute(case) for case in cases]
        connection.send(all(np.array_equal(a, b) for got, want in zip(results, expected)
                            for a, b in zip(got, want)))
    except Exception as error:
        connection.send(f"{type(error).__name__}: {error}")


context = multiprocessing.get_context("fork")
receiver, sender = context.Pipe(duplex=False)
process = context.Process(target=child, args=(sender,))
process.start()
process.join(120)
report["fork_exitcode"] = process.exitcode
report["fork_result"] = receiver.recv() if receiver.poll() else None
print("REPORT " + json.dumps(report))
"""


def _layer_available(layer):
    """None when Numba can start ``layer`` here, else why not (tbb needs the TBB runtime library,
    ``pip install tbb``; omp needs an OpenMP runtime)."""
    probe = "from numba.np.ufunc import parallel; parallel._launch_threads(); print(parallel._threading_layer)"
    env = {**os.environ, "NUMBA_THREADING_LAYER": layer}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or result.stdout.strip() != layer:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return f"Numba's {layer} threading layer is not available here: {lines[-1] if lines else '?'}"
    return None


_reports = {}


def layer_report(layer):
    """Run LAYER_SCRIPT once per layer (cached across the tests of this module)."""
    reason = _layer_available(layer)
    if reason:
        pytest.skip(reason)
    if layer not in _reports:
        env = {**os.environ, "NUMBA_THREADING_LAYER": layer, "NUMBA_NUM_THREADS": "2"}
        result = subprocess.run([sys.executable, "-c", "CALLS = 6\n" + LAYER_SCRIPT], env=env,
                                capture_output=True, text=True, timeout=600)
        lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
        _reports[layer] = (result.returncode, json.loads(lines[0][7:]) if lines else None,
                           result.stderr[-2000:])
    return _reports[layer]


LAYERS = ["omp", "workqueue", "tbb"]


@pytest.mark.parametrize("layer", LAYERS)
def test_concurrent_calls_equal_a_single_thread_call(layer):
    returncode, report, stderr = layer_report(layer)
    assert returncode == 0 and report is not None, stderr
    assert report["layer"] == layer
    assert report["threaded_calls"] == 4 * 6 * 6
    assert report["threaded_mismatches"] == []


@pytest.mark.parametrize("layer", LAYERS)
def test_kernels_work_in_a_fork_started_child(layer):
    returncode, report, stderr = layer_report(layer)
    assert returncode == 0 and report is not None, stderr
    assert report["fork_exitcode"] == 0, stderr
    assert report["fork_result"] is True

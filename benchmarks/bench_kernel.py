"""Kernel benchmark: focal-loss gradient + Hessian, Numba against vectorized NumPy.

Measures, in one run and side by side:

* the median time of ``FocalLoss.gradient_hessian`` on n x K float32 raw predictions (default
  1,000,000 x 10) against a vectorized NumPy implementation of the same math, and their ratio;
* the one-off cost of the first call (minus a steady call): compilation, or only loading when
  the disk cache already holds the kernel; reported apart;
* the peak memory allocated by each (tracemalloc sees NumPy's allocations), against the output size;
* the first-call latency in a fresh process (import + first call), with an empty Numba cache and
  with the disk cache warm, and the time of ``import boostfocal`` alone.

Writes ``benchmarks/results/kernel.json`` and ``kernel.md`` (``--stem`` names them otherwise, e.g. for a
second machine). Run: ``python benchmarks/bench_kernel.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

import common

RESULTS = Path(__file__).resolve().parent / "results"


def numpy_gradient_hessian(y, raw, alpha, weight, gamma):
    """The same math as the Numba kernel (psd policy), vectorized over the whole array in float64."""
    rows = np.arange(raw.shape[0])
    z = raw.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)
    p = z / total
    p_true = p[rows, y]
    log_p_true = np.log(np.maximum(p_true, 1e-300))
    q = 1.0 - p_true
    r = np.where(q > 0, log_p_true / np.where(q > 0, q, 1.0), -1.0)
    q_pow = q**gamma
    psi_1 = q_pow * (gamma * p_true * r - 1.0)
    psi_2_q2 = gamma * p_true * q_pow * q * (q * r + 2.0 - (gamma - 1.0) * p_true * r)
    curvature = np.maximum(psi_2_q2, 0.0)
    ratio = p / np.where(q > 0, q, 1.0)[:, None]
    gradient = -psi_1[:, None] * p
    hessian = curvature[:, None] * ratio**2 - psi_1[:, None] * p * (1.0 - p)
    gradient[rows, y] = psi_1 * q
    hessian[rows, y] = curvature - psi_1 * p_true * q
    np.maximum(hessian, 1e-16, out=hessian)
    factor = (alpha[y] * weight)[:, None]
    return (gradient * factor).astype(np.float32), (hessian * factor).astype(np.float32)


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def peak_memory(function):
    tracemalloc.start()
    tracemalloc.reset_peak()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


FIRST_CALL = (
    "import time; start = time.perf_counter()\n"
    "import boostfocal, numpy as np\n"
    "imported = time.perf_counter()\n"
    "boostfocal.FocalLoss(2.0).gradient_hessian(np.zeros(4, int), np.zeros((4, 10), np.float32))\n"
    "print(imported - start, time.perf_counter() - start)\n"
)


def first_call_latency(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    output = subprocess.run(
        [sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(output[0]), float(output[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--fresh-processes", type=int, default=3,
                        help="fresh processes timed for the import and first-call latencies (at least 1)")
    parser.add_argument("--stem", default="kernel", help="results/<stem>.json and .md (default: kernel)")
    args = parser.parse_args(argv)
    if args.fresh_processes < 1 or args.repeats < 1:
        parser.error("--fresh-processes and --repeats must be at least 1")

    import numba

    from boostfocal import FocalLoss

    rng = np.random.default_rng(0)
    n, k = args.rows, args.classes
    raw = rng.normal(0.0, 2.0, (n, k)).astype(np.float32)
    y = rng.integers(0, k, n).astype(np.int64)
    weight = rng.uniform(0.5, 2.0, n)
    alpha = rng.uniform(0.5, 2.0, k)
    loss = FocalLoss(2.0, alpha, hessian="psd")

    start = time.perf_counter()
    loss.gradient_hessian(y, raw, weight)
    first = time.perf_counter() - start
    numba_median, numba_times = median_time(lambda: loss.gradient_hessian(y, raw, weight), args.repeats)
    out = (np.empty(raw.shape, np.float32), np.empty(raw.shape, np.float32))
    reuse_median, reuse_times = median_time(
        lambda: loss.gradient_hessian(y, raw, weight, out=out), args.repeats
    )
    numpy_median, numpy_times = median_time(
        lambda: numpy_gradient_hessian(y, raw, alpha, weight, 2.0), max(3, args.repeats // 2)
    )
    ours = loss.gradient_hessian(y, raw, weight)
    reference = numpy_gradient_hessian(y, raw, alpha, weight, 2.0)
    agreement = max(
        float(np.max(np.abs(a.astype(np.float64) - b) / (np.abs(b) + 1e-6))) for a, b in zip(ours, reference)
    )

    output_bytes = 2 * raw.size * 4
    numba_peak = peak_memory(lambda: loss.gradient_hessian(y, raw, weight))
    numpy_peak = peak_memory(lambda: numpy_gradient_hessian(y, raw, alpha, weight, 2.0))

    import_times, cold, warm = [], [], []
    for _ in range(args.fresh_processes):
        with tempfile.TemporaryDirectory() as cache_dir:
            imported, total = first_call_latency(cache_dir)
            cold.append(total)
            import_times.append(imported)
            imported, total = first_call_latency(cache_dir)
            warm.append(total)
            import_times.append(imported)

    environment = common.environment()  # the host (CPU, vector extension), date and commit
    result = {
        "rows": n,
        "classes": k,
        "dtype": "float32",
        "threads": numba.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": environment["cpu_model"],
        "command": common.command_line(__file__, argv),
        "date": environment["date"],
        "git_commit": environment["git_commit"],
        "numba_median_s": numba_median,
        "numba_times_s": numba_times,
        "numba_out_median_s": reuse_median,
        "numba_out_times_s": reuse_times,
        "speedup_numba_out_over_numpy": numpy_median / reuse_median,
        "numpy_median_s": numpy_median,
        "numpy_times_s": numpy_times,
        "speedup_numba_over_numpy": numpy_median / numba_median,
        "compile_time_s": first - numba_median,
        "max_relative_difference_numba_vs_numpy": agreement,
        "output_bytes": output_bytes,
        "numba_peak_bytes": numba_peak,
        "numpy_peak_bytes": numpy_peak,
        "numba_peak_over_output": numba_peak / output_bytes,
        "import_boostfocal_median_s": statistics.median(import_times),
        "first_call_cold_cache_median_s": statistics.median(cold),
        "first_call_warm_cache_median_s": statistics.median(warm),
        "first_call_cold_cache_s": cold,
        "first_call_warm_cache_s": warm,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = render_markdown(result)
    (RESULTS / f"{args.stem}.md").write_text(table)
    print(table)


def render_markdown(r):
    mib = 2**20
    return (
        f"Gradient + Hessian of {r['rows']:,} x {r['classes']} float32 raw predictions "
        f"(gamma=2, per-class alpha, sample weights, psd Hessian), {r['threads']} Numba threads, "
        f"{r['machine']}, {r['cpu_count']} CPU cores, medians of repeats (`{r.get('command', 'python benchmarks/bench_kernel.py')}`)"
        f"{', ' + r['date'] if r.get('date') else ''}:\n\n"
        "| measure | value |\n|---|---:|\n"
        f"| `gradient_hessian` (median; allocates its two outputs) | {r['numba_median_s'] * 1e3:.1f} ms |\n"
        f"| `gradient_hessian(..., out=...)` (median; outputs reused) | {r['numba_out_median_s'] * 1e3:.1f} ms |\n"
        f"| vectorized NumPy, same math (median) | {r['numpy_median_s'] * 1e3:.1f} ms |\n"
        f"| speed-up Numba / NumPy, allocating | {r['speedup_numba_over_numpy']:.1f}x |\n"
        f"| speed-up Numba / NumPy, outputs reused | {r['speedup_numba_out_over_numpy']:.1f}x |\n"
        f"| first call - median, this process (compilation; loading only, if the disk cache is warm) | {r['compile_time_s']:.2f} s |\n"
        f"| peak allocation, Numba path | {r['numba_peak_bytes'] / mib:.1f} MiB "
        f"({r['numba_peak_over_output']:.2f}x the two float32 outputs) |\n"
        f"| peak allocation, NumPy path | {r['numpy_peak_bytes'] / mib:.1f} MiB |\n"
        f"| `import boostfocal` in a fresh process (median) | {r['import_boostfocal_median_s'] * 1e3:.0f} ms |\n"
        f"| import + first call, fresh process, empty Numba cache (median) | "
        f"{r['first_call_cold_cache_median_s']:.2f} s |\n"
        f"| import + first call, fresh process, warm disk cache (median) | "
        f"{r['first_call_warm_cache_median_s']:.2f} s |\n"
    )


if __name__ == "__main__":
    main()

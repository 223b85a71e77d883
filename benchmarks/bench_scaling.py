"""Time and memory of one ``FocalLoss.gradient_hessian`` call as rows and classes grow.

Two sweeps: rows 1e4 .. 1e7 at K = 10 classes, and classes 2 .. 1000 at 20,000 rows. Each point runs
in a fresh process (so that peak-memory figures are its own): float32 C-ordered margins and int64
labels (what XGBoost hands over), a warm-up call on a tiny array of the same types (compilation),
then

* time: median of ``--repeats`` calls (CPU seconds of the process, robust on a shared machine; on one
  thread by default), reported as nanoseconds per entry (rows x classes), flat when the cost is
  linear in n x K;
* memory: the peak of NumPy allocations during one call (``tracemalloc``, which sees every NumPy
  array) and the growth of the process's peak resident set (``ru_maxrss``, which also sees Numba's
  own allocations), both minus the two outputs (gradient and Hessian). Both "extra" figures should
  stay far below the input size.

    python benchmarks/bench_scaling.py              # ~ a few minutes on one core
    python benchmarks/bench_scaling.py --max-entries 3e7

Writes ``benchmarks/results/scaling.json`` and ``scaling.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import List, Optional

import numpy as np

import common

ROW_SWEEP = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
CLASS_SWEEP = [2, 3, 5, 10, 30, 100, 300, 1000]
CLASS_SWEEP_ROWS = 20_000
ROW_SWEEP_CLASSES = 10

# Runs in the child process: measure one (n_rows, n_classes) point and print JSON.
CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {repo!r})
import numba
from boostfocal import FocalLoss
n_rows, n_classes, repeats, threads, gamma = {n_rows}, {n_classes}, {repeats}, {threads}, {gamma}
numba.set_num_threads(threads)
loss = FocalLoss(gamma)
rng = np.random.default_rng(0)
tiny = rng.standard_normal((64, n_classes), dtype=np.float32)
loss.gradient_hessian(np.arange(64) % n_classes, tiny)   # compile / load from cache
y = rng.integers(0, n_classes, n_rows)
raw = rng.standard_normal((n_rows, n_classes), dtype=np.float32)
raw *= 3  # in place: no temporary raises the peak before the measured call
output_bytes = 2 * raw.nbytes
import os
with open("/proc/self/statm") as handle:
    rss_now = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
grad, hess = loss.gradient_hessian(y, raw)
_, traced_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
del grad, hess
cpu, wall = [], []
for _ in range(repeats):
    w0, c0 = time.perf_counter(), time.process_time()
    loss.gradient_hessian(y, raw)
    wall.append(time.perf_counter() - w0); cpu.append(time.process_time() - c0)
print(json.dumps(dict(n_rows=n_rows, n_classes=n_classes, entries=n_rows * n_classes,
    input_bytes=raw.nbytes, output_bytes=output_bytes, traced_peak_bytes=traced_peak,
    rss_peak_above_current_bytes=(rss_after - rss_now) if rss_after > rss_before else None, cpu_s=sorted(cpu)[len(cpu) // 2],
    wall_s=sorted(wall)[len(wall) // 2], threads=threads)))
"""


def measure(n_rows: int, n_classes: int, args) -> dict:
    code = CHILD.format(repo=str(common.REPO_ROOT), n_rows=n_rows, n_classes=n_classes,
                        repeats=args.repeats, threads=args.threads, gamma=args.gamma)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"point {n_rows}x{n_classes} failed: {done.stderr.strip().splitlines()[-1]}")
    point = json.loads(done.stdout.strip().splitlines()[-1])
    clock = point["cpu_s"] if args.threads == 1 else point["wall_s"]
    point["ns_per_entry"] = 1e9 * clock / point["entries"]
    point["extra_traced_bytes"] = point["traced_peak_bytes"] - point["output_bytes"]
    # None when the call never rose above the process's earlier peak (imports, small arrays).
    above = point["rss_peak_above_current_bytes"]
    point["extra_rss_bytes"] = None if above is None else above - point["output_bytes"]
    return point


def cost_model(points: List[dict]) -> dict:
    """Least squares t = c0 + c_row * n + c_entry * n * K over all points, weighted by 1/t so that
    every point counts by its relative error; returns the coefficients and the worst relative error."""
    n = np.array([p["n_rows"] for p in points], dtype=float)
    nk = np.array([p["entries"] for p in points], dtype=float)
    t = np.array([p["cpu_s"] if p["threads"] == 1 else p["wall_s"] for p in points])
    design = np.column_stack([np.ones_like(n), n, nk]) / t[:, None]
    coef, *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    fitted = np.column_stack([np.ones_like(n), n, nk]) @ coef
    return {"call_overhead_us": 1e6 * coef[0], "ns_per_row": 1e9 * coef[1], "ns_per_entry": 1e9 * coef[2],
            "max_relative_error": float(np.max(np.abs(fitted / t - 1)))}


def slope(points: List[dict]) -> float:
    """Least-squares slope of log(time) on log(entries): 1 means linear."""
    x = np.log([p["entries"] for p in points])
    t = np.log([p["cpu_s"] if p["threads"] == 1 else p["wall_s"] for p in points])
    return float(np.polyfit(x, t, 1)[0])


def _mb(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value / 2**20:.2f}"


def render_markdown(payload: dict) -> str:
    env, settings = payload["environment"], payload["settings"]
    lines = [
        "# Kernel scaling: FocalLoss.gradient_hessian", "",
        f"Generated by `python benchmarks/bench_scaling.py` on {env['date']} ({env.get('cpu_model')}, "
        f"{settings['threads']} thread(s), gamma {settings['gamma']}, float32 margins, median of "
        f"{settings['repeats']} calls, {'CPU' if settings['threads'] == 1 else 'wall'} time). "
        "Extra memory = peak during one call minus the two outputs (gradient, Hessian); "
        "traced = NumPy allocations (tracemalloc), RSS = growth of the process's peak resident set.", "",
    ]
    model = payload["cost_model"]
    lines += [f"Cost model fitted to all points: time = {model['call_overhead_us']:.0f} us + "
              f"{model['ns_per_row']:.2f} ns x rows + {model['ns_per_entry']:.2f} ns x rows x classes "
              f"(worst relative error {100 * model['max_relative_error']:.0f}%): linear in n and n x K, "
              "with a per-row term (softmax max, log, the true-class terms) that dominates at small K.", ""]
    for key, title in (("rows", f"Rows grow (K = {ROW_SWEEP_CLASSES})"),
                       ("classes", f"Classes grow (n = {CLASS_SWEEP_ROWS:,})")):
        points = payload[key]
        lines += [f"## {title}: log-log slope of time on n x K = {payload['slope_' + key]:.3f}", ""]
        rows = [[f"{p['n_rows']:,}", str(p["n_classes"]), f"{p['entries']:,}",
                 f"{1e3 * (p['cpu_s'] if p['threads'] == 1 else p['wall_s']):.2f}",
                 f"{p['ns_per_entry']:.2f}", _mb(p["input_bytes"]), _mb(p["output_bytes"]),
                 _mb(p["extra_traced_bytes"]),
                 "below earlier peak" if p["extra_rss_bytes"] is None else _mb(p["extra_rss_bytes"])]
                for p in points]
        lines.append(common.markdown_table(
            ["rows", "classes", "n x K", "time ms", "ns / entry", "input MiB", "outputs MiB",
             "extra traced MiB", "extra RSS MiB"], rows))
        lines.append("")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--max-entries", type=float, default=1e8, help="skip points with more rows x classes")
    args = parser.parse_args(argv)
    payload = {"settings": vars(args), "environment": common.environment(), "rows": [], "classes": []}
    start = time.perf_counter()
    for key, sweep in (("rows", [(n, ROW_SWEEP_CLASSES) for n in ROW_SWEEP]),
                       ("classes", [(CLASS_SWEEP_ROWS, k) for k in CLASS_SWEEP])):
        for n_rows, n_classes in sweep:
            if n_rows * n_classes > args.max_entries:
                continue
            point = measure(n_rows, n_classes, args)
            payload[key].append(point)
            print(f"[{time.perf_counter() - start:6.1f}s] {n_rows}x{n_classes}: {point['ns_per_entry']:.2f} ns/entry, "
                  f"extra traced {_mb(point['extra_traced_bytes'])} MiB, extra RSS {_mb(point['extra_rss_bytes'])} MiB",
                  file=sys.stderr, flush=True)
        payload["slope_" + key] = slope(payload[key])
    payload["cost_model"] = cost_model(payload["rows"] + payload["classes"])
    print("\n".join(str(p) for p in common.write_results("scaling", payload, render_markdown(payload))))
    print(render_markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())

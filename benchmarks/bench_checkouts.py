"""XGBoost focal / built-in training time, or serial kernel time, of two checkouts of boostfocal,
measured in turn.

A change to ``loss.xgboost_train`` is judged by the ratio it gives, on this shared machine whose
speed drifts by up to a quarter between runs. So both versions are measured in one call, one child
process per measurement, alternating: base, new, base, new, ... Each child imports boostfocal from
its checkout (``PYTHONPATH``) and the data and contenders from this benchmark directory
(``bench_training_speed.XGBoostRun``: the same synthetic data, parameters and ``base_score``), and
times the built-in objective and ``loss.xgboost_train`` interleaved at XGBoost's default threads
(wall clock). A cell's ratio is the median of the per-repeat ratios focal / built-in.

    python benchmarks/bench_checkouts.py --base /path/to/old/checkout [--new .] [--pairs 3]
    python benchmarks/bench_checkouts.py --base /path/to/old/checkout --kernel

With ``--kernel`` each child times instead the serial kernels (``.serial``, one thread, process CPU
time, median of 9 calls after a warm-up) on what the boosters hand over: the multiclass gradient
kernel on float32 C-ordered raw predictions (XGBoost) and float64 Fortran-ordered ones (LightGBM),
3,000,000 entries at 7 to 1,000 classes, gamma 2 and 2.5, and the binary kernel on 2,000,000
float32 margins; in nanoseconds per entry (row x class; a row for the binary kernel).

The base checkout can be made with ``git worktree add /tmp/base <commit>``. Writes
``benchmarks/results/xgboost_checkouts.json`` and ``.md`` (``--stem`` renames them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
# (task, rows, rounds): the small cells, where a round is shortest and the loop's own cost shows.
CELLS = (("binary", 1_000, 300), ("binary", 5_000, 180), ("binary", 20_000, 90),
         ("multiclass7", 1_000, 100), ("multiclass7", 5_000, 60))
REPEATS = 5


def measure_here() -> Dict[str, float]:
    """In the child: the paired focal / built-in ratio of each cell, with this process's boostfocal."""
    sys.path.insert(0, str(HERE))
    from bench_training_speed import XGBoostRun, synthetic

    from boostfocal import BinaryFocalLoss, FocalLoss

    ratios = {}
    for task, n_rows, rounds in CELLS:
        n_classes = 2 if task == "binary" else int(task.removeprefix("multiclass"))
        X, y = synthetic(n_rows, n_classes)
        loss = BinaryFocalLoss(2.0) if n_classes == 2 else FocalLoss(2.0)
        run = XGBoostRun(X, y, n_classes, loss, "cpu")
        for contender in ("builtin", "focal"):  # warm-up: compilation, caches, thread pools
            run.train(contender, 2, None)
        times = {"builtin": [], "focal": []}
        for repeat in range(REPEATS):
            order = ("builtin", "focal") if repeat % 2 == 0 else ("focal", "builtin")
            for contender in order:
                start = time.perf_counter()
                run.train(contender, rounds, None)
                times[contender].append(time.perf_counter() - start)
        ratios[f"{task} {n_rows}"] = float(np.median(np.array(times["focal"]) / np.array(times["builtin"])))
    return ratios


# (classes, layout) of the --kernel cells; each at gamma 2 and 2.5.
KERNEL_CELLS = ((7, "C"), (7, "F"), (10, "C"), (10, "F"), (30, "C"), (40, "C"), (64, "C"), (300, "C"),
                (1000, "C"))
KERNEL_ENTRIES = 3_000_000


def measure_kernels_here() -> Dict[str, float]:
    """In the child: nanoseconds per entry of the serial kernels of this process's boostfocal."""
    from boostfocal.kernels import binary, multiclass

    rng = np.random.default_rng(0)

    def ns_per_entry(kernel, entries, *args) -> float:
        kernel(*args)  # compilation
        times = []
        for _ in range(9):
            start = time.process_time()
            kernel(*args)
            times.append(time.process_time() - start)
        return float(np.median(times) / entries * 1e9)

    result = {}
    for n_classes, layout in KERNEL_CELLS:
        n_rows = KERNEL_ENTRIES // n_classes
        y = rng.integers(0, n_classes, n_rows).astype(np.float32)
        raw = rng.normal(0.0, 2.0, (n_rows, n_classes)).astype(np.float32)
        dtype = np.float32 if layout == "C" else np.float64
        raw = raw if layout == "C" else np.asfortranarray(raw, dtype=dtype)
        out = (np.empty(raw.shape, np.float32, order=layout), np.empty(raw.shape, np.float32, order=layout))
        for gamma in (2.0, 2.5):
            result[f"multiclass K={n_classes} {layout} gamma={gamma}"] = ns_per_entry(
                multiclass.focal_loss_gradient_hessian.serial, raw.size,
                y, raw, np.ones(n_classes), np.empty(0), gamma, multiclass.HESSIAN_PSD, 1e-16, *out)
    n_rows = 2_000_000
    y = (rng.random(n_rows) < 0.3).astype(np.float32)
    raw = rng.normal(0.0, 2.0, n_rows).astype(np.float32)
    for gamma in (2.0, 2.5):
        result[f"binary {gamma=}"] = ns_per_entry(
            binary.focal_loss_gradient_hessian.serial, n_rows, y, raw, np.ones(2), np.empty(0), gamma,
            binary.HESSIAN_PSD, 1e-16, False, np.empty(0), np.empty(n_rows, np.float32),
            np.empty(n_rows, np.float32))
    return result


def measure_checkout(checkout: Path, kernel: bool = False) -> Dict[str, float]:
    environment = dict(os.environ, PYTHONPATH=str(checkout))
    child = ["--child"] + (["--kernel"] if kernel else [])
    output = subprocess.run([sys.executable, str(Path(__file__).resolve()), *child], env=environment,
                            capture_output=True, text=True, check=True, cwd=str(checkout)).stdout
    answer = json.loads(output.strip().splitlines()[-1])
    if Path(answer["boostfocal"]).resolve() != (checkout / "boostfocal" / "__init__.py").resolve():
        raise RuntimeError(f"the child imported boostfocal from {answer['boostfocal']}, not {checkout}")
    return answer["ratios"]


def render_markdown(payload: dict) -> str:
    import common

    env = payload["environment"]
    lines = [
        "# XGBoost focal / built-in training time, two checkouts measured in turn", "",
        f"`{payload['command']}` on {env['date']}: {env.get('cpu_model')}, {env['cpu_count']} CPU cores, "
        f"XGBoost {env['xgboost']}, Numba {env['numba']}; {payload['minutes']:.1f} minutes. "
        f"base: {payload['base']}; new: {payload['new']}. Default threads, wall clock; each entry is "
        f"the median of {REPEATS} paired ratios (focal: loss.xgboost_train) in one child process; the "
        f"children ran base, new, base, new, ...", "",
    ]
    if payload.get("kernel"):
        lines[2] = (f"`{payload['command']}` on {env['date']}: {env.get('cpu_model')}, {env['cpu_count']} "
                    f"CPU cores, Numba {env['numba']}; {payload['minutes']:.1f} minutes. base: {payload['base']}; "
                    f"new: {payload['new']}. Serial kernels, one thread, process CPU time, nanoseconds per "
                    "entry (row x class; per row for binary), medians of 9 calls in one child process; the "
                    "children ran base, new, base, new, ...")
        lines[0] = "# Serial kernel time, two checkouts measured in turn"
        header = ["kernel, classes, layout, gamma", "base: each child", "base median", "new: each child",
                  "new median", "new / base"]
        rows = []
        for cell in payload["base_ratios"][0]:
            base = [r[cell] for r in payload["base_ratios"]]
            new = [r[cell] for r in payload["new_ratios"]]
            rows.append([cell, ", ".join(f"{v:.2f}" for v in base), f"{np.median(base):.2f}",
                         ", ".join(f"{v:.2f}" for v in new), f"{np.median(new):.2f}",
                         f"**{np.median(new) / np.median(base):.2f}**"])
        lines.append(common.markdown_table(header, rows, "lrrrrr"))
        return "\n".join(lines)
    header = ["task", "rows", "base: each pair", "base median", "new: each pair", "new median"]
    rows = []
    for cell in payload["base_ratios"][0]:
        base = [r[cell] for r in payload["base_ratios"]]
        new = [r[cell] for r in payload["new_ratios"]]
        task, n_rows = cell.split()
        rows.append([task, f"{int(n_rows):,}", ", ".join(f"{v:.3f}" for v in base), f"**{np.median(base):.3f}**",
                     ", ".join(f"{v:.3f}" for v in new), f"**{np.median(new):.3f}**"])
    lines.append(common.markdown_table(header, rows, "lrlrlr"))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, help="checkout of the version to compare against")
    parser.add_argument("--new", type=Path, default=HERE.parent, help="checkout of the new version")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--stem", default="xgboost_checkouts")
    parser.add_argument("--kernel", action="store_true", help="time the serial kernels instead of trainings")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import boostfocal

        measured = measure_kernels_here() if args.kernel else measure_here()
        print(json.dumps({"boostfocal": boostfocal.__file__, "ratios": measured}))
        return 0
    if args.base is None:
        parser.error("--base is required")
    sys.path.insert(0, str(HERE))
    import common

    def describe(checkout: Path) -> str:
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--", "boostfocal"],
                               capture_output=True, text=True).stdout.strip()
        return f"{commit or checkout}" + (" with uncommitted changes to boostfocal/" if dirty else "")

    start = time.perf_counter()
    base_ratios, new_ratios = [], []
    for pair in range(args.pairs):
        base_ratios.append(measure_checkout(args.base.resolve(), args.kernel))
        new_ratios.append(measure_checkout(args.new.resolve(), args.kernel))
        print(f"pair {pair + 1}: base {base_ratios[-1]}\n        new  {new_ratios[-1]}", file=sys.stderr, flush=True)
    payload = {
        "environment": common.environment("cpu"),
        "command": "python benchmarks/bench_checkouts.py " + " ".join(
            a for a in (argv if argv is not None else sys.argv[1:])),
        "base": describe(args.base), "new": describe(args.new),
        "minutes": (time.perf_counter() - start) / 60, "kernel": args.kernel,
        "cells": [list(c) for c in (KERNEL_CELLS if args.kernel else CELLS)],
        "base_ratios": base_ratios, "new_ratios": new_ratios,
    }
    markdown = render_markdown(payload)
    print("\n".join(str(p) for p in common.write_results(args.stem, payload, markdown)))
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

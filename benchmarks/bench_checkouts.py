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
    python benchmarks/bench_checkouts.py --base /path/to/old/checkout --kernel --interleaved

With ``--kernel`` each child times instead the serial kernels (``.serial``, one thread, process CPU
time, median of 9 calls after a warm-up) on what the boosters hand over: the multiclass gradient
kernel on float32 C-ordered raw predictions (XGBoost) and float64 Fortran-ordered ones (LightGBM),
3,000,000 entries at 7 to 1,000 classes, gamma 2 and 2.5, and the binary kernel on 2,000,000
float32 margins; in nanoseconds per entry (row x class; a row for the binary kernel).

With ``--kernel --interleaved`` one child process holds both versions of the kernels (the base's
``boostfocal/kernels`` loaded as a second package) and calls them in turn, call by call: a drift of
the shared machine then reaches both sides of each pair alike.

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
    from bench_training_speed import TASKS, XGBoostRun, focal_loss_for, synthetic

    ratios = {}
    for task, n_rows, rounds in CELLS:
        n_classes = TASKS[task]
        X, y = synthetic(n_rows, n_classes)
        loss = focal_loss_for(n_classes)
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


def _kernel_cells():
    """(cell, "multiclass" or "binary", entries, arguments) of the --kernel cells: the same data
    (seeded) for every copy of the kernels that is measured."""
    rng = np.random.default_rng(0)
    psd = 1  # HESSIAN_PSD of both kernel modules
    for n_classes, layout in KERNEL_CELLS:
        n_rows = KERNEL_ENTRIES // n_classes
        y = rng.integers(0, n_classes, n_rows).astype(np.float32)
        raw = rng.normal(0.0, 2.0, (n_rows, n_classes)).astype(np.float32)
        dtype = np.float32 if layout == "C" else np.float64
        raw = raw if layout == "C" else np.asfortranarray(raw, dtype=dtype)
        out = (np.empty(raw.shape, np.float32, order=layout), np.empty(raw.shape, np.float32, order=layout))
        for gamma in (2.0, 2.5):
            yield (f"multiclass K={n_classes} {layout} gamma={gamma}", "multiclass", raw.size,
                   (y, raw, np.ones(n_classes), np.empty(0), gamma, psd, 1e-16, *out))
    n_rows = 2_000_000
    y = (rng.random(n_rows) < 0.3).astype(np.float32)
    raw = rng.normal(0.0, 2.0, n_rows).astype(np.float32)
    for gamma in (2.0, 2.5):
        yield (f"binary {gamma=}", "binary", n_rows,
               (y, raw, np.ones(2), np.empty(0), gamma, psd, 1e-16, False, np.empty(0),
                np.empty(n_rows, np.float32), np.empty(n_rows, np.float32)))


def _serial_kernel(package, kind):
    """The serial gradient kernel of module ``kind`` ("multiclass" or "binary") of a kernels package."""
    import importlib

    return importlib.import_module(f"{package}.{kind}").focal_loss_gradient_hessian.serial


def measure_kernels_here() -> Dict[str, float]:
    """In the child: nanoseconds per entry of the serial kernels of this process's boostfocal."""
    result = {}
    for cell, kind, entries, arguments in _kernel_cells():
        kernel = _serial_kernel("boostfocal.kernels", kind)
        kernel(*arguments)  # compilation
        times = []
        for _ in range(9):
            start = time.process_time()
            kernel(*arguments)
            times.append(time.process_time() - start)
        result[cell] = float(np.median(times) / entries * 1e9)
    return result


INTERLEAVED_CALLS = 15


def measure_kernels_interleaved(base: Path) -> Dict[str, dict]:
    """In the child: the serial kernels of ``base`` and of this process's boostfocal called in turn,
    call by call (base, new, base, new, ...), in one process: the base's ``boostfocal/kernels``
    (which imports only NumPy, Numba and itself) is loaded as a second package, ``base_kernels``.
    Per cell: each side's times (ns an entry) and the per-pair ratios new / base."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="bench_checkouts_"))
    shutil.copytree(base / "boostfocal" / "kernels", folder / "base_kernels",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(folder))
    result = {}
    for cell, kind, entries, arguments in _kernel_cells():
        pair = (_serial_kernel("base_kernels", kind), _serial_kernel("boostfocal.kernels", kind))
        for kernel in pair:
            kernel(*arguments)  # compilation
        times = ([], [])
        for _ in range(INTERLEAVED_CALLS):
            for side, kernel in enumerate(pair):
                start = time.process_time()
                kernel(*arguments)
                times[side].append((time.process_time() - start) / entries * 1e9)
        result[cell] = {"base": times[0], "new": times[1],
                        "ratios": [new / old for old, new in zip(*times)]}
        print(f"{cell}: base min {min(times[0]):.2f}, new min {min(times[1]):.2f} ns an entry, "
              f"median ratio {np.median(result[cell]['ratios']):.3f}", file=sys.stderr, flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def measure_checkout(checkout: Path, kernel: bool = False, interleaved_base: Optional[Path] = None):
    environment = dict(os.environ, PYTHONPATH=str(checkout))
    child = ["--child"] + (["--kernel"] if kernel else [])
    if interleaved_base is not None:
        child += ["--interleaved", "--base", str(interleaved_base)]
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
    if payload.get("interleaved"):
        lines[0] = "# Serial kernel time, two checkouts called in turn in one process"
        lines[2] = (f"`{payload['command']}` on {env['date']}: {env.get('cpu_model')}, {env['cpu_count']} "
                    f"CPU cores, Numba {env['numba']}; {payload['minutes']:.1f} minutes. base: {payload['base']}; "
                    f"new: {payload['new']}. Serial kernels, one thread, process CPU time, nanoseconds per "
                    f"entry (row x class; per row for binary). One child process calls the base's kernels "
                    f"and the new ones in turn, {INTERLEAVED_CALLS} calls each after a warm-up; ratio: "
                    "median of the per-pair ratios new / base (the quartiles beside it).")
        header = ["kernel, classes, layout, gamma", "base min", "base median", "new min", "new median",
                  "new / base", "quartiles"]
        rows = []
        for cell, measured in payload["interleaved_results"].items():
            ratios = np.array(measured["ratios"])
            rows.append([cell, f"{min(measured['base']):.2f}", f"{np.median(measured['base']):.2f}",
                         f"{min(measured['new']):.2f}", f"{np.median(measured['new']):.2f}",
                         f"**{np.median(ratios):.3f}**",
                         f"{np.quantile(ratios, 0.25):.3f}-{np.quantile(ratios, 0.75):.3f}"])
        lines.append(common.markdown_table(header, rows, "lrrrrrr"))
        return "\n".join(lines)
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
    parser.add_argument("--interleaved", action="store_true",
                        help="with --kernel: call both checkouts' kernels in turn in one process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.interleaved and not args.kernel:
        parser.error("--interleaved needs --kernel (trainings of two checkouts cannot share a process)")
    if args.child:
        import boostfocal

        if args.interleaved:
            measured = measure_kernels_interleaved(args.base.resolve())
        else:
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
    if args.interleaved:
        interleaved = measure_checkout(args.new.resolve(), True, interleaved_base=args.base.resolve())
    for pair in range(0 if args.interleaved else args.pairs):
        base_ratios.append(measure_checkout(args.base.resolve(), args.kernel))
        new_ratios.append(measure_checkout(args.new.resolve(), args.kernel))
        print(f"pair {pair + 1}: base {base_ratios[-1]}\n        new  {new_ratios[-1]}", file=sys.stderr, flush=True)
    payload = {
        "environment": common.environment("cpu"),
        "command": common.command_line(__file__, argv),
        "base": describe(args.base), "new": describe(args.new),
        "minutes": (time.perf_counter() - start) / 60, "kernel": args.kernel,
        "cells": [list(c) for c in (KERNEL_CELLS if args.kernel else CELLS)],
        "base_ratios": base_ratios, "new_ratios": new_ratios,
    }
    if args.interleaved:
        payload.update(interleaved=True, interleaved_results=interleaved, calls=INTERLEAVED_CALLS)
    markdown = render_markdown(payload)
    common.publish(args.stem, payload, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Inside XGBoost's callbacks: the focal kernel on Numba's pool or on the calling thread?

At the boosters' default threads (nothing set), XGBoost trainings with ``loss.xgboost_train`` on the
training-speed benchmark's synthetic data, three contenders interleaved in each repeat: the built-in
objective, focal with every gradient call on Numba's pool, and focal with every call serial (the
rule in ``boostfocal.kernels.threads`` patched to always / never). Wall clock, medians of
``--repeats`` after a warm-up; ratios to the built-in. This is the measurement behind
``threads.BOOSTER_PARALLEL_SAVING_FROM``.

    python benchmarks/bench_booster_threads.py      # about 4 minutes on 2 cores

Writes ``benchmarks/results/booster_threads_cpu.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List

import numpy as np

import common
from bench_training_speed import XGBoostRun, synthetic

# (rows, classes (2: binary), rounds)
CELLS = ((200_000, 7, 8), (200_000, 10, 8), (500_000, 2, 12), (2_000_000, 7, 3), (2_000_000, 2, 6))
CONTENDERS = ("builtin", "pool", "serial")


def measure(n_rows: int, n_classes: int, rounds: int, repeats: int) -> Dict[str, object]:
    from boostfocal import BinaryFocalLoss, FocalLoss
    from boostfocal.kernels import threads

    X, y = synthetic(n_rows, n_classes)
    loss = BinaryFocalLoss(2.0) if n_classes == 2 else FocalLoss(2.0)
    run = XGBoostRun(X, y, n_classes, loss, "cpu")
    saved = threads.BOOSTER_PARALLEL_SAVING_FROM
    times: Dict[str, List[float]] = {c: [] for c in CONTENDERS}
    try:
        run.train("builtin", 2, None)  # warm-up: compilation, caches
        run.train("focal", 2, None)
        for repeat in range(repeats):
            for contender in (CONTENDERS if repeat % 2 == 0 else CONTENDERS[::-1]):
                # 0: every call saves enough for the pool; inf: none does.
                threads.BOOSTER_PARALLEL_SAVING_FROM = 0 if contender == "pool" else float("inf")
                start = time.perf_counter()
                run.train("builtin" if contender == "builtin" else "focal", rounds, None)
                times[contender].append(time.perf_counter() - start)
    finally:
        threads.BOOSTER_PARALLEL_SAVING_FROM = saved
    medians = {c: float(np.median(times[c])) for c in CONTENDERS}
    entries = n_rows * (1 if n_classes == 2 else n_classes)
    return {"n_rows": n_rows, "n_classes": n_classes, "rounds": rounds, "repeats": repeats,
            "entries": entries, "times_s": times, "median_s": medians,
            "pool_ratio": medians["pool"] / medians["builtin"],
            "serial_ratio": medians["serial"] / medians["builtin"]}


def render_markdown(payload: dict) -> str:
    env = payload["environment"]
    lines = [
        "# Focal kernel inside XGBoost's callbacks: Numba's pool or the calling thread (default threads)", "",
        f"`python benchmarks/bench_booster_threads.py` on {env['date']}: {env.get('cpu_model')}, "
        f"{env['cpu_count']} CPU cores, XGBoost {env['xgboost']}, Numba {env['numba']}. "
        "`loss.xgboost_train`, gamma = 2, synthetic data of bench_training_speed.py, nothing set "
        "(default threads); wall clock, medians of interleaved repeats, ratios to the built-in objective.", "",
    ]
    header = ["rows", "task", "entries", "rounds x repeats", "built-in s", "focal, pool / built-in",
              "focal, serial / built-in", "faster"]
    rows = []
    for cell in payload["cells"]:
        task = "binary" if cell["n_classes"] == 2 else f"{cell['n_classes']} classes"
        faster = "pool" if cell["pool_ratio"] < cell["serial_ratio"] else "serial"
        rows.append([f"{cell['n_rows']:,}", task, f"{cell['entries']:,}", f"{cell['rounds']} x {cell['repeats']}",
                     f"{cell['median_s']['builtin']:.3f}", f"{cell['pool_ratio']:.3f}",
                     f"{cell['serial_ratio']:.3f}", faster])
    lines.append(common.markdown_table(header, rows))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    payload = {"environment": common.environment("cpu"), "cells": []}
    for n_rows, n_classes, rounds in CELLS:
        cell = measure(n_rows, n_classes, rounds, args.repeats)
        print({k: cell[k] for k in ("n_rows", "n_classes", "pool_ratio", "serial_ratio")},
              file=sys.stderr, flush=True)
        payload["cells"].append(cell)
    markdown = render_markdown(payload)
    print("\n".join(str(p) for p in common.write_results("booster_threads_cpu", payload, markdown)))
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

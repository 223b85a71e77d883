"""Inside the boosters' callbacks: the focal kernel on the booster's OpenMP team, on Numba's pool, or
on the calling thread?

At the boosters' default threads (nothing set), trainings on the training-speed benchmark's synthetic
data, contenders interleaved in each repeat: the built-in objective; for XGBoost, focal with every
gradient call of more than one chunk of rows on XGBoost's own OpenMP team (``team``,
boostfocal/kernels/openmp_team.py; its size rule ``TEAM_FROM_ENTRIES`` lifted, since this benchmark
is what the rule was set from); focal with every gradient
call of more than one chunk of rows on Numba's pool (``pool``) and focal with every call serial
(``serial``), both with the team turned off (``BOOSTFOCAL_OPENMP_TEAM=0``). Wall clock, medians of
``--repeats`` after a warm-up; ratios to the built-in.

* ``--booster xgboost`` (``loss.xgboost_train``): the measurement behind
  ``threads.BOOSTER_PARALLEL_SAVING_FROM`` (XGBoost runs its own OpenMP runtime, a second pool).
* ``--booster lightgbm`` (the objective in params): the measurement behind letting LightGBM's
  callbacks keep the ordinary rules (its Linux wheels run on Numba's own libgomp, one pool).

    python benchmarks/bench_booster_threads.py                      # XGBoost, about 4 minutes on 2 cores
    python benchmarks/bench_booster_threads.py --booster lightgbm   # about 4 minutes
    python benchmarks/bench_booster_threads.py --cells 5000:2:180,5000:7:60 --contenders team,serial

Writes ``benchmarks/results/booster_threads_cpu.json`` and ``.md`` (``--stem`` names them otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, List

import numpy as np

import common
from bench_training_speed import RUNS, focal_loss_for, synthetic

# (rows, classes (2: binary), rounds) per booster. XGBoost: where its rule's threshold falls;
# LightGBM: the cells of the training-speed benchmark where its callbacks go parallel (more than one
# chunk of rows) and the ratio sat near or above its target.
CELLS = {
    "xgboost": ((20_000, 7, 30), (20_000, 2, 90), (200_000, 7, 8), (200_000, 10, 8), (500_000, 2, 12),
                (2_000_000, 7, 3), (2_000_000, 2, 6)),
    "lightgbm": ((5_000, 2, 180), (20_000, 2, 90), (20_000, 7, 30), (200_000, 7, 8), (200_000, 10, 8),
                 (200_000, 2, 24)),
}
CONTENDERS = {"xgboost": ("builtin", "team", "pool", "serial"), "lightgbm": ("builtin", "pool", "serial")}


def measure(booster: str, n_rows: int, n_classes: int, rounds: int, repeats: int,
            contenders=None) -> Dict[str, object]:
    from boostfocal.kernels import openmp_team, threads

    X, y = synthetic(n_rows, n_classes)
    loss = focal_loss_for(n_classes)
    run = RUNS[booster](X, y, n_classes, loss, "cpu")
    saved, team_rule = threads.BOOSTER_PARALLEL_SAVING_FROM, openmp_team.TEAM_FROM_ENTRIES
    contenders = contenders or CONTENDERS[booster]
    times: Dict[str, List[float]] = {c: [] for c in contenders}
    def train(contender, n_rounds):
        threads.set_kernel_threads(1 if contender == "serial" else None)
        os.environ["BOOSTFOCAL_OPENMP_TEAM"] = "1" if contender == "team" else "0"
        run.train("builtin" if contender == "builtin" else "focal", n_rounds, None)

    try:
        # pool: every call of more than one chunk saves enough for it (threshold 0); serial: one
        # kernel thread, which sends every call to the serial compilation (the threshold alone
        # would not: LightGBM's callbacks on the shared pool skip it). Set before the warm-up, so
        # that each contender's warm-up compiles and starts what its timed runs use.
        threads.BOOSTER_PARALLEL_SAVING_FROM = 0
        openmp_team.TEAM_FROM_ENTRIES = 0  # read by each training's team when it is made
        for contender in contenders:
            train(contender, 2)
        for repeat in range(repeats):
            for contender in (contenders if repeat % 2 == 0 else contenders[::-1]):
                start = time.perf_counter()
                train(contender, rounds)
                times[contender].append(time.perf_counter() - start)
    finally:
        threads.BOOSTER_PARALLEL_SAVING_FROM, openmp_team.TEAM_FROM_ENTRIES = saved, team_rule
        threads.set_kernel_threads(None)
        os.environ.pop("BOOSTFOCAL_OPENMP_TEAM", None)
    medians = {c: float(np.median(times[c])) for c in contenders}
    entries = n_rows * (1 if n_classes == 2 else n_classes)
    return {"booster": booster, "n_rows": n_rows, "n_classes": n_classes, "rounds": rounds, "repeats": repeats,
            "entries": entries, "times_s": times, "median_s": medians,
            **{f"{c}_ratio": medians[c] / medians["builtin"] for c in contenders if c != "builtin"}}


def render_markdown(payload: dict) -> str:
    env = payload["environment"]
    booster = payload.get("booster", "xgboost")
    name, version, route = {
        "xgboost": ("XGBoost", env.get("xgboost"), "`loss.xgboost_train`"),
        "lightgbm": ("LightGBM", env.get("lightgbm"), "The objective in params"),
    }[booster]
    lines = [
        f"# Focal kernel inside {name}'s callbacks: the booster's OpenMP team, Numba's pool or the calling thread (default threads)", "",
        f"`{payload.get('command', 'python benchmarks/bench_booster_threads.py')}` on {env['date']}: "
        f"{env.get('cpu_model')}, {env['cpu_count']} CPU cores, {name} {version}, Numba {env['numba']}. "
        f"{route}, gamma = 2, synthetic data of bench_training_speed.py, nothing set "
        "(default threads); wall clock, medians of interleaved repeats, ratios to the built-in objective.", "",
    ]
    focal = [c for c in CONTENDERS[booster]
             if c != "builtin" and any(f"{c}_ratio" in cell for cell in payload["cells"])]
    header = ["rows", "task", "entries", "rounds x repeats", "built-in s"] + [
        f"focal, {c} / built-in" for c in focal] + ["fastest"]
    rows = []
    for cell in payload["cells"]:
        task = "binary" if cell["n_classes"] == 2 else f"{cell['n_classes']} classes"
        fastest = min(focal, key=lambda c: cell.get(f"{c}_ratio", float("inf")))
        rows.append([f"{cell['n_rows']:,}", task, f"{cell['entries']:,}", f"{cell['rounds']} x {cell['repeats']}",
                     f"{cell['median_s']['builtin']:.3f}"]
                    + [f"{cell[f'{c}_ratio']:.3f}" if f"{c}_ratio" in cell else "-" for c in focal] + [fastest])
    lines.append(common.markdown_table(header, rows))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--booster", choices=sorted(CELLS), default="xgboost")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rows", default=None, help="comma-separated row counts: only the cells of these sizes")
    parser.add_argument("--cells", default=None, help="comma-separated rows:classes:rounds (2 classes: binary) "
                        "instead of the booster's cells")
    parser.add_argument("--contenders", default=None, help="comma-separated subset of the booster's contenders "
                        "(builtin always runs)")
    parser.add_argument("--stem", default=None, help="result file names (default: booster_threads_cpu, "
                        "booster_threads_lightgbm_cpu for --booster lightgbm)")
    args = parser.parse_args(argv)
    stem = args.stem or ("booster_threads_cpu" if args.booster == "xgboost" else f"booster_threads_{args.booster}_cpu")
    payload = {"environment": common.environment("cpu"), "booster": args.booster,
               "command": common.command_line(__file__, argv),
               "cells": []}
    cells = CELLS[args.booster]
    if args.cells:
        cells = tuple(tuple(int(float(part)) for part in cell.split(":")) for cell in args.cells.split(","))
        if any(len(cell) != 3 for cell in cells):
            parser.error("--cells: each cell is rows:classes:rounds")
    contenders = None
    if args.contenders:
        chosen = {"builtin", *args.contenders.split(",")}
        if chosen - set(CONTENDERS[args.booster]):
            parser.error(f"unknown contender: {sorted(chosen - set(CONTENDERS[args.booster]))}")
        contenders = tuple(c for c in CONTENDERS[args.booster] if c in chosen)
    sizes = None if args.rows is None else {int(float(r)) for r in args.rows.split(",")}
    if sizes is not None and not any(n_rows in sizes for n_rows, _, _ in cells):
        parser.error(f"--rows: no cell of {sorted(sizes)} rows; the cells have "
                     f"{sorted({n for n, _, _ in cells})}")
    for n_rows, n_classes, rounds in cells:
        if sizes is not None and n_rows not in sizes:
            continue
        cell = measure(args.booster, n_rows, n_classes, rounds, args.repeats, contenders)
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in cell.items()
               if k in ("n_rows", "n_classes") or k.endswith("_ratio")}, file=sys.stderr, flush=True)
        payload["cells"].append(cell)
        # After every cell, so that a run stopped by a time limit keeps the cells it finished.
        markdown = render_markdown(payload)
        paths = common.write_results(stem, payload, markdown)
    print("\n".join(str(p) for p in paths))
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

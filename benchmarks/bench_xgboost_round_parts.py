"""Round by round, where XGBoost's focal training at default threads spends its time against the built-in.

On the training-speed benchmark's data (``bench_training_speed.XGBoostRun``: synthetic, 30 float32
features, depth 6, nothing set for threads), trainings with the built-in objective and with
``loss.xgboost_train`` (gamma 2) alternate; wall-clock timers around the calls record, per round:

* built-in: ``Booster.update`` (its gradient and prediction-cache update included);
* focal: the margins read (``XGBoosterPredictFromDMatrix``), the gradient step (labels and weights
  read, the kernel on XGBoost's OpenMP team) and ``XGBoosterTrainOneIter``.

Round 0 is shown apart from the later rounds: it is where both sides first write their fresh
buffers. ``--no-hugepage-advice`` turns off NumPy's ``madvise(MADV_HUGEPAGE)`` on large arrays for
the run (a private NumPy switch), to see whether the first writes' cost moves. Medians over the
repeats. ``python benchmarks/bench_xgboost_round_parts.py --rows 2000000 --task multiclass10``
writes ``benchmarks/results/xgboost_round_parts_cpu.json`` and ``.md`` (``--stem`` names them).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List

import numpy as np

import common
from bench_training_speed import TASKS, XGBoostRun, focal_loss_for, synthetic
from bench_xgboost_round import timed_methods

def round_parts(n_rows: int, task: str, rounds: int, repeats: int) -> Dict[str, object]:
    import xgboost as xgb

    from boostfocal.adapters import xgboost_capi, xgboost_train

    n_classes = TASKS[task]
    X, y = synthetic(n_rows, n_classes)
    loss = focal_loss_for(n_classes)
    run = XGBoostRun(X, y, n_classes, loss, "cpu", chosen=("builtin", "focal"))
    methods = {
        "builtin update": (xgb.Booster, "update"),
        "focal margins read": (xgboost_capi.PredictionCache, "margins"),
        "focal gradient step": (xgboost_train._PredictionCacheRoute, "gradient_hessian"),
        "focal TrainOneIter": (xgboost_capi.GradientHandOff, "boost"),
    }
    for contender in ("builtin", "focal"):  # warm-up: compilation, first allocations
        run.train(contender, rounds, None)
    whole = {"builtin": [], "focal": []}
    with timed_methods(methods) as spent:
        for _ in range(repeats):
            for contender in ("builtin", "focal"):
                start = time.perf_counter()
                run.train(contender, rounds, None)
                whole[contender].append(time.perf_counter() - start)
    parts = {}
    for name, values in spent.items():
        by_round = np.asarray(values).reshape(repeats, rounds)
        parts[name] = {"round_0_s": float(np.median(by_round[:, 0])),
                       "later_rounds_s": [float(v) for v in np.median(by_round[:, 1:], axis=0)]}
    return {"n_rows": n_rows, "task": task, "rounds": rounds, "repeats": repeats,
            "builtin_s": float(np.median(whole["builtin"])), "focal_s": float(np.median(whole["focal"])),
            "ratio": float(np.median(whole["focal"]) / np.median(whole["builtin"])), "parts": parts}


def render_markdown(payload: dict) -> str:
    env = payload["environment"]
    lines = ["# XGBoost rounds at default threads: built-in update against the focal round's parts", "",
             f"`{payload['command']}` on {env['date']}: {env['cpu_model']}, {env['cpu_count']} CPU cores, "
             f"XGBoost {env['xgboost']}, NumPy huge-page advice {payload['hugepage_advice']}. Wall clock, "
             "medians over interleaved repeats (built-in and focal trainings alternate).", ""]
    for row in payload["rows"]:
        lines += [f"**{row['task']}, {row['n_rows']:,} rows, {row['rounds']} rounds x {row['repeats']}**: "
                  f"whole trainings built-in {row['builtin_s']:.3f} s, focal {row['focal_s']:.3f} s, "
                  f"focal / built-in **{row['ratio']:.3f}**.", ""]
        table: List[List[str]] = []
        for name, part in row["parts"].items():
            later = part["later_rounds_s"]
            table.append([name, f"{part['round_0_s'] * 1e3:.2f}",
                          f"{min(later) * 1e3:.2f}-{max(later) * 1e3:.2f}" if later else "-"])
        lines += [common.markdown_table(["call", "round 0, ms", "later rounds, ms (medians by round)"], table), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2000000", help="comma-separated row counts")
    parser.add_argument("--task", default="multiclass10", choices=sorted(TASKS))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-hugepage-advice", action="store_true",
                        help="turn off NumPy's madvise(MADV_HUGEPAGE) on large arrays for the run")
    parser.add_argument("--stem", default="xgboost_round_parts_cpu", help="result file names")
    args = parser.parse_args(argv)
    if args.no_hugepage_advice:
        np._core.multiarray._set_madvise_hugepage(False)
    payload = {"environment": common.environment("cpu"), "command": common.command_line(__file__, argv),
               "hugepage_advice": "off" if args.no_hugepage_advice else "on (NumPy's default)", "rows": []}
    for n_rows in (int(n) for n in args.rows.split(",")):
        payload["rows"].append(round_parts(n_rows, args.task, args.rounds, args.repeats))
    markdown = render_markdown(payload)
    common.publish(args.stem, payload, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

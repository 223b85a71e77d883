"""The floor of any gradient computed outside XGBoost: the focal route with its gradient step replaced
by handing over gradients recorded beforehand.

``loss.xgboost_train`` (the ``focal`` contender of bench_training_speed.py) spends each round on

* what any objective computed outside XGBoost must do: read the margins, hand gradient buffers to
  ``XGBoosterTrainOneIter``, which copies them into a container it allocates for the call (XGBoost
  3.2 c_api.cc), and the Python loop around it;
* computing the focal gradient: the kernel with its checks of labels, weights and margins, writing
  buffers of its own (fresh memory in the first round of each training).

The ``replay`` contender keeps the first and drops the second: the same route class
(``adapters.xgboost_train._PredictionCacheRoute``: the same margins read, labels and weights read
and checked, loop and hand-off), but its gradient step hands over the buffers of that round, filled
before any timing with the focal gradients recorded in an ``xgboost.train(obj=loss.xgboost_objective)``
training: no gradient computed, no buffer written. So it grows the focal trees, checked: its margins
after the last round equal the focal contender's, bit for bit, or the script stops. Then

* replay / built-in: what the hand-off and the focal trees cost against the built-in, with a
  gradient that costs nothing;
* focal / replay: what computing the focal gradient into its buffers costs on top, with the route's
  set-up at the start of each training, which the replay skips (alpha resolved from the labels, the
  team found, the buffers and their array interfaces made). The replay's buffers were written before
  the timings, so they are cold in the caches where the focal route's were just written: if
  anything, the floor reads a little high.

Binary tasks add ``replay_gamma0``: the recorded gradients of ``BinaryFocalLoss(0.0)``, the logistic
loss with the built-in's own gradient, Hessian and (nearly) trees (bench_training_speed.py's
``gamma0``; the bit-for-bit check is the focal replay's only). replay_gamma0 / built-in is the
hand-off against the built-in's computing its own gradient inside XGBoost (so below 1 where that
step weighs more than the hand-off); replay / replay_gamma0 is the focal trees alone (their leaves
per round are listed).

The cells, timed as bench_training_speed.py times them (its ``time_pair``: interleaved rotations
after a warm-up, wall clock at default threads, process CPU time at 1 thread), default: the three
XGBoost cells out of target in its runs of stop 30. ``--cells task:rows:threads,...``, or ``all``:
its whole XGBoost grid (about 20 minutes on 2 cores).

    python benchmarks/bench_xgboost_handoff_floor.py
    python benchmarks/bench_xgboost_handoff_floor.py --cells binary:200000:default --repeats 15
    python benchmarks/bench_xgboost_handoff_floor.py --cells all --stem xgboost_handoff_floor_cpu_all

Writes ``benchmarks/results/xgboost_handoff_floor_cpu.json`` and ``.md`` (``--stem`` names them).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

import common
from bench_training_speed import (REPEATS, ROWS, TASKS, XGBoostRun, focal_loss_for, rounds_for, synthetic,
                                  time_pair)

DEFAULT_CELLS = "binary:1000:1,binary:200000:default,multiclass10:2000000:default"
# --cells all: bench_training_speed.py's XGBoost grid, in its order.
ALL_CELLS = ",".join(f"{task}:{rows}:{threads}" for rows in ROWS for task in TASKS for threads in ("default", "1"))


def recorded_gradients(loss, params: dict, dtrain,
                       rounds: int) -> Tuple[List[Tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """(the (gradient, Hessian) of each round of ``xgboost.train(obj=loss.xgboost_objective)``, copied
    as float32 in the margins' shape; that training's margins of dtrain after the last round)."""
    import xgboost as xgb

    recorded = []

    def recording_objective(predt, dmatrix):
        gradient, hessian = loss.xgboost_objective(predt, dmatrix)
        recorded.append((np.array(gradient, dtype=np.float32).reshape(predt.shape),
                         np.array(hessian, dtype=np.float32).reshape(predt.shape)))
        return gradient, hessian

    booster = xgb.train(params, dtrain, rounds, obj=recording_objective)
    return recorded, booster.predict(dtrain, output_margin=True)


def replay_route(loss, hand_offs):
    """The focal route (margins read, labels and weights read and checked) with the gradient step
    replaced by handing over the round's recorded buffers: no gradient computed, no buffer written."""
    from boostfocal.adapters import xgboost_train

    class ReplayRoute(xgboost_train._PredictionCacheRoute):
        def __init__(self):
            super().__init__(loss, 0)
            self._round = 0

        def gradient_hessian(self, dmatrix, margins):
            self._checked_inputs(dmatrix, margins, training=True)
            self._hand_off = hand_offs[self._round]
            self._round += 1
            return self._hand_off.gradient, self._hand_off.hessian

    return ReplayRoute()


def hand_offs_of(recorded):
    """One ``GradientHandOff`` per round holding that round's recorded gradient and Hessian (its
    array interfaces made and its memory written once, before any timing)."""
    from boostfocal.adapters import xgboost_capi

    hand_offs = []
    for gradient, hessian in recorded:
        hand_off = xgboost_capi.GradientHandOff(gradient.shape, gradient.dtype)
        np.copyto(hand_off.gradient, gradient)
        np.copyto(hand_off.hessian, hessian)
        hand_offs.append(hand_off)
    return hand_offs


class HandoffFloorRun(XGBoostRun):
    """bench_training_speed's XGBoost data set with the replay contenders (recorded for ``rounds``)."""

    def __init__(self, X, y, n_classes, loss, rounds: int):
        super().__init__(X, y, n_classes, loss, "cpu", chosen=("builtin", "focal", "gamma0"))
        sources = {"replay": (loss, self.focal_params)}
        if n_classes == 2:
            sources["replay_gamma0"] = (self.gamma0, self.gamma0_params)
        # contender -> (loss, params, one hand-off per round); the focal margins after the last round.
        self.replays: Dict[str, tuple] = {}
        for contender, (source_loss, params) in sources.items():
            recorded, end = recorded_gradients(source_loss, params, self.dtrain, rounds)
            self.replays[contender] = (source_loss, params, hand_offs_of(recorded))
            if contender == "replay":
                focal_end = end
        self.contenders = ("builtin", "focal", *sources)
        # The replay must grow the focal trees: same margins after the last round, bit for bit.
        replay_end = self.train("replay", rounds, None).predict(self.dtrain, output_margin=True)
        if not np.array_equal(replay_end, focal_end):
            raise AssertionError("the replayed gradients did not grow the focal trees")
        focal_route_end = super().train("focal", rounds, None).predict(self.dtrain, output_margin=True)
        if not np.array_equal(focal_route_end, focal_end):
            raise AssertionError("loss.xgboost_train did not grow xgboost.train(obj=...)'s trees")

    def train(self, contender: str, rounds: int, threads: Optional[int]):
        if contender not in self.replays:
            return super().train(contender, rounds, threads)
        from boostfocal.adapters import xgboost_train

        replay_loss, params, hand_offs = self.replays[contender]
        extra = {} if threads is None else {"nthread": threads}
        return xgboost_train._train_loop(
            replay_route(replay_loss, hand_offs), {**params, **extra}, self.dtrain, rounds, evals=[],
            early_stopping_rounds=None, verbose_eval=False, xgb_model=None, callbacks=None,
            evals_result=None, maximize=None, features=None, missing=np.nan)


def measure_cell(task: str, n_rows: int, setting: str, repeats: Optional[int]) -> dict:
    n_classes = TASKS[task]
    rounds = rounds_for(n_rows, task)
    repeats = repeats or REPEATS.get(n_rows, 3)
    X, y = synthetic(n_rows, n_classes)
    loss = focal_loss_for(n_classes)
    run = HandoffFloorRun(X, y, n_classes, loss, rounds)
    threads = None if setting == "default" else int(setting)
    timed = time_pair(run, rounds, repeats, threads)
    clock = "raw_wall_s" if timed["clock"] == "wall" else "raw_cpu_s"
    medians = {c: float(np.median(v)) for c, v in timed[clock].items()}
    entry = {"task": task, "n_rows": n_rows, "threads": setting, "rounds": rounds, "repeats": repeats,
             "clock": timed["clock"], "median_s": medians, "leaves_per_round": timed["leaves_per_round"],
             "raw_s": timed[clock]}
    entry["ratios"] = {
        "focal / built-in": medians["focal"] / medians["builtin"],
        "replay / built-in": medians["replay"] / medians["builtin"],
        "focal / replay": medians["focal"] / medians["replay"],
    }
    if "replay_gamma0" in medians:
        entry["ratios"]["replay_gamma0 / built-in"] = medians["replay_gamma0"] / medians["builtin"]
        entry["ratios"]["replay / replay_gamma0"] = medians["replay"] / medians["replay_gamma0"]
    return entry


def render_markdown(payload: dict) -> str:
    env = payload["environment"]
    lines = ["# XGBoost: the hand-off floor (recorded focal gradients replayed through the focal route)", "",
             f"`{payload['command']}` on {env['date']}: {env['cpu_model']}, {env['cpu_count']} CPU cores, "
             f"XGBoost {env['xgboost']}, Numba {env['numba']}. As bench_training_speed.py: interleaved "
             "rotations after a warm-up, wall clock at default threads, process CPU time at 1 thread; "
             "medians. replay: the focal route handing over recorded focal gradients, none computed "
             "(the same trees, checked bit for bit); replay_gamma0 (binary): the same with the "
             "logistic loss's gradients, the built-in's trees.", ""]
    names = ["focal / built-in", "replay / built-in", "focal / replay", "replay_gamma0 / built-in",
             "replay / replay_gamma0"]
    header = ["task", "rows", "threads", "rounds x repeats", "built-in s"] + names + ["leaves per round"]
    table = []
    for row in payload["rows"]:
        ratios = row["ratios"]
        table.append([row["task"], f"{row['n_rows']:,}", row["threads"], f"{row['rounds']} x {row['repeats']}",
                      f"{row['median_s']['builtin']:.3f}"]
                     + [f"{ratios[n]:.3f}" if n in ratios else "-" for n in names]
                     + [", ".join(f"{c} {v:.1f}" for c, v in row["leaves_per_round"].items())])
    lines.append(common.markdown_table(header, table, "llll" + "r" * 6 + "l"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default=DEFAULT_CELLS, help="comma-separated task:rows:threads, or all")
    parser.add_argument("--repeats", type=int, default=None, help="default: bench_training_speed's per size")
    parser.add_argument("--stem", default="xgboost_handoff_floor_cpu", help="result file names")
    args = parser.parse_args(argv)
    payload = {"environment": common.environment("cpu"), "command": common.command_line(__file__, argv),
               "rows": []}
    start = time.perf_counter()
    for cell in (ALL_CELLS if args.cells == "all" else args.cells).split(","):
        task, rows, setting = cell.split(":")
        entry = measure_cell(task, int(float(rows)), setting, args.repeats)
        payload["rows"].append(entry)
        print(f"[{time.perf_counter() - start:6.1f}s] {cell}: "
              + ", ".join(f"{k} {v:.3f}" for k, v in entry["ratios"].items()), file=sys.stderr, flush=True)
        common.write_results(args.stem, payload, render_markdown(payload))  # a cut-off run keeps its cells
    common.publish(args.stem, payload, render_markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The focal metric of ``loss.xgboost_train``'s evaluation sets: on XGBoost's OpenMP team or serial?

At XGBoost's default threads (nothing set), trainings with an evaluation set as large as the
training set, contenders interleaved in each repeat: the built-in ``multi:softprob`` /
``binary:logistic`` with its own log loss on both sets; focal with the metric's per-sample losses
on XGBoost's team (``team``, the default since stop 28); focal with the metric on the calling
thread (``serial``, as before: the route's ``mean_loss`` given no team). The gradients run on the
team in both focal contenders. Wall clock, medians of ``--repeats`` after a warm-up; ratios to
the built-in.

    python benchmarks/bench_eval_metric.py      # about 5 minutes on 2 cores

Writes ``benchmarks/results/eval_metric_cpu.json`` and ``.md`` (``--stem`` names them otherwise).
"""

from __future__ import annotations

import argparse
import time
from typing import Dict, List

import numpy as np

import common
from bench_training_speed import focal_loss_for, synthetic

# (training rows, classes (2: binary), rounds); the evaluation set has as many rows again.
CELLS = ((50_000, 7, 20), (200_000, 7, 8), (200_000, 2, 24))
CONTENDERS = ("builtin", "team", "serial")


def measure(n_rows: int, n_classes: int, rounds: int, repeats: int) -> Dict[str, object]:
    import xgboost as xgb

    from boostfocal.adapters import xgboost_train

    X, y = synthetic(2 * n_rows, n_classes)
    dtrain = xgb.QuantileDMatrix(X[:n_rows], label=y[:n_rows])
    dvalid = xgb.QuantileDMatrix(X[n_rows:], label=y[n_rows:], ref=dtrain)
    evals = [(dtrain, "train"), (dvalid, "valid")]
    params = {"tree_method": "hist", "max_depth": 6, "learning_rate": 0.1, "seed": 0}
    binary = n_classes == 2
    loss = focal_loss_for(n_classes)
    builtin = {**params, **({"objective": "binary:logistic", "eval_metric": "logloss"} if binary else
                            {"objective": "multi:softprob", "num_class": n_classes, "eval_metric": "mlogloss"})}
    focal = {**params, **({} if binary else {"num_class": n_classes})}
    route = xgboost_train._PredictionCacheRoute
    on_team = route.mean_loss

    def serial_metric(self, dmatrix, margins):
        labels, _, weights = self._checked_inputs(dmatrix, margins, training=False)
        with xgboost_train.inside_booster():
            return self.loss._mean_loss(labels, margins, weights, None)

    def train(contender: str, n_rounds: int) -> float:
        route.mean_loss = serial_metric if contender == "serial" else on_team
        start = time.perf_counter()
        try:
            if contender == "builtin":
                xgb.train(builtin, dtrain, n_rounds, evals=evals, verbose_eval=False)
            else:
                loss.xgboost_train(focal, dtrain, n_rounds, evals=evals, verbose_eval=False)
        finally:
            route.mean_loss = on_team
        return time.perf_counter() - start

    for contender in CONTENDERS:  # warm-up: compilation, XGBoost's threads
        train(contender, 2)
    times: Dict[str, List[float]] = {c: [] for c in CONTENDERS}
    for repeat in range(repeats):
        order = CONTENDERS if repeat % 2 == 0 else CONTENDERS[::-1]
        for contender in order:
            times[contender].append(train(contender, rounds))
    medians = {c: float(np.median(t)) for c, t in times.items()}
    return {"rows": n_rows, "classes": n_classes, "rounds": rounds, "repeats": repeats, "times": times,
            "medians": medians,
            "ratios": {c: medians[c] / medians["builtin"] for c in ("team", "serial")}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stem", default="eval_metric_cpu")
    args = parser.parse_args(argv)
    env = common.environment()
    runs = []
    for n_rows, n_classes, rounds in CELLS:
        runs.append(measure(n_rows, n_classes, rounds, args.repeats))
        run = runs[-1]
        print(f"{n_rows} x {n_classes}: team {run['ratios']['team']:.3f}, serial {run['ratios']['serial']:.3f}",
              flush=True)
    rows = [[f"{r['rows']:,} x {'binary' if r['classes'] == 2 else r['classes']}", f"{r['rounds']} x {r['repeats']}",
             f"{r['medians']['builtin']:.3f}", f"{r['medians']['team']:.3f}", f"{r['medians']['serial']:.3f}",
             f"**{r['ratios']['team']:.3f}**", f"{r['ratios']['serial']:.3f}"] for r in runs]
    markdown = "\n\n".join([
        "# The focal metric of evaluation sets: on XGBoost's team or serial (default threads)",
        f"`{common.command_line(__file__, argv)}` on {env['date']}: {env['cpu_model']}, {env['cpu_count']} CPU "
        f"cores (load average {env['load_average_at_start'][0]:.1f} at the start), XGBoost {env.get('xgboost')}. "
        "Synthetic data of bench_training_speed.py; an evaluation set as large as the training set, "
        "both evaluated every round; depth 6; wall clock, medians of interleaved repeats after a warm-up.",
        common.markdown_table(
            ["training rows (and as many evaluated)", "rounds x repeats", "built-in s", "focal, metric on team s",
             "focal, metric serial s", "team / built-in", "serial / built-in"], rows),
    ])
    for path in common.write_results(args.stem, {"environment": env, "runs": runs}, markdown):
        print(path)


if __name__ == "__main__":
    main()

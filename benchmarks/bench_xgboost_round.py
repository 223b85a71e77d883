"""Where an XGBoost round with a Python objective spends its time, one thread, binary task.

Measures, on the training-speed benchmark's synthetic data (30 float32 features, depth 6) at 1,000
and 20,000 rows, with ``nthread=1``:

* ``update`` vs ``TrainOneIter``: a built-in ``binary:logistic`` round (``Booster.update``, gradient
  included) against ``XGBoosterTrainOneIter`` alone on a second booster fed the built-in's own
  gradient from NumPy, so that both grow the same trees (leaf counts are reported);
* reading the margins after a round: ``Booster.predict(output_margin=True, training=True)`` against
  :class:`boostfocal.adapters.xgboost_capi.PredictionCache`, alternating round by round;
* reading labels and weights: ``DMatrix.get_label()`` + ``get_weight()`` against the
  :class:`boostfocal.adapters.xgboost_capi.FloatInfo` readers the loop keeps;
* the parts of a ``loss.xgboost_train`` round (``BinaryFocalLoss(2.0)``) outside ``TrainOneIter``:
  margins read, gradient step (labels and weights read and checked where they changed, kernel) and,
  within it, the labels and weights alone, ``eval_set``;
* whole trainings as the training-speed benchmark runs them (``bench_training_speed.XGBoostRun``,
  its rounds, 5 interleaved repeats, process CPU time): the built-in's time in ``Booster.update``
  and the focal one's in ``XGBoosterTrainOneIter`` (the C side: trees, and the built-in's gradient),
  the rest of each training (Python), and the leaves each grows per round.

Medians over the rounds. ``python benchmarks/bench_xgboost_round.py`` (under a minute) writes
``benchmarks/results/xgboost_round_cpu.json`` and ``.md``; ``--rows`` picks the sizes and ``--stem``
names the files otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Callable, Dict, List

import numpy as np

import common
from bench_training_speed import log_priors, synthetic

ROWS = (1_000, 20_000)
ROUNDS = 200


@contextlib.contextmanager
def timed_methods(methods: Dict[str, tuple], clock: Callable[[], float] = time.perf_counter):
    """Inside the block, each ``owner.attr`` of ``methods`` (name -> (owner, attr)) appends the
    ``clock`` time of each call to the list yielded under its name; restored on leaving."""
    spent: Dict[str, List[float]] = {name: [] for name in methods}
    originals = {name: getattr(owner, attr) for name, (owner, attr) in methods.items()}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            start = clock()
            result = function(*args, **kwargs)
            spent[name].append(clock() - start)
            return result
        return wrapper

    try:
        for name, (owner, attr) in methods.items():
            setattr(owner, attr, timed(name, originals[name]))
        yield spent
    finally:
        for name, (owner, attr) in methods.items():
            setattr(owner, attr, originals[name])


def _median_us(values) -> float:
    return float(np.median(values) * 1e6)


def update_against_train_one_iter(n_rows: int) -> Dict[str, float]:
    import xgboost as xgb

    from boostfocal.adapters import xgboost_capi

    X, y = synthetic(n_rows, 2)
    labels = y.astype(np.float32)
    dtrain = xgb.QuantileDMatrix(X, label=y)
    params = {"tree_method": "hist", "max_depth": 6, "learning_rate": 0.1, "seed": 0, "verbosity": 0,
              "max_bin": 256, "nthread": 1, "objective": "binary:logistic"}
    builtin = xgb.Booster(params, [dtrain])
    # The built-in starts from the fitted intercept; the custom booster from the same margin.
    prior = float(log_priors(y, 2))
    custom = xgb.Booster({**params, "base_score": 1.0 / (1.0 + np.exp(-prior))}, [dtrain])
    cache = xgboost_capi.PredictionCache(custom, dtrain, training=True)
    hand_off = xgboost_capi.GradientHandOff((n_rows,), np.float32)
    updates, train_one_iters, reads_python, reads_direct = [], [], [], []
    for iteration in range(ROUNDS):
        start = time.perf_counter()
        builtin.update(dtrain, iteration)
        updates.append(time.perf_counter() - start)
        start = time.perf_counter()
        if iteration % 2:  # alternate: the first read after a round pays for cold caches
            margins = custom.predict(dtrain, output_margin=True, training=True)
            reads_python.append(time.perf_counter() - start)
        else:
            margins = cache.margins()
            reads_direct.append(time.perf_counter() - start)
        p = 1.0 / (1.0 + np.exp(-margins))  # XGBoost's logistic gradient and Hessian (floor 1e-16)
        hand_off.gradient[:] = p - labels
        hand_off.hessian[:] = np.maximum(p * (1.0 - p), 1e-16)
        start = time.perf_counter()
        hand_off.boost(custom, dtrain, iteration)
        train_one_iters.append(time.perf_counter() - start)

    def leaves(booster):
        return sum(tree.count("leaf=") for tree in booster.get_dump())

    label_reads, view_reads = [], []
    label_reader = xgboost_capi.FloatInfo(dtrain, "label")
    weight_reader = xgboost_capi.FloatInfo(dtrain, "weight")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        dtrain.get_label(), dtrain.get_weight()
        label_reads.append(time.perf_counter() - start)
        start = time.perf_counter()
        label_reader.read(), weight_reader.read()
        view_reads.append(time.perf_counter() - start)
    return {
        "update_us": _median_us(updates), "train_one_iter_us": _median_us(train_one_iters),
        "leaves_builtin": leaves(builtin), "leaves_custom": leaves(custom),
        "predict_read_us": _median_us(reads_python), "cache_read_us": _median_us(reads_direct),
        "get_label_weight_us": _median_us(label_reads), "float_info_us": _median_us(view_reads),
    }


def focal_round_parts(n_rows: int) -> Dict[str, float]:
    """Median time per round of each part of a loss.xgboost_train round, by wrapping them."""
    import xgboost as xgb

    from boostfocal import BinaryFocalLoss
    from boostfocal.adapters import xgboost_capi, xgboost_train

    X, y = synthetic(n_rows, 2)
    dtrain = xgb.QuantileDMatrix(X, label=y)
    loss = BinaryFocalLoss(2.0)
    params = {"tree_method": "hist", "max_depth": 6, "learning_rate": 0.1, "seed": 0, "verbosity": 0,
              "max_bin": 256, "nthread": 1}
    parts = {
        "train_one_iter": (xgboost_capi.GradientHandOff, "boost"),
        "margins_read": (xgboost_capi.PredictionCache, "margins"),
        "gradient_step": (xgboost_train._PredictionCacheRoute, "gradient_hessian"),
        "inputs_read": (xgboost_train._CheckedInputs, "read"),
        "eval_set": (xgb.Booster, "eval_set"),
    }
    loss.xgboost_train(params, dtrain, 3, verbose_eval=False)  # compile and load the kernel first
    with timed_methods(parts) as spent:
        start = time.perf_counter()
        loss.xgboost_train(params, dtrain, ROUNDS, verbose_eval=False)
        total = time.perf_counter() - start
    result = {f"{name}_us": _median_us(values) for name, values in spent.items()}
    result["round_us_mean"] = total / ROUNDS * 1e6
    return result


def whole_training_split(n_rows: int) -> Dict[str, float]:
    """CPU seconds of whole trainings, split into the C side and the rest (medians of 5 repeats)."""
    import xgboost as xgb

    from bench_training_speed import XGBoostRun, rounds_for

    from boostfocal import BinaryFocalLoss
    from boostfocal.adapters import xgboost_capi

    X, y = synthetic(n_rows, 2)
    run = XGBoostRun(X, y, 2, BinaryFocalLoss(2.0), "cpu")
    rounds = rounds_for(n_rows, "binary")
    c_side = {"builtin": (xgb.Booster, "update"), "focal": (xgboost_capi.GradientHandOff, "boost")}
    totals: Dict[str, List[float]] = {c: [] for c in c_side}
    in_c: Dict[str, List[float]] = {c: [] for c in c_side}
    leaves: Dict[str, float] = {}
    for contender in c_side:  # warm-up: compilation, caches
        run.train(contender, 2, 1)
    with timed_methods(c_side, time.process_time) as spent:
        for repeat in range(5):
            for contender in (("builtin", "focal") if repeat % 2 == 0 else ("focal", "builtin")):
                spent[contender].clear()
                start = time.process_time()
                booster = run.train(contender, rounds, 1)
                totals[contender].append(time.process_time() - start)
                in_c[contender].append(sum(spent[contender]))
                leaves[contender] = run.leaves(booster) / rounds
    result = {"split_rounds": rounds}
    for contender in c_side:
        total, c_time = np.array(totals[contender]), np.array(in_c[contender])
        result[f"{contender}_total_s"] = float(np.median(total))
        result[f"{contender}_c_s"] = float(np.median(c_time))
        result[f"{contender}_rest_s"] = float(np.median(total - c_time))
        result[f"{contender}_leaves"] = leaves[contender]
    return result


def render_markdown(payload: dict) -> str:
    env = payload["environment"]
    lines = [
        "# Where an XGBoost round with a Python objective spends its time (binary, 1 thread)", "",
        f"`{payload.get('command', 'python benchmarks/bench_xgboost_round.py')}` on {env['date']}: {env.get('cpu_model')}, "
        f"{env['cpu_count']} CPU cores, XGBoost {env['xgboost']}, Numba {env['numba']}; medians over "
        f"{ROUNDS} rounds, microseconds. Synthetic data of bench_training_speed.py, depth 6, nthread=1.", "",
    ]
    if payload.get("package_under_test"):  # a run against another checkout's package, noted by hand
        lines += [f"Package measured: {payload['package_under_test']}", ""]
    header = ["rows", "built-in update", "TrainOneIter (same trees)", "leaves (built-in, custom)",
              "Booster.predict read", "PredictionCache read", "get_label + get_weight", "FloatInfo reads x2",
              "xgboost_train round (mean)", "its TrainOneIter", "its margins read", "its gradient step",
              "of which labels and weights", "its eval_set"]
    rows = []
    for r in payload["rows"]:
        rows.append([f"{r['n_rows']:,}", f"{r['update_us']:.0f}", f"{r['train_one_iter_us']:.0f}",
                     f"{r['leaves_builtin']}, {r['leaves_custom']}", f"{r['predict_read_us']:.0f}",
                     f"{r['cache_read_us']:.0f}", f"{r['get_label_weight_us']:.1f}", f"{r['float_info_us']:.1f}",
                     f"{r['round_us_mean']:.0f}", f"{r['train_one_iter_us_focal']:.0f}",
                     f"{r['margins_read_us']:.0f}", f"{r['gradient_step_us']:.0f}",
                     f"{r['inputs_read_us']:.0f}" if "inputs_read_us" in r else "-", f"{r['eval_set_us']:.0f}"])
    lines.append(common.markdown_table(header, rows, "l" + "r" * 13))
    lines += ["", "Whole trainings, one thread, process CPU seconds (medians of 5 interleaved repeats; C side: "
              "the built-in's Booster.update, the focal one's XGBoosterTrainOneIter):", ""]
    header = ["rows", "rounds", "built-in total", "its C side", "its rest", "focal total", "its C side",
              "its rest", "focal / built-in: total", "C side", "leaves per round (built-in, focal)"]
    rows = []
    for r in payload["rows"]:
        rows.append([f"{r['n_rows']:,}", str(r["split_rounds"]), f"{r['builtin_total_s']:.3f}",
                     f"{r['builtin_c_s']:.3f}", f"{r['builtin_rest_s']:.3f}", f"{r['focal_total_s']:.3f}",
                     f"{r['focal_c_s']:.3f}", f"{r['focal_rest_s']:.3f}",
                     f"{r['focal_total_s'] / r['builtin_total_s']:.3f}", f"{r['focal_c_s'] / r['builtin_c_s']:.3f}",
                     f"{r['builtin_leaves']:.1f}, {r['focal_leaves']:.1f}"])
    lines.append(common.markdown_table(header, rows, "l" + "r" * 10))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(str(n) for n in ROWS), help="comma-separated row counts")
    parser.add_argument("--stem", default="xgboost_round_cpu", help="result file names")
    args = parser.parse_args(argv)
    payload = {"environment": common.environment("cpu"), "command": common.command_line(__file__, argv),
               "rows": []}
    for n_rows in (int(n) for n in args.rows.split(",")):
        row = {"n_rows": n_rows, **update_against_train_one_iter(n_rows)}
        focal = focal_round_parts(n_rows)
        row["train_one_iter_us_focal"] = focal.pop("train_one_iter_us")
        row.update(focal)
        row.update(whole_training_split(n_rows))
        payload["rows"].append(row)
        print(row, file=sys.stderr, flush=True)
    markdown = render_markdown(payload)
    common.publish(args.stem, payload, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

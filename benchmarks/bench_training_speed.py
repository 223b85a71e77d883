"""Training time with the focal objective divided by training time with the built-in softmax.

Side by side in one process, on the same synthetic data, rounds, tree shape and threads, repeats
interleaved (softmax, focal, focal-lean, softmax, ...) so that load changes on a shared machine
hit every contender alike; medians of the repeats; a warm-up run of each contender first (Numba
compilation, XGBoost's histogram index and LightGBM's Dataset are built outside the timings).

Contenders, per booster:

* ``softmax``: ``multi:softprob`` (XGBoost ``hist``) / ``multiclass`` (LightGBM), built in.
* ``focal``: the public route, ``obj=loss.xgboost_objective`` / ``params["objective"] =
  loss.lightgbm_objective``, starting from ``loss.init_raw_prediction``.
* ``focal-lean``: the same loss, called as ``loss.gradient_hessian(labels, margins)`` with the int64
  labels cached once, i.e. without the adapters' per-round label fetch and checks. The gap between
  ``focal`` and ``focal-lean`` is what the adapters cost.

A separate instrumented run splits one focal round into: margin fetch (the booster copying its
margins to NumPy), label fetch (adapter), the objective (adapter checks + validation + kernel),
the kernel alone (``gradient_hessian`` on cached labels), and the booster's own update with our
gradients (hand-back + tree building), next to the softmax round (built-in gradient + trees).

    python benchmarks/bench_training_speed.py                       # CPU, full sizes
    python benchmarks/bench_training_speed.py --sizes small         # a quick run
    python benchmarks/bench_training_speed.py --device cuda         # GPU machine, < 5 min

Writes ``benchmarks/results/speed_<device>[_small].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, Optional

import numpy as np

import common
from boostfocal import FocalLoss

SIZES = {
    "full": [(500_000, 50, 7), (2_000_000, 50, 10)],
    "small": [(100_000, 50, 7), (200_000, 50, 10)],
    "tiny": [(20_000, 20, 7)],  # smoke test of the script
}


def synthetic(n_rows: int, n_features: int, n_classes: int, seed: int = 0):
    """float32 features; labels from a noisy linear model with geometric class priors (the rarest
    class holds about 1-2% of the rows), so that trees have something to learn."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    weights = rng.standard_normal((n_features, n_classes)).astype(np.float32) / np.sqrt(n_features)
    priors = 0.6 ** np.arange(n_classes)
    logits = X @ weights * 2.0 + np.log(priors / priors.sum()).astype(np.float32)
    logits += rng.gumbel(size=logits.shape).astype(np.float32)  # Gumbel-max: sampling from softmax
    return X, logits.argmax(axis=1).astype(np.int64)


def _clocks():
    return time.perf_counter(), time.process_time()


def _timed(clock, call):
    """(result of call(), seconds it took by ``clock``)."""
    start = clock()
    result = call()
    return result, clock() - start


def _elapsed(start):
    """(wall seconds, CPU seconds of this process) since ``start``."""
    wall, cpu = _clocks()
    return wall - start[0], cpu - start[1]


# ----------------------------------------------------------------------------------- XGBoost
class XGBoostBench:
    name = "xgboost"

    def __init__(self, X, y, n_classes, args, loss):
        import xgboost as xgb

        self.xgb, self.loss, self.n_classes = xgb, loss, n_classes
        self.clock = time.process_time if args.clock == "cpu" else time.perf_counter
        self.labels = y
        self.dtrain = xgb.QuantileDMatrix(X, label=y, nthread=args.threads)
        self.params = {"tree_method": "hist", "max_depth": args.max_depth, "learning_rate": 0.1,
                       "num_class": n_classes, "nthread": args.threads, "device": args.device,
                       "seed": 0, "verbosity": 0, "max_bin": 256}
        self.init = loss.init_raw_prediction(y, n_classes=n_classes)

    def _focal_params(self):
        return {**self.params, "base_score": self.init.tolist(), "disable_default_eval_metric": 1}

    def train(self, contender: str, rounds: int):
        xgb = self.xgb
        start = _clocks()
        if contender == "softmax":
            xgb.train({**self.params, "objective": "multi:softprob"}, self.dtrain, rounds)
        elif contender == "focal":
            xgb.train(self._focal_params(), self.dtrain, rounds, obj=self.loss.xgboost_objective)
        else:
            labels, loss = self.labels, self.loss

            def lean(predt, dtrain):
                return loss.gradient_hessian(labels, predt)

            xgb.train(self._focal_params(), self.dtrain, rounds, obj=lean)
        return _elapsed(start)

    def breakdown(self, rounds: int) -> Dict[str, List[float]]:
        """Per-round seconds of each step of the focal round, and of the softmax round."""
        xgb, loss = self.xgb, self.loss
        parts: Dict[str, List[float]] = {k: [] for k in (
            "margin_fetch", "label_fetch", "objective", "kernel", "update_with_our_gradients", "softmax_round")}
        booster = xgb.Booster(self._focal_params(), [self.dtrain])
        clock = self.clock
        for i in range(rounds):
            t0 = clock()
            margins = booster.predict(self.dtrain, output_margin=True, training=True)
            t1 = clock()
            self.dtrain.get_label(), self.dtrain.get_weight()
            t2 = clock()
            (grad, hess), objective_s = _timed(clock, lambda: loss.xgboost_objective(margins, self.dtrain))
            t4 = clock()
            booster.boost(self.dtrain, i, grad=grad, hess=hess)
            t5 = clock()
            # The kernel alone, after the round's outputs are released, so that it allocates under
            # the same conditions as the objective did (fresh pages would cost it page faults).
            del grad, hess
            _, kernel_s = _timed(clock, lambda: loss.gradient_hessian(self.labels, margins))
            for key, value in zip(parts, (t1 - t0, t2 - t1, objective_s, kernel_s, t5 - t4)):
                parts[key].append(value)
        softmax = xgb.Booster({**self.params, "objective": "multi:softprob"}, [self.dtrain])
        for i in range(rounds):
            t0 = clock()
            softmax.update(self.dtrain, i)
            parts["softmax_round"].append(clock() - t0)
        return parts


# ---------------------------------------------------------------------------------- LightGBM
class LightGBMBench:
    name = "lightgbm"

    def __init__(self, X, y, n_classes, args, loss):
        import lightgbm as lgb

        self.lgb, self.loss, self.n_classes, self.labels = lgb, loss, n_classes, y
        self.clock = time.process_time if args.clock == "cpu" else time.perf_counter
        self.params = {"num_class": n_classes, "learning_rate": 0.1, "num_leaves": args.num_leaves,
                       "num_threads": args.threads, "seed": 0, "verbosity": -1, "max_bin": 255}
        if args.device == "cuda":
            self.params["device_type"] = self._usable_device(args.lightgbm_device)
        self.init = loss.init_raw_prediction(y, n_classes=n_classes)
        # Both Datasets are binned once, here, outside the timings; the focal one carries the
        # starting margins as init_score.
        self.plain = lgb.Dataset(X, label=y, params=self._dataset_params(), free_raw_data=False).construct()
        self.with_init = lgb.Dataset(X, label=y, init_score=np.tile(self.init, (y.size, 1)),
                                     params=self._dataset_params(), free_raw_data=False).construct()

    def _usable_device(self, wanted: str) -> str:
        """LightGBM's device_type for a GPU run: ``wanted``, or with "auto" the first of "cuda" (CUDA
        build) and "gpu" (OpenCL build) that trains one round on a few rows."""
        lgb = self.lgb
        candidates = ("cuda", "gpu") if wanted == "auto" else (wanted,)
        errors = []
        for device in candidates:
            rng = np.random.default_rng(0)
            X, y = rng.normal(size=(200, 3)), np.arange(200) % 3
            try:
                lgb.train({"objective": "multiclass", "num_class": 3, "device_type": device, "verbosity": -1},
                          lgb.Dataset(X, label=y), 1)
                return device
            except lgb.basic.LightGBMError as error:
                errors.append(f"{device}: {str(error).splitlines()[0]}")
        raise RuntimeError("LightGBM has no usable GPU device here (" + "; ".join(errors) + ")")

    def _dataset_params(self):
        return {"max_bin": 255, "verbosity": -1, "num_threads": self.params["num_threads"]}

    def train(self, contender: str, rounds: int):
        lgb = self.lgb
        start = _clocks()
        if contender == "softmax":
            lgb.train({**self.params, "objective": "multiclass"}, self.plain, rounds)
        elif contender == "focal":
            lgb.train({**self.params, "objective": self.loss.lightgbm_objective}, self.with_init, rounds)
        else:
            labels, loss = self.labels, self.loss

            def lean(preds, train_data):
                return loss.gradient_hessian(labels, preds, order="F", dtype=np.float32)

            lgb.train({**self.params, "objective": lean}, self.with_init, rounds)
        return _elapsed(start)

    def breakdown(self, rounds: int) -> Dict[str, List[float]]:
        lgb, loss = self.lgb, self.loss
        parts: Dict[str, List[float]] = {k: [] for k in (
            "margin_fetch", "label_fetch", "objective", "kernel", "update_with_our_gradients", "softmax_round")}
        booster = lgb.Booster({**self.params, "objective": "none"}, self.with_init)
        # LightGBM's update(fobj) is fetch + fobj + boost; the two private steps are called
        # directly here to time them apart (benchmark only; public API in the timed runs).
        fetch = getattr(booster, "_Booster__inner_predict")
        boost = getattr(booster, "_Booster__boost")
        clock = self.clock
        for i in range(rounds):
            t0 = clock()
            booster._Booster__is_predicted_cur_iter = [False]
            preds = fetch(data_idx=0)
            t1 = clock()
            self.with_init.get_label(), self.with_init.get_weight()
            t2 = clock()
            (grad, hess), objective_s = _timed(clock, lambda: loss.lightgbm_objective(preds, self.with_init))
            t4 = clock()
            boost(grad=grad, hess=hess)
            t5 = clock()
            # The kernel alone on the same scores, after the round's outputs are released (LightGBM
            # has not touched its score buffer's copy we hold: ``preds`` is re-fetched next round).
            del grad, hess
            _, kernel_s = _timed(clock, lambda: loss.gradient_hessian(
                self.labels, preds, order="F", dtype=np.float32))
            for key, value in zip(parts, (t1 - t0, t2 - t1, objective_s, kernel_s, t5 - t4)):
                parts[key].append(value)
        softmax = lgb.Booster({**self.params, "objective": "multiclass"}, self.plain)
        for _ in range(rounds):
            t0 = clock()
            softmax.update()
            parts["softmax_round"].append(clock() - t0)
        return parts


BENCHES = {"xgboost": XGBoostBench, "lightgbm": LightGBMBench}
CONTENDERS = ("softmax", "focal", "focal-lean")


def run_size(size, args, loss) -> List[dict]:
    n_rows, n_features, n_classes = size
    X, y = synthetic(n_rows, n_features, n_classes)
    rows = []
    for booster in args.boosters:
        entry = {"booster": booster, "n_rows": n_rows, "n_features": n_features, "n_classes": n_classes}
        try:
            bench = BENCHES[booster](X, y, n_classes, args, loss)
            entry["device_params"] = {k: v for k, v in bench.params.items() if k in ("device", "device_type")}
            for contender in CONTENDERS:  # warm-up: compilation, caches
                bench.train(contender, 2)
            walls: Dict[str, List[float]] = {c: [] for c in CONTENDERS}
            cpus: Dict[str, List[float]] = {c: [] for c in CONTENDERS}
            for repeat in range(args.repeats):
                order = CONTENDERS if repeat % 2 == 0 else CONTENDERS[::-1]
                for contender in order:
                    wall, cpu = bench.train(contender, args.rounds)
                    walls[contender].append(wall)
                    cpus[contender].append(cpu)
                print(f"  {booster} {n_rows}x{n_features}x{n_classes} repeat {repeat + 1}: "
                      + ", ".join(f"{c} {walls[c][-1]:.2f}s wall {cpus[c][-1]:.2f}s cpu" for c in CONTENDERS),
                      file=sys.stderr, flush=True)
            times = cpus if args.clock == "cpu" else walls
            entry["times_s"] = {c: common.median_and_spread(v) for c, v in times.items()}
            entry["raw_wall_s"], entry["raw_cpu_s"] = walls, cpus
            # Ratio of medians, and the median of the ratios within each repeat (robust to drifts).
            for c in ("focal", "focal-lean"):
                entry[f"ratio_{c}"] = entry["times_s"][c]["median"] / entry["times_s"]["softmax"]["median"]
                entry[f"ratio_{c}_paired"] = float(np.median(np.array(times[c]) / np.array(times["softmax"])))
            parts = bench.breakdown(args.breakdown_rounds)
            entry["breakdown_ms_per_round"] = {k: 1e3 * float(np.median(v)) for k, v in parts.items()}
            del bench
        except Exception as error:  # e.g. LightGBM without CUDA support: record, go on
            entry["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            print(f"  {booster}: {entry['error']}", file=sys.stderr, flush=True)
        rows.append(entry)
    return rows


def render_markdown(payload: dict) -> str:
    env, settings = payload["environment"], payload["settings"]
    where = env.get("gpu") if settings["device"] == "cuda" else env.get("cpu_model")
    lines = [
        f"# Training speed: focal objective / built-in softmax ({settings['device']})", "",
        f"Generated by `python benchmarks/bench_training_speed.py --device {settings['device']} --sizes "
        f"{settings['sizes']}` on {env['date']}: {where}, {env['cpu_count']} CPU cores (load average "
        f"{env['load_average_at_start'][0]:.1f} at the start), {settings['threads']} threads, XGBoost "
        f"{env['xgboost']} (hist, max_depth {settings['max_depth']}), LightGBM {env['lightgbm']} "
        f"(num_leaves {settings['num_leaves']}), {settings['rounds']} rounds, median of "
        f"{settings['repeats']} interleaved repeats after a warm-up, timed by {settings['clock']} clock "
        "(cpu: CPU seconds of the process, which a shared machine's load does not inflate). "
        "Synthetic float32 data.", "",
        "Ratio = median training time / median softmax time (paired: median of per-repeat ratios).", "",
    ]
    header = ["booster", "rows x features x classes", "softmax s", "focal s", "focal / softmax",
              "paired", "focal-lean s", "lean / softmax"]
    table = []
    for r in payload["rows"]:
        size = f"{r['n_rows']:,} x {r['n_features']} x {r['n_classes']}"
        if "error" in r:
            table.append([r["booster"], size, r["error"], "", "", "", "", ""])
            continue
        t = r["times_s"]
        table.append([r["booster"], size, f"{t['softmax']['median']:.2f}", f"{t['focal']['median']:.2f}",
                      f"**{r['ratio_focal']:.3f}**", f"{r['ratio_focal_paired']:.3f}",
                      f"{t['focal-lean']['median']:.2f}", f"{r['ratio_focal-lean']:.3f}"])
    lines.append(common.markdown_table(header, table, "llrrrrrr"))
    lines += ["", "## Where a focal round goes (median ms per round, instrumented run)", ""]
    header = ["booster", "size", "margin fetch", "label fetch", "objective (adapter)", "kernel (cached labels)",
              "update with our gradients", "softmax round", "overhead vs softmax"]
    table = []
    for r in payload["rows"]:
        if "breakdown_ms_per_round" not in r:
            continue
        b = r["breakdown_ms_per_round"]
        ours = b["margin_fetch"] + b["objective"] + b["update_with_our_gradients"]
        table.append([r["booster"], f"{r['n_rows']:,} x {r['n_classes']}",
                      *(f"{b[k]:.1f}" for k in ("margin_fetch", "label_fetch", "objective", "kernel",
                                                 "update_with_our_gradients", "softmax_round")),
                      f"{ours - b['softmax_round']:+.1f}"])
    lines.append(common.markdown_table(header, table, "llrrrrrrr"))
    lines += ["", "The objective column includes the label fetch and the kernel; the overhead column is "
              "(fetch + objective + update) - softmax round."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--sizes", choices=tuple(SIZES), default="full")
    parser.add_argument("--boosters", default="xgboost,lightgbm")
    parser.add_argument("--rounds", type=int, default=None, help="default: 10 on CPU, 30 on CUDA")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--breakdown-rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--num-leaves", type=int, default=31)
    parser.add_argument("--lightgbm-device", default="auto", choices=("auto", "cuda", "gpu"),
                        help="LightGBM device_type with --device cuda (auto: cuda, else the OpenCL 'gpu')")
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default=None,
                        help="what the ratios use: process CPU time (default with --threads 1, robust on a "
                             "shared machine) or wall time (default otherwise)")
    args = parser.parse_args(argv)
    args.boosters = [b for b in args.boosters.split(",") if b]
    args.rounds = args.rounds or (30 if args.device == "cuda" else 10)
    import os

    args.threads = args.threads or os.cpu_count() or 1
    args.clock = args.clock or ("cpu" if args.threads == 1 else "wall")
    common.set_threads(args.threads)
    loss = FocalLoss(args.gamma)
    payload = {"settings": {**vars(args)}, "environment": common.environment(args.device), "rows": []}
    start = time.perf_counter()
    for size in SIZES[args.sizes]:
        print(f"[{time.perf_counter() - start:6.1f}s] size {size}", file=sys.stderr, flush=True)
        payload["rows"] += run_size(size, args, loss)
    payload["elapsed_s"] = time.perf_counter() - start
    stem = f"speed_{args.device}" + ("" if args.sizes == "full" else f"_{args.sizes}")
    print("\n".join(str(p) for p in common.write_results(stem, payload, render_markdown(payload))))
    print(render_markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())

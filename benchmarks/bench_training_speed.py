"""Training time with the focal objective divided by training time with the booster's built-in one,
at the boosters' DEFAULT thread settings and at one thread.

Side by side in one process, on the same synthetic data (30 float32 features), rounds and trees:
XGBoost (``hist``, depth 6) and LightGBM (31 leaves), each on three tasks: 7 classes and 10 classes
(focal ``FocalLoss(2.0)`` against ``multi:softprob`` / ``multiclass``) and binary
(``BinaryFocalLoss(2.0)`` against ``binary:logistic`` / ``binary``), at 1,000 to 2,000,000 rows.
The focal contender takes the route the documentation recommends: ``loss.xgboost_train`` for XGBoost
(which reads XGBoost's prediction cache and hands the gradients back through XGBoost's C calls,
boostfocal/adapters/xgboost_capi.py) and ``loss.lightgbm_train`` for LightGBM (``lightgbm.train``
with its rounds through LightGBM's two C calls, boostfocal/adapters/lightgbm_rounds.py), each
starting from ``loss.init_raw_prediction``. A fourth contender, ``focal_obj``, takes the public
route with the same parameters, ``xgboost.train(obj=loss.xgboost_objective)`` /
``lightgbm.train`` with ``params["objective"] = loss.lightgbm_objective``: the same trees, through
the booster's Python layer.

A third contender, ``numpy``, is the floor of the public custom-objective route: a hand-written NumPy
objective with the built-in objective's own gradient and Hessian (XGBoost's ``multi:softprob`` /
``binary:logistic``, LightGBM's ``multiclass`` / ``binary``), passed as ``obj=`` / ``objective=`` and
started from the log class priors as the built-ins start, so it grows (nearly) the built-in's trees.
What it costs beyond the built-in is what any Python objective costs on that route: the booster's
round trip through Python (margins copied out, gradients copied in, its thread pool idle meanwhile)
plus a few NumPy passes. Leaves per round are recorded for each contender, since tree size moves the
time too.

Binary tasks have a fifth contender, ``gamma0``: ``BinaryFocalLoss(0.0)`` through the focal contender's
own route. At gamma = 0 without alpha the focal loss is the logistic loss, with the built-in's own
gradient p - y and Hessian p (1 - p), started from the same log-odds, so it grows the built-in's trees
(the same leaves per round). It splits focal / built-in into two factors: gamma0 / built-in, what the
route costs, and focal / gamma0, what the focal loss itself costs (its kernel at gamma = 2 and the trees
it grows). Multiclass tasks have no such twin (the built-ins scale their Hessians: XGBoost's by 2,
LightGBM's by K / (K - 1)).

Thread settings:

* ``default``: nothing set anywhere (no ``nthread`` / ``num_threads``, Numba untouched), what a user
  who changes nothing gets; timed by wall clock.
* ``1``: ``nthread=1`` / ``num_threads=1`` and ``numba.set_num_threads(1)``; timed by the process's
  CPU time, which the load of a shared machine does not inflate.

Runs of focal and built-in alternate (built-in first in even repeats, focal first in odd ones), after
one warm-up run of each (Numba compilation, caches); the table reports medians and the ratio of
medians focal / built-in, plus the median of the per-repeat ratios ("paired").

    python benchmarks/bench_training_speed.py                 # everything, 42-50 min on 2 cores
    python benchmarks/bench_training_speed.py --quick         # 5,000 and 20,000 rows, 3 repeats
    python benchmarks/bench_training_speed.py --rows 5000,20000 --boosters xgboost --threads default
    python benchmarks/bench_training_speed.py --contenders builtin,focal,gamma0   # about half the time

``--contenders`` times a subset (``builtin`` and ``focal`` always run): what the targets compare, in
about half the time, where the public route and the NumPy floor are not wanted.

Writes ``benchmarks/results/training_speed_<device>.json`` and ``.md`` for full runs (the table of
docs/benchmarks.md, via make_tables.py), ``training_speed_<device>_subset.json`` / ``.md`` for subsets.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, Optional

import numpy as np

import common

ROWS = (1_000, 5_000, 20_000, 200_000, 2_000_000)
# Rounds and repeats per size: a run of about a second or more, fewer rounds where one round is long.
ROUNDS = {1_000: 100, 5_000: 60, 20_000: 30, 200_000: 8, 2_000_000: 2}
# Repeats per size: single cells moved by up to 0.25 between runs with 5 / 3 repeats, so the sizes
# where a training is short take more (7 up to 20,000 rows, 5 at 200,000); 2,000,000 rows stay at 3,
# about a minute a contender.
REPEATS = {1_000: 7, 5_000: 7, 20_000: 7, 200_000: 5, 2_000_000: 3}
TASKS = {"multiclass7": 7, "multiclass10": 10, "binary": 2}
N_FEATURES = 30
GAMMA = 2.0


# A binary round grows one tree where a K-class round grows K: 3x the rounds keep a binary run about as
# long as the others (at 200,000 rows 8 binary rounds took 0.2 s, too short for a stable median).
ROUND_FACTOR = {"binary": 3}


def rounds_for(n_rows: int, task: str = "multiclass7") -> int:
    """Rounds for a size (sizes outside ROUNDS: about 2e6 row-rounds, between 2 and 100), times the
    task's ROUND_FACTOR."""
    return ROUNDS.get(n_rows, int(min(100, max(2, 2e6 // n_rows)))) * ROUND_FACTOR.get(task, 1)


def log_priors(y: np.ndarray, n_classes: int) -> np.ndarray:
    """log class frequencies (K,), or the log-odds for two classes: where the built-ins start."""
    priors = np.bincount(y, minlength=n_classes) / y.size
    if n_classes == 2:
        return np.log(priors[1] / priors[0])
    return np.log(np.maximum(priors, 1e-12))


def softmax_rows(margins: np.ndarray) -> np.ndarray:
    shifted = np.exp(margins - margins.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def numpy_xgboost_objective(predt: np.ndarray, dtrain):
    """XGBoost's own softprob / logistic gradient in NumPy (its Hessian floor 1e-16 included)."""
    labels = dtrain.get_label()
    if predt.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-predt))
        return p - labels, np.maximum(p * (1.0 - p), 1e-16)
    p = softmax_rows(predt)
    gradient = p.copy()
    gradient[np.arange(labels.size), labels.astype(np.int64)] -= 1.0
    return gradient, np.maximum(2.0 * p * (1.0 - p), 1e-16)


def numpy_lightgbm_objective(preds: np.ndarray, train_data):
    """LightGBM's own multiclass / binary gradient in NumPy (multiclass Hessian K/(K-1) p(1-p))."""
    labels = train_data.get_label()
    if preds.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-preds))
        return p - labels, p * (1.0 - p)
    p = softmax_rows(preds)
    gradient = p.copy()
    gradient[np.arange(labels.size), labels.astype(np.int64)] -= 1.0
    n_classes = preds.shape[1]
    return gradient, n_classes / (n_classes - 1.0) * p * (1.0 - p)


# Every contender of either booster, in order; gamma0 only for binary tasks (contenders_for).
CONTENDERS = ("builtin", "focal", "focal_obj", "numpy", "gamma0")


def contenders_for(n_classes: int, chosen=CONTENDERS) -> tuple:
    """The contenders of a task with n_classes classes (2: binary, which alone has the gamma0 twin),
    among ``chosen``."""
    return tuple(c for c in CONTENDERS if (c != "gamma0" or n_classes == 2) and c in chosen)


def focal_loss_for(n_classes: int):
    """The benchmarks' focal loss: ``FocalLoss(GAMMA)``, or ``BinaryFocalLoss(GAMMA)`` for two classes."""
    from boostfocal import BinaryFocalLoss, FocalLoss

    return BinaryFocalLoss(GAMMA) if n_classes == 2 else FocalLoss(GAMMA)


def gamma0_loss():
    """The logistic loss as a focal loss (gamma = 0, no alpha): the built-in binary objectives' twin."""
    from boostfocal import BinaryFocalLoss

    return BinaryFocalLoss(0.0)


def synthetic(n_rows: int, n_classes: int, seed: int = 0):
    """float32 features; labels from a noisy linear model with geometric class priors, so that trees
    have something to learn (binary: about 38 % positives)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    weights = rng.standard_normal((N_FEATURES, n_classes)).astype(np.float32) / np.sqrt(N_FEATURES)
    priors = 0.6 ** np.arange(n_classes)
    logits = X @ weights * 2.0 + np.log(priors / priors.sum()).astype(np.float32)
    logits += rng.gumbel(size=logits.shape).astype(np.float32)  # Gumbel-max: sampling from softmax
    return X, logits.argmax(axis=1).astype(np.int64)


class XGBoostRun:
    """One XGBoost data set, trained with the built-in, the focal or the NumPy objective."""

    def __init__(self, X, y, n_classes, loss, device, chosen=CONTENDERS):
        import xgboost as xgb

        self.xgb, self.loss = xgb, loss
        self.dtrain = xgb.QuantileDMatrix(X, label=y)
        self.params = {"tree_method": "hist", "max_depth": 6, "learning_rate": 0.1, "seed": 0,
                       "verbosity": 0, "max_bin": 256, "device": device}
        if n_classes > 2:
            self.params["num_class"] = n_classes
            self.builtin = "multi:softprob"
            base_score = loss.init_raw_prediction(y, n_classes=n_classes).tolist()
            prior_score = log_priors(y, n_classes).tolist()
        else:
            self.builtin = "binary:logistic"
            base_score = loss.init_raw_prediction(y)
            prior_score = float(log_priors(y, 2))
        self.focal_params = {**self.params, "base_score": base_score, "disable_default_eval_metric": 1}
        self.numpy_params = {**self.params, "base_score": prior_score, "disable_default_eval_metric": 1}
        self.contenders = contenders_for(n_classes, chosen)
        if n_classes == 2:
            self.gamma0 = gamma0_loss()
            self.gamma0_params = {**self.params, "base_score": self.gamma0.init_raw_prediction(y),
                                  "disable_default_eval_metric": 1}

    def train(self, contender: str, rounds: int, threads: Optional[int]):
        extra = {} if threads is None else {"nthread": threads}
        if contender == "gamma0":
            return self.gamma0.xgboost_train({**self.gamma0_params, **extra}, self.dtrain, rounds,
                                             verbose_eval=False, init_score=False)
        if contender == "builtin":
            return self.xgb.train({**self.params, **extra, "objective": self.builtin}, self.dtrain, rounds)
        if contender == "numpy":
            return self.xgb.train({**self.numpy_params, **extra}, self.dtrain, rounds, obj=numpy_xgboost_objective)
        if contender == "focal_obj":
            return self.xgb.train({**self.focal_params, **extra}, self.dtrain, rounds,
                                  obj=self.loss.xgboost_objective)
        # base_score already holds the initial score: init_score=False keeps params as they are.
        return self.loss.xgboost_train({**self.focal_params, **extra}, self.dtrain, rounds,
                                       verbose_eval=False, init_score=False)

    @staticmethod
    def leaves(booster) -> int:
        return sum(tree.count("leaf=") for tree in booster.get_dump())


class LightGBMRun:
    """One LightGBM data set (binned once, outside the timings): built-in, focal (both routes) or NumPy
    objective."""

    def __init__(self, X, y, n_classes, loss, device, chosen=CONTENDERS):
        import lightgbm as lgb

        if device != "cpu":
            raise ValueError("this benchmark runs LightGBM on the CPU only")
        self.lgb, self.loss = lgb, loss
        self.params = {"learning_rate": 0.1, "num_leaves": 31, "seed": 0, "verbosity": -1, "max_bin": 255}
        if n_classes > 2:
            self.params["num_class"] = n_classes
            self.builtin = "multiclass"
            init = np.tile(loss.init_raw_prediction(y, n_classes=n_classes), (y.size, 1))
            prior = np.tile(log_priors(y, n_classes), (y.size, 1))
        else:
            self.builtin = "binary"
            init = np.full(y.size, loss.init_raw_prediction(y))
            prior = np.full(y.size, log_priors(y, 2))
        dataset_params = {"max_bin": 255, "verbosity": -1}
        self.plain = lgb.Dataset(X, label=y, params=dataset_params, free_raw_data=False).construct()
        self.with_init = lgb.Dataset(X, label=y, init_score=init, params=dataset_params,
                                     free_raw_data=False).construct()
        self.with_prior = lgb.Dataset(X, label=y, init_score=prior, params=dataset_params,
                                      free_raw_data=False).construct()
        self.contenders = contenders_for(n_classes, chosen)
        if n_classes == 2:
            self.gamma0 = gamma0_loss()
            self.with_gamma0_init = lgb.Dataset(
                X, label=y, init_score=np.full(y.size, self.gamma0.init_raw_prediction(y)),
                params=dataset_params, free_raw_data=False).construct()

    def train(self, contender: str, rounds: int, threads: Optional[int]):
        extra = {} if threads is None else {"num_threads": threads}
        if contender == "gamma0":
            return self.gamma0.lightgbm_train({**self.params, **extra}, self.with_gamma0_init, rounds,
                                              init_score=False)
        if contender == "builtin":
            return self.lgb.train({**self.params, **extra, "objective": self.builtin}, self.plain, rounds)
        if contender == "numpy":
            return self.lgb.train({**self.params, **extra, "objective": numpy_lightgbm_objective},
                                  self.with_prior, rounds)
        if contender == "focal_obj":
            return self.lgb.train({**self.params, **extra, "objective": self.loss.lightgbm_objective},
                                  self.with_init, rounds)
        # The Dataset already holds the initial score: init_score=False leaves it and the trees as
        # they are (the model then does not hold b; folding it in is not what is timed).
        return self.loss.lightgbm_train({**self.params, **extra}, self.with_init, rounds, init_score=False)

    @staticmethod
    def leaves(booster) -> int:
        return sum(tree["num_leaves"] for tree in booster.dump_model()["tree_info"])


RUNS = {"xgboost": XGBoostRun, "lightgbm": LightGBMRun}


class numba_threads:
    """Numba's thread count for this Python thread inside the block (None: leave it alone)."""

    def __init__(self, n_threads: Optional[int]):
        self.n_threads, self.previous = n_threads, None

    def __enter__(self):
        if self.n_threads is not None:
            import numba

            self.previous = numba.get_num_threads()
            numba.set_num_threads(self.n_threads)

    def __exit__(self, *exc_info):
        if self.previous is not None:
            import numba

            numba.set_num_threads(self.previous)


def time_pair(run, rounds: int, repeats: int, threads: Optional[int]) -> dict:
    """Interleaved timings of the booster's contenders (built-in, focal, ...) at one thread setting."""
    contenders = run.contenders
    clock_name = "wall" if threads is None else "cpu"
    walls: Dict[str, List[float]] = {c: [] for c in contenders}
    cpus: Dict[str, List[float]] = {c: [] for c in contenders}
    leaves: Dict[str, float] = {}
    with numba_threads(threads):
        for contender in contenders:  # warm-up: compilation, caches, thread pools
            run.train(contender, min(rounds, 2), threads)
        for repeat in range(repeats):
            # Each contender in each position in turn: builtin-focal-numpy, focal-numpy-builtin, ...
            shift = repeat % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                wall, cpu = time.perf_counter(), time.process_time()
                booster = run.train(contender, rounds, threads)
                walls[contender].append(time.perf_counter() - wall)
                cpus[contender].append(time.process_time() - cpu)
                if repeat == repeats - 1:
                    leaves[contender] = run.leaves(booster) / rounds
                del booster
    times = {c: np.array(t) for c, t in (walls if clock_name == "wall" else cpus).items()}
    builtin, focal = times["builtin"], times["focal"]
    result = {
        "clock": clock_name,
        "builtin_s": common.median_and_spread(builtin),
        "focal_s": common.median_and_spread(focal),
        "ratio": float(np.median(focal) / np.median(builtin)),
        "ratio_paired": float(np.median(focal / builtin)),
        "leaves_per_round": leaves,
        "raw_wall_s": walls,
        "raw_cpu_s": cpus,
    }
    if "numpy" in times:
        floor = times["numpy"]
        result["numpy_s"] = common.median_and_spread(floor)
        result["ratio_numpy"] = float(np.median(floor) / np.median(builtin))
        result["ratio_focal_numpy"] = float(np.median(focal) / np.median(floor))
    if "focal_obj" in times:
        result["focal_obj_s"] = common.median_and_spread(times["focal_obj"])
        result["ratio_focal_obj"] = float(np.median(times["focal_obj"]) / np.median(builtin))
    if "gamma0" in times:
        gamma0 = times["gamma0"]
        result["gamma0_s"] = common.median_and_spread(gamma0)
        result["ratio_gamma0"] = float(np.median(gamma0) / np.median(builtin))  # the route's cost
        result["ratio_focal_gamma0"] = float(np.median(focal) / np.median(gamma0))  # the loss's own
    return result


def run_all(args, after_each=None) -> List[dict]:
    """Every cell of ``args``; ``after_each(results)`` is called after each cell."""
    results = []
    start = time.perf_counter()
    for n_rows in args.rows:
        repeats = args.repeats or REPEATS.get(n_rows, 3)
        for task in args.tasks:
            rounds = args.rounds or rounds_for(n_rows, task)
            n_classes = TASKS[task]
            X, y = synthetic(n_rows, n_classes)
            loss = focal_loss_for(n_classes)
            for booster in args.boosters:
                if booster == "lightgbm" and args.device != "cpu":
                    print("LightGBM runs only with --device cpu here: skipped", file=sys.stderr)
                    continue
                run = RUNS[booster](X, y, n_classes, loss, args.device, args.contenders)
                for setting in args.threads:
                    threads = None if setting == "default" else int(setting)
                    entry = {"booster": booster, "task": task, "n_rows": n_rows, "n_classes": n_classes,
                             "threads": setting, "rounds": rounds, "repeats": repeats}
                    entry.update(time_pair(run, rounds, repeats, threads))
                    results.append(entry)
                    obj_route = (f"obj= route {entry['ratio_focal_obj']:.3f}; "
                                 if "ratio_focal_obj" in entry else "")
                    if "ratio_gamma0" in entry:
                        obj_route += (f"gamma0 / built-in {entry['ratio_gamma0']:.3f}, focal / gamma0 "
                                      f"{entry['ratio_focal_gamma0']:.3f}; ")
                    floor_route = (f"numpy / built-in {entry['ratio_numpy']:.3f}, focal / numpy "
                                   f"{entry['ratio_focal_numpy']:.3f}" if "ratio_numpy" in entry else "")
                    print(f"[{time.perf_counter() - start:7.1f}s] {booster:8s} {task:12s} {n_rows:>9,} rows "
                          f"threads={setting:7s} built-in {entry['builtin_s']['median']:.3f}s focal "
                          f"{entry['focal_s']['median']:.3f}s ratio {entry['ratio']:.3f} "
                          f"(paired {entry['ratio_paired']:.3f}; {obj_route}{floor_route})",
                          file=sys.stderr, flush=True)
                    if after_each is not None:
                        after_each(results)
                del run
    return results


def render_markdown(payload: dict) -> str:
    env, settings = payload["environment"], payload["settings"]
    lines = [
        f"# Training time: focal / built-in objective, default threads and 1 thread ({settings['device']})", "",
        f"`python benchmarks/bench_training_speed.py {settings['command_line']}` on {env['date']}: "
        f"{env.get('cpu_model')}, {env['cpu_count']} CPU cores (load average "
        f"{env['load_average_at_start'][0]:.1f} at the start), XGBoost {env['xgboost']}, LightGBM "
        f"{env['lightgbm']}, Numba {env['numba']}; {payload['elapsed_s'] / 60:.1f} minutes. Synthetic data, "
        f"{N_FEATURES} float32 features, gamma = {GAMMA}. Default threads: nothing set, wall clock; "
        "1 thread: nthread / num_threads = 1 and 1 Numba thread, process CPU time. Medians of interleaved "
        "repeats after a warm-up; ratio = median focal / median built-in (paired: median of the per-repeat "
        "ratios). Focal: loss.xgboost_train for XGBoost, loss.lightgbm_train for LightGBM; focal obj=: the "
        "public route, xgboost.train(obj=loss.xgboost_objective) / lightgbm.train with "
        "params['objective'] = loss.lightgbm_objective. NumPy obj: a hand-written "
        "NumPy objective with the built-in's own gradient and Hessian through the public custom-objective "
        "route (obj= / objective=), the floor of that route. Gamma 0 (binary only): BinaryFocalLoss(0.0), "
        "the logistic loss, through the focal contender's route: the built-in's gradient, Hessian and "
        "trees, so gamma 0 / built-in is what the route costs and focal / gamma 0 what the focal loss "
        "itself costs (kernel and trees).", "",
    ]
    header = ["booster", "task", "rows", "rounds x repeats", "threads", "built-in s", "focal s",
              "focal / built-in", "paired", "focal obj= / built-in", "NumPy obj / built-in",
              "focal / NumPy obj", "gamma 0 / built-in", "focal / gamma 0",
              "leaves per round (built-in, focal, [focal obj=,] NumPy[, gamma 0])"]

    def leaves(r):
        counts = r.get("leaves_per_round", {})
        return ", ".join(f"{counts[c]:.0f}" for c in CONTENDERS if c in counts) or "-"

    table = [[r["booster"], r["task"], f"{r['n_rows']:,}", f"{r['rounds']} x {r['repeats']}", r["threads"],
              f"{r['builtin_s']['median']:.3f}", f"{r['focal_s']['median']:.3f}", f"**{r['ratio']:.3f}**",
              f"{r['ratio_paired']:.3f}", f"{r['ratio_focal_obj']:.3f}" if "ratio_focal_obj" in r else "-",
              f"{r['ratio_numpy']:.3f}" if "ratio_numpy" in r else "-",
              f"{r['ratio_focal_numpy']:.3f}" if "ratio_focal_numpy" in r else "-",
              f"{r['ratio_gamma0']:.3f}" if "ratio_gamma0" in r else "-",
              f"{r['ratio_focal_gamma0']:.3f}" if "ratio_focal_gamma0" in r else "-", leaves(r)]
             for r in payload["rows"]]
    lines.append(common.markdown_table(header, table, "lllllrrrrrrrrrr"))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 and 20,000 rows, 3 repeats")
    parser.add_argument("--rows", default=None, help="comma-separated row counts (default: all sizes)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of " + ",".join(TASKS))
    parser.add_argument("--boosters", default="xgboost,lightgbm")
    parser.add_argument("--threads", default="default,1", help="comma-separated: default and/or a number")
    parser.add_argument("--repeats", type=int, default=None, help="default: 7 up to 20,000 rows, 5 at 200,000, else 3")
    parser.add_argument("--rounds", type=int, default=None, help="default: per size, 100 at 1,000 rows to 2 "
                        "at 2,000,000, three times that for binary")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help="comma-separated subset of " + ",".join(CONTENDERS) + " (builtin and focal always run)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="XGBoost's device (LightGBM runs only with cpu)")
    parser.add_argument("--stem", default=None, help="results file name (default: training_speed_<device>, "
                        "with _subset for anything but the full run)")
    args = parser.parse_args(argv)
    command_line = " ".join(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.rows = args.rows or "5000,20000"
        args.repeats = args.repeats or 3
    args.rows = [int(float(r)) for r in args.rows.split(",")] if args.rows else list(ROWS)
    args.tasks = [t for t in args.tasks.split(",") if t]
    args.boosters = [b for b in args.boosters.split(",") if b]
    args.threads = [t for t in args.threads.split(",") if t]
    chosen = {"builtin", "focal", *(c for c in args.contenders.split(",") if c)}
    if chosen - set(CONTENDERS):
        parser.error(f"unknown contender: {sorted(chosen - set(CONTENDERS))}")
    args.contenders = tuple(c for c in CONTENDERS if c in chosen)
    unknown = set(args.tasks) - set(TASKS) or set(args.boosters) - set(RUNS)
    if unknown:
        parser.error(f"unknown task or booster: {sorted(unknown)}")
    full = (args.rows == list(ROWS) and args.tasks == list(TASKS) and set(args.boosters) == set(RUNS)
            and set(args.threads) == {"default", "1"} and args.repeats is None and args.rounds is None
            and args.contenders == CONTENDERS)
    payload = {"settings": {**vars(args), "command_line": command_line, "full": full},
               "environment": common.environment(args.device)}
    stem = args.stem or f"training_speed_{args.device}" + ("" if full else "_subset")
    start = time.perf_counter()

    def write(results, quiet=True):
        # After every cell, so a run stopped by a time limit keeps the cells it finished.
        payload["rows"] = results
        payload["elapsed_s"] = time.perf_counter() - start
        markdown = render_markdown(payload)
        paths = common.write_results(stem, payload, markdown)
        if not quiet:
            print("\n".join(str(p) for p in paths))
            print(markdown)

    write(run_all(args, after_each=write), quiet=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

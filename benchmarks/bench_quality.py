"""Quality of the focal objective against softmax on real imbalanced data sets.

For each data set and seed: a stratified test split (or the data set's own train/test split), then a
stratified validation split (20%) of the training part. Every contender is trained with the same
booster settings and learning rate, and stops early (patience ``--patience``, at most
``--max-rounds``) on its OWN training objective measured on the validation split: log loss for
softmax, class-weighted log loss for softmax with balanced weights, the focal loss (with its alpha)
for the focal contenders. The test split is scored once, at the stopping round. Nobody is tuned on
the test rows.

Contenders: softmax; softmax with balanced class weights (as sample weights); focal loss with
gamma in {0.5, 1, 2, 5} x alpha in {None, "balanced"} (Hessian "psd"); and the Hessian policies
"exact" and "floor" at gamma 2 and 5 (alpha None). The focal models start from
``FocalLoss.init_raw_prediction`` (XGBoost: a length-K ``base_score``; LightGBM: ``init_score``).

Every run is scored with two kinds of probabilities from the same test margins: the softmax
(``predict_proba``) and the focal posterior correction (``FocalLoss.posterior_proba``, which undoes gamma
and alpha; for the softmax contenders both kinds are the softmax): log loss, Brier score, expected
calibration error (15 bins) and macro-F1 of each argmax (``boostfocal.calibration``).

Everything runs single-threaded (boosters and Numba), which is the most efficient use of a shared
machine and keeps runs independent of the load.

    python benchmarks/bench_quality.py                 # full run, ~25 min on one core
    python benchmarks/bench_quality.py --quick         # one seed, a few contenders, for a smoke test
    python benchmarks/bench_quality.py --contenders "softmax,focal g=2" --stem quality_subset

Writes ``benchmarks/results/quality.json`` (every run) and ``quality.md`` (tables).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, Optional

import numpy as np

import common
from boostfocal import FocalLoss, balanced_alpha
from boostfocal.calibration import probability_kinds, probability_scores
from boostfocal.compare import classification_metrics, stratified_split

# name -> (train file, test file) for a given split, or a single file split per seed.
DATASETS = {  # smallest first, so that partial results of a long run are useful
    "glass": "glass",
    "yeast": "yeast",
    "thyroid": ("thyroid_ann_train", "thyroid_ann_test"),
    "satimage": ("satimage_train", "satimage_test"),
    "page_blocks": "page_blocks",
    "covtype15k": "covtype_sample15k",
    "shuttle": ("shuttle_train", "shuttle_test"),
}
# Small data sets are cheap and noisy: more seeds there.
SEEDS = {"glass": 10, "yeast": 5}
DEFAULT_SEEDS = 3


def contenders(quick: bool = False) -> List[Dict[str, object]]:
    """The contenders in table order."""
    entries: List[Dict[str, object]] = [
        {"name": "softmax", "kind": "softmax", "weighted": False},
        {"name": "softmax+w", "kind": "softmax", "weighted": True},
    ]
    gammas = (2.0,) if quick else (0.5, 1.0, 2.0, 5.0)
    for alpha in (None, "balanced"):
        for gamma in gammas:
            suffix = "" if alpha is None else " a=bal"
            entries.append({"name": f"focal g={gamma:g}{suffix}", "kind": "focal", "gamma": gamma,
                            "alpha": alpha, "hessian": "psd"})
    for gamma in (2.0,) if quick else (2.0, 5.0):
        for policy in ("exact", "floor"):
            entries.append({"name": f"focal g={gamma:g} {policy}", "kind": "focal", "gamma": gamma,
                            "alpha": None, "hessian": policy})
    return entries


def splits(name: str, seed: int):
    """(X_fit, y_fit, X_val, y_val, X_test, y_test) for one seed."""
    source = DATASETS[name]
    if isinstance(source, tuple):
        X_train, y_train = common.load_csv(source[0])
        X_test, y_test = common.load_csv(source[1])
    else:
        X, y = common.load_csv(source)
        train, test = stratified_split(y, 0.25, seed)
        X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    fit, val = stratified_split(y_train, 0.2, seed + 1000)
    return X_train[fit], y_train[fit], X_train[val], y_train[val], X_test, y_test


def _focal_loss(contender, y_fit, n_classes) -> FocalLoss:
    loss = FocalLoss(contender["gamma"], contender["alpha"], hessian=contender["hessian"])
    return loss.resolve_alpha(y_fit, n_classes=n_classes)


def train_xgboost(contender, data, n_classes, settings, seed):
    import xgboost as xgb

    X_fit, y_fit, X_val, y_val, X_test, _ = data
    params = {"tree_method": "hist", "max_depth": 6, "learning_rate": settings.learning_rate,
              "num_class": n_classes, "seed": seed, "nthread": 1, "verbosity": 0}
    w_fit = w_val = None
    if contender.get("weighted"):
        class_weight = balanced_alpha(y_fit, n_classes)
        w_fit, w_val = class_weight[y_fit], class_weight[y_val]
    start = time.perf_counter()
    dfit = xgb.DMatrix(X_fit, label=y_fit, weight=w_fit, nthread=1)
    dval = xgb.DMatrix(X_val, label=y_val, weight=w_val, nthread=1)
    common_args = dict(num_boost_round=settings.max_rounds, evals=[(dval, "val")],
                       early_stopping_rounds=settings.patience, verbose_eval=False)
    if contender["kind"] == "softmax":
        params.update(objective="multi:softprob", eval_metric="mlogloss")
        booster = xgb.train(params, dfit, **common_args)
    else:
        loss = _focal_loss(contender, y_fit, n_classes)
        params.update(base_score=loss.init_raw_prediction(y_fit, n_classes=n_classes).tolist(),
                      disable_default_eval_metric=1)
        booster = xgb.train(params, dfit, obj=loss.xgboost_objective,
                            custom_metric=loss.xgboost_metric, **common_args)
    elapsed = time.perf_counter() - start
    rounds = booster.best_iteration + 1
    raw = booster.predict(xgb.DMatrix(X_test, nthread=1), output_margin=True, iteration_range=(0, rounds))
    return raw, rounds, elapsed


def train_lightgbm(contender, data, n_classes, settings, seed):
    import lightgbm as lgb

    X_fit, y_fit, X_val, y_val, X_test, _ = data
    params = {"num_class": n_classes, "learning_rate": settings.learning_rate, "num_leaves": 31,
              "lambda_l2": settings.lightgbm_lambda_l2, "seed": seed, "num_threads": 1, "verbosity": -1,
              "deterministic": True}
    w_fit = w_val = None
    if contender.get("weighted"):
        class_weight = balanced_alpha(y_fit, n_classes)
        w_fit, w_val = class_weight[y_fit], class_weight[y_val]
    init = np.zeros(n_classes)
    start = time.perf_counter()
    callbacks = [lgb.early_stopping(settings.patience, verbose=False)]
    if contender["kind"] == "softmax":
        params.update(objective="multiclass", metric="multi_logloss")
        dfit = lgb.Dataset(X_fit, label=y_fit, weight=w_fit)
        dval = lgb.Dataset(X_val, label=y_val, weight=w_val, reference=dfit)
        booster = lgb.train(params, dfit, settings.max_rounds, valid_sets=[dval], callbacks=callbacks)
    else:
        loss = _focal_loss(contender, y_fit, n_classes)
        init = loss.init_raw_prediction(y_fit, n_classes=n_classes)
        params.update(objective=loss.lightgbm_objective, metric="None")
        dfit = lgb.Dataset(X_fit, label=y_fit, init_score=np.tile(init, (y_fit.size, 1)))
        dval = lgb.Dataset(X_val, label=y_val, init_score=np.tile(init, (y_val.size, 1)), reference=dfit)
        booster = lgb.train(params, dfit, settings.max_rounds, valid_sets=[dval],
                            feval=loss.lightgbm_metric, callbacks=callbacks)
    elapsed = time.perf_counter() - start
    rounds = booster.best_iteration or booster.current_iteration()
    raw = booster.predict(X_test, raw_score=True, num_iteration=rounds)
    return raw.reshape(X_test.shape[0], n_classes) + init, rounds, elapsed


TRAINERS = {"xgboost": train_xgboost, "lightgbm": train_lightgbm}
PROBABILITY_KINDS = ("softmax", "posterior")
PROBABILITY_METRICS = ("log_loss", "brier", "ece", "macro_f1")
METRICS = ("macro_f1", "balanced_accuracy", "minority_recall", "worst_recall", "log_loss") + tuple(
    f"{kind}_{metric}" for kind in PROBABILITY_KINDS for metric in PROBABILITY_METRICS)
LOWER_IS_BETTER = ("log_loss", "brier", "ece")


def lower_is_better(metric: str) -> bool:
    return metric.removeprefix("softmax_").removeprefix("posterior_") in LOWER_IS_BETTER


def score(raw, y_test, y_fit, n_classes, loss: Optional[FocalLoss] = None) -> Dict[str, float]:
    """Scores of the test margins; ``loss`` (None for softmax) gives the posterior correction."""
    scores = classification_metrics(y_test, raw, n_classes)
    by_kind = {}
    for kind, probabilities in probability_kinds(loss, raw).items():
        for metric, value in probability_scores(y_test, probabilities, n_classes=n_classes).items():
            by_kind[f"{kind}_{metric}"] = value
    recall = np.asarray(scores["recall"], dtype=float)
    counts = np.bincount(y_fit, minlength=n_classes)
    rarest = int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))
    return {
        "macro_f1": scores["macro_f1"],
        "balanced_accuracy": scores["balanced_accuracy"],
        "minority_recall": float(recall[rarest]),
        "worst_recall": float(np.nanmin(recall)),
        "log_loss": scores["log_loss"],
        "recall": scores["recall"],
        "rarest_class": rarest,
        **by_kind,
    }


def aggregate(runs: List[dict], names: List[str], boosters: List[str], datasets: List[str]) -> dict:
    """mean/std over seeds per (booster, data set, contender), and differences to softmax paired by
    seed, summarised over data sets."""
    table: Dict[str, dict] = {}
    for booster in boosters:
        table[booster] = {}
        for dataset in datasets:
            table[booster][dataset] = {}
            base = {r["seed"]: r for r in runs if r["booster"] == booster and r["dataset"] == dataset
                    and r["contender"] == "softmax" and r.get("error") is None}
            for name in names:
                mine = [r for r in runs if r["booster"] == booster and r["dataset"] == dataset
                        and r["contender"] == name]
                if not mine:
                    continue
                ok = [r for r in mine if r.get("error") is None]
                # .get: runs reused from files written before a metric existed lack it.
                cell = {metric: common.mean_and_std([r.get(metric) for r in ok]) for metric in METRICS}
                cell["rounds"] = common.mean_and_std([r["rounds"] for r in ok])
                cell["train_time_s"] = common.mean_and_std([r["train_time_s"] for r in ok])
                cell["errors"] = len(mine) - len(ok)
                cell["diff_vs_softmax"] = {
                    metric: common.mean_and_std([r[metric] - base[r["seed"]][metric] for r in ok
                                                 if r["seed"] in base and metric in r
                                                 and metric in base[r["seed"]]])
                    for metric in METRICS
                }
                table[booster][dataset][name] = cell
    summary: Dict[str, dict] = {}
    for booster in boosters:
        summary[booster] = {}
        for name in names:
            cells = [table[booster][d][name] for d in datasets if name in table[booster][d]]
            if not cells:
                continue
            entry = {}
            for metric in METRICS:
                diffs = [c["diff_vs_softmax"][metric]["mean"] for c in cells
                         if c["diff_vs_softmax"][metric]["mean"] is not None]
                better = (lambda d: d < 0) if lower_is_better(metric) else (lambda d: d > 0)
                entry[metric] = {
                    "mean_diff": float(np.mean(diffs)) if diffs else None,
                    "wins": int(sum(better(d) for d in diffs if abs(d) > 1e-12)),
                    "losses": int(sum(not better(d) for d in diffs if abs(d) > 1e-12)),
                    "n_datasets": len(diffs),
                }
            # Mean rank of macro-F1 among the contenders, per data set (1 = best).
            entry["mean_rank_macro_f1"] = None
            summary[booster][name] = entry
        ranks: Dict[str, List[float]] = {name: [] for name in names}
        for dataset in datasets:
            present = [n for n in names if n in table[booster][dataset]
                       and table[booster][dataset][n]["macro_f1"]["mean"] is not None]
            values = np.array([table[booster][dataset][n]["macro_f1"]["mean"] for n in present])
            order = (-values).argsort(kind="stable").argsort()
            for n, rank in zip(present, order):
                ranks[n].append(rank + 1.0)
        for name in names:
            if name in summary[booster] and ranks[name]:
                summary[booster][name]["mean_rank_macro_f1"] = float(np.mean(ranks[name]))
    return {"table": table, "summary": summary}


def render_markdown(payload: dict) -> str:
    settings, agg = payload["settings"], payload["aggregate"]
    names, datasets = payload["contenders"], payload["datasets"]
    seed_counts = ", ".join(f"{d}: {payload['seeds'][d]}" for d in datasets)
    lines = [
        "# Quality benchmark: focal loss vs softmax",
        "",
        f"Generated by `python benchmarks/bench_quality.py` on {payload['environment']['date']} "
        f"(boostfocal {payload['environment']['boostfocal']}, XGBoost {payload['environment']['xgboost']}, "
        f"LightGBM {payload['environment']['lightgbm']}). Learning rate {settings['learning_rate']} for "
        f"everyone; rounds by early stopping (patience {settings['patience']}, at most "
        f"{settings['max_rounds']}) on each contender's own objective on a 20% stratified validation "
        "split of the training part; XGBoost hist max_depth 6 (its defaults: reg_lambda 1, min_child_weight "
        f"1), LightGBM num_leaves 31, lambda_l2 {settings.get('lightgbm_lambda_l2', 0.0):g}; 1 thread. "
        "Cells are mean ± standard deviation over seeds "
        f"({seed_counts}).",
        "",
        "Minority recall is the test recall of the class with the fewest training rows; worst recall is "
        "the lowest per-class test recall.",
    ]
    if payload.get("reused_from"):
        lines += ["", f"The runs of the boosters not rerun here were taken from `{payload['reused_from']['stem']}.json` "
                  f"(same protocol, run on {payload['reused_from']['environment']['date']})."]
    for booster in payload["boosters"]:
        lines += ["", f"## {booster}: summary over {len(datasets)} data sets", "",
                  "Mean difference to softmax (paired by seed, then averaged over data sets); W/L = data "
                  "sets where the contender's mean is better / worse than softmax's.", ""]
        header = ["contender", "mean rank macro-F1", "Δ macro-F1 (W/L)", "Δ bal. acc. (W/L)",
                  "Δ minority recall (W/L)", "Δ log loss (W/L)"]
        rows = []
        for name in names:
            entry = agg["summary"][booster].get(name)
            if entry is None:
                continue
            cells = [name, f"{entry['mean_rank_macro_f1']:.1f}" if entry["mean_rank_macro_f1"] else "-"]
            for metric in ("macro_f1", "balanced_accuracy", "minority_recall", "log_loss"):
                m = entry[metric]
                cells.append("-" if m["mean_diff"] is None else
                             f"{m['mean_diff']:+.4f} ({m['wins']}/{m['losses']})")
            rows.append(cells)
        lines.append(common.markdown_table(header, rows))
        for metric, title in (("macro_f1", "macro-F1"), ("balanced_accuracy", "balanced accuracy"),
                              ("minority_recall", "minority-class recall"),
                              ("log_loss", "log loss"), ("rounds", "rounds (early stopping)")):
            lines += ["", f"### {booster}: {title}", ""]
            rows = []
            for name in names:
                row = [name]
                for dataset in datasets:
                    cell = agg["table"][booster][dataset].get(name)
                    if cell is None or cell[metric]["mean"] is None:
                        row.append("-")
                    else:
                        digits = 0 if metric == "rounds" else 3
                        row.append(f"{cell[metric]['mean']:.{digits}f} ± {cell[metric]['std']:.{digits}f}")
                rows.append(row)
            lines.append(common.markdown_table(["contender"] + datasets, rows))
        lines += ["", f"### {booster}: probabilities, softmax → posterior correction", "",
                  "Each cell: the score of the softmax of the test margins → the score of "
                  "`posterior_proba` of the same margins (mean over seeds; identical for the softmax "
                  "contenders). Log loss clipped at 1e-15; Brier score summed over classes; expected "
                  "calibration error of the top label, 15 bins; macro-F1 of each argmax."]
        for metric, title in (("log_loss", "log loss"), ("brier", "Brier score"),
                              ("ece", "expected calibration error"), ("macro_f1", "macro-F1")):
            lines += ["", f"#### {booster}: {title}", ""]
            rows = []
            for name in names:
                row = [name]
                for dataset in datasets:
                    cell = agg["table"][booster][dataset].get(name)
                    before = None if cell is None else cell.get(f"softmax_{metric}", {}).get("mean")
                    after = None if cell is None else cell.get(f"posterior_{metric}", {}).get("mean")
                    row.append("-" if before is None or after is None else f"{before:.4f} → {after:.4f}")
                rows.append(row)
            lines.append(common.markdown_table(["contender"] + datasets, rows))
    errors = [r for r in payload["runs"] if r.get("error")]
    if errors:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {r['booster']} {r['dataset']} seed {r['seed']} {r['contender']}: {r['error']}" for r in errors]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset")
    parser.add_argument("--boosters", default="xgboost,lightgbm")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per data set (default: 3, glass 10, yeast 5)")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-rounds", type=int, default=500)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--lightgbm-lambda-l2", type=float, default=1.0,
                        help="LightGBM's L2 leaf penalty for every contender (XGBoost's default is 1; "
                             "LightGBM's own default 0 lets Newton steps blow up on shuttle)")
    parser.add_argument("--reuse", metavar="STEM",
                        help="take the runs of the boosters NOT in --boosters from results/STEM.json")
    parser.add_argument("--quick", action="store_true", help="1 seed and a few contenders (smoke test)")
    parser.add_argument("--contenders", default=None,
                        help="comma-separated subset of the contenders' names (default: all)")
    parser.add_argument("--stem", default="quality", help="results file name stem")
    settings = parser.parse_args(argv)
    datasets = [d for d in settings.datasets.split(",") if d]
    boosters = [b for b in settings.boosters.split(",") if b]
    unknown = [d for d in datasets if d not in DATASETS] + [b for b in boosters if b not in TRAINERS]
    if unknown:
        parser.error(f"unknown data sets or boosters: {unknown}")
    entries = contenders(settings.quick)
    if settings.contenders:
        wanted = [name.strip() for name in settings.contenders.split(",") if name.strip()]
        missing = sorted(set(wanted) - {c["name"] for c in entries})
        if missing:
            parser.error(f"unknown contenders: {missing}")
        entries = [c for c in entries if c["name"] in wanted]
    names = [c["name"] for c in entries]
    reused: List[dict] = []
    if settings.reuse:
        import json

        previous = json.loads((common.RESULTS / f"{settings.reuse}.json").read_text())
        reused = [r for r in previous["runs"] if r["booster"] not in boosters and r["dataset"] in datasets]
        boosters_reused = sorted({r["booster"] for r in reused})
        print(f"reusing {len(reused)} runs of {boosters_reused} from {settings.reuse}.json", file=sys.stderr)
    seeds = {d: 1 if settings.quick else (settings.seeds or SEEDS.get(d, DEFAULT_SEEDS)) for d in datasets}
    common.set_threads(1)
    FocalLoss().gradient_hessian(np.arange(2) % 2, np.zeros((2, 2)))  # compile outside the timings
    payload = {"settings": {k: v for k, v in vars(settings).items()}, "environment": common.environment(),
               "datasets": datasets, "boosters": sorted({r["booster"] for r in reused} | set(boosters),
                                                          key=list(TRAINERS).index),
               "contenders": names, "seeds": seeds, "runs": list(reused)}
    if reused:
        payload["reused_from"] = {"stem": settings.reuse, "environment": previous["environment"],
                                  "settings": previous["settings"]}
    start = time.perf_counter()
    for dataset in datasets:
        for seed in range(seeds[dataset]):
            data = splits(dataset, seed)
            n_classes = int(max(data[1].max(), data[3].max(), data[5].max())) + 1
            for booster in boosters:
                for contender in entries:
                    run = {"dataset": dataset, "seed": seed, "booster": booster, "contender": contender["name"]}
                    try:
                        raw, rounds, elapsed = TRAINERS[booster](contender, data, n_classes, settings, seed)
                        if not np.all(np.isfinite(raw)):
                            raise FloatingPointError("non-finite test margins")
                        loss = _focal_loss(contender, data[1], n_classes) if contender["kind"] == "focal" else None
                        run.update(score(raw, data[5], data[1], n_classes, loss), rounds=int(rounds),
                                   train_time_s=elapsed, error=None)
                    except Exception as error:  # record and go on: one bad contender must not stop the run
                        run["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                    payload["runs"].append(run)
            print(f"[{time.perf_counter() - start:7.1f}s] {dataset} seed {seed} done", file=sys.stderr, flush=True)
            # Write after every seed, so that a long run leaves usable partial results.
            payload["aggregate"] = aggregate(payload["runs"], names, payload["boosters"], datasets)
            payload["elapsed_s"] = time.perf_counter() - start
            common.write_results(settings.stem, payload, render_markdown(payload), compact=True)
    print("\n".join(str(p) for p in common.write_results(settings.stem, payload, render_markdown(payload), compact=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

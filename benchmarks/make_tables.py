"""Regenerate the benchmark tables and plots of docs/benchmarks.md from ``benchmarks/results/*.json``.

Reads ``quality.json``, ``quality_posterior.json`` (the probability kinds; falls back to
``quality.json`` when that holds them), ``training_speed_cpu.json``, ``speed_cpu.json``,
``speed_cuda.json`` (when present) and ``scaling.json``, draws ``results/quality.png`` and
``results/scaling.png``, and rewrites the block between
``<!-- begin generated: benchmarks -->`` and ``<!-- end generated: benchmarks -->`` inside docs/benchmarks.md
(its ``benchmarks`` section). Nothing in that block is typed by hand.

    python benchmarks/make_tables.py            # after running the benchmarks
    python benchmarks/make_tables.py --check    # exit 1 if docs/benchmarks.md is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

import common

# The page the tables go into; its links are relative to docs/.
PAGE = common.REPO_ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- begin generated: benchmarks -->"
END = "<!-- end generated: benchmarks -->"
# Contenders shown in docs/benchmarks.md's quality table and plot (all of them are in results/quality.md).
HEADLINE = ["softmax+w", "focal g=0.5", "focal g=1", "focal g=2", "focal g=5", "focal g=2 a=bal",
            "focal g=2 exact", "focal g=2 floor", "focal g=5 exact", "focal g=5 floor"]
PLOTTED = ["softmax+w", "focal g=1", "focal g=2", "focal g=2 a=bal"]
# Contenders of the probability table (softmax of the margins vs the posterior correction), and the
# one shown per data set (gamma 2, the estimators' default).
PROBABILITY_CONTENDERS = ["focal g=0.5", "focal g=1", "focal g=2", "focal g=5", "focal g=2 a=bal"]
PROBABILITY_PER_DATASET = "focal g=2"
PROBABILITY_METRICS = (("log_loss", "log loss"), ("brier", "Brier"), ("ece", "ECE"), ("macro_f1", "macro-F1"))


def _load(name: str) -> Optional[dict]:
    path = common.RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def quality_tables(quality: dict) -> List[str]:
    summary = quality["aggregate"]["summary"]
    datasets, seeds = quality["datasets"], quality["seeds"]
    settings = quality["settings"]
    lines = [
        f"**Quality** ({len(datasets)} real data sets: "
        + ", ".join(f"{d} ({seeds[d]} seeds)" for d in datasets)
        + f"; learning rate {settings['learning_rate']}, rounds by early stopping on each contender's own "
        "objective on a validation split; 1 thread). Mean difference to plain softmax over the data sets, "
        "paired by seed; (W/L) counts the data sets where the contender's mean is better / worse. "
        "Full tables with the spread over seeds: [benchmarks/results/quality.md](../benchmarks/results/quality.md).",
    ]
    for booster in quality["boosters"]:
        rows = []
        for name in ["softmax"] + HEADLINE:
            entry = summary[booster].get(name)
            if entry is None:
                continue
            cells = [name, f"{entry['mean_rank_macro_f1']:.1f}"]
            for metric in ("macro_f1", "balanced_accuracy", "minority_recall", "log_loss"):
                m = entry[metric]
                cells.append("-" if name == "softmax" or m["mean_diff"] is None
                             else f"{m['mean_diff']:+.3f} ({m['wins']}/{m['losses']})")
            rows.append(cells)
        n_contenders = len(quality["contenders"])
        lines += ["", f"{'XGBoost' if booster == 'xgboost' else 'LightGBM'} (mean rank of macro-F1 among "
                  f"{n_contenders} contenders, 1 = best):", ""]
        lines.append(common.markdown_table(
            ["contender", "mean rank", "Δ macro-F1", "Δ balanced acc.", "Δ minority recall", "Δ log loss"], rows))
    return lines


def _has_probability_kinds(quality: Optional[dict]) -> bool:
    if quality is None:
        return False
    runs = [r for r in quality["runs"] if r.get("error") is None]
    return bool(runs) and all("posterior_log_loss" in r for r in runs)


def _booster_title(booster: str) -> str:
    return "XGBoost" if booster == "xgboost" else "LightGBM"


def probability_tables(quality: dict, source: str) -> List[str]:
    """Softmax of the focal margins vs the posterior correction, from the same test margins."""
    table, datasets, boosters = quality["aggregate"]["table"], quality["datasets"], quality["boosters"]

    def mean(cell, key):
        return None if cell is None else cell.get(key, {}).get("mean")

    seeds = ", ".join(f"{d} ({quality['seeds'][d]})" for d in datasets)
    lines = [
        "", "**Probabilities: softmax of the focal margins → posterior correction** "
        f"(`predict_proba` with `probability=\"softmax\"` → `\"posterior\"`; same models and test splits, "
        f"{seeds} seeds; log loss clipped at 1e-15, "
        "Brier score summed over classes, ECE: top-label expected calibration error with 15 bins; "
        f"details in [benchmarks/results/{source}.md](../benchmarks/results/{source}.md)). "
        "Mean over the data sets of each score; (W/L): data sets where the posterior correction is better / "
        "worse than the softmax of the same model. The estimators' default `probability=\"posterior\"` "
        "was chosen from these rows ([probabilities.md](probabilities.md)).", "",
    ]
    rows = []
    for booster in boosters:
        for name in PROBABILITY_CONTENDERS:
            cells = [table[booster][d].get(name) for d in datasets]
            if any(c is None for c in cells):
                continue
            row = [_booster_title(booster), name]
            for metric, _ in PROBABILITY_METRICS:
                before = [mean(c, f"softmax_{metric}") for c in cells]
                after = [mean(c, f"posterior_{metric}") for c in cells]
                if any(v is None for v in before + after):
                    row.append("-")
                    continue
                sign = 1.0 if metric == "macro_f1" else -1.0  # higher / lower is better
                wins = sum(sign * (a - b) > 1e-12 for a, b in zip(after, before))
                losses = sum(sign * (a - b) < -1e-12 for a, b in zip(after, before))
                row.append(f"{np.mean(before):.4f} → {np.mean(after):.4f} ({wins}/{losses})")
            rows.append(row)
    lines.append(common.markdown_table(["booster", "contender"] + [title for _, title in PROBABILITY_METRICS],
                                       rows, "ll" + "r" * len(PROBABILITY_METRICS)))
    lines += ["", f"Per data set, `{PROBABILITY_PER_DATASET}` (the estimators' gamma); plain softmax "
              "training for reference:", ""]
    rows = []
    for booster in boosters:
        for dataset in datasets:
            cell = table[booster][dataset].get(PROBABILITY_PER_DATASET)
            reference = table[booster][dataset].get("softmax")
            if cell is None:
                continue
            row = [_booster_title(booster), dataset,
                   "-" if mean(reference, "softmax_log_loss") is None else f"{mean(reference, 'softmax_log_loss'):.4f}"]
            for metric, _ in PROBABILITY_METRICS:
                before, after = mean(cell, f"softmax_{metric}"), mean(cell, f"posterior_{metric}")
                row.append("-" if before is None or after is None else f"{before:.4f} → {after:.4f}")
            rows.append(row)
    lines.append(common.markdown_table(
        ["booster", "data set", "softmax training: log loss"] + [title for _, title in PROBABILITY_METRICS],
        rows, "ll" + "r" * (1 + len(PROBABILITY_METRICS))))
    return lines


def training_speed_tables(speed: dict) -> List[str]:
    """One row per booster, task and size: focal / built-in at default threads and at 1 thread, the
    floor of the custom-objective route (a NumPy objective with the built-in's gradient) and, for
    binary tasks where the run has it, the gamma0 twin through the focal route (the route's cost)."""
    env = speed["environment"]
    cells = {}
    for r in speed["rows"]:
        cells.setdefault((r["booster"], r["task"], r["n_rows"]), {})[r["threads"]] = r
    settings = sorted({r["threads"] for r in speed["rows"]}, key=lambda t: (t != "default", t))
    with_floor = any("ratio_numpy" in r for r in speed["rows"])
    with_obj_route = any("ratio_focal_obj" in r for r in speed["rows"])
    with_gamma0 = any("ratio_gamma0" in r for r in speed["rows"])
    # Runs before loss.lightgbm_train timed LightGBM's public route as its focal contender.
    lightgbm_train = any("ratio_focal_obj" in r for r in speed["rows"] if r["booster"] == "lightgbm")
    lightgbm_focal = "loss.lightgbm_train" if lightgbm_train else "the objective in params"
    lines = ["", f"**Training time, focal / built-in objective, by thread setting** ({env.get('cpu_model')}, "
             f"{env['cpu_count']} cores; XGBoost {env['xgboost']} hist depth 6, LightGBM {env['lightgbm']} 31 "
             "leaves; 30 features, gamma = 2; default threads: nothing set, wall clock; 1 thread: nthread / "
             "num_threads = 1 and 1 Numba thread, CPU time; medians of interleaved repeats"
             + (f"; focal: loss.xgboost_train (XGBoost), {lightgbm_focal} (LightGBM); obj=: the public "
                "route, xgboost.train(obj=loss.xgboost_objective)"
                + (" / the objective in params" if lightgbm_train else "") if with_obj_route else "")
             + ("; NumPy obj: a NumPy objective with the built-in's own gradient through the public "
                "custom-objective route, that route's floor" if with_floor else "")
             + ("; gamma 0 (binary): BinaryFocalLoss(0.0), the logistic loss, through the focal route: the "
                "built-in's gradient and trees, so gamma 0 / built-in is the route's own cost" if with_gamma0 else "")
             + "; "
             "`python benchmarks/bench_training_speed.py`, details and leaves per round in "
             "[benchmarks/results/training_speed_cpu.md](../benchmarks/results/training_speed_cpu.md)):", ""]
    header = ["booster", "task", "rows", "rounds x repeats"]
    for setting in settings:
        label = "default threads" if setting == "default" else f"{setting} thread(s)"
        header += [f"built-in s, {label}", f"focal / built-in, {label}"]
        if with_obj_route:
            header += [f"focal obj= / built-in, {label}"]
        if with_floor:
            header += [f"NumPy obj / built-in, {label}"]
        if with_gamma0:
            header += [f"gamma 0 / built-in, {label}"]
    rows = []
    for (booster, task, n_rows), by_setting in cells.items():
        first = next(iter(by_setting.values()))
        row = [booster, task, f"{n_rows:,}", f"{first['rounds']} x {first['repeats']}"]
        for setting in settings:
            r = by_setting.get(setting)
            row += ["-", "-"] if r is None else [f"{r['builtin_s']['median']:.2f}", f"**{r['ratio']:.3f}**"]
            if with_obj_route:
                row += ["-" if r is None or "ratio_focal_obj" not in r else f"{r['ratio_focal_obj']:.3f}"]
            if with_floor:
                row += ["-" if r is None or "ratio_numpy" not in r else f"{r['ratio_numpy']:.3f}"]
            if with_gamma0:
                row += ["-" if r is None or "ratio_gamma0" not in r else f"{r['ratio_gamma0']:.3f}"]
        rows.append(row)
    per_setting = "rr" + "r" * with_obj_route + "r" * with_floor + "r" * with_gamma0
    lines.append(common.markdown_table(header, rows, "llll" + per_setting * len(settings)))
    return lines


def speed_tables(speeds: List[dict]) -> List[str]:
    lines = []
    for speed in speeds:
        env, settings = speed["environment"], speed["settings"]
        where = env.get("gpu") if settings["device"] == "cuda" else f"{env.get('cpu_model')}, {settings['threads']} thread(s)"
        lines += ["", f"**Training time, focal / softmax** ({settings['device']}: {where}; "
                  f"{settings['rounds']} rounds, median of {settings['repeats']} interleaved repeats, "
                  f"{settings['clock']} time; details in "
                  f"[benchmarks/results/speed_{settings['device']}.md](../benchmarks/results/speed_{settings['device']}.md)):", ""]
        rows = []
        for r in speed["rows"]:
            size = f"{r['n_rows']:,} x {r['n_features']} x {r['n_classes']}"
            if "error" in r:
                rows.append([r["booster"], size, "failed: " + r["error"], "", "", ""])
                continue
            t = r["times_s"]
            rows.append([r["booster"], size, f"{t['softmax']['median']:.2f}", f"{t['focal']['median']:.2f}",
                         f"**{r['ratio_focal']:.3f}**", f"{r['ratio_focal-lean']:.3f}"])
        lines.append(common.markdown_table(
            ["booster", "rows x features x classes", "softmax s", "focal s", "focal / softmax",
             "focal-lean / softmax"], rows, "llrrrr"))
    return lines


def scaling_tables(scaling: dict) -> List[str]:
    row_sweep = scaling["rows"]
    per_entry = [p["ns_per_entry"] for p in row_sweep]
    largest_n = max(row_sweep, key=lambda p: p["n_rows"])
    by_classes = sorted(scaling["classes"], key=lambda p: p["n_classes"])
    lines = [
        "", f"**Kernel scaling** (`FocalLoss.gradient_hessian`, float32 margins, "
        f"{scaling['settings']['threads']} thread, CPU time): at {row_sweep[0]['n_classes']} classes the cost "
        f"per entry (row x class) stays between {min(per_entry):.1f} and {max(per_entry):.1f} ns from "
        f"{row_sweep[0]['n_rows']:,} to {row_sweep[-1]['n_rows']:,} rows (log-log slope "
        f"{scaling['slope_rows']:.2f}); as classes grow from {by_classes[0]['n_classes']} to "
        f"{by_classes[-1]['n_classes']} it falls from {by_classes[0]['ns_per_entry']:.1f} to "
        f"{by_classes[-1]['ns_per_entry']:.1f} ns, because part of the work is per row (max, log and the "
        f"true-class terms): time = {scaling['cost_model']['ns_per_row']:.1f} ns x rows + "
        f"{scaling['cost_model']['ns_per_entry']:.2f} ns x rows x classes (least squares over all points). "
        f"Memory beyond the two outputs (NumPy allocations, tracemalloc): "
        f"{largest_n['extra_traced_bytes'] / 2**20:.2f} MiB at {largest_n['n_rows']:,} x "
        f"{largest_n['n_classes']} ({100 * largest_n['extra_traced_bytes'] / largest_n['input_bytes']:.2f}% "
        f"of the margins), {by_classes[-1]['extra_traced_bytes'] / 2**20:.2f} MiB at "
        f"{by_classes[-1]['n_rows']:,} x {by_classes[-1]['n_classes']} (scratch that grows with the classes "
        "only); nothing the size of the input. Details: "
        "[benchmarks/results/scaling.md](../benchmarks/results/scaling.md), plot "
        "[benchmarks/results/scaling.png](../benchmarks/results/scaling.png).", "",
    ]
    lines.append(common.markdown_table(
        ["rows", "classes", "time ms", "ns / entry", "extra memory MiB", "margins (input) MiB"],
        [[f"{p['n_rows']:,}", str(p["n_classes"]),
          f"{1e3 * (p['cpu_s'] if p['threads'] == 1 else p['wall_s']):.1f}", f"{p['ns_per_entry']:.2f}",
          f"{p['extra_traced_bytes'] / 2**20:.2f}", f"{p['input_bytes'] / 2**20:.1f}"]
         for p in row_sweep + [by_classes[-1]]]))
    return lines


def quality_plot(quality: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = quality["aggregate"]["table"]
    datasets, boosters = quality["datasets"], quality["boosters"]
    figure = Figure(figsize=(13, 3.6 * len(boosters)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(boosters), 2, squeeze=False)
    width = 0.8 / len(PLOTTED)
    x = np.arange(len(datasets))
    for row, booster in enumerate(boosters):
        for column, (metric, label) in enumerate((("macro_f1", "Δ macro-F1 vs softmax"),
                                                   ("minority_recall", "Δ minority-class recall vs softmax"))):
            ax = axes[row][column]
            for i, name in enumerate(PLOTTED):
                means, stds = [], []
                for d in datasets:
                    cell = table[booster][d].get(name, {}).get("diff_vs_softmax", {}).get(metric, {})
                    means.append(np.nan if cell.get("mean") is None else cell["mean"])
                    stds.append(0.0 if not cell.get("std") else cell["std"])
                ax.bar(x + (i - (len(PLOTTED) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=name)
            ax.axhline(0.0, color="black", linewidth=0.8)
            ax.set_xticks(x, datasets, fontsize=8)
            ax.set_ylabel(label)
            ax.set_title(f"{'XGBoost' if booster == 'xgboost' else 'LightGBM'}: {label} (mean ± sd over seeds)",
                         fontsize=10)
            ax.grid(axis="y", alpha=0.3)
            if row == 0 and column == 0:
                ax.legend(fontsize=8, ncols=2)
    figure.savefig(path, dpi=90)


def scaling_plot(scaling: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    for ax, key, title in ((axes[0], "rows", "rows grow, K = 10"), (axes[1], "classes", "classes grow, n = 20,000")):
        points = scaling[key]
        entries = np.array([p["entries"] for p in points], dtype=float)
        times = np.array([p["cpu_s"] if p["threads"] == 1 else p["wall_s"] for p in points])
        model = scaling["cost_model"]
        rows = np.array([p["n_rows"] for p in points], dtype=float)
        fitted = 1e-9 * (model["ns_per_row"] * rows + model["ns_per_entry"] * entries)
        ax.loglog(entries, times * 1e3, "o-", label="measured")
        ax.loglog(entries, fitted * 1e3, "--", color="gray",
                  label=f"{model['ns_per_row']:.1f} ns x n + {model['ns_per_entry']:.2f} ns x n x K")
        ax.set_xlabel("rows x classes")
        ax.set_ylabel("ms per gradient_hessian call")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    figure.savefig(path, dpi=90)


KERNEL_RESULTS = (
    ("kernel.json", "AMD EPYC (Zen 4, AVX-512), this project's 2-core machine, shared (stop 21)"),
    ("kernel_zen3_avx2.json", "AMD EPYC (Zen 3, AVX2), this project's 2-core machine, shared (stop 22)"),
    ("kernel_zen3_estrin.json", "AMD EPYC (Zen 3, AVX2), same kind of host, series in Estrin's scheme (stop 23)"),
    ("kernel_zen4_estrin.json", "AMD EPYC (Zen 4, AVX-512), this project's 2-core machine, series in Estrin's scheme (stop 24)"),
    ("kernel_h100_host_2cores_run2.json", "Intel Xeon host of the H100 machine, pinned to 2 cores (before `out=` existed)"),
)


def kernel_tables() -> List[str]:
    """The kernel benchmark (benchmarks/bench_kernel.py) on each machine it was run on."""
    rows = []
    for name, where in KERNEL_RESULTS:
        result = _load(name)
        if result is None:
            continue
        reused = result.get("numba_out_median_s")
        rows.append(
            f"| {where} | {result['numba_median_s'] * 1e3:.1f} | "
            + (f"{reused * 1e3:.1f}" if reused else "-")
            + f" | {result['numpy_median_s'] * 1e3:.1f} | **{result['speedup_numba_over_numpy']:.1f}x** | "
            + (f"{result['speedup_numba_out_over_numpy']:.1f}x" if reused else "-")
            + f" | {result['numba_peak_over_output']:.2f}x | {result['import_boostfocal_median_s'] * 1e3:.0f} ms"
            f" | {result['first_call_cold_cache_median_s']:.2f} s | {result['first_call_warm_cache_median_s']:.2f} s |"
        )
    if not rows:
        return []
    return [
        "",
        "**Kernel**: gradient + Hessian of 1,000,000 x 10 float32 margins (gamma = 2, per-class alpha, "
        "sample weights, `\"psd\"`), 2 Numba threads, against a vectorized NumPy version of the same "
        "math in float64; medians (`python benchmarks/bench_kernel.py`). First calls are in a fresh "
        "process: import + compile (empty Numba cache) or import + load (warm disk cache).",
        "",
        "| machine | Numba ms | Numba, `out=` ms | NumPy ms | speed-up | speed-up, `out=` | peak memory / outputs "
        "| `import boostfocal` | first call, cold | first call, warm |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]


def generate(plots: bool = True) -> str:
    quality, scaling = _load("quality.json"), _load("scaling.json")
    speeds = [s for s in (_load("speed_cpu.json"), _load("speed_cuda.json")) if s is not None]
    lines = [BEGIN, "<!-- generated by benchmarks/make_tables.py from benchmarks/results/*.json; do not edit -->", ""]
    if quality is not None:
        if plots:
            quality_plot(quality, common.RESULTS / "quality.png")
        lines += quality_tables(quality)
        lines += ["", "![Difference to softmax per data set](../benchmarks/results/quality.png)"]
    probabilities = _load("quality_posterior.json")
    if _has_probability_kinds(probabilities):
        lines += probability_tables(probabilities, "quality_posterior")
    elif _has_probability_kinds(quality):
        lines += probability_tables(quality, "quality")
    training_speed = _load("training_speed_cpu.json")
    if training_speed is not None:
        lines += training_speed_tables(training_speed)
    lines += speed_tables(speeds)
    lines += kernel_tables()
    if scaling is not None:
        if plots:
            scaling_plot(scaling, common.RESULTS / "scaling.png")
        lines += scaling_tables(scaling)
    lines += ["", END]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/benchmarks.md is out of date")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{PAGE} has no '{BEGIN}' ... '{END}' block in its benchmarks section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + generate(plots=not args.check) + tail
    if args.check:
        return 0 if new == text else 1
    if new != text:
        PAGE.write_text(new)
    print(f"updated {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

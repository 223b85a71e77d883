"""Rendering a comparison: the text report, strict JSON, and the figure of differences."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Dict

import numpy as np

from .fit import BOOSTER_TITLES

__all__ = ["build_figure", "format_report", "save_figure", "save_json"]

VERDICT_COLORS = {"better": "tab:green", "worse": "tab:red", "no detectable difference": "tab:gray"}


def _finite(value) -> bool:
    """A number that is not NaN/inf (None stands for NaN in a result read back from JSON)."""
    return value is not None and math.isfinite(value)


def _metric_labels(result: Dict[str, object]) -> Dict[str, str]:
    labels = {m["key"]: m["label"] for m in result["metrics"]}
    labels["minority_recall"] = f"recall {result['data']['minority_class']}"
    return labels


def format_report(result: Dict[str, object], width: int = 100) -> str:
    """Plain text: the data and the method, then per booster the mean scores of every contender and
    each contender's differences to the baseline with their intervals and verdicts."""
    data, config = result["data"], result["config"]
    labels = _metric_labels(result)
    keys = [m["key"] for m in result["metrics"]]
    counts = dict(zip(data["class_names"], data["class_counts"]))
    lines = [
        f"data: {data['name']}, {data['n_rows']} rows, {data['n_features']} features, "
        f"{len(data['class_names'])} classes; minority class {data['minority_class']!r} "
        f"({counts[data['minority_class']]} rows)",
        *textwrap.wrap("method: " + result["method"], width, subsequent_indent="  "),
    ]
    names = [c["name"] for c in config["contenders"]]
    baseline = config["baseline"]
    name_width = max(24, max(len(name) for name in names) + 2)
    for booster in config["boosters"]:
        fits = [f for f in result["fits"] if f["booster"] == booster]
        params = ", ".join(f"{key} {value}" for key, value in config["params"][booster].items())
        n_folds = config["cv"] * config["repeats"]
        version = result["environment"].get(booster, "")
        lines += ["", f"{BOOSTER_TITLES[booster]} {version} ({params}; device {config['device'][booster]}): "
                      f"mean over {n_folds} test folds"]
        columns = [(labels[key], key, ".4f") for key in keys] + [("rounds", "rounds", ".0f"), ("time (s)", "train_time_s", ".2f")]
        widths = [max(9, len(title) + 2) for title, _, _ in columns]
        lines.append(" " * name_width + "".join(f"{title:>{w}}" for (title, _, _), w in zip(columns, widths)))
        for name in names:
            runs = [f for f in fits if f["contender"] == name]
            values = [f"{np.mean([f[key] for f in runs]):{w}{spec}}" for (_, key, spec), w in zip(columns, widths)]
            lines.append(f"{name:<{name_width}}" + "".join(values))
        lines += ["", f"difference to {baseline} (mean over folds, 95% interval), verdict:"]
        label_width = max(len(label) for label in labels.values()) + 2
        for name in names[1:]:
            records = [r for r in result["summary"] if r["booster"] == booster and r["contender"] == name]
            lines.append(f"  {name}")
            for record in records:
                interval = (
                    f"[{record['ci_low']:+.4f}, {record['ci_high']:+.4f}]"
                    if _finite(record["ci_low"]) else "[no interval]"
                )
                direction = " (lower is better)" if not record["higher_is_better"] else ""
                lines.append(
                    f"    {labels[record['metric']]:<{label_width}}{record['difference']:+.4f}  {interval:<22}"
                    f"{record['verdict']}{direction if record['verdict'] != 'no detectable difference' else ''}"
                )
            line = next(v["verdict"] for v in result["verdicts"] if v["booster"] == booster and v["contender"] == name)
            lines.append(f"    verdict: {line}")
    return "\n".join(lines)


def _json_ready(value):
    """NaN/inf -> None (JSON has no NaN), numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_json(result: Dict[str, object], path) -> Path:
    """Write the result (every fold's scores, the fold of every row, the summary) as strict JSON."""
    path = Path(path)
    path.write_text(json.dumps(_json_ready(result), indent=1, allow_nan=False) + "\n")
    return path


def _reliability_contenders(result: Dict[str, object]) -> list:
    """The curves worth overlaying: the baseline and every focal contender (both probability kinds)."""
    config = result["config"]
    return [c["name"] for c in config["contenders"]
            if c["name"] == config["baseline"] or c["objective"] == "focal"]


def save_figure(result: Dict[str, object], path) -> Path:
    """Write :func:`build_figure` as a PNG."""
    path = Path(path)
    build_figure(result).savefig(path, dpi=100)
    return path


def build_figure(result: Dict[str, object]):
    """A matplotlib Figure: per booster (rows) and metric (columns), each contender's mean difference
    to the baseline with its 95% interval, coloured by verdict, and the line of no difference; in the
    last column the top-label reliability diagram of the baseline and the focal contenders (softmax and posterior
    probabilities), pooled over all test folds.

    matplotlib is imported here only, and its Agg canvas is used directly, so no global backend is
    switched and no display is needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    config = result["config"]
    labels = _metric_labels(result)
    keys = [m["key"] for m in result["metrics"]]
    boosters = config["boosters"]
    names = [c["name"] for c in config["contenders"]][1:]
    curve_names = _reliability_contenders(result)
    height = max(0.9 + (0.45 * len(names) + 1.0) * len(boosters), 0.9 + 3.6 * len(boosters))
    figure = Figure(figsize=(3.3 * len(keys) + 4.6, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(boosters), len(keys) + 1, squeeze=False,
                           width_ratios=[1.0] * len(keys) + [1.35])
    for row, booster in enumerate(boosters):
        for column, key in enumerate(keys):
            ax = axes[row][column]
            records = {r["contender"]: r for r in result["summary"] if r["booster"] == booster and r["metric"] == key}
            for position, name in enumerate(names):
                record = records[name]
                low, high = record["ci_low"], record["ci_high"]
                error = None if not _finite(low) else [[record["difference"] - low], [high - record["difference"]]]
                ax.errorbar(record["difference"], position, xerr=error, fmt="o", capsize=4,
                            color=VERDICT_COLORS[record["verdict"]])
            ax.axvline(0.0, color="black", linewidth=0.8)
            ax.set_yticks(range(len(names)), names if column == 0 else [], fontsize=8)
            ax.set_ylim(len(names) - 0.5, -0.5)
            better = "higher" if records[names[0]]["higher_is_better"] else "lower"
            ax.set_title(f"{BOOSTER_TITLES[booster]}: {labels[key]}\n({better} is better)", fontsize=9)
            ax.set_xlabel(f"difference to {config['baseline']}", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            ax.grid(axis="x", alpha=0.3)
        ax = axes[row][len(keys)]
        ax.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle=":", label="perfect calibration")
        curves = {c["contender"]: c for c in result.get("reliability", []) if c["booster"] == booster}
        for name in curve_names:
            curve = curves.get(name)
            if curve is None:
                continue
            points = [(conf, acc) for conf, acc in zip(curve["confidence"], curve["accuracy"])
                      if _finite(conf) and _finite(acc)]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, linewidth=1.2,
                        linestyle="--" if curve["probability"] == "posterior" else "-", label=name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_title(f"{BOOSTER_TITLES[booster]}: reliability (top label,\npooled over the test folds)", fontsize=9)
        ax.set_xlabel("mean confidence (bin)", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
    figure.suptitle(
        f"{result['data']['name']}: mean difference to {config['baseline']} over "
        f"{config['cv']}x{config['repeats']} CV folds, 95% corrected resampled t interval "
        "(green better, red worse, grey no detectable difference)", fontsize=10
    )
    return figure

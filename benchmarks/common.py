"""Helpers shared by the benchmark scripts: data, thread control, timing and result files.

Benchmarks are not tests: they run by hand (see docs/benchmarks.md), write JSON + Markdown
into ``benchmarks/results/``, and ``benchmarks/make_tables.py`` turns the JSON into the tables of docs/benchmarks.md.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from boostfocal.compare import _json_ready  # NaN/inf -> None, numpy scalars -> Python

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results"
SHARED_DATA = Path(os.environ.get("BOOSTFOCAL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))


def load_csv(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """(X float64, y int64) of ``<SHARED_DATA>/<name>.csv.gz`` (last column ``label``)."""
    path = SHARED_DATA / f"{name}.csv.gz"
    if not path.is_file():
        raise SystemExit(f"data file {path} not found (set BOOSTFOCAL_SHARED_DATA)")
    with gzip.open(path, "rt") as handle:
        header = handle.readline().strip().split(",")
        table = np.loadtxt(handle, delimiter=",", dtype=np.float64, ndmin=2)
    if header[-1] != "label":
        raise SystemExit(f"{path}: the last column is {header[-1]!r}, expected 'label'")
    return np.ascontiguousarray(table[:, :-1]), table[:, -1].astype(np.int64)


def set_threads(n_threads: int) -> None:
    """Numba's threads for the focal kernels (the boosters get ``nthread``/``num_threads``)."""
    import numba

    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))


def median_and_spread(values) -> Dict[str, float]:
    values = np.asarray(values, dtype=float)
    return {
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
        "n": int(values.size),
    }


def mean_and_std(values) -> Dict[str, float]:
    values = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if values.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "n": int(values.size),
    }


def cpu_model() -> str:
    """The CPU's name, with the target Numba compiles for and its widest vector extension, e.g.
    "AMD EPYC (znver3, AVX2)". Both matter: this project's "AMD EPYC" machines came as AVX2 and
    as AVX-512 hosts, and the same kernel took twice as long on the first (the name alone hides
    it; see docs/benchmarks.md)."""
    name, flags = None, set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and name is None:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "AVX" if "avx" in flags else None
    try:
        import llvmlite.binding

        target = llvmlite.binding.get_host_cpu_name()
    except (ImportError, RuntimeError):
        target = None
    details = ", ".join(part for part in (target, widest) if part)
    return f"{name} ({details})" if details else name


def environment(device: str = "cpu") -> Dict[str, object]:
    """Versions and the machine, recorded with every result file."""
    import numba

    info: Dict[str, object] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threading_layer_requested": numba.config.THREADING_LAYER,
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "device": device,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    info["cpu_model"] = cpu_model()
    for name in ("xgboost", "lightgbm", "boostfocal"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        # Uncommitted changes under boostfocal/ mean the figures belong to a working tree, not a commit.
        info["boostfocal_uncommitted_changes"] = bool(subprocess.run(
            ["git", "status", "--porcelain", "--", "boostfocal"], cwd=REPO_ROOT, capture_output=True,
            text=True, check=True,
        ).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        info["git_commit"] = None
    if device == "cuda":
        try:
            info["gpu"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            info["gpu"] = None
    return info


def write_results(stem: str, payload: Dict[str, object], markdown: str, compact: bool = False) -> List[Path]:
    """Write ``results/<stem>.json`` (``compact``: one line per run, for big files) and
    ``results/<stem>.md``; return their paths."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS / f"{stem}.json", RESULTS / f"{stem}.md"
    payload = _json_ready(payload)
    if compact and isinstance(payload.get("runs"), list):
        head = {key: value for key, value in payload.items() if key != "runs"}
        runs = ",\n".join(json.dumps(run, separators=(",", ":"), allow_nan=False) for run in payload["runs"])
        text = json.dumps(head, separators=(",", ":"), allow_nan=False)[:-1] + ',\n"runs":[\n' + runs + "\n]}"
    else:
        text = json.dumps(payload, indent=1, allow_nan=False)
    json_path.write_text(text + "\n")
    md_path.write_text(markdown.rstrip() + "\n")
    return [json_path, md_path]


def publish(stem: str, payload: Dict[str, object], markdown: str) -> None:
    """:func:`write_results`, then print the files' paths and the Markdown (the benchmarks' last step)."""
    print("\n".join(str(path) for path in write_results(stem, payload, markdown)))
    print(markdown)


def command_line(script: str, argv=None) -> str:
    """How a benchmark was run, for its result files: ``python benchmarks/<script> <arguments>``
    (``script``: the benchmark's ``__file__``; ``argv``: its ``main``'s, or None for sys.argv)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python", f"benchmarks/{Path(script).name}", *arguments])


def markdown_table(header: List[str], rows: List[List[str]], align: str = "") -> str:
    """A GitHub table; ``align`` holds one of l/r per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)

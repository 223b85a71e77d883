"""Issue 11: XGBoost focal training with margins and gradients on the GPU, against the built-in
multi:softprob, by wall time.

Kinds, each timed end to end, interleaved, after one warm-up of every kind (compilation excluded):
  softmax          xgboost.train(multi:softprob) on a DMatrix of CuPy features
  focal-train      loss.xgboost_train (device loop) on the same DMatrix, features=CuPy X
  focal-host       xgboost.train(obj=loss.xgboost_cuda_objective): the host round trip, for reference
  xgbclassifier    xgboost.XGBClassifier(device="cuda", multi:softprob).fit(X, y), NumPy X
  focal-estimator  boostfocal FocalXGBClassifier(device="cuda").fit(X, y), NumPy X
Ratios: focal-train / softmax, focal-host / softmax, focal-estimator / xgbclassifier (target <= 1.2).

Usage: python benchmarks/device/bench_xgboost_train_cuda.py [--sizes 500000x7,2000000x10]
       [--rounds 50] [--repeats 5] [--out DIR] [--dry-run]
--dry-run: tiny sizes on the CPU (device="cpu", NumPy), to check the script itself without a GPU.
Writes xgboost_train_cuda.json and .md into --out (default benchmarks/results).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import xgboost  # noqa: E402

from boostfocal import FocalLoss  # noqa: E402
from boostfocal.sklearn import FocalXGBClassifier  # noqa: E402

N_FEATURES = 50
MAX_DEPTH = 6


def machine():
    try:
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        gpu = ""
    return {"gpu": gpu or "none", "cpu_cores": os.cpu_count(), "python": platform.python_version(),
            "xgboost": xgboost.__version__, "numpy": np.__version__}


def make_data(n, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    y = np.argmax(X[:, :k] + rng.normal(size=(n, k)), axis=1)
    return X, y


def kinds(X, y, k, rounds, device, xp):
    loss = FocalLoss(2.0)
    X_device = xp.asarray(X)
    dtrain = xgboost.DMatrix(X_device, label=xp.asarray(y))
    params = {"tree_method": "hist", "device": device, "max_depth": MAX_DEPTH}
    softmax_params = dict(params, objective="multi:softprob", num_class=k)

    def softmax():
        xgboost.train(softmax_params, dtrain, rounds)

    def focal_train():
        with warnings.catch_warnings():
            # A fallback would time the wrong thing: make it an error.
            warnings.filterwarnings("error", message=".*falls back", category=RuntimeWarning)
            loss.xgboost_train(params, dtrain, rounds, verbose_eval=False,
                               features={dtrain: X_device},
                               _array_module=None if device != "cpu" else "numpy")

    def focal_host():
        objective = loss.xgboost_cuda_objective if device != "cpu" else loss.xgboost_objective
        from boostfocal.adapters.init_score import xgboost_params_with_init_score

        xgboost.train(xgboost_params_with_init_score(loss, y, params), dtrain, rounds, obj=objective)

    def xgbclassifier():
        xgboost.XGBClassifier(n_estimators=rounds, max_depth=MAX_DEPTH, tree_method="hist",
                              device=device).fit(X, y)

    def focal_estimator():
        with warnings.catch_warnings():
            if device != "cpu":
                warnings.filterwarnings("error", message=".*falls back", category=RuntimeWarning)
            FocalXGBClassifier(gamma=2.0, n_estimators=rounds, max_depth=MAX_DEPTH,
                               device=device).fit(X, y)

    return {"softmax": softmax, "focal-train": focal_train, "focal-host": focal_host,
            "xgbclassifier": xgbclassifier, "focal-estimator": focal_estimator}


def synchronize(xp):
    if xp is not np:
        xp.cuda.runtime.deviceSynchronize()


def measure(n, k, rounds, repeats, device, xp):
    X, y = make_data(n, k)
    runs = kinds(X, y, k, rounds, device, xp)
    for run in runs.values():  # warm-up: compilation, CUDA contexts, caches
        run()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():  # interleaved, so drifts hit every kind alike
            synchronize(xp)
            start = time.perf_counter()
            run()
            synchronize(xp)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratios = {
        "focal-train / softmax": medians["focal-train"] / medians["softmax"],
        "focal-host / softmax": medians["focal-host"] / medians["softmax"],
        "focal-estimator / xgbclassifier": medians["focal-estimator"] / medians["xgbclassifier"],
    }
    for name, median in medians.items():
        print(f"{n}x{N_FEATURES}x{k} {name:16s} median {median:.3f} s  runs {np.round(times[name], 3).tolist()}",
              flush=True)
    for name, ratio in ratios.items():
        print(f"{n}x{N_FEATURES}x{k} {name:32s} {ratio:.3f}", flush=True)
    return {"rows": n, "features": N_FEATURES, "classes": k, "rounds": rounds, "times_s": times,
            "median_s": medians, "ratios": ratios}


def markdown(result):
    lines = [
        "# XGBoost focal training on the GPU: loss.xgboost_train's device loop (issue 11)",
        "",
        f"Machine: {result['machine']['gpu']}, {result['machine']['cpu_cores']} CPU cores; XGBoost "
        f"{result['machine']['xgboost']}. `hist`, max_depth {MAX_DEPTH}, {result['rounds']} rounds, "
        f"float32 synthetic data, gamma = 2, `hessian=\"psd\"`; wall time, median of "
        f"{result['repeats']} interleaved repeats after a warm-up. Command: `python "
        "benchmarks/device/bench_xgboost_train_cuda.py`.",
        "",
        "| rows x features x classes | softmax | focal `xgboost_train` | focal host objective (CuPy hand-back) "
        "| XGBClassifier softprob | FocalXGBClassifier | xgboost_train / softmax | estimator / XGBClassifier |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in result["sizes"]:
        m, r = size["median_s"], size["ratios"]
        lines.append(
            f"| {size['rows']:,} x {size['features']} x {size['classes']} | {m['softmax']:.3f} s "
            f"| {m['focal-train']:.3f} s | {m['focal-host']:.3f} s ({r['focal-host / softmax']:.2f}x) "
            f"| {m['xgbclassifier']:.3f} s | {m['focal-estimator']:.3f} s "
            f"| **{r['focal-train / softmax']:.2f}** | **{r['focal-estimator / xgbclassifier']:.2f}** |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500000x7,2000000x10")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "results"))
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    if args.dry_run:
        device, xp = "cpu", np
        sizes = [(2000, 3), (3000, 4)]
        args.rounds, args.repeats = 3, 2
    else:
        import cupy

        device, xp = "cuda", cupy
        sizes = [tuple(int(part) for part in size.split("x")) for size in args.sizes.split(",")]
    result = {"machine": machine(), "rounds": args.rounds, "repeats": args.repeats, "device": device,
              "sizes": []}
    os.makedirs(args.out, exist_ok=True)
    stem = "xgboost_train_cuda" if not args.dry_run else "xgboost_train_cuda_dry_run"
    for n, k in sizes:
        result["sizes"].append(measure(n, k, args.rounds, args.repeats, device, xp))
        # Written after every size: a run cut off by a time limit keeps the sizes it finished.
        with open(os.path.join(args.out, stem + ".json"), "w") as handle:
            json.dump(result, handle, indent=1)
        with open(os.path.join(args.out, stem + ".md"), "w") as handle:
            handle.write(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

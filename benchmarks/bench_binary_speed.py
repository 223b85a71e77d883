"""Binary training time: BinaryFocalLoss against the built-in binary:logistic / binary objectives.

Same data (synthetic float32, ~10 % positives), rounds, depth and one thread for everything (the
boosters and the Numba kernels); CPU seconds of the process, medians of interleaved repeats after a
warm-up. Writes ``benchmarks/results/speed_binary_cpu.json`` and ``.md``.

    python benchmarks/bench_binary_speed.py [--rows 500000] [--rounds 10] [--repeats 3]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import lightgbm as lgb
    import numba
    import xgboost as xgb

    from boostfocal import BinaryFocalLoss

    numba.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=args.rows) > 1.5).astype(int)
    loss = BinaryFocalLoss(2.0, 0.25)
    dtrain = xgb.DMatrix(X, label=y, nthread=1)
    dataset = lgb.Dataset(X, y, params={"verbose": -1}).construct()
    xgb_params = {"objective": "binary:logistic", "nthread": 1, "max_depth": 6, "base_score": 0.5}
    runs = {
        ("xgboost", "built-in"): lambda: xgb.train(xgb_params, dtrain, args.rounds),
        ("xgboost", "focal"): lambda: xgb.train(xgb_params, dtrain, args.rounds, obj=loss.xgboost_objective),
        ("lightgbm", "built-in"): lambda: lgb.train(
            {"objective": "binary", "num_threads": 1, "verbose": -1}, dataset, args.rounds),
        ("lightgbm", "focal"): lambda: lgb.train(
            {"objective": loss.lightgbm_objective, "num_threads": 1, "verbose": -1}, dataset, args.rounds),
    }
    for run in runs.values():
        run()  # warm-up, compilation included
    times = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, run in runs.items():
            start = time.process_time()
            run()
            times[key].append(time.process_time() - start)
    rows = []
    for booster in ("xgboost", "lightgbm"):
        builtin = statistics.median(times[(booster, "built-in")])
        focal = statistics.median(times[(booster, "focal")])
        rows.append({"booster": booster, "builtin_s": builtin, "focal_s": focal, "ratio": focal / builtin})
    result = {"rows": args.rows, "features": args.features, "rounds": args.rounds,
              "repeats": args.repeats, "threads": 1, "clock": "process CPU time", "results": rows,
              "times": {f"{b}/{k}": v for (b, k), v in times.items()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed_binary_cpu.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"Binary training time, {args.rows:,} x {args.features}, {args.rounds} rounds, 1 thread, CPU "
        f"seconds, median of {args.repeats} (`python benchmarks/bench_binary_speed.py`):",
        "",
        "| booster | built-in s | BinaryFocalLoss s | focal / built-in |",
        "| --- | ---: | ---: | ---: |",
    ] + [f"| {r['booster']} | {r['builtin_s']:.3f} | {r['focal_s']:.3f} | **{r['ratio']:.3f}** |" for r in rows]
    (RESULTS / "speed_binary_cpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

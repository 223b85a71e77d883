"""Focal loss vs softmax cross-entropy on a local Dask cluster, with xgboost.dask and lightgbm.dask.

    python examples/dask_compare.py                                  # synthetic imbalanced data
    python examples/dask_compare.py --data ../shared/data/page_blocks.csv.gz --rounds 200

The data (a gzip/plain CSV whose last column holds integer labels 0..K-1, or a synthetic
imbalanced set) is split into train/test, the training rows are shuffled into one partition per
worker, and four models are trained on the cluster with the same tree parameters:

* XGBoost softmax   ``xgboost.dask.DaskXGBClassifier(objective="multi:softprob")``
* XGBoost focal     ``boostfocal.dask.FocalDaskXGBClassifier``
* LightGBM softmax  ``lightgbm.DaskLGBMClassifier(objective="multiclass")``
* LightGBM focal    ``boostfocal.dask.FocalDaskLGBMClassifier``

Held-out metrics come from the predicted probabilities: macro-F1, balanced accuracy, log loss, and
the mean focal loss (gamma as given, alpha=None, the global value over all test partitions).
Fit times exclude a one-round warm-up fit per model (start-up, Numba kernels loading on workers).
"""

from __future__ import annotations

import argparse
import gzip
import time

import numpy as np


def load_csv(path: str):
    """(X float64, y int64) from a CSV with a header row and the label in the last column."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as handle:
        handle.readline()
        table = np.loadtxt(handle, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


def synthetic(n_samples: int, seed: int):
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=n_samples, n_features=20, n_informative=8, n_classes=5,
        weights=[0.80, 0.10, 0.05, 0.03, 0.02], flip_y=0.01, random_state=seed,
    )


def compare(client, X_train, y_train, X_test, y_test, *, rounds=100, gamma=2.0, alpha=None,
            max_depth=4, learning_rate=0.1, seed=0):
    """Train the four models on ``client``'s workers; return one dict of metrics per model."""
    import dask.array as da
    import lightgbm
    import xgboost.dask as dxgb
    from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss

    from boostfocal import FocalLoss
    from boostfocal.dask import FocalDaskLGBMClassifier, FocalDaskXGBClassifier, mean_focal_loss

    n_workers = max(1, len(client.scheduler_info()["workers"]))
    # Shuffle, then one partition per worker: every worker then sees every class, which
    # lightgbm.DaskLGBMClassifier needs (it encodes labels per worker; the focal estimators do not).
    order = np.random.default_rng(seed).permutation(y_train.shape[0])
    rows_per_part = -(-y_train.shape[0] // n_workers)
    X = da.from_array(X_train[order], chunks=(rows_per_part, -1))
    y = da.from_array(y_train[order], chunks=rows_per_part)
    X, y = client.persist([X, y])
    X_eval = da.from_array(X_test, chunks=(-(-y_test.shape[0] // n_workers), -1))
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    labels = np.arange(n_classes)
    metric_loss = FocalLoss(gamma)

    models = {
        "XGBoost softmax": dxgb.DaskXGBClassifier(
            objective="multi:softprob", n_estimators=rounds, max_depth=max_depth,
            learning_rate=learning_rate, tree_method="hist", random_state=seed),
        # probability="softmax": the argmax and focal loss below are those of the trained margins
        # (the default posterior correction would divide alpha out of the argmax).
        "XGBoost focal": FocalDaskXGBClassifier(
            gamma=gamma, alpha=alpha, probability="softmax", n_estimators=rounds, max_depth=max_depth,
            learning_rate=learning_rate, tree_method="hist", seed=seed),
        "LightGBM softmax": lightgbm.DaskLGBMClassifier(
            objective="multiclass", n_estimators=rounds, max_depth=max_depth, num_leaves=2 ** max_depth,
            learning_rate=learning_rate, random_state=seed, verbose=-1),
        "LightGBM focal": FocalDaskLGBMClassifier(
            gamma=gamma, alpha=alpha, probability="softmax", n_estimators=rounds, max_depth=max_depth,
            num_leaves=2 ** max_depth, learning_rate=learning_rate, random_state=seed),
    }
    rows = []
    for name, model in models.items():
        model.client = client
        # Warm-up fit of one round, untimed: starts XGBoost's/LightGBM's collective and loads (or
        # compiles) the Numba kernels in each worker process once.
        model.set_params(n_estimators=1).fit(X, y)
        model.set_params(n_estimators=rounds)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(X_eval).compute()
        predicted = proba.argmax(axis=1)
        # The focal loss of the probabilities: log p is a valid raw margin (softmax(log p) = p).
        margins = np.log(np.clip(proba, 1e-300, None))
        rows.append({
            "model": name,
            "macro_f1": f1_score(y_test, predicted, average="macro", labels=labels, zero_division=0),
            "balanced_accuracy": balanced_accuracy_score(y_test, predicted),
            "log_loss": log_loss(y_test, np.clip(proba, 1e-15, 1.0), labels=labels),
            "focal_loss": mean_focal_loss(
                metric_loss, da.from_array(y_test, chunks=X_eval.chunks[0]),
                da.from_array(margins, chunks=(X_eval.chunks[0], -1))),
            "fit_seconds": seconds,
        })
    return rows


def format_table(rows) -> str:
    lines = ["| model | macro-F1 | balanced acc. | log loss | focal loss | fit (s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['macro_f1']:.4f} | {row['balanced_accuracy']:.4f} | "
            f"{row['log_loss']:.4f} | {row['focal_loss']:.4f} | {row['fit_seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="CSV(.gz) with a header and integer labels in the last column")
    parser.add_argument("--synthetic-rows", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--alpha", default=None, help='"balanced" or omit')
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster
    from sklearn.model_selection import train_test_split

    X, y = load_csv(args.data) if args.data else synthetic(args.synthetic_rows, args.seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, stratify=y, random_state=args.seed)
    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                      processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        rows = compare(client, X_train, y_train, X_test, y_test, rounds=args.rounds,
                       gamma=args.gamma, alpha=args.alpha, seed=args.seed)
    print(f"{args.data or 'synthetic'}: {y_train.shape[0]} train / {y_test.shape[0]} test rows, "
          f"{args.workers} workers x {args.threads_per_worker} threads, {args.rounds} rounds, "
          f"gamma={args.gamma}, alpha={args.alpha}")
    print(format_table(rows))


if __name__ == "__main__":
    main()

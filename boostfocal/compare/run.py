"""The comparison itself: every contender, every booster, the same repeated stratified folds."""

from __future__ import annotations

import platform
import time
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from ..calibration import reliability_curve
from ..loss import FocalLoss
from . import fit as fitting
from .data import _name_list
from .errors import DataError
from .evaluate import CALIBRATION_BINS, CONFIDENCE, METRICS, fold_scores, pooled_reliability, summarize, verdict_line
from .fit import BOOSTERS, Contender, standard_contenders
from .folds import check_fold_sizes, fold_rows, repeated_stratified_folds

__all__ = ["compare", "method_text"]

Progress = Optional[Callable[[str], None]]


def method_text(config: Dict[str, object], data: Dict[str, object]) -> str:
    """The method in words, for the report and the JSON."""
    n_folds, repeats = config["cv"], config["repeats"]
    total = n_folds * repeats
    return (
        f"{n_folds}-fold stratified cross-validation repeated {repeats} times ({total} test folds, the "
        f"same rows for every model). Each model is early-stopped on its own loss, on a stratified "
        f"{config['validation_size']:g} share of the training rows of each fold (at most "
        f"{config['rounds']} rounds, patience {config['early_stopping']}); the test fold is used only "
        f"for the scores. Differences are contender minus {config['baseline']}, averaged over the "
        f"{total} folds, with a {CONFIDENCE:.0%} interval from the corrected resampled t-test "
        f"(Nadeau and Bengio, 2003: variance (1/{total} + n_test/n_train) s^2 = (1/{total} + "
        f"{data['n_test']:.0f}/{data['n_train']:.0f}) s^2, Student's t with {total - 1} df). A verdict "
        "is 'better' or 'worse' only where the whole interval lies on one side of 0 (for log loss, "
        "lower is better); otherwise 'no detectable difference', which is not evidence of no "
        "difference. Each interval stands alone (no correction for the number of settings). Minority recall is the recall of the class with the fewest rows. "
        f"Brier: mean squared distance of the probabilities to the one-hot label; ECE: top-label expected "
        f"calibration error ({CALIBRATION_BINS} equal-width bins). A focal setting is scored twice from the "
        "same model: its softmax probabilities, and '(posterior)', the posterior correction "
        "(FocalLoss.posterior_proba), whose argmax can differ with alpha."
    )


def _as_losses(loss) -> List[FocalLoss]:
    if loss is None:
        return [FocalLoss()]
    losses = [loss] if isinstance(loss, FocalLoss) else list(loss)
    if not losses or not all(isinstance(item, FocalLoss) for item in losses):
        raise TypeError("loss must be a FocalLoss or a non-empty sequence of FocalLoss objects")
    return losses


def compare(
    X,
    y,
    *,
    loss: Union[FocalLoss, Sequence[FocalLoss], None] = None,
    contenders: Optional[Sequence[Contender]] = None,
    boosters: Sequence[str] = BOOSTERS,
    cv: int = 5,
    repeats: int = 2,
    rounds: int = 100,
    early_stopping: int = 10,
    learning_rate: float = 0.1,
    validation_size: float = 0.2,
    seed: int = 0,
    device: str = "cpu",
    n_threads: Optional[int] = None,
    class_names: Optional[Sequence[str]] = None,
    data_name: str = "data",
    progress: Progress = None,
) -> Dict[str, object]:
    """Softmax against focal settings, by repeated stratified k-fold cross-validation.

    Parameters
    ----------
    X : (n_samples, n_features) numeric array (NaN = missing)
    y : (n_samples,) integer labels 0..K-1
    loss : FocalLoss or a sequence of them (one focal contender each), default FocalLoss() (gamma 2).
        Each distinct alpha also adds softmax with that alpha as class weights ("softmax alpha=...").
    contenders : instead of ``loss``, the :class:`Contender` list itself; the first is the baseline.
    boosters : subset of ("xgboost", "lightgbm")
    cv, repeats : k folds, repeated r times with fresh shuffles; every contender gets the same folds
    rounds, early_stopping : at most this many rounds; stop after ``early_stopping`` rounds without
        improvement of the model's own loss on the inner validation rows
    learning_rate : shrinkage, the same for every contender
    validation_size : stratified share of each training fold held out for early stopping
    seed : seed of the folds and of the boosters
    device : "cpu" or "cuda" (refused where the booster cannot use a GPU, rather than silently
        training on the CPU)
    n_threads : threads of the boosters and the focal kernels (default: 1 below 20,000 training
        rows, else all cores)
    progress : optional callable receiving one line per finished fit (with an ETA)

    Returns
    -------
    dict, JSON-ready: ``summary`` (one record per booster, contender and metric: means, the mean
    difference to the baseline, its 95% interval and verdict; ``pandas.DataFrame(result["summary"])``
    is the table), ``fits`` (one record per booster, contender, repeat and fold with every score),
    ``verdicts`` (one line per booster and contender), ``reliability`` (per booster and contender the
    top-label reliability curve pooled over all test folds), ``folds`` (the fold of every row per
    repeat), ``config``, ``data``, ``method`` and ``environment``. Contenders that share a model
    (a focal setting and its "(posterior)") are trained once per fold.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be 2-D and y 1-D with as many rows; got {X.shape} and {y.shape}")
    if y.dtype.kind == "f" and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # 0.0, 1.0, ...: integer codes stored as floats
    if y.dtype.kind not in "iu" or not y.size or y.min() < 0:
        raise ValueError("y must hold integer class codes 0..K-1 (encode string labels first, e.g. with encode_labels)")
    y = y.astype(np.int64)
    for name, value in (("cv", cv), ("repeats", repeats), ("rounds", rounds), ("early_stopping", early_stopping)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    unknown = [name for name in boosters if name not in BOOSTERS]
    if unknown or not boosters:
        raise ValueError(f"boosters must be a non-empty subset of {BOOSTERS}, got {list(boosters)}")
    if contenders is None:
        contenders = standard_contenders(_as_losses(loss))
    elif loss is not None:
        raise TypeError("give either loss or contenders, not both")
    contenders = list(contenders)
    names = [contender.name for contender in contenders]
    if len(contenders) < 2 or len(set(names)) != len(names):
        raise ValueError(f"need at least two contenders with distinct names, got {names}")
    n_classes = int(y.max()) + 1
    if class_names is None:
        class_names = [str(k) for k in range(n_classes)]
    if len(class_names) != n_classes:
        raise ValueError(f"{len(class_names)} class names for {n_classes} classes")
    counts = np.bincount(y, minlength=n_classes)
    if np.count_nonzero(counts) < 2:
        raise DataError("the labels hold a single class; a classifier needs at least two")
    absent = [class_names[k] for k in np.flatnonzero(counts == 0)]
    if absent:
        raise DataError(f"class(es) {_name_list(absent)} have no rows; labels must be 0..K-1 with every class present")
    for contender in contenders:
        alpha = contender.loss.alpha if contender.loss is not None else contender.class_weight
        if alpha is not None and not isinstance(alpha, str) and np.asarray(alpha).shape[0] != n_classes:
            raise DataError(
                f"--alpha has {np.asarray(alpha).shape[0]} values but the data have {n_classes} classes "
                f"(in this order: {_name_list(list(class_names), 12)})"
            )
    # Sizes first: a fold without a class would fail (or mislead) only after minutes of training.
    check_fold_sizes(counts, class_names, int(cv), float(validation_size))
    versions = {name: fitting.booster_version(name) for name in boosters}

    assignment = repeated_stratified_folds(y, int(cv), int(repeats), seed)
    folds = [fold_rows(y, assignment, r, f, validation_size, seed) for r in range(int(repeats)) for f in range(int(cv))]
    settings = {
        "rounds": int(rounds),
        "early_stopping": int(early_stopping),
        "learning_rate": float(learning_rate),
        "seed": int(seed),
        "device": device,
        "n_threads": int(n_threads) if n_threads else fitting.auto_threads(folds[0].fit.size),
    }
    devices_used = {}
    if "xgboost" in boosters:
        devices_used["xgboost"] = fitting.xgboost_device(device)
    if "lightgbm" in boosters:
        devices_used["lightgbm"] = "cpu" if device == "cpu" else fitting.lightgbm_gpu_device()
        settings["lightgbm_device"] = devices_used["lightgbm"]
    minority = int(np.argmin(counts))

    # Contenders that differ only in their probability kind share one trained model per fold (a
    # repeated identical contender is trained again: a check of determinism, not a shortcut).
    models: List[Contender] = []
    model_of: Dict[str, Contender] = {}
    for contender in contenders:
        model = next((m for m in models if m.same_model(contender) and contender.probability not in
                      {c.probability for c in contenders if model_of.get(c.name) is m}), None)
        if model is None:
            models.append(contender)
            model = contender
        model_of[contender.name] = model

    fits: List[dict] = []
    curves: Dict[tuple, list] = {}
    n_fits, done, started = len(boosters) * len(models) * len(folds), 0, time.perf_counter()
    if progress is not None:
        progress(f"{n_fits} fits: {len(boosters)} booster(s) x {len(models)} models x {len(folds)} folds "
                 f"({cv}-fold stratified cross-validation, {repeats} repeat(s))")
    for booster in boosters:
        focal = next((c for c in contenders if c.loss is not None), None)
        if focal is not None:
            fitting.warm_up(booster, focal, n_classes, settings)
        for rows in folds:
            for model in models:
                outcome = fitting.fit_contender(booster, model, X, y, rows, n_classes, settings)
                for contender in (c for c in contenders if model_of[c.name] is model):
                    probability = outcome.probability(contender.probability)
                    scores = fold_scores(y[rows.test], probability, n_classes, minority)
                    curves.setdefault((booster, contender.name), []).append(
                        reliability_curve(y[rows.test], probability, n_bins=CALIBRATION_BINS))
                    fits.append({
                        "booster": booster,
                        "contender": contender.name,
                        "model": model.name,
                        "probability": contender.probability,
                        "repeat": rows.repeat,
                        "fold": rows.fold,
                        "n_train": rows.n_train,
                        "n_fit": int(rows.fit.size),
                        "n_valid": int(rows.valid.size),
                        "n_test": int(rows.test.size),
                        "rounds": outcome.rounds,
                        "train_time_s": outcome.seconds,
                        **scores,
                    })
                done += 1
                if progress is not None:
                    elapsed = time.perf_counter() - started
                    progress(
                        f"fit {done}/{n_fits} {booster} {model.name} (repeat {rows.repeat + 1}, fold "
                        f"{rows.fold + 1}): {outcome.rounds} rounds, {outcome.seconds:.2f} s; "
                        f"ETA {elapsed / done * (n_fits - done):.0f} s"
                    )
    reliability = [
        {"booster": booster, "contender": name, "probability": contender.probability,
         **pooled_reliability(curves[(booster, name)])}
        for booster in boosters for name, contender in zip(names, contenders)
    ]

    summary = summarize(fits, names[0], names, list(boosters))
    minority_label = f"recall {class_names[minority]}"
    verdicts = []
    for booster in boosters:
        for name in names[1:]:
            records = [r for r in summary if r["booster"] == booster and r["contender"] == name]
            verdicts.append({"booster": booster, "contender": name,
                             "verdict": verdict_line(records, {"minority_recall": minority_label})})
    from .. import __version__

    config = {
        "baseline": names[0],
        "contenders": [
            {
                "name": c.name,
                "objective": "softmax" if c.loss is None else "focal",
                "gamma": None if c.loss is None else c.loss.gamma,
                "alpha": fitting.alpha_label(c.loss.alpha if c.loss is not None else c.class_weight),
                "hessian": None if c.loss is None else c.loss.hessian,
                "probability": c.probability,
                "model": model_of[c.name].name,
            }
            for c in contenders
        ],
        "cv": int(cv),
        "repeats": int(repeats),
        "rounds": settings["rounds"],
        "early_stopping": settings["early_stopping"],
        "validation_size": float(validation_size),
        "learning_rate": settings["learning_rate"],
        "seed": settings["seed"],
        "device_requested": device,
        "device": devices_used,
        "n_threads": settings["n_threads"],
        "boosters": list(boosters),
        "params": {
            "xgboost": {"tree_method": "hist", "max_depth": fitting.XGBOOST_MAX_DEPTH},
            "lightgbm": {"num_leaves": fitting.LIGHTGBM_NUM_LEAVES},
        },
    }
    data = {
        "name": data_name,
        "n_rows": int(y.size),
        "n_features": int(X.shape[1]),
        "class_names": [str(name) for name in class_names],
        "class_counts": counts.tolist(),
        "minority_class": str(class_names[minority]),
        "n_train": float(np.mean([rows.n_train for rows in folds])),
        "n_test": float(np.mean([rows.test.size for rows in folds])),
    }
    return {
        "config": config,
        "data": data,
        "method": method_text(config, data),
        "metrics": [{"key": key, "label": label, "higher_is_better": better} for key, label, better in METRICS],
        "verdicts": verdicts,
        "summary": summary,
        "fits": fits,
        "reliability": reliability,
        "folds": {"fold_of_row": assignment.tolist()},
        "environment": {
            "boostfocal": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.machine(),
            **versions,
        },
    }

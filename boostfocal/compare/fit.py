"""Training the contenders: the built-in softmax objective, softmax with class weights, and the
focal objective, with XGBoost or LightGBM, each early-stopped on its own loss on the inner
validation rows of a fold.

Every contender of a booster gets the same rows, rounds cap, patience, learning rate, tree shape
(XGBoost ``hist`` depth 6, LightGBM 31 leaves), seed and threads. The focal models start from the
focal loss's optimal constant (:meth:`FocalLoss.init_raw_prediction`), as the softmax ones start
from the class priors.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

from ..adapters.lightgbm_rounds import DirectRounds
from ..kernels.threads import kernel_threads
from ..loss import FocalLoss, balanced_alpha
from .errors import CompareError
from .evaluate import PROBABILITIES

__all__ = ["BOOSTERS", "Contender", "FitOutcome", "fit_contender", "standard_contenders"]

BOOSTERS = ("xgboost", "lightgbm")
BOOSTER_TITLES = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}
# Tree shape used for every contender: each booster's own default.
XGBOOST_MAX_DEPTH = 6
LIGHTGBM_NUM_LEAVES = 31

AlphaSpec = Union[None, str, Sequence[float]]


@dataclass(frozen=True)
class Contender:
    """One model setting to compare.

    ``loss`` None trains the booster's built-in softmax (``multi:softprob`` / ``multiclass``), with
    ``class_weight`` ("balanced" or one weight per class, resolved on each fold's fitting rows)
    given as sample weights; a :class:`FocalLoss` trains the focal objective (its alpha is its own
    class weighting). ``probability`` names the entry of :data:`evaluate.PROBABILITIES` that turns
    the model's margins into the probabilities every score is computed from. Contenders that differ
    only in ``probability`` (the same ``loss`` object and class weights, another kind) share one
    trained model per fold: "focal gamma=2" and "focal gamma=2 (posterior)" score the same margins
    two ways.
    """

    name: str
    loss: Optional[FocalLoss] = None
    class_weight: AlphaSpec = None
    probability: str = "softmax"

    def __post_init__(self) -> None:
        if self.probability not in PROBABILITIES:
            raise ValueError(f"unknown probability kind {self.probability!r}; known: {sorted(PROBABILITIES)}")
        if self.loss is not None and self.class_weight is not None:
            raise ValueError("a focal contender takes its class weights from its loss's alpha")

    def same_model(self, other: "Contender") -> bool:
        """Whether ``other`` trains the same model (it may read other probabilities from it)."""
        return self.loss is other.loss and alpha_label(self.class_weight) == alpha_label(other.class_weight)


def alpha_label(alpha: AlphaSpec) -> str:
    if alpha is None or isinstance(alpha, str):
        return str(alpha)
    return "[" + ",".join(f"{float(value):g}" for value in np.asarray(alpha).ravel()) + "]"


def standard_contenders(losses: Sequence[FocalLoss]) -> list:
    """softmax first (the baseline); then softmax with class weights, once per distinct alpha of the
    losses, so that focusing can be told apart from re-weighting; then per loss the focal model's
    softmax probabilities and, from the same model, its posterior correction ("... (posterior)";
    left out at gamma 0 without alpha, where the two are the same)."""
    contenders = [Contender("softmax")]
    seen = []
    for loss in losses:
        label = alpha_label(loss.alpha)
        if loss.alpha is not None and label not in seen:
            seen.append(label)
            contenders.append(Contender(f"softmax alpha={label}", class_weight=loss.alpha))
    for loss in losses:
        name = f"focal gamma={loss.gamma:g}"
        if loss.alpha is not None:
            name += f" alpha={alpha_label(loss.alpha)}"
        contenders.append(Contender(name, loss=loss))
        if loss.gamma != 0 or loss.alpha is not None:
            contenders.append(Contender(f"{name} (posterior)", loss=loss, probability="posterior"))
    return contenders


class FitOutcome(NamedTuple):
    """What one fit hands to the evaluation: test-row margins, the loss they were trained with, and
    how the fit went."""

    raw: np.ndarray  # (n_test, K) margins, initial score included
    loss: Optional[FocalLoss]  # the focal loss with alpha resolved on the fitting rows; None for softmax
    rounds: int  # boosting rounds kept (the best on the validation rows)
    seconds: float  # training time, including the early-stopping evaluations

    def probability(self, kind: str = "softmax") -> np.ndarray:
        """The test rows' probabilities of ``kind`` (an entry of :data:`evaluate.PROBABILITIES`)."""
        return PROBABILITIES[kind](self.loss, self.raw)


def _resolve_weights(contender: Contender, y_fit: np.ndarray, n_classes: int):
    """(class weights or None, the fitted loss or None) from the fitting rows."""
    if contender.loss is not None:
        return None, contender.loss.resolve_alpha(y_fit, n_classes=n_classes)
    weight = contender.class_weight
    if weight is None:
        return None, None
    if isinstance(weight, str):
        return balanced_alpha(y_fit, n_classes), None
    return np.asarray(weight, dtype=np.float64), None


def _fit_xgboost(contender, X, y, rows, n_classes, settings):
    import xgboost as xgb

    class_weight, loss = _resolve_weights(contender, y[rows.fit], n_classes)
    weights = {part: None if class_weight is None else class_weight[y[getattr(rows, part)]] for part in ("fit", "valid")}
    params = {
        "tree_method": "hist",
        "max_depth": XGBOOST_MAX_DEPTH,
        "learning_rate": settings["learning_rate"],
        "num_class": n_classes,
        "seed": settings["seed"],
        "nthread": settings["n_threads"],
        "device": settings["device"],
        "verbosity": 0,
    }
    threads = settings["n_threads"]
    start = time.perf_counter()
    dfit = xgb.DMatrix(X[rows.fit], label=y[rows.fit], weight=weights["fit"], nthread=threads)
    dvalid = xgb.DMatrix(X[rows.valid], label=y[rows.valid], weight=weights["valid"], nthread=threads)
    common = dict(evals=[(dvalid, "valid")], early_stopping_rounds=settings["early_stopping"], verbose_eval=False)
    if loss is None:
        params.update(objective="multi:softprob", eval_metric="mlogloss")
        booster = xgb.train(params, dfit, settings["rounds"], **common)
    else:
        # xgboost_train bakes the focal loss's optimal constant into the model (objective
        # multi:softprob, a length-K base_score as the K starting margins) and, on a CUDA device,
        # runs the device-resident loop (gradients on the GPU, margins never copied to the host),
        # for which it needs the feature matrices; on the CPU it reads XGBoost's prediction cache through
        # its C calls (the booster of xgboost.train(obj=, custom_metric=), without its Python layer).
        params["disable_default_eval_metric"] = 1
        booster = loss.xgboost_train(params, dfit, settings["rounds"],
                                     features={dfit: X[rows.fit], dvalid: X[rows.valid]}, **common)
    seconds = time.perf_counter() - start
    kept = int(booster.best_iteration) + 1
    raw = booster.predict(xgb.DMatrix(X[rows.test], nthread=threads), output_margin=True, iteration_range=(0, kept))
    return FitOutcome(raw.astype(np.float64), loss, kept, seconds)


def _fit_lightgbm(contender, X, y, rows, n_classes, settings):
    import lightgbm as lgb

    class_weight, loss = _resolve_weights(contender, y[rows.fit], n_classes)
    weights = {part: None if class_weight is None else class_weight[y[getattr(rows, part)]] for part in ("fit", "valid")}
    params = {
        "num_class": n_classes,
        "learning_rate": settings["learning_rate"],
        "num_leaves": LIGHTGBM_NUM_LEAVES,
        "seed": settings["seed"],
        "num_threads": settings["n_threads"],
        "verbosity": -1,
    }
    if settings["device"] != "cpu":
        params["device_type"] = settings["lightgbm_device"]
    init = np.zeros(n_classes)
    start = time.perf_counter()
    if loss is None:
        params.update(objective="multiclass", metric="multi_logloss")
        fit_set = lgb.Dataset(X[rows.fit], label=y[rows.fit], weight=weights["fit"])
        valid_set = lgb.Dataset(X[rows.valid], label=y[rows.valid], weight=weights["valid"], reference=fit_set)
        feval = None
    else:
        params.update(objective=loss.lightgbm_objective, metric="None")
        init = loss.init_raw_prediction(y[rows.fit], n_classes=n_classes)
        # LightGBM takes the starting margins per row (n, K) and leaves them out of predict().
        fit_set = lgb.Dataset(X[rows.fit], label=y[rows.fit], init_score=np.tile(init, (rows.fit.size, 1)))
        valid_set = lgb.Dataset(X[rows.valid], label=y[rows.valid], reference=fit_set,
                                init_score=np.tile(init, (rows.valid.size, 1)))
        feval = loss.lightgbm_metric
    callbacks = [lgb.early_stopping(settings["early_stopping"], verbose=False)]
    if loss is not None:
        callbacks.append(DirectRounds())  # the focal rounds through LightGBM's C calls
    try:
        booster = lgb.train(params, fit_set, settings["rounds"], valid_sets=[valid_set], feval=feval,
                            callbacks=callbacks)
    except lgb.basic.LightGBMError as error:
        text = str(error).strip().splitlines()
        raise CompareError(f"LightGBM failed: {text[0] if text else type(error).__name__}") from error
    seconds = time.perf_counter() - start
    kept = int(booster.best_iteration) or booster.current_iteration()
    raw = booster.predict(X[rows.test], raw_score=True, num_iteration=kept).reshape(rows.test.size, n_classes) + init
    return FitOutcome(raw, loss, kept, seconds)


_FITTERS = {"xgboost": _fit_xgboost, "lightgbm": _fit_lightgbm}


def fit_contender(booster: str, contender: Contender, X: np.ndarray, y: np.ndarray, rows, n_classes: int,
                  settings: dict) -> FitOutcome:
    """Train ``contender`` with ``booster`` on ``rows.fit``, early-stop on ``rows.valid``, and return
    the margins of ``rows.test`` (``outcome.probability(kind)`` turns them into probabilities). ``settings``: rounds, early_stopping, learning_rate, seed,
    n_threads, device (and lightgbm_device for a GPU)."""
    # At most n_threads for the kernels; the library's own rule keeps small booster callbacks serial.
    with kernel_threads(settings["n_threads"]):
        return _FITTERS[booster](contender, X, y, rows, n_classes, settings)


def warm_up(booster: str, contender: Contender, n_classes: int, settings: dict) -> None:
    """A few rounds on synthetic rows, so that Numba compiles (or loads from its cache) the kernel
    variants this booster calls (XGBoost passes float32 C-ordered margins, LightGBM float64
    Fortran-ordered ones) before any training is timed."""
    from .folds import FoldRows

    rng = np.random.default_rng(0)
    # Enough rows that LightGBM keeps the features (it drops those it could never split).
    y = np.arange(max(200, 2 * n_classes), dtype=np.int64) % n_classes
    X = rng.normal(size=(y.size, 2))
    half = y.size // 2
    rows = FoldRows(0, 0, np.arange(half), np.arange(half, y.size), np.arange(2))
    _FITTERS[booster](contender, X, y, rows, n_classes, {**settings, "rounds": 2, "n_threads": 1})


# Training sets smaller than this run on one thread by default: a round then takes milliseconds, and
# thread synchronisation costs more than it saves (badly so on a machine shared with other work).
MULTITHREAD_FROM_ROWS = 20_000


def auto_threads(n_train: int) -> int:
    return 1 if n_train < MULTITHREAD_FROM_ROWS else (os.cpu_count() or 1)


def booster_version(booster: str) -> str:
    import importlib

    try:
        return importlib.import_module(booster).__version__
    except ImportError as error:
        raise CompareError(
            f"--booster {booster} needs the {booster} package: pip install 'boostfocal[{booster}]'"
        ) from error


def xgboost_device(device: str) -> str:
    """The device XGBoost really trains on when asked for ``device``. XGBoost falls back to the CPU
    with only a log warning when it finds no GPU; this trains one round on a few rows and reads the
    device back from the booster's configuration, and refuses a silent fallback."""
    if device == "cpu":
        return "cpu"
    import json

    import xgboost as xgb

    X, y = np.random.default_rng(0).normal(size=(64, 2)), np.arange(64) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            booster = xgb.train({"device": device, "tree_method": "hist", "verbosity": 0},
                                xgb.DMatrix(X, label=y), 1)
            used = json.loads(booster.save_config())["learner"]["generic_param"]["device"]
        except xgb.core.XGBoostError as error:
            used = f"none ({str(error).strip().splitlines()[0] if str(error).strip() else 'error'})"
    if not used.startswith("cuda"):
        raise CompareError(
            f"--device {device}: XGBoost cannot use a GPU here (it would train on the CPU instead: "
            f"device {used}); use --device cpu, or run on a machine with a CUDA GPU and a CUDA build of XGBoost"
        )
    return used


def lightgbm_gpu_device() -> str:
    """LightGBM's device_type for --device cuda: "cuda" (CUDA build) or else "gpu" (OpenCL build),
    whichever trains one round on a few rows."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 2)), np.arange(200) % 2
    for device in ("cuda", "gpu"):
        try:
            lgb.train({"objective": "binary", "device_type": device, "verbosity": -1}, lgb.Dataset(X, label=y), 1)
            return device
        except lgb.basic.LightGBMError:
            continue
    raise CompareError(
        "--device cuda: this LightGBM build has no GPU support (neither CUDA nor OpenCL); "
        "use --booster xgboost or --device cpu"
    )

"""Start boosting from ``loss.init_raw_prediction`` and keep that constant inside the saved model.

Boosters start a custom objective from a constant that ignores the labels: XGBoost from margin 0.5
in every column (``base_score`` is not estimated for custom objectives), LightGBM from 0 (it skips
``boost_from_average``). For softmax a shift common to all classes changes nothing, but the class
priors do, and for the binary loss the start is a real bias. The routes below put the constant b
that minimises the training focal loss into the model, so that ``Booster.predict`` and saved models
include it without the user adding anything back:

* XGBoost (>= 3.1): b as the model's ``base_score`` (a vector of K margins for ``multi:softprob``,
  ``sigmoid(b)`` for ``binary:logistic``), in one call: :func:`xgboost_params_with_init_score`.
* LightGBM: b as the Datasets' ``init_score`` while training, then added to every leaf of the first
  iteration's trees (:func:`lightgbm_add_init_score`; LightGBM has no model-level intercept for
  custom objectives). In one call: :func:`lightgbm_train_with_init_score`.

The loss's alpha must be resolved (``loss.resolve_alpha(y_train)``) before b can be computed.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = [
    "xgboost_params_with_init_score",
    "logistic_base_score",
    "lightgbm_init_score",
    "lightgbm_add_init_score",
    "lightgbm_train_with_init_score",
]

_MULTICLASS_XGBOOST_OBJECTIVES = ("multi:softprob", "multi:softmax")
_BINARY_XGBOOST_OBJECTIVES = ("binary:logistic", "binary:logitraw")


def _is_binary(loss) -> bool:
    return bool(getattr(loss, "is_binary", False))


def _n_classes(loss, y_true, *declared) -> int:
    """The number of classes: all declared values (n_classes, num_class, len(alpha)) must agree;
    without any, max(label) + 1."""
    alpha = getattr(loss, "alpha", None)
    candidates = [int(value) for value in declared if value is not None]
    if isinstance(alpha, np.ndarray):
        candidates.append(alpha.shape[0])
    if candidates:
        if len(set(candidates)) > 1:
            raise ValueError(
                f"conflicting numbers of classes: n_classes / num_class / len(alpha) give {candidates}"
            )
        return candidates[0]
    from .._validation import n_classes_from_labels

    n_classes = n_classes_from_labels(y_true)
    if n_classes == 0:
        raise ValueError("cannot infer the number of classes from empty labels")
    return n_classes


def _init_raw_prediction(loss, y_true, sample_weight, n_classes):
    if _is_binary(loss):
        return float(loss.init_raw_prediction(y_true, sample_weight))
    return np.asarray(loss.init_raw_prediction(y_true, sample_weight, n_classes=n_classes))


# ---------------------------------------------------------------------------------------- XGBoost
def _xgboost_supports_vector_base_score() -> bool:
    import xgboost

    major, minor = (int(part) for part in xgboost.__version__.split(".")[:2])
    return (major, minor) >= (3, 1)


def logistic_base_score(loss, margin: float) -> Optional[float]:
    """sigmoid(margin) if XGBoost can hold it as a ``binary:logistic`` base_score, else None.

    XGBoost keeps that base_score as a float32 probability p, clipped to [1e-6, 1 - 1e-6], and
    recovers the margin as logit(p). Rounding p by dp moves the margin by dp / (p (1 - p)) (the
    derivative of logit), which grows fast as p nears 0 or 1; beyond 1e-5 we refuse.
    """
    probability = float(loss.predict_proba(np.array([float(margin)]))[0])
    if not 1e-6 <= probability <= 1.0 - 1e-6:
        return None
    rounding = abs(float(np.float32(probability)) - probability)
    if rounding / (probability * (1.0 - probability)) > 1e-5:
        return None
    return probability


def xgboost_params_with_init_score(
    loss, y_true, params: Optional[dict] = None, *, sample_weight=None, n_classes: Optional[int] = None
) -> dict:
    """A copy of ``params`` for ``xgboost.train(..., obj=loss.xgboost_objective)`` that starts from
    ``loss.init_raw_prediction(y_true, sample_weight)`` and keeps it in the model.

    Multiclass: sets ``num_class`` = K, ``objective`` = ``"multi:softprob"`` unless
    ``"multi:softmax"`` is given (the objective string only picks what ``Booster.predict`` returns
    and the default metric; the gradients come from ``obj=``), and ``base_score`` = the K margins
    b, which XGBoost >= 3.1 stores in the model. Binary (``loss.is_binary``): ``objective`` =
    ``"binary:logistic"`` with ``base_score = sigmoid(b)`` (XGBoost takes it in probability space
    and applies the logit), or ``"binary:logitraw"`` with ``base_score = b``.

    ``Booster.predict(..., output_margin=True)`` then returns margins that include b, and
    ``Booster.predict`` returns probabilities, also after ``save_model``/``load_model``.

    Example::

        params = xgboost_params_with_init_score(loss, y, {"max_depth": 4, "tree_method": "hist"})
        booster = xgboost.train(params, dtrain, 100, obj=loss.xgboost_objective)

    Raises
    ------
    ValueError
        ``params`` already holds a ``base_score``, an objective that does not fit the loss, or a
        ``num_class`` that contradicts ``n_classes`` or alpha; multiclass on XGBoost < 3.1 (which
        has only a scalar ``base_score``: give the margins per row as ``base_margin`` instead).
    """
    params = dict(params or {})
    if "base_score" in params:
        raise ValueError(
            f"params already has base_score={params['base_score']!r}; remove it, this function sets "
            "it to the loss's initial raw prediction"
        )
    if _is_binary(loss):
        num_class = params.get("num_class")
        if num_class not in (None, 0, 1):
            raise ValueError(f"num_class={num_class} in params, but {type(loss).__name__} is binary")
        objective = params.setdefault("objective", "binary:logistic")
        if objective not in _BINARY_XGBOOST_OBJECTIVES:
            raise ValueError(
                f"objective={objective!r} does not fit {type(loss).__name__}: use one of "
                f"{_BINARY_XGBOOST_OBJECTIVES} (obj= supplies the gradients)"
            )
        margin = _init_raw_prediction(loss, y_true, sample_weight, None)
        if objective == "binary:logistic":
            # XGBoost maps a logistic base_score through logit(), so hand it sigmoid(b).
            probability = logistic_base_score(loss, margin)
            if probability is None:
                raise ValueError(
                    f"the initial logit {margin:.6g} cannot be stored as a binary:logistic base_score "
                    "(a float32 probability, clipped by XGBoost to [1e-6, 1 - 1e-6]); use "
                    "objective='binary:logitraw', whose base_score is the logit itself"
                )
            params["base_score"] = probability
        else:
            params["base_score"] = margin
        return params

    n_classes = _n_classes(loss, y_true, n_classes, params.get("num_class"))
    objective = params.setdefault("objective", "multi:softprob")
    if objective not in _MULTICLASS_XGBOOST_OBJECTIVES:
        raise ValueError(
            f"objective={objective!r} does not fit the multiclass {type(loss).__name__}: use one of "
            f"{_MULTICLASS_XGBOOST_OBJECTIVES} (obj= supplies the gradients)"
        )
    if not _xgboost_supports_vector_base_score():
        import xgboost

        raise ValueError(
            f"XGBoost {xgboost.__version__} takes only a scalar base_score; a per-class initial "
            "score needs XGBoost >= 3.1 (or pass np.tile(b, (n, 1)) as base_margin of every DMatrix "
            "and add b to output_margin predictions yourself)"
        )
    margins = _init_raw_prediction(loss, y_true, sample_weight, n_classes)
    params["num_class"] = n_classes
    # Plain floats: XGBoost writes a list base_score with repr(), and np.float64(...) breaks its JSON.
    params["base_score"] = [float(value) for value in margins]
    return params


# --------------------------------------------------------------------------------------- LightGBM
def lightgbm_init_score(raw, n_samples: int) -> np.ndarray:
    """``init_score`` for a LightGBM Dataset of ``n_samples`` rows from a constant raw prediction:
    (n_samples, K) for K margins (LightGBM flattens it class-major itself), (n_samples,) for one."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 0:
        return np.full(int(n_samples), float(raw))
    if raw.ndim != 1:
        raise ValueError(f"raw must be a scalar or a (n_classes,) vector, got shape {raw.shape}")
    return np.tile(raw, (int(n_samples), 1))


def _leaf_counts_of_first_iteration(booster, n_models: int):
    info = booster.dump_model(num_iteration=1)["tree_info"]
    if len(info) != n_models:
        raise ValueError(f"expected {n_models} trees in the first iteration, found {len(info)}")
    return [tree["num_leaves"] for tree in info]


def lightgbm_add_init_score(booster, raw):
    """Add the constant raw prediction ``raw`` to every leaf of the first iteration's trees.

    The model then predicts b + trees, exactly what it was trained to predict when its Datasets had
    ``init_score`` = b (see :func:`lightgbm_init_score`), and keeps doing so after
    ``model_to_string``/``save_model``. Call it once per trained booster: each call adds b again.
    Returns ``booster`` (modified in place).

    Tree k of iteration 0 holds class k's scores (LightGBM grows one tree per class and round), and
    every row falls into exactly one leaf of it, so adding b_k to all its leaves adds b_k to every
    prediction of class k. A single-leaf tree has leaf 0 only; that works the same.
    """
    n_models = booster.num_model_per_iteration()
    raw = np.asarray(raw, dtype=np.float64).reshape(-1)
    if raw.shape[0] != n_models:
        raise ValueError(
            f"raw has {raw.shape[0]} entries but the booster grows {n_models} tree(s) per iteration"
        )
    if not np.all(np.isfinite(raw)):
        raise ValueError("raw must be finite")
    if booster.current_iteration() < 1:
        raise ValueError("the booster has no trees yet to hold the initial score; train first")
    if "is_linear=1" in booster.model_to_string(num_iteration=1):
        raise ValueError(
            "linear trees (linear_tree=True) compute leaf outputs from their own coefficients; "
            "the initial score cannot be folded into them"
        )
    for tree_index, n_leaves in enumerate(_leaf_counts_of_first_iteration(booster, n_models)):
        for leaf in range(n_leaves):
            value = booster.get_leaf_output(tree_index, leaf) + raw[tree_index]
            booster.set_leaf_output(tree_index, leaf, value)
    return booster


def _dataset_field(dataset, name: str):
    """A Dataset field as given to it, or read from the constructed Dataset; None if absent."""
    value = getattr(dataset, name)
    if value is None:
        try:
            value = getattr(dataset, f"get_{name}")()
        except Exception:  # LightGBMError: not constructed yet, and nothing was given
            value = None
    return None if value is None else np.asarray(value)


def _set_init_score(dataset, raw, what: str) -> None:
    labels = _dataset_field(dataset, "label")
    if labels is None:
        raise ValueError(f"the {what} Dataset has no labels")
    wanted = lightgbm_init_score(raw, labels.shape[0])
    existing = _dataset_field(dataset, "init_score")
    if existing is not None:
        # LightGBM stores a (n, K) init_score class-major; compare in that order.
        if existing.size == wanted.size and np.allclose(
            np.ravel(existing, order="F"), np.ravel(wanted, order="F")
        ):
            return  # set by an earlier call with the same loss and labels
        raise ValueError(
            f"the {what} Dataset already has an init_score; pass Datasets without one (this function "
            "sets it to the loss's initial raw prediction)"
        )
    dataset.set_init_score(wanted)


_LIGHTGBM_BOOSTING_ALIASES = ("boosting", "boosting_type", "boost")


def check_lightgbm_boosting(params: dict) -> None:
    """Refuse LightGBM's random forest mode, which rejects every custom objective."""
    for alias in _LIGHTGBM_BOOSTING_ALIASES:
        if str(params.get(alias, "")).lower() in ("rf", "random_forest"):
            raise ValueError(
                f"{alias}={params[alias]!r}: LightGBM's random forest mode does not take custom "
                "objectives such as the focal loss (nor an init_score). Use the default "
                "boosting='gbdt'; for a forest-like ensemble add bagging_fraction < 1 with "
                "bagging_freq > 0 and feature_fraction < 1"
            )


def lightgbm_train_with_init_score(
    loss, params: dict, train_set, num_boost_round: int = 100, *, valid_sets=None, **train_kwargs
):
    """``lightgbm.train`` that starts from ``loss.init_raw_prediction`` and keeps it in the model.

    Computes b from ``train_set``'s labels and weights, sets ``init_score`` = b on ``train_set`` and
    every Dataset in ``valid_sets`` (so evaluation sees the same scores as training; the Datasets
    keep it), trains with ``params["objective"] = loss.lightgbm_objective`` (set when absent) and
    ``num_class`` = K for the multiclass loss, and folds b into the trained booster with
    :func:`lightgbm_add_init_score`. ``booster.predict(X, raw_score=True)`` then includes b, and
    ``booster.predict(X)`` returns ``loss.predict_proba`` of it, in any process (the model text
    declares LightGBM's softmax / sigmoid link: :func:`.lightgbm.set_probability_objective`).

    Continued training (``init_model=`` a booster from this function, or its saved file) starts
    from that model's raw scores, which already hold b: b is then neither set as ``init_score`` nor
    folded in again, so 10 + 10 rounds give the model of 20 rounds, as with ``lightgbm.train``.

    LightGBM's log is silenced (``verbose=-1``) unless ``params`` sets a verbosity.

    Example::

        booster = lightgbm_train_with_init_score(loss, {"num_leaves": 15}, lgb.Dataset(X, y), 100)

    Remaining keyword arguments go to ``lightgbm.train`` (``feval``, ``callbacks``, ...). The same
    as ``loss.lightgbm_train(params, train_set, ...)`` without its focal metric: alpha="balanced"
    resolved from ``train_set``, the rounds through LightGBM's C calls (:mod:`.lightgbm_train`).
    """
    from .lightgbm_train import train

    return train(loss, params, train_set, num_boost_round, valid_sets=valid_sets, init_score=True,
                 focal_metric=False, **train_kwargs)

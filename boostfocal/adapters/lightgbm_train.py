"""``loss.lightgbm_train``: ``lightgbm.train`` with the focal objective, started from the loss's
initial score, with probabilities in the saved model, and its rounds through LightGBM's C calls.

It calls ``lightgbm.train(params, train_set, ..., feval=loss.lightgbm_metric)`` with
``params["objective"] = loss.lightgbm_objective`` and adds :class:`.lightgbm_rounds.DirectRounds`
to the callbacks, so that each round is LightGBM's two C calls and the kernel (the same trees as
the public route). Around it:

* b = ``loss.init_raw_prediction`` of the training labels and weights is set as ``init_score`` of
  the training and validation Datasets and then added to the first trees
  (:func:`.init_score.lightgbm_add_init_score`), so the model predicts b + trees by itself;
* the model text declares LightGBM's own softmax / sigmoid link
  (:func:`.lightgbm.set_probability_objective`), so ``Booster.predict`` returns probabilities in any
  process. That replaces the reload ``lightgbm.train`` makes at the end (it is called with
  ``keep_training_booster=True`` and the reload is done here, once, with the same trees: up to
  ``best_iteration``).
"""

from __future__ import annotations

from .init_score import (
    _dataset_field,
    _init_raw_prediction,
    _is_binary,
    _n_classes,
    _set_init_score,
    check_lightgbm_boosting,
    lightgbm_add_init_score,
)
from .lightgbm import set_probability_objective
from .lightgbm_rounds import DirectRounds, focal_loss_of

_VERBOSITY_ALIASES = ("verbose", "verbosity")


def _feval_list(feval):
    if feval is None:
        return []
    return list(feval) if isinstance(feval, (list, tuple)) else [feval]


def train(
    loss,
    params,
    train_set,
    num_boost_round: int = 100,
    *,
    valid_sets=None,
    valid_names=None,
    feval=None,
    init_model=None,
    keep_training_booster: bool = False,
    callbacks=None,
    init_score: bool = True,
    focal_metric: bool = True,
):
    """See :meth:`boostfocal.FocalLoss.lightgbm_train`. ``focal_metric``: put
    ``loss.lightgbm_metric`` first in ``feval``."""
    import lightgbm

    params = dict(params)
    if not any(alias in params for alias in _VERBOSITY_ALIASES):
        # Quiet like the estimators: otherwise every round can print "No further splits ...".
        params["verbose"] = -1
    objective = params.get("objective", loss.lightgbm_objective)
    if not callable(objective):
        raise ValueError(
            f"params['objective']={objective!r}: this function trains with the loss's own objective; "
            "leave it out or pass loss.lightgbm_objective"
        )
    own_objective = focal_loss_of(objective) is loss  # else a wrapper of the caller's, kept as is
    if init_score and params.get("linear_tree"):
        raise ValueError("linear_tree=True: the initial score cannot be folded into linear trees")
    check_lightgbm_boosting(params)
    labels = _dataset_field(train_set, "label")
    if labels is None:
        raise ValueError("train_set has no labels")
    weights = _dataset_field(train_set, "weight")
    if _is_binary(loss):
        num_class = params.get("num_class")
        if num_class not in (None, 1):
            raise ValueError(f"num_class={num_class} in params, but {type(loss).__name__} is binary")
        n_classes = None
        loss = loss.resolve_alpha(labels, weights)
    else:
        n_classes = _n_classes(loss, labels, params.get("num_class"))
        params["num_class"] = n_classes
        loss = loss.resolve_alpha(labels, weights, n_classes=n_classes)
    if own_objective:
        params["objective"] = loss.lightgbm_objective  # of the loss with alpha resolved
    # Continued training starts every Dataset from init_model's raw scores, which hold b already.
    fold_in = init_score and init_model is None
    if fold_in:
        raw = _init_raw_prediction(loss, labels, weights, n_classes)
        _set_init_score(train_set, raw, "training")
        for index, dataset in enumerate(valid_sets or ()):
            if dataset is not train_set:
                _set_init_score(dataset, raw, f"valid_sets[{index}]")
    if focal_metric:
        feval = [loss.lightgbm_metric] + _feval_list(feval)
    booster = lightgbm.train(
        params, train_set, num_boost_round, valid_sets=valid_sets, valid_names=valid_names,
        feval=feval, init_model=init_model, keep_training_booster=True,
        callbacks=list(callbacks or ()) + [DirectRounds()],
    )
    return finish(booster, loss, raw if fold_in else None, keep_training_booster)


def finish(booster, loss, raw, keep_training_booster: bool):
    """A booster fresh from ``lightgbm.train(..., keep_training_booster=True)``: b = ``raw`` (None:
    nothing) added to its first trees; unless ``keep_training_booster``, reloaded as
    ``lightgbm.train`` reloads it (the trees up to ``best_iteration``, the Datasets dropped) with
    the model text declaring the loss's link."""
    if raw is not None:
        lightgbm_add_init_score(booster, raw)
    if keep_training_booster:
        return booster  # left trainable in place: call .lightgbm.set_probability_objective when done
    return set_probability_objective(booster, loss, num_iteration=None).free_dataset()

"""LightGBM: a callable ``params["objective"]`` and ``feval=`` of ``lightgbm.train``.

LightGBM hands multiclass scores as a float64 (n, K) view in Fortran order and flattens what we return
with ``ravel(order="F")`` into float32; returning float32 Fortran-ordered arrays makes that free.
Binary (``num_class`` 1) scores come as (n,). Custom objectives skip ``boost_from_average``, so training
starts from zero scores unless the Dataset has an ``init_score`` (see :mod:`.init_score`).
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from ..kernels.threads import inside_booster
from .sklearn_objective import check_booster_margins


@functools.lru_cache(maxsize=None)
def library_path():
    """Path of LightGBM's shared library (None if this LightGBM does not say), for the kernels'
    thread rule: on Linux it runs on the system's libgomp, the same pool as Numba's ``omp`` layer,
    so its callbacks may use Numba's threads (:class:`~boostfocal.kernels.threads.inside_booster`)."""
    import lightgbm.basic

    return getattr(getattr(lightgbm.basic, "_LIB", None), "_name", None)


def labels_and_weights(dataset):
    """(labels, weights or None) of a Dataset."""
    weights = dataset.get_weight()
    return dataset.get_label(), (None if weights is None else np.asarray(weights))


def objective(loss, preds, train_data):
    """(gradient, hessian) of the raw scores, float32 in Fortran order."""
    labels, weights = labels_and_weights(train_data)
    check_booster_margins(loss, labels, preds, source="LightGBM", training=True)
    with inside_booster(library_path()):
        return loss.gradient_hessian(labels, preds, weights, order="F", dtype=np.float32)


def metric(loss, preds, eval_data):
    """("focal_loss", weighted mean focal loss of the raw scores, False)."""
    labels, weights = labels_and_weights(eval_data)
    check_booster_margins(loss, labels, preds, source="LightGBM", training=False)
    with inside_booster(library_path()):
        return "focal_loss", loss.mean_loss(labels, preds, weights), False


def probability_objective(loss, n_classes: int) -> str:
    """LightGBM's own objective string whose output transform is the loss's link:
    ``"binary sigmoid:1"`` (sigmoid) or ``"multiclass num_class:K"`` (softmax)."""
    if getattr(loss, "is_binary", False):
        return "binary sigmoid:1"
    return f"multiclass num_class:{int(n_classes)}"


def set_probability_objective(booster, loss, num_iteration: Optional[int] = -1):
    """Make ``booster`` predict probabilities in any LightGBM process, without boostfocal.

    A booster trained with a callable objective has no ``objective=`` line in its model text, so
    ``Booster.predict`` (and any process that loads the saved model) returns raw scores. This
    writes LightGBM's own ``objective=multiclass num_class:K`` (binary: ``binary sigmoid:1``) into
    the model text and reloads ``booster`` from it (``Booster.model_from_string``): ``predict``
    then returns ``loss.predict_proba`` of the raw scores, also after ``model_to_string``,
    ``save_model``/``Booster(model_file=...)`` and pickling; ``predict(raw_score=True)`` still
    returns the margins. The trees, the parameters block (``[objective: custom]``, a record of
    how it was trained) and ``best_iteration`` are kept. The objective line only picks LightGBM's
    output transform; it does not make LightGBM train with softmax.

    ``lightgbm.train`` returns a booster reloaded from its own model text already (unless
    ``keep_training_booster=True``); the reloaded booster predicts, saves and serves as
    ``init_model=`` of further training, but can no longer be updated in place
    (``Booster.update``). ``num_iteration``: the trees kept, as in ``Booster.model_to_string``
    (-1: every tree; None: up to ``best_iteration`` where there is one, as ``lightgbm.train`` keeps
    them). Returns ``booster`` (modified in place).
    """
    n_classes = booster.num_model_per_iteration()
    binary = bool(getattr(loss, "is_binary", False))
    if binary != (n_classes == 1):
        raise ValueError(
            f"the booster grows {n_classes} tree(s) per iteration, which does not fit "
            f"{type(loss).__name__}"
        )
    text = booster.model_to_string(num_iteration=num_iteration)
    header, tree_marker, rest = text.partition("\nTree=")
    if not tree_marker:
        raise ValueError("the booster has no trees yet; train first")
    # The header holds one key=value per line; the loader reads its objective= line to choose the
    # output transform (GBDT::LoadModelFromString). Replace any there, after max_feature_idx=.
    lines = [line for line in header.split("\n") if not line.startswith("objective=")]
    at = next((i for i, line in enumerate(lines) if line.startswith("max_feature_idx=")), None)
    if at is None:
        raise ValueError("unexpected LightGBM model text: no max_feature_idx= line in its header")
    lines.insert(at + 1, "objective=" + probability_objective(loss, n_classes))
    booster.model_from_string("\n".join(lines) + tree_marker + rest)  # keeps best_iteration
    return booster

"""LightGBM: a callable ``params["objective"]`` and ``feval=`` of ``lightgbm.train``.

LightGBM hands multiclass scores as a float64 (n, K) view in Fortran order and flattens what we return
with ``ravel(order="F")`` into float32; returning float32 Fortran-ordered arrays makes that free.
Binary (``num_class`` 1) scores come as (n,). Custom objectives skip ``boost_from_average``, so training
starts from zero scores unless the Dataset has an ``init_score`` (see :mod:`.init_score`).
"""

from __future__ import annotations

import numpy as np

from ..kernels.threads import inside_booster
from .sklearn_objective import check_booster_margins


def labels_and_weights(dataset):
    """(labels, weights or None) of a Dataset."""
    weights = dataset.get_weight()
    return dataset.get_label(), (None if weights is None else np.asarray(weights))


def objective(loss, preds, train_data):
    """(gradient, hessian) of the raw scores, float32 in Fortran order."""
    labels, weights = labels_and_weights(train_data)
    check_booster_margins(loss, labels, preds, source="LightGBM", training=True)
    with inside_booster():
        return loss.gradient_hessian(labels, preds, weights, order="F", dtype=np.float32)


def metric(loss, preds, eval_data):
    """("focal_loss", weighted mean focal loss of the raw scores, False)."""
    labels, weights = labels_and_weights(eval_data)
    check_booster_margins(loss, labels, preds, source="LightGBM", training=False)
    with inside_booster():
        return "focal_loss", loss.mean_loss(labels, preds, weights), False

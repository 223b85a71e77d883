"""LightGBM: a callable ``params["objective"]`` and ``feval=`` of ``lightgbm.train``.

LightGBM hands multiclass scores as a float64 (n, K) view in Fortran order and flattens what we return
with ``ravel(order="F")`` into float32; returning float32 Fortran-ordered arrays makes that free.
"""

from __future__ import annotations

import numpy as np


def _weights(dataset):
    weights = dataset.get_weight()
    return None if weights is None else np.asarray(weights)


def objective(loss, preds, train_data):
    return loss.gradient_hessian(
        train_data.get_label(), preds, _weights(train_data), order="F", dtype=np.float32
    )


def metric(loss, preds, eval_data):
    return "focal_loss", loss.mean_loss(eval_data.get_label(), preds, _weights(eval_data)), False

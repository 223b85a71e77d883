"""XGBoost: ``obj=`` and ``custom_metric=`` of ``xgboost.train``.

With a custom objective XGBoost hands both functions the raw margins as a NumPy float32 array: (n, K)
with ``num_class=K``, (n,) without. ``Booster.predict`` copies them to the host even with
``device="cuda"`` (XGBoost 3.2, ``Booster.boost``), and XGBoost accepts NumPy or CuPy gradients, so
the objective works unchanged on GPU trainers; CuPy margins would be copied to the host all the same.
Weights come from ``DMatrix.get_weight()``, which is empty when the DMatrix has none.
"""

from __future__ import annotations

import numpy as np

from ..kernels.threads import inside_booster
from .sklearn_objective import as_host_array, check_booster_margins


def labels_and_weights(dmatrix):
    """(labels, weights or None) of a DMatrix."""
    weights = dmatrix.get_weight()
    # XGBoost returns an empty array when the DMatrix has no weights.
    return dmatrix.get_label(), (weights if weights.size else None)


def objective(loss, predt, dtrain):
    """(gradient, hessian) in the shape and dtype of ``predt``."""
    predt = as_host_array(predt)
    labels, weights = labels_and_weights(dtrain)
    check_booster_margins(loss, labels, predt, source="XGBoost", training=True)
    with inside_booster():
        return loss.gradient_hessian(labels, predt, weights)


def cuda_objective(loss, predt, dtrain):
    """:func:`objective`, with the results handed to XGBoost as CuPy arrays on the current GPU.

    For ``device="cuda"`` boosters: XGBoost then builds its gradient pairs on the GPU instead of
    converting host arrays element by element before copying them over. Needs CuPy.
    """
    import cupy

    gradient, hessian = objective(loss, predt, dtrain)
    return cupy.asarray(gradient), cupy.asarray(hessian)


def metric(loss, predt, dmatrix):
    """("focal_loss", weighted mean focal loss of the raw margins)."""
    predt = as_host_array(predt)
    labels, weights = labels_and_weights(dmatrix)
    check_booster_margins(loss, labels, predt, source="XGBoost", training=False)
    with inside_booster():
        return "focal_loss", loss.mean_loss(labels, predt, weights)

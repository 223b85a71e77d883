"""XGBoost: ``obj=`` and ``custom_metric=`` of ``xgboost.train`` (margins arrive as float32)."""

from __future__ import annotations

import numpy as np


def _weights(dmatrix):
    weights = dmatrix.get_weight()
    # XGBoost returns an empty array when the DMatrix has no weights.
    return weights if weights.size else None


def objective(loss, predt, dtrain):
    """(gradient, hessian) in the shape and dtype of ``predt``."""
    return loss.gradient_hessian(dtrain.get_label(), predt, _weights(dtrain))


def metric(loss, predt, dmatrix):
    """("focal_loss", weighted mean focal loss of the raw margins)."""
    return "focal_loss", loss.mean_loss(dmatrix.get_label(), predt, _weights(dmatrix))

"""``objective=`` of ``xgboost.XGBClassifier`` and ``lightgbm.LGBMClassifier``."""

from __future__ import annotations


def objective(loss, y_true, y_pred, sample_weight=None):
    return loss.gradient_hessian(y_true, y_pred, sample_weight)

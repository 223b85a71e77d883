"""Booster-facing methods shared by FocalLoss and BinaryFocalLoss.

Each method is a thin forwarder to :mod:`boostfocal.adapters`, which translate the boosters' calling
conventions; no math lives here or there. The boosters are imported only when a method is used.
"""

from __future__ import annotations


class BoosterMethods:
    """Mixin: ``obj=``/``custom_metric=`` (XGBoost), ``objective``/``feval`` (LightGBM) and scikit-learn
    objectives for a loss object with ``gradient_hessian``, ``loss`` and ``mean_loss``."""

    def xgboost_objective(self, predt, dtrain):
        """``obj=`` of :func:`xgboost.train`: (gradient, hessian) of the raw margins ``predt``,
        with ``dtrain``'s labels and weights."""
        from .adapters import xgboost

        return xgboost.objective(self, predt, dtrain)

    def xgboost_cuda_objective(self, predt, dtrain):
        """:meth:`xgboost_objective` for ``device="cuda"`` boosters: the same gradients, handed
        back as CuPy arrays on the GPU (needs CuPy)."""
        from .adapters import xgboost

        return xgboost.cuda_objective(self, predt, dtrain)

    def xgboost_metric(self, predt, dtrain):
        """``custom_metric=`` of :func:`xgboost.train`: ("focal_loss", weighted mean focal loss)
        on the raw margins."""
        from .adapters import xgboost

        return xgboost.metric(self, predt, dtrain)

    def lightgbm_objective(self, preds, train_data):
        """``params["objective"]`` of :func:`lightgbm.train`: (gradient, hessian) of the raw
        scores, with the Dataset's labels and weights."""
        from .adapters import lightgbm

        return lightgbm.objective(self, preds, train_data)

    def lightgbm_metric(self, preds, eval_data):
        """``feval=`` of :func:`lightgbm.train`: ("focal_loss", weighted mean, False)."""
        from .adapters import lightgbm

        return lightgbm.metric(self, preds, eval_data)

    def sklearn_objective(self, y_true, y_pred, sample_weight=None):
        """``objective=`` of ``XGBClassifier`` and ``LGBMClassifier``: (gradient, hessian).

        XGBoost passes weights by the keyword ``sample_weight``; LightGBM passes them as the third
        positional argument (it counts three parameters). Both land here.
        """
        from .adapters import sklearn_objective

        return sklearn_objective.objective(self, y_true, y_pred, sample_weight)

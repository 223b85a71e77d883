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

    def xgboost_train(
        self,
        params,
        dtrain,
        num_boost_round: int = 10,
        *,
        evals=(),
        early_stopping_rounds=None,
        verbose_eval=True,
        xgb_model=None,
        callbacks=None,
        evals_result=None,
        maximize=None,
        features=None,
        missing: float = float("nan"),
        init_score: bool = True,
        _array_module=None,
    ):
        """``xgboost.train(params, dtrain, ..., obj=loss.xgboost_objective,
        custom_metric=loss.xgboost_metric)`` that starts from the loss's initial score, returning
        the ``xgboost.Booster``.

        The initial score b (:meth:`init_raw_prediction` of dtrain's labels and weights) goes into
        ``params`` as ``base_score`` (:func:`~boostfocal.adapters.init_score.xgboost_params_with_init_score`),
        unless ``init_score=False``, ``params`` has a ``base_score`` or ``xgb_model`` continues a
        model. ``alpha="balanced"`` is resolved from dtrain. The other arguments are
        ``xgboost.train``'s; ``evals`` report XGBoost's metrics and then ``focal_loss``, which early
        stopping watches.

        On the CPU it grows that very booster (the same ``save_raw`` bytes and history) without
        XGBoost's Python layer in each round: it reads the margins from XGBoost's prediction cache
        and hands the gradients back through XGBoost's C calls (:mod:`boostfocal.adapters.xgboost_capi`;
        with an XGBoost that lacks them it calls ``xgboost.train`` itself). The checks of labels
        and weights run on the first round and again only when a callback changes them.

        With ``params["device"] = "cuda"`` the rounds run on the GPU without host copies of the
        margins: gradient and Hessian by a CUDA kernel, handed to ``Booster.boost``, each round's
        trees added by ``Booster.inplace_predict``. That needs the feature matrices:
        ``features={dtrain: X_train, dvalid: X_valid, ...}`` (NumPy or CuPy, one per DMatrix in
        dtrain and evals; ``missing`` as they were built with), CuPy and a ``gbtree`` booster.
        Without them it falls back to ``xgboost.train`` with a RuntimeWarning naming the cost.
        See :mod:`boostfocal.adapters.xgboost_train`.
        """
        from .adapters import xgboost_train

        return xgboost_train.train(
            self, params, dtrain, num_boost_round, evals=evals,
            early_stopping_rounds=early_stopping_rounds, verbose_eval=verbose_eval,
            xgb_model=xgb_model, callbacks=callbacks, evals_result=evals_result, maximize=maximize,
            features=features, missing=missing, init_score=init_score, _array_module=_array_module,
        )

    def lightgbm_objective(self, preds, train_data):
        """``params["objective"]`` of :func:`lightgbm.train`: (gradient, hessian) of the raw
        scores, with the Dataset's labels and weights."""
        from .adapters import lightgbm

        return lightgbm.objective(self, preds, train_data)

    def lightgbm_metric(self, preds, eval_data):
        """``feval=`` of :func:`lightgbm.train`: ("focal_loss", weighted mean, False)."""
        from .adapters import lightgbm

        return lightgbm.metric(self, preds, eval_data)

    def lightgbm_train(
        self,
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
    ):
        """``lightgbm.train(params, train_set, ...)`` with ``params["objective"] =
        loss.lightgbm_objective`` and ``feval=loss.lightgbm_metric``, started from the loss's
        initial score, returning the ``lightgbm.Booster``.

        The initial score b (:meth:`init_raw_prediction` of train_set's labels and weights) is set
        as ``init_score`` of train_set and of every Dataset in ``valid_sets`` (the Datasets keep
        it) and then added to the first trees, so ``booster.predict(X, raw_score=True)`` includes
        it; not with ``init_score=False`` or when ``init_model`` continues a model (whose scores
        hold it). ``alpha="balanced"`` is resolved from train_set; ``num_class`` is set for the
        multiclass loss. ``valid_sets`` report ``focal_loss`` first, then any ``feval`` given.
        Unless ``keep_training_booster``, the model text declares LightGBM's softmax / sigmoid
        link, so ``booster.predict(X)`` returns ``predict_proba`` of the raw scores in any process
        (:func:`~boostfocal.adapters.lightgbm.set_probability_objective`).

        Each round runs as LightGBM's two C calls around the kernel, without the Python of
        ``Booster.update`` (:mod:`boostfocal.adapters.lightgbm_rounds`); the trees are those of
        ``lightgbm.train`` with the objective, bit for bit. LightGBM's log is silenced
        (``verbose=-1``) unless ``params`` sets a verbosity. See
        :mod:`boostfocal.adapters.lightgbm_train`.
        """
        from .adapters import lightgbm_train

        return lightgbm_train.train(
            self, params, train_set, num_boost_round, valid_sets=valid_sets,
            valid_names=valid_names, feval=feval, init_model=init_model,
            keep_training_booster=keep_training_booster, callbacks=callbacks, init_score=init_score,
        )

    def sklearn_objective(self, y_true, y_pred, sample_weight=None):
        """``objective=`` of ``XGBClassifier`` and ``LGBMClassifier``: (gradient, hessian).

        XGBoost passes weights by the keyword ``sample_weight``; LightGBM passes them as the third
        positional argument (it counts three parameters). Both land here.
        """
        from .adapters import sklearn_objective

        return sklearn_objective.objective(self, y_true, y_pred, sample_weight)

"""scikit-learn classifiers that train XGBoost or LightGBM with the focal loss.

``FocalXGBClassifier`` and ``FocalLGBMClassifier`` take labels of any type (strings too), pick
:class:`~boostfocal.FocalLoss` (3 or more classes) or :class:`~boostfocal.binary.BinaryFocalLoss`
(2 classes), resolve ``alpha="balanced"`` from the training labels only, start boosting from
``loss.init_raw_prediction`` and keep that constant inside the booster, and return probabilities
from ``predict_proba`` (``LGBMClassifier`` with a callable objective returns raw scores there).

Both hold the trained booster as ``booster_`` (an ``xgboost.Booster`` / ``lightgbm.Booster``): its raw
margins include the initial score, and its plain ``predict`` returns the softmax (binary: sigmoid)
probabilities, also after ``save_model`` and loading in a process without boostfocal. With
``probability="posterior"``, ``predict_proba`` returns the focal posterior correction instead.
"""

from __future__ import annotations

import dataclasses
import numbers
import sys
from typing import Optional

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import _validation as check
from .adapters.init_score import (
    check_lightgbm_boosting,
    lightgbm_init_score,
    logistic_base_score,
    xgboost_params_with_init_score,
)
from .adapters.lightgbm_rounds import DirectRounds
from .adapters.lightgbm_train import finish as finish_lightgbm
from .calibration import check_probability_kind as _check_probability
from .loss import FocalLoss

__all__ = ["FocalXGBClassifier", "FocalLGBMClassifier"]

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sklearn_validate_data

    def _validate_data(estimator, X, y="no_validation", *, reset: bool):
        return _sklearn_validate_data(
            estimator, X, y, reset=reset, accept_sparse="csr",
            dtype=(np.float64, np.float32), ensure_all_finite="allow-nan",
        )

except ImportError:  # scikit-learn < 1.6

    def _validate_data(estimator, X, y="no_validation", *, reset: bool):
        return estimator._validate_data(
            X, y, reset=reset, accept_sparse="csr",
            dtype=(np.float64, np.float32), force_all_finite="allow-nan",
        )


_FIT_PARAMS_DOC = """
    Parameters
    ----------
    gamma : float >= 0, default 2.0
        Focusing parameter of the focal loss (not XGBoost's ``gamma`` = ``min_split_loss``, which
        goes into ``booster_params`` as ``min_split_loss``).
    alpha : None, "balanced", sequence, dict or float, default None
        Class weights of the focal loss (not XGBoost's L1 ``alpha``: use ``reg_alpha`` in
        ``booster_params``). A sequence follows the order of ``classes_`` (the sorted labels); a
        dict maps each class label to its weight; ``"balanced"`` is resolved from the training
        labels and weights only (``loss_`` holds the result); with two classes a float a weights
        ``classes_[1]`` by a and ``classes_[0]`` by 1 - a.
    hessian : {"psd", "exact", "floor"}, default "psd"
        Hessian policy of the loss (see :class:`~boostfocal.FocalLoss`).
    init_score : bool, default True
        Start boosting from the constant that minimises the training loss
        (``loss_.init_raw_prediction``) instead of the booster's label-blind start; the constant
        is stored inside ``booster_`` and exposed as ``init_raw_prediction_``.
    probability : {"posterior", "softmax"}, default "posterior"
        What ``predict_proba`` returns: ``"posterior"``, the focal posterior correction
        ``loss_.posterior_proba`` of the margins, which undoes gamma and alpha and estimates the
        class posterior, or ``"softmax"``, the softmax (binary: sigmoid) of the margins, which is
        what ``booster_.predict`` and a saved model return. The default follows the quality
        benchmark: at gamma 2 and 5 the correction lowers the calibration error on every data set
        and the log loss and Brier score on most, with both boosters (docs/probabilities.md). ``predict`` returns the
        class of largest margin either way; with alpha that can differ from the posterior's argmax.
    n_estimators : int
        Boosting rounds.
    learning_rate, max_depth : booster parameters.
    device : str
        XGBoost ``device`` ("cpu", "cuda", "cuda:1") / LightGBM ``device_type`` ("cpu", "gpu",
        "cuda"). The objective runs on the host either way.
    n_jobs : int or None
        Threads of the booster and of the focal kernels during ``fit`` (None: the defaults).
    random_state : int, RandomState or None
        Seed of the booster.
    early_stopping_rounds : int or None
        Stop when the focal loss on the last ``eval_set`` has not improved for this many rounds;
        predictions then use the best iteration (``best_iteration_``).
    booster_params : dict or None
        Any further parameters of the booster, by its own names; they override the above.
"""


def _category_columns(X) -> list:
    """The ``category`` columns of a pandas DataFrame ([] for anything else).

    Raises ValueError naming the columns that are neither numeric, boolean nor ``category`` (for
    example strings), instead of scikit-learn's "could not convert string to float".
    """
    pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is imported already
    if pandas is None or not isinstance(X, pandas.DataFrame):
        return []
    categorical, unusable = [], []
    for name, dtype in X.dtypes.items():
        if isinstance(dtype, pandas.CategoricalDtype):
            categorical.append(name)
        elif not pandas.api.types.is_numeric_dtype(dtype) and not _holds_numbers(X[name]):
            unusable.append(f"{name!r} ({dtype})")
    if unusable:
        raise ValueError(
            f"X has columns that are neither numeric nor 'category': {', '.join(unusable)}. Convert "
            "them with X[column] = X[column].astype('category') (both boosters split on category "
            "columns natively), or encode them as numbers"
        )
    return categorical


def _holds_numbers(column) -> bool:
    """An object column that converts to float as it is (e.g. Python ints and floats)."""
    if column.dtype != object:
        return False
    try:
        np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


class _FocalBoostingClassifier(ClassifierMixin, BaseEstimator):
    """Shared fit/predict logic; subclasses translate parameters and call their booster."""

    # ------------------------------------------------------------------ subclass hooks
    def _train(self, X, y, sample_weight, evals):  # pragma: no cover - abstract
        raise NotImplementedError

    def _raw_predict(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ the loss
    def _alpha_spec(self):
        """``alpha`` in the encoded class order (dicts mapped through ``classes_``)."""
        alpha = self.alpha
        if isinstance(alpha, dict):
            unknown = [label for label in alpha if label not in set(self.classes_.tolist())]
            missing = [label for label in self.classes_.tolist() if label not in alpha]
            if unknown or missing:
                raise ValueError(
                    f"alpha as a dict needs exactly one weight per class of y; unknown labels "
                    f"{unknown}, missing labels {missing}"
                )
            return [alpha[label] for label in self.classes_.tolist()]
        return alpha

    def _make_loss(self, y_encoded, sample_weight):
        alpha = self._alpha_spec()
        if self.n_classes_ == 2:
            from .binary import BinaryFocalLoss

            loss = BinaryFocalLoss(self.gamma, alpha, hessian=self.hessian)
            return loss.resolve_alpha(y_encoded, sample_weight)
        if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
            raise ValueError(
                f"a single float alpha applies to two classes only; y has {self.n_classes_}: pass "
                "one weight per class (a sequence in the order of classes_, or a dict)"
            )
        loss = FocalLoss(self.gamma, alpha, hessian=self.hessian)
        return loss.resolve_alpha(y_encoded, sample_weight, n_classes=self.n_classes_)

    def _seed(self) -> Optional[int]:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    # ------------------------------------------------------------------ fit
    def _check_features(self, X, y="no_validation", *, reset: bool):
        """X (and y) as scikit-learn validates them, except that a pandas DataFrame with
        ``category`` columns stays a DataFrame: both boosters split on those natively."""
        categorical = _category_columns(X)
        if reset:
            self.categorical_features_ = categorical
        elif categorical != getattr(self, "categorical_features_", []):
            raise ValueError(
                f"X has the category columns {categorical}, but the model was fitted with "
                f"{self.categorical_features_}: pass a DataFrame with the same columns and dtypes"
            )
        if not categorical:
            return _validate_data(self, X, y, reset=reset)
        from sklearn.utils.validation import check_consistent_length, column_or_1d

        names = np.asarray(X.columns, dtype=object)
        if reset:
            self.n_features_in_ = X.shape[1]
            self.feature_names_in_ = names
        elif not np.array_equal(names, self.feature_names_in_):
            raise ValueError(
                f"X has the columns {names.tolist()}, but the model was fitted with "
                f"{self.feature_names_in_.tolist()}"
            )
        if isinstance(y, str) and y == "no_validation":
            return X
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        return X, y

    def _encode(self, y, what: str) -> np.ndarray:
        """Labels as 0..K-1 in the order of ``classes_``; labels not seen in training raise."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        encoded = np.searchsorted(self.classes_, y)
        encoded = np.clip(encoded, 0, self.n_classes_ - 1)
        unseen = self.classes_[encoded] != y
        if np.any(unseen):
            raise ValueError(f"{what} holds labels not seen in training: {np.unique(y[unseen])[:10]}")
        return encoded.astype(np.int64)

    def fit(self, X, y, sample_weight=None, eval_set=None, eval_sample_weight=None):
        """Train on X, y (any hashable, sortable labels).

        Parameters
        ----------
        X : array-like, sparse matrix or pandas DataFrame (n_samples, n_features); NaN means
            missing. DataFrame columns of dtype ``category`` are split on natively (listed in
            ``categorical_features_``); string columns must be converted to ``category`` first.
        y : array-like (n_samples,) class labels; at least two classes.
        sample_weight : array-like (n_samples,) non-negative, optional.
        eval_set : list of (X, y) pairs, optional
            Evaluated with the focal loss (``loss_``, whose alpha comes from the training data)
            after every round; results in ``evals_result_["validation_<i>"]["focal_loss"]``.
        eval_sample_weight : list of arrays or None, optional
            Weights of the eval sets, in their order.
        """
        if not isinstance(self.n_estimators, numbers.Integral) or self.n_estimators < 1:
            raise ValueError(f"n_estimators must be an integer >= 1, got {self.n_estimators!r}")
        _check_probability(self.probability)
        X, y = self._check_features(X, y, reset=True)
        check_classification_targets(y)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(
                f"y must hold at least 2 classes to train a classifier, got {self.n_classes_} class"
            )
        y_encoded = y_encoded.reshape(-1).astype(np.int64)
        weights = check.check_sample_weight(sample_weight, X.shape[0])
        if weights.size and not np.any(weights > 0.0):
            raise ValueError("sample_weight is zero for every sample; at least one weight must be > 0")
        weights = weights if weights.size else None
        self.loss_ = self._make_loss(y_encoded, weights)
        if self.init_score:
            if self.n_classes_ == 2:
                self.init_raw_prediction_ = float(self.loss_.init_raw_prediction(y_encoded, weights))
            else:
                self.init_raw_prediction_ = self.loss_.init_raw_prediction(
                    y_encoded, weights, n_classes=self.n_classes_
                )
        else:
            self.init_raw_prediction_ = 0.0 if self.n_classes_ == 2 else np.zeros(self.n_classes_)

        evals = []
        eval_set = list(eval_set or [])
        if eval_sample_weight is not None and len(eval_sample_weight) != len(eval_set):
            raise ValueError(
                f"eval_sample_weight has {len(eval_sample_weight)} entries for {len(eval_set)} eval sets"
            )
        for index, pair in enumerate(eval_set):
            if len(pair) != 2:
                raise ValueError("eval_set must be a list of (X, y) pairs")
            X_eval = self._check_features(pair[0], reset=False)
            y_eval = self._encode(pair[1], f"eval_set[{index}]")
            if y_eval.shape[0] != X_eval.shape[0]:
                raise ValueError(f"eval_set[{index}] has {X_eval.shape[0]} rows but {y_eval.shape[0]} labels")
            w_eval = None if eval_sample_weight is None else eval_sample_weight[index]
            if w_eval is not None:
                w_eval = check.check_sample_weight(w_eval, X_eval.shape[0])
            evals.append((X_eval, y_eval, w_eval, f"validation_{index}"))

        self.evals_result_ = {}
        self.best_iteration_ = None
        from .kernels.threads import kernel_threads

        # n_jobs bounds the focal kernels' threads too, not only the booster's.
        with kernel_threads(self.n_jobs):
            self.booster_ = self._train(X, y_encoded, weights, evals)
        return self

    # ------------------------------------------------------------------ predict
    def decision_function(self, X) -> np.ndarray:
        """Raw margins including the initial score: (n, K), or (n,) logits of ``classes_[1]``."""
        check_is_fitted(self, "booster_")
        X = self._check_features(X, reset=False)
        raw = np.asarray(self._raw_predict(X), dtype=np.float64)
        return raw.reshape(-1) if self.n_classes_ == 2 else raw.reshape(X.shape[0], self.n_classes_)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, K) in the order of ``classes_``: the softmax / sigmoid of the
        margins, or their focal posterior correction (``probability="posterior"``)."""
        kind = _check_probability(self.probability)
        raw = self.decision_function(X)
        to_probability = self.loss_.posterior_proba if kind == "posterior" else self.loss_.predict_proba
        if self.n_classes_ == 2:
            positive = to_probability(raw)
            return np.column_stack([1.0 - positive, positive])
        return to_probability(raw)

    def predict(self, X) -> np.ndarray:
        """The class of largest margin (binary: margin > 0 gives ``classes_[1]``), as original labels."""
        raw = self.decision_function(X)
        if self.n_classes_ == 2:
            return self.classes_[(raw > 0.0).astype(np.int64)]
        return self.classes_[np.argmax(raw, axis=1)]

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"allow_nan": True}


class FocalXGBClassifier(_FocalBoostingClassifier):
    __doc__ = (
        """Gradient-boosted trees of XGBoost trained with the focal loss.

    ``booster_`` is an ``xgboost.Booster`` with ``objective="multi:softprob"`` (``"binary:logistic"``
    for two classes, or ``"binary:logitraw"`` when the initial logit is too extreme for a float32
    probability) and ``base_score`` = ``init_raw_prediction_`` (XGBoost >= 3.1 for more than two
    classes), so ``booster_.predict`` returns probabilities and the margins include the initial
    score, also after ``save_model``/``load_model``.
"""
        + _FIT_PARAMS_DOC
        + """    min_child_weight, reg_lambda, tree_method : XGBoost parameters.
"""
    )

    def __init__(
        self,
        gamma: float = 2.0,
        alpha=None,
        hessian: str = "psd",
        init_score: bool = True,
        probability: str = "posterior",
        n_estimators: int = 100,
        learning_rate: float = 0.3,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        tree_method: str = "hist",
        device: str = "cpu",
        n_jobs: Optional[int] = None,
        random_state=None,
        early_stopping_rounds: Optional[int] = None,
        booster_params: Optional[dict] = None,
    ):
        self.gamma = gamma
        self.alpha = alpha
        self.hessian = hessian
        self.init_score = init_score
        self.probability = probability
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.tree_method = tree_method
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.early_stopping_rounds = early_stopping_rounds
        self.booster_params = booster_params

    def _params(self, y_encoded, sample_weight) -> dict:
        params = {
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "reg_lambda": self.reg_lambda,
            "tree_method": self.tree_method,
            "device": self.device,
            # Only the focal metric (loss_.xgboost_metric) is reported and watched.
            "disable_default_eval_metric": 1,
        }
        if self.n_jobs is not None:
            params["nthread"] = self.n_jobs
        seed = self._seed()
        if seed is not None:
            params["seed"] = seed
        params.update(self.booster_params or {})
        if self.init_score and self.n_classes_ == 2 and "objective" not in params:
            # A logit too extreme for a float32 probability base_score (weights or alpha that all
            # but remove one class) is kept exactly by binary:logitraw; predict_proba is unaffected.
            if logistic_base_score(self.loss_, self.init_raw_prediction_) is None:
                params["objective"] = "binary:logitraw"
        if self.init_score:
            return xgboost_params_with_init_score(
                self.loss_, y_encoded, params, sample_weight=sample_weight, n_classes=self.n_classes_
            )
        # Start from margin 0: XGBoost's default for custom objectives would be 0.5.
        if self.n_classes_ == 2:
            objective = params.setdefault("objective", "binary:logistic")
            # A logistic base_score is a probability (0.5 is margin 0); others are margins.
            params.setdefault("base_score", 0.5 if objective == "binary:logistic" else 0.0)
        else:
            params.setdefault("objective", "multi:softprob")
            params.setdefault("base_score", 0.0)  # one scalar serves every class
            params["num_class"] = self.n_classes_
        return params

    def _train(self, X, y, sample_weight, evals):
        import xgboost

        from .adapters import xgboost_train

        params = self._params(y, sample_weight)
        # enable_categorical: DataFrame columns of dtype 'category' are split on natively.
        dtrain = xgboost.DMatrix(X, label=y, weight=sample_weight, enable_categorical=True)
        watchlist = [
            (xgboost.DMatrix(X_eval, label=y_eval, weight=w_eval, enable_categorical=True), name)
            for X_eval, y_eval, w_eval, name in evals
        ]
        evals_result = {}
        features = None
        if xgboost_train._on_cuda(params):  # device= or booster_params' device: "cuda..." / "gpu"
            # Margins and gradients stay on the GPU (loss.xgboost_train's device loop).
            features = {dtrain: X}
            features.update((dmatrix, X_eval) for (dmatrix, _), (X_eval, *_) in zip(watchlist, evals))
        # On the CPU the same loop reads XGBoost's prediction cache (loss.xgboost_train); params
        # already hold the initial score.
        booster = self.loss_.xgboost_train(
            params, dtrain, self.n_estimators, evals=watchlist,
            early_stopping_rounds=self.early_stopping_rounds if watchlist else None,
            evals_result=evals_result, verbose_eval=False, features=features, init_score=False,
        )
        self.evals_result_ = evals_result
        if self.early_stopping_rounds is not None and watchlist:
            self.best_iteration_ = int(booster.best_iteration)
        return booster

    def _raw_predict(self, X):
        import xgboost

        iteration_range = (0, 0) if self.best_iteration_ is None else (0, self.best_iteration_ + 1)
        return self.booster_.predict(
            xgboost.DMatrix(X, enable_categorical=True), output_margin=True,
            iteration_range=iteration_range,
        )


def _as_lightgbm_input(X):
    """scipy sparse arrays as csr_matrix: LightGBM 4.x takes matrices and warns on arrays."""
    import scipy.sparse

    if scipy.sparse.issparse(X) and not isinstance(X, scipy.sparse.spmatrix):
        return scipy.sparse.csr_matrix(X)
    return X


def _early_stopping_on(dataset_name: str, stopping_rounds: int):
    """``lightgbm.early_stopping`` that watches only the evaluation set ``dataset_name``.

    LightGBM's callback stops as soon as ANY evaluation set stalls (and LightGBM 4 has no option to
    pick one); the estimators stop on the last ``eval_set``, as XGBoost does. The callback is
    handed the results of that set only.
    """
    import lightgbm

    inner = lightgbm.early_stopping(stopping_rounds, verbose=False)

    def callback(env):
        watched = [result for result in env.evaluation_result_list if result[0] == dataset_name]
        # CallbackEnv is a dataclass in LightGBM >= 4.7, a namedtuple before.
        if dataclasses.is_dataclass(env):
            inner(dataclasses.replace(env, evaluation_result_list=watched))
        else:
            inner(env._replace(evaluation_result_list=watched))

    callback.order = inner.order
    return callback


class FocalLGBMClassifier(_FocalBoostingClassifier):
    __doc__ = (
        """Gradient-boosted trees of LightGBM trained with the focal loss.

    ``booster_`` is a ``lightgbm.Booster`` whose first iteration's trees carry
    ``init_raw_prediction_`` (folded in with
    :func:`boostfocal.adapters.init_score.lightgbm_add_init_score`), so
    ``booster_.predict(X, raw_score=True)`` includes the initial score, also after ``save_model`` and
    ``lightgbm.Booster(model_file=...)``. The model text declares LightGBM's own
    ``objective=multiclass num_class:K`` (binary: ``binary sigmoid:1``;
    :func:`boostfocal.adapters.lightgbm.set_probability_objective`), so ``booster_.predict(X)``
    returns the softmax probabilities (binary: P(``classes_[1]``)) in any process, boostfocal or not.
"""
        + _FIT_PARAMS_DOC
        + """    num_leaves, min_child_samples, reg_lambda : LightGBM parameters.
"""
    )

    def __init__(
        self,
        gamma: float = 2.0,
        alpha=None,
        hessian: str = "psd",
        init_score: bool = True,
        probability: str = "posterior",
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 20,
        reg_lambda: float = 0.0,
        device: str = "cpu",
        n_jobs: Optional[int] = None,
        random_state=None,
        early_stopping_rounds: Optional[int] = None,
        booster_params: Optional[dict] = None,
    ):
        self.gamma = gamma
        self.alpha = alpha
        self.hessian = hessian
        self.init_score = init_score
        self.probability = probability
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.early_stopping_rounds = early_stopping_rounds
        self.booster_params = booster_params

    def _params(self) -> dict:
        params = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "reg_lambda": self.reg_lambda,
            "device_type": self.device,
            "verbose": -1,
            "metric": "None",  # only the focal metric (loss_.lightgbm_metric) is reported
        }
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        seed = self._seed()
        if seed is not None:
            params["seed"] = seed
        params.update(self.booster_params or {})
        if params.get("linear_tree") and self.init_score:
            raise ValueError("linear_tree=True cannot hold the initial score: set init_score=False")
        check_lightgbm_boosting(params)
        params["objective"] = self.loss_.lightgbm_objective
        params["num_class"] = 1 if self.n_classes_ == 2 else self.n_classes_
        return params

    def _train(self, X, y, sample_weight, evals):
        import lightgbm

        params = self._params()
        raw = self.init_raw_prediction_
        X = _as_lightgbm_input(X)

        def init_score(n_rows):
            return lightgbm_init_score(raw, n_rows) if self.init_score else None

        # With a custom objective, LightGBM 4.x aborts ("Check failed: num_features() > 0",
        # LightGBM issue #5667) when pre-filtering leaves no feature (tiny or constant data).
        # Features it would filter can never be split on, so keeping them changes no model.
        dataset_params = {"verbose": -1, "feature_pre_filter": False}
        train_set = lightgbm.Dataset(
            X, label=y, weight=sample_weight, init_score=init_score(X.shape[0]),
            params=dataset_params,
        )
        valid_sets, valid_names = [], []
        for X_eval, y_eval, w_eval, name in evals:
            valid_sets.append(
                lightgbm.Dataset(
                    _as_lightgbm_input(X_eval), label=y_eval, weight=w_eval, init_score=init_score(X_eval.shape[0]),
                    reference=train_set, params=dataset_params,
                )
            )
            valid_names.append(name)
        evals_result = {}
        # The rounds through LightGBM's C calls (the same trees as its Booster.update).
        callbacks = [DirectRounds()]
        if valid_sets:
            callbacks.append(lightgbm.record_evaluation(evals_result))
        if self.early_stopping_rounds is not None and valid_sets:
            callbacks.append(_early_stopping_on(valid_names[-1], self.early_stopping_rounds))
        booster = lightgbm.train(
            params,
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets or None,
            valid_names=valid_names or None,
            feval=self.loss_.lightgbm_metric if valid_sets else None,
            keep_training_booster=True,  # finish() reloads it once, as lightgbm.train would
            callbacks=callbacks,
        )
        self.evals_result_ = {name: dict(result) for name, result in evals_result.items()}
        if self.early_stopping_rounds is not None and valid_sets:
            self.best_iteration_ = int(booster.best_iteration) - 1  # LightGBM counts from 1
        return finish_lightgbm(booster, self.loss_, raw if self.init_score else None,
                               keep_training_booster=False)

    def _raw_predict(self, X):
        num_iteration = None if self.best_iteration_ is None else self.best_iteration_ + 1
        return self.booster_.predict(
            _as_lightgbm_input(X), raw_score=True, num_iteration=num_iteration
        )

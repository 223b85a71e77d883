"""The focal loss on Dask, through the boosters' own distributed trainers.

Training itself needs nothing from this module: the loss object pickles, so
``xgboost.dask.train(client, params, dtrain, obj=loss.xgboost_objective)``,
``xgboost.dask.DaskXGBClassifier(objective=loss.sklearn_objective)`` and
``lightgbm.DaskLGBMClassifier(objective=loss.sklearn_objective)`` already run the Numba kernels on
every worker, on that worker's own rows. What a single partition cannot give, and what this module
adds, are the quantities that depend on the WHOLE training set:

* :func:`class_totals` reduces the distributed labels to the weighted class totals
  W_k = sum_{i: y_i = k} w_i (one ``np.bincount`` per partition, summed). These K numbers are
  sufficient statistics for both ``alpha="balanced"`` (alpha_k = W / (K_present W_k)) and the
  focal-optimal constant initial score, so :func:`resolve_alpha` and :func:`init_raw_prediction`
  hand the K-row summary (labels 0..K-1 with weights W_k) to the single-machine methods of
  :class:`~boostfocal.FocalLoss` and get exactly the full-data answer.
* :class:`XGBoostGlobalMetric` / :class:`SklearnGlobalMetric`: the per-round focal metric as the
  true global weighted mean. XGBoost combines a custom metric across workers by averaging the
  per-worker values (``xgboost.callback._allreduce_metric``: sum / world size), which is wrong for
  unequal partitions; these metrics allreduce (sum_i w_i L_i, sum_i w_i) themselves, so every
  worker returns the same global value and XGBoost's average of equal values leaves it unchanged.
* :func:`mean_focal_loss`: the global weighted mean focal loss of any distributed raw predictions,
  sum_i L_i / sum_i w_i from per-partition partial sums (no rows move to the client).
* :class:`FocalDaskXGBClassifier` and :class:`FocalDaskLGBMClassifier`: estimators that do all of
  the above (global alpha, initial score, metric) and return probabilities from ``predict_proba``.

Everything sent to the workers (the loss, its bound methods, the metrics, the block functions) is
picklable; the kernels compile (or load from Numba's disk cache) once per worker process and are
reused every round.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _validation as check
from .calibration import check_probability_kind as _check_probability
from .kernels.threads import inside_booster
from .loss import FocalLoss

__all__ = [
    "class_totals",
    "resolve_alpha",
    "init_raw_prediction",
    "mean_focal_loss",
    "XGBoostGlobalMetric",
    "SklearnGlobalMetric",
    "FocalDaskXGBClassifier",
    "FocalDaskLGBMClassifier",
]


# --------------------------------------------------------------------------- collections
def _is_dask(obj) -> bool:
    return hasattr(obj, "dask") and hasattr(obj, "to_delayed")


def _row_blocks(obj, name: str) -> list:
    """The row partitions of a Dask Array / Series / DataFrame as a list of Delayed objects."""
    parts = obj.to_delayed()
    if isinstance(parts, np.ndarray):  # Dask Array: one Delayed per block
        if parts.ndim == 2:
            if parts.shape[1] != 1:
                raise ValueError(f"{name} must not be split along its columns; rechunk it to {{1: -1}}")
            parts = parts[:, 0]
        parts = list(parts.ravel())
    return list(parts)


def _aligned_blocks(reference, other, name: str) -> list:
    """``other``'s row blocks, rechunked (Dask Arrays) to match ``reference``'s."""
    if hasattr(reference, "chunks") and hasattr(other, "chunks"):
        known = not (np.isnan(reference.chunks[0]).any() or np.isnan(other.chunks[0]).any())
        if known and other.chunks[0] != reference.chunks[0]:
            other = other.rechunk({0: reference.chunks[0]})
        if other.ndim == 2:
            other = other.rechunk({1: -1})
    blocks = _row_blocks(other, name)
    if len(blocks) != len(_row_blocks(reference, "y_true")):
        raise ValueError(f"{name} must be partitioned like the labels (same number of partitions)")
    return blocks


def _n_classes_of(loss: FocalLoss, y, n_classes: Optional[int]) -> int:
    if n_classes is not None:
        return int(n_classes)
    if isinstance(loss.alpha, np.ndarray):
        return loss.alpha.shape[0]
    return _n_classes_from_labels(y)


def _n_classes_from_labels(y) -> int:
    """max(y) + 1 after the label checks of the loss (numeric, finite, integer, >= 0)."""
    if not _is_dask(y):
        return check.n_classes_from_labels(y)
    import dask

    # min and max carry every problem the checks look for (NaN propagates; strings stay strings).
    low, high = dask.compute(y.min(), y.max())
    return check.n_classes_from_labels(np.array([low, high]))


# --------------------------------------------------------------------------- global statistics
def _block_class_totals(labels, weights, n_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    labels = check.check_labels(labels, labels.shape[0], n_classes)
    weights = check.check_sample_weight(weights, labels.shape[0])
    return np.bincount(labels, weights=weights if weights.size else None, minlength=n_classes)


def class_totals(y, sample_weight=None, n_classes: Optional[int] = None) -> np.ndarray:
    """Weighted class totals W_k = sum_{i: y_i = k} w_i of a distributed label vector, (K,) float64.

    Each partition is reduced to its own ``np.bincount`` (labels validated there: integers in
    [0, n_classes)) where it lives; only those K-vectors travel, and they are summed here.

    Parameters
    ----------
    y : Dask Array or Dask Series of integer labels (numpy is accepted too)
    sample_weight : same kind and partitioning as ``y``, or None (all ones)
    n_classes : int, default max(y) + 1
    """
    import dask

    if n_classes is None:
        n_classes = _n_classes_from_labels(y)
    if not _is_dask(y):
        return _block_class_totals(y, sample_weight, n_classes).astype(np.float64)
    label_blocks = _row_blocks(y, "y")
    if sample_weight is None:
        weight_blocks = [None] * len(label_blocks)
    else:
        weight_blocks = _aligned_blocks(y, sample_weight, "sample_weight")
    partial_totals = dask.compute(
        *[
            dask.delayed(_block_class_totals)(labels, weights, n_classes)
            for labels, weights in zip(label_blocks, weight_blocks)
        ]
    )
    return np.sum(partial_totals, axis=0, dtype=np.float64).reshape(n_classes)


def resolve_alpha(loss: FocalLoss, y, sample_weight=None, n_classes: Optional[int] = None) -> FocalLoss:
    """``loss.resolve_alpha`` over the WHOLE distributed training set.

    ``alpha="balanced"`` needs only the class totals W_k, so the totals are reduced across
    partitions (:func:`class_totals`) and the single-machine method is applied to the K-row
    summary: labels 0..K-1 with sample weights W_k. A class absent from one partition (or one
    worker) still counts with its global total. Any other alpha is returned unchanged (a copy).
    """
    if loss.alpha_is_resolved:
        return loss.copy()
    n_classes = _n_classes_of(loss, y, n_classes)
    totals = class_totals(y, sample_weight, n_classes)
    return loss.resolve_alpha(np.arange(n_classes), sample_weight=totals, n_classes=n_classes)


def init_raw_prediction(loss: FocalLoss, y, sample_weight=None, n_classes: Optional[int] = None) -> np.ndarray:
    """``loss.init_raw_prediction`` over the WHOLE distributed training set, (K,) float64.

    The focal-optimal constant margin depends on the data only through c_k = alpha_k W_k, so the
    single-machine method on the K-row summary (labels 0..K-1, weights W_k) is exact. ``loss`` must
    have a resolved alpha (see :func:`resolve_alpha`).
    """
    n_classes = _n_classes_of(loss, y, n_classes)
    totals = class_totals(y, sample_weight, n_classes)
    return loss.init_raw_prediction(np.arange(n_classes), sample_weight=totals, n_classes=n_classes)


# --------------------------------------------------------------------------- global metric
def _local_sums(loss: FocalLoss, y_true, raw_prediction, sample_weight) -> np.ndarray:
    """[sum_i w_i L_i, sum_i w_i] of one partition (zeros for an empty one)."""
    # Numba compiles one specialisation per memory layout and per writeable flag; Dask hands
    # partitions over as read-only or Fortran-ordered arrays, so normalise them (a copy only then)
    # to the C-ordered writable layout the boosters use, for which the kernels are already built.
    raw = np.require(raw_prediction, requirements=["C", "W"])
    labels = np.asarray(y_true)
    if labels.shape[0] == 0:
        return np.zeros(2)
    if raw.ndim == 1:  # XGBoost flattens (n, K) margins in some versions
        raw = raw.reshape(labels.shape[0], -1)
    weights = None if sample_weight is None or np.size(sample_weight) == 0 else sample_weight
    total_weight = labels.shape[0] if weights is None else float(np.sum(weights, dtype=np.float64))
    return np.array([np.sum(loss.loss(labels, raw, weights)), total_weight], dtype=np.float64)


def _global_mean(local: np.ndarray) -> float:
    """sum over workers of [sum w L, sum w] -> their ratio; no-op reduction outside a cluster."""
    from xgboost import collective

    if collective.get_world_size() > 1:
        # Every worker calls the metric once per evaluation set and round, in the same order, so
        # this allreduce pairs up exactly like XGBoost's own one in _allreduce_metric.
        local = collective.allreduce(np.ascontiguousarray(local, dtype=np.float64), collective.Op.SUM)
    if local[1] <= 0:
        raise ValueError("the focal metric needs a positive total sample weight")
    return float(local[0] / local[1])


class XGBoostGlobalMetric:
    """``custom_metric=`` of ``xgboost.dask.train`` (and ``xgboost.train``): the global focal metric.

    Returns ``(name, sum_i w_i L_i / sum_i w_i)`` over the rows of ALL workers, from the raw margins.
    XGBoost averages a custom metric's per-worker values, (1/M) sum_m mean_m, which is a wrong
    mean unless all partitions have equal total weight. Here each worker's partial sums are
    allreduced first, so every worker returns the same global value and that average is exact.
    The printed and recorded value has XGBoost's 6 decimals.
    """

    def __init__(self, loss: FocalLoss, name: str = "focal_loss") -> None:
        self.loss = loss
        self.name = name

    def __call__(self, predt, dmatrix) -> Tuple[str, float]:
        with inside_booster():
            local = _local_sums(self.loss, dmatrix.get_label(), predt, dmatrix.get_weight())
        return self.name, _global_mean(local)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loss!r}, name={self.name!r})"


class SklearnGlobalMetric:
    """``eval_metric=`` of ``xgboost.dask.DaskXGBClassifier``: the global focal metric.

    The scikit-learn signature ``(y_true, y_score, sample_weight=None) -> float`` with raw margins
    ``y_score`` (XGBoost passes margins when the objective is a callable); reduced across workers
    like :class:`XGBoostGlobalMetric`. Its ``__name__`` is the name XGBoost records.
    """

    def __init__(self, loss: FocalLoss, name: str = "focal_loss") -> None:
        self.loss = loss
        self.__name__ = name

    def __call__(self, y_true, y_score, sample_weight=None) -> float:
        with inside_booster():
            return _global_mean(_local_sums(self.loss, y_true, y_score, sample_weight))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loss!r}, name={self.__name__!r})"


class _LightGBMLocalMetric:
    """``eval_metric=`` of the LightGBM scikit-learn API: ("focal_loss", local mean, False).

    LightGBM evaluates on each worker's own rows and lightgbm.dask keeps one worker's record, so
    this value is local to that worker; :func:`mean_focal_loss` gives the global one.
    """

    def __init__(self, loss: FocalLoss) -> None:
        self.loss = loss

    def __call__(self, y_true, y_pred, weight=None):
        with inside_booster():
            return "focal_loss", self.loss.mean_loss(y_true, y_pred, weight), False


def _block_loss_sums(loss: FocalLoss, labels, raw, weights) -> np.ndarray:
    return _local_sums(loss, np.asarray(labels), np.asarray(raw), None if weights is None else np.asarray(weights))


def mean_focal_loss(loss: FocalLoss, y_true, raw_prediction, sample_weight=None) -> float:
    """Global weighted mean focal loss sum_i L_i / sum_i w_i of distributed raw margins.

    Each partition returns its two partial sums (sum_i w_i L_i, sum_i w_i), computed where it
    lives; they are added here. ``raw_prediction`` (n, K) must be row-partitioned like ``y_true``
    (Dask Arrays are rechunked to match). Plain arrays give ``loss.mean_loss``.
    """
    import dask

    if not _is_dask(y_true):
        return loss.mean_loss(y_true, raw_prediction, sample_weight)
    label_blocks = _row_blocks(y_true, "y_true")
    raw_blocks = _aligned_blocks(y_true, raw_prediction, "raw_prediction")
    if sample_weight is None:
        weight_blocks = [None] * len(label_blocks)
    else:
        weight_blocks = _aligned_blocks(y_true, sample_weight, "sample_weight")
    sums = dask.compute(
        *[
            dask.delayed(_block_loss_sums)(loss, labels, raw, weights)
            for labels, raw, weights in zip(label_blocks, raw_blocks, weight_blocks)
        ]
    )
    total = np.sum(sums, axis=0)
    if total[1] <= 0:
        raise ValueError("the mean focal loss needs a positive total sample weight")
    return float(total[0] / total[1])


# --------------------------------------------------------------------------- block functions
def _encode_block(labels, classes: np.ndarray):
    """Labels -> codes 0..K-1 by position in the sorted ``classes`` (pandas index kept); a label
    that is not one of ``classes`` raises instead of taking its neighbour's code."""
    values = np.asarray(labels)
    codes = np.clip(np.searchsorted(classes, values), 0, classes.shape[0] - 1).astype(np.int64)
    unseen = classes[codes] != values
    if np.any(unseen):
        raise ValueError(f"labels not seen in training: {np.unique(values[unseen])[:10]}")
    if hasattr(labels, "index"):
        import pandas as pd

        return pd.Series(codes, index=labels.index, name=getattr(labels, "name", None))
    return codes


def _tile_block(block, row: np.ndarray):
    """The constant (n_rows, K) margin ``row`` for one partition (pandas index kept)."""
    tiled = np.tile(row, (block.shape[0], 1))
    if hasattr(block, "index"):
        import pandas as pd

        return pd.DataFrame(tiled, index=block.index, columns=list(range(row.shape[0])))
    return tiled


def _probability_block(raw, loss: FocalLoss, kind: str):
    # C-ordered and writable, as in _local_sums: no extra Numba specialisation per worker.
    raw = np.require(raw, requirements=["C", "W"])
    return loss.posterior_proba(raw) if kind == "posterior" else loss.predict_proba(raw)


def _argmax_block(proba, classes: np.ndarray):
    return classes[np.argmax(proba, axis=1)]


def _constant_rows(X, row: np.ndarray):
    """A Dask collection of the constant margin ``row`` partitioned (and placed) like ``X``."""
    import pandas as pd

    n_classes = row.shape[0]
    if hasattr(X, "map_partitions"):  # Dask DataFrame
        meta = pd.DataFrame({k: pd.Series(dtype=np.float64) for k in range(n_classes)})
        return X.map_partitions(functools.partial(_tile_block, row=row), meta=meta)
    first_column = X[:, :1]  # one block per row partition, computed where X's block lives
    return first_column.map_blocks(
        functools.partial(_tile_block, row=row), chunks=(X.chunks[0], (n_classes,)), dtype=np.float64
    )


def _map_labels(y, function):
    if hasattr(y, "map_partitions"):  # Dask Series
        return y.map_partitions(function, meta=(getattr(y, "name", None), np.int64))
    return y.map_blocks(function, dtype=np.int64)


def _as_dask_array(collection):
    return collection.to_dask_array(lengths=True) if hasattr(collection, "to_dask_array") else collection


# --------------------------------------------------------------------------- estimators
class _FocalDaskClassifier:
    """Shared parameters, label handling and predictions of the Dask focal classifiers."""

    _focal_parameters = ("gamma", "alpha", "hessian", "init_score", "probability", "client")

    def __init__(self, gamma=2.0, alpha=None, *, hessian="psd", init_score=True, probability="posterior",
                 client=None, **params):
        self.gamma = gamma
        self.alpha = alpha
        self.hessian = hessian
        self.init_score = init_score
        self.probability = probability
        self.client = client
        self.params = params

    # scikit-learn style parameters, without requiring scikit-learn
    def get_params(self, deep: bool = True) -> dict:
        own = {name: getattr(self, name) for name in self._focal_parameters}
        return {**own, **self.params}

    def set_params(self, **params) -> "_FocalDaskClassifier":
        for name, value in params.items():
            if name in self._focal_parameters:
                setattr(self, name, value)
            else:
                self.params[name] = value
        return self

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_params().items() if k != "client"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["client"] = None  # a Client does not pickle; re-attach with set_params(client=...)
        return state

    def _get_client(self):
        from distributed import default_client

        return self.client if self.client is not None else default_client()

    def _check_fitted(self) -> None:
        if not hasattr(self, "loss_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet: call fit(X, y) first")

    def _prepare(self, y, sample_weight):
        """Global classes, encoded labels, the resolved loss and the initial score."""
        import dask.array as da

        if not _is_dask(y):
            raise TypeError(f"y must be a Dask Array or Dask Series, got {type(y).__name__}")
        if not isinstance(self.init_score, (bool, np.bool_)):
            raise TypeError(f"init_score must be True or False, got {self.init_score!r}")
        _check_probability(self.probability)
        loss = FocalLoss(self.gamma, self.alpha, hessian=self.hessian)
        if hasattr(y, "drop_duplicates"):
            classes = y.drop_duplicates().compute().to_numpy()
        else:
            classes = da.unique(y).compute()
        classes = np.sort(np.asarray(classes))
        n_classes = classes.shape[0]
        if n_classes < 2:
            raise ValueError(f"y holds {n_classes} class; the focal classifiers need at least 2")
        if isinstance(loss.alpha, np.ndarray) and loss.alpha.shape[0] != n_classes:
            raise ValueError(
                f"alpha has {loss.alpha.shape[0]} entries but y holds {n_classes} classes {classes.tolist()}"
            )
        if np.array_equal(classes, np.arange(n_classes)):
            codes = y
        else:
            codes = _map_labels(y, functools.partial(_encode_block, classes=classes))
        totals = class_totals(codes, sample_weight, n_classes)
        summary = np.arange(n_classes)
        self.loss_ = loss.resolve_alpha(summary, sample_weight=totals, n_classes=n_classes)
        if self.init_score:
            init = self.loss_.init_raw_prediction(summary, sample_weight=totals, n_classes=n_classes)
        else:
            init = np.zeros(n_classes)
        self.classes_ = classes
        self.n_classes_ = n_classes
        self.class_totals_ = totals
        self.init_raw_prediction_ = init
        return codes

    def _encode(self, y):
        if np.array_equal(self.classes_, np.arange(self.n_classes_)):
            return y
        return _map_labels(y, functools.partial(_encode_block, classes=self.classes_))

    def decision_function(self, X):
        """Raw margins (n_samples, n_classes) as a Dask Array, initial score included."""
        raise NotImplementedError

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes) as a Dask Array (computed on the workers):
        the softmax of the margins, or their focal posterior correction (``probability="posterior"``)."""
        kind = _check_probability(self.probability)
        raw = self.decision_function(X)
        return raw.map_blocks(functools.partial(_probability_block, loss=self.loss_, kind=kind), dtype=np.float64)

    def predict(self, X):
        """The class of largest margin of each row (the argmax of the softmax), as a Dask Array of
        ``classes_`` values."""
        raw = self.decision_function(X)
        return raw.map_blocks(
            functools.partial(_argmax_block, classes=self.classes_), drop_axis=1, dtype=self.classes_.dtype
        )

    def focal_loss(self, X, y, sample_weight=None) -> float:
        """Global weighted mean focal loss of the fitted model on (X, y): see :func:`mean_focal_loss`."""
        self._check_fitted()
        codes = _as_dask_array(self._encode(y))
        weights = None if sample_weight is None else _as_dask_array(sample_weight)
        return mean_focal_loss(self.loss_, codes, self.decision_function(X), weights)


def _xgboost_has_vector_base_score() -> bool:
    """XGBoost >= 3.1 stores one base_score per class (a margin, with a callable objective)."""
    import xgboost

    major, minor = (int(part) for part in xgboost.__version__.split(".")[:2])
    return (major, minor) >= (3, 1)


class FocalDaskXGBClassifier(_FocalDaskClassifier):
    """Multiclass focal-loss classifier trained with ``xgboost.dask.train``.

    Parameters
    ----------
    gamma, alpha, hessian :
        Those of :class:`~boostfocal.FocalLoss`. ``alpha="balanced"`` is resolved from the global
        class totals of the training labels (all partitions), before the first round.
    init_score : bool, default True
        Start from the focal-optimal constant margin of the whole training set
        (:func:`init_raw_prediction`), stored as XGBoost's per-class ``base_score`` (XGBoost >= 3.1;
        older versions get it as ``base_margin`` here and at prediction). False starts from 0.
    probability : {"posterior", "softmax"}, default "posterior"
        What :meth:`predict_proba` returns: the focal posterior correction ``loss_.posterior_proba``
        of the margins, or their softmax (see ``boostfocal.sklearn.FocalXGBClassifier``). :meth:`predict` returns
        the class of largest margin either way.
    n_estimators : int
        Boosting rounds.
    client : distributed.Client, optional
        Defaults to the current default client.
    **params :
        XGBoost booster parameters (``max_depth``, ``learning_rate``, ``tree_method``, ...). XGBoost's
        own ``gamma`` is spelled ``min_split_loss`` here, since ``gamma`` is the focal one.

    Attributes
    ----------
    loss_ : FocalLoss with resolved alpha.  init_raw_prediction_ : (K,) initial margin.
    classes_, n_classes_, class_totals_, booster_ (xgboost.Booster), evals_result_ (global focal
    metric per evaluation set and round; see :class:`XGBoostGlobalMetric`).
    """

    def __init__(self, gamma=2.0, alpha=None, *, hessian="psd", init_score=True, probability="posterior",
                 n_estimators=100, client=None, **params):
        super().__init__(gamma, alpha, hessian=hessian, init_score=init_score, probability=probability,
                         client=client, **params)
        self.n_estimators = n_estimators

    _focal_parameters = _FocalDaskClassifier._focal_parameters + ("n_estimators",)

    def fit(
        self,
        X,
        y,
        *,
        sample_weight=None,
        eval_set: Optional[Sequence[Tuple[Any, Any]]] = None,
        sample_weight_eval_set: Optional[Sequence[Any]] = None,
        early_stopping_rounds: Optional[int] = None,
        verbose_eval: bool = False,
    ) -> "FocalDaskXGBClassifier":
        import xgboost.dask as dxgb

        client = self._get_client()
        codes = self._prepare(y, sample_weight)
        init = self.init_raw_prediction_
        self._base_margin_ = not _xgboost_has_vector_base_score()
        params = {"objective": "multi:softprob", "disable_default_eval_metric": 1, **self.params}
        params["num_class"] = self.n_classes_
        if self._base_margin_:
            params["base_score"] = 0.0
        else:
            # With a callable objective XGBoost uses base_score as the initial margin as is.
            params["base_score"] = [float(value) for value in init]

        def matrix(features, labels, weights):
            margin = _constant_rows(features, init) if self._base_margin_ else None
            return dxgb.DaskDMatrix(client, features, labels, weight=weights, base_margin=margin)

        evals = []
        for index, (X_eval, y_eval) in enumerate(eval_set or []):
            weights = sample_weight_eval_set[index] if sample_weight_eval_set else None
            evals.append((matrix(X_eval, self._encode(y_eval), weights), f"validation_{index}"))
        output = dxgb.train(
            client,
            params,
            matrix(X, codes, sample_weight),
            num_boost_round=self.n_estimators,
            evals=evals or None,
            obj=self.loss_.xgboost_objective,
            custom_metric=XGBoostGlobalMetric(self.loss_) if evals else None,
            early_stopping_rounds=early_stopping_rounds,
            verbose_eval=verbose_eval,
        )
        self.booster_ = output["booster"]
        self.evals_result_ = output["history"]
        return self

    def decision_function(self, X):
        import xgboost.dask as dxgb

        self._check_fitted()
        best = getattr(self.booster_, "best_iteration", None)
        iteration_range = (0, best + 1) if best is not None else (0, 0)
        margin = _constant_rows(X, self.init_raw_prediction_) if self._base_margin_ else None
        raw = dxgb.inplace_predict(
            self._get_client(), self.booster_, X, iteration_range=iteration_range,
            predict_type="margin", base_margin=margin,
        )
        return _as_dask_array(raw)


_LIGHTGBM_THREAD_ALIASES = frozenset(
    ("n_jobs", "num_threads", "num_thread", "nthread", "nthreads", "machines", "num_machines", "num_machine")
)


class FocalDaskLGBMClassifier(_FocalDaskClassifier):
    """Multiclass focal-loss classifier trained with lightgbm.dask.

    It trains a ``lightgbm.DaskLGBMRegressor(objective=loss.sklearn_objective, num_class=K)``:
    ``DaskLGBMClassifier`` label-encodes y on each worker separately, so a worker whose partition
    lacks a class would train with fewer classes than the others; the regressor passes the
    globally encoded labels 0..K-1 through and every worker agrees on K.

    The initial score (:func:`init_raw_prediction`, from the whole training set) goes in as
    LightGBM's ``init_score``; after training it is folded into the leaves of the first trees
    (:func:`boostfocal.adapters.init_score.lightgbm_add_init_score`, as ``FocalLGBMClassifier``
    does), so ``booster_`` predicts it on its own, and the model text declares LightGBM's
    ``objective=multiclass num_class:K`` (as ``FocalLGBMClassifier`` does), so ``booster_.predict``
    returns softmax probabilities in any process. :meth:`predict_proba` returns those or the
    posterior correction (``probability``).

    Parameters
    ----------
    gamma, alpha, hessian, init_score, probability, client :
        As for :class:`FocalDaskXGBClassifier`.
    **params :
        ``lightgbm.DaskLGBMRegressor`` parameters (``n_estimators``, ``num_leaves``, ...).

    Notes
    -----
    ``evals_result_`` (with ``eval_set``) holds the focal loss of ONE worker's share of each
    evaluation set: LightGBM evaluates locally and lightgbm.dask returns one worker's record. Use
    :meth:`focal_loss` (or :func:`mean_focal_loss`) for the global value.

    ``fit(..., init_model=booster)`` continues training from that booster's raw scores, which
    already include the initial score (it is not added a second time).
    """

    def fit(
        self,
        X,
        y,
        *,
        sample_weight=None,
        eval_set: Optional[Sequence[Tuple[Any, Any]]] = None,
        sample_weight_eval_set: Optional[Sequence[Any]] = None,
        **fit_params,
    ) -> "FocalDaskLGBMClassifier":
        import inspect

        import lightgbm

        client = self._get_client()
        codes = self._prepare(y, sample_weight)
        init = self.init_raw_prediction_
        # Continued training (init_model=) starts from that model's raw scores, which already
        # include the initial score: it is neither passed as init_score nor folded in again.
        continuing = fit_params.get("init_model") is not None
        params = {"verbose": -1, "metric": "None", **self.params}
        from .adapters.init_score import check_lightgbm_boosting

        check_lightgbm_boosting(params)
        model = lightgbm.DaskLGBMRegressor(
            client=client, objective=self.loss_.sklearn_objective, num_class=self.n_classes_, **params
        )
        if eval_set:
            X_eval = [features for features, _ in eval_set]
            y_eval = [self._encode(labels) for _, labels in eval_set]
            if "eval_X" in inspect.signature(model.fit).parameters:  # LightGBM >= 4.7
                fit_params.update(eval_X=tuple(X_eval), eval_y=tuple(y_eval))
            else:
                fit_params["eval_set"] = list(zip(X_eval, y_eval))
            if not continuing:
                fit_params["eval_init_score"] = [_constant_rows(features, init) for features in X_eval]
            fit_params.setdefault("eval_metric", _LightGBMLocalMetric(self.loss_))
            if sample_weight_eval_set:
                fit_params["eval_sample_weight"] = list(sample_weight_eval_set)
        if not continuing:
            fit_params["init_score"] = _constant_rows(X, init)
        with warnings.catch_warnings():
            if not _LIGHTGBM_THREAD_ALIASES.intersection(params):
                # The scikit-learn layer always sets num_threads and lightgbm.dask then warns that
                # it ignores it (each worker uses its own threads): noise when the user set none.
                warnings.filterwarnings("ignore", message=r"Parameter \w+ will be ignored", category=UserWarning)
            model.fit(X, codes, sample_weight=sample_weight, **fit_params)
        if self.init_score and not continuing:
            # LightGBM keeps no initial score in the model: add it to every leaf of the first
            # iteration's trees, so the booster predicts b + trees (also saved or to_local()).
            from .adapters.init_score import lightgbm_add_init_score

            lightgbm_add_init_score(model.booster_, init)
        # Declare the softmax link in the model text: booster_.predict gives probabilities anywhere.
        from .adapters.lightgbm import set_probability_objective

        set_probability_objective(model.booster_, self.loss_)
        self.model_ = model
        self.booster_ = model.booster_
        self.evals_result_ = getattr(model, "evals_result_", {})
        return self

    def decision_function(self, X):
        self._check_fitted()
        return _as_dask_array(self.model_.predict(X, raw_score=True))

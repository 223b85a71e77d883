"""``loss.xgboost_train``: ``xgboost.train`` with the focal objective, without the Python layer's
cost on the CPU and without host copies on the GPU.

It trains the booster ``xgboost.train(params, dtrain, ..., obj=loss.xgboost_objective,
custom_metric=loss.xgboost_metric)`` trains, with the initial score baked into ``params``
(:func:`.init_score.xgboost_params_with_init_score`), but drives the rounds itself. Logging, early
stopping (``best_iteration``/``best_score``), ``evals_result`` and user callbacks are XGBoost's own
(``xgboost.callback.CallbackContainer``, as ``xgboost.train`` uses them), so the history has the same
names and the same ``%f`` rounding as ``xgboost.train``; the focal metric is appended to XGBoost's
metrics of each evaluation set under the name ``focal_loss``.

On the CPU (:class:`_PredictionCacheRoute`): each round reads the margins from XGBoost's prediction
cache and hands the gradients back through the C calls of :mod:`.xgboost_capi`, with gradient
buffers reused every round and the checks of labels and weights made again only when they change;
the booster is the one ``xgboost.train(obj=...)`` grows, bit for bit. It falls back to
``xgboost.train(obj=...)`` where those calls are missing.

Why a loop of its own on ``device="cuda"`` (XGBoost 3.2, python-package/xgboost/core.py):

* Every path that calls a Python objective goes through ``Booster.boost(dtrain, iteration,
  fobj=...)``, which first calls ``self.predict(dtrain, output_margin=True, training=True)``; that
  returns host NumPy (``_prediction_output(..., False)``): a device-to-host copy of n x K floats per
  round (dmlc/xgboost issue #10049 asks for device margins).
* ``Booster.boost(dtrain, iteration, grad=..., hess=...)`` passes arrays straight to
  ``XGBoosterTrainOneIter`` through ``objective._grad_arrinf``, which takes NumPy or any
  ``__cuda_array_interface__`` array (``_is_cupy_alike``): device gradients stay on the device.
* ``Booster.inplace_predict(X, base_margin=M, iteration_range=(r, r + 1), predict_type="margin")``
  returns M plus the trees of round r: with a base margin XGBoost starts the prediction from it
  instead of from ``base_score`` (``Predictor::InitOutPredictions`` copies ``base_margin`` when it
  is set and fills ``base_score`` only otherwise), and ``iteration_range`` limits the trees. On a
  CuPy input the result is a CuPy array (``_prediction_output(..., True)``, a device copy). The
  shape is (n, K) for K classes and (n,) for one output (``strict_shape=False``).

So the device loop keeps the margins of the training data (and of each evaluation set) in device
arrays, computes gradient and Hessian there with the CUDA kernels of :mod:`boostfocal.kernels`, hands
them to ``Booster.boost`` and adds each round's trees with ``inplace_predict``. ``inplace_predict``
needs the feature matrices, which a DMatrix does not give back: pass them as ``features={dtrain: X,
dvalid: X_valid}`` (NumPy or CuPy; copied to the device once). The focal metric of every evaluation
set is reduced on the device (one float per set and round crosses to the host); XGBoost's built-in
metrics still come from ``Booster.eval_set``, which evaluates on the device from its prediction cache.

The device loop is written against an array module: CuPy with the CUDA kernels on the GPU, NumPy
with the CPU kernels for the tests (``_array_module="numpy"``), where it must give the booster that
``xgboost.train(obj=...)`` gives.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..kernels.threads import inside_booster
from . import xgboost_capi
from .init_score import xgboost_params_with_init_score
from .._validation import label_array, weight_array
from .sklearn_objective import check_booster_margins
from .xgboost import labels_and_weights

# benchmarks/results/cuda_handoff_h100.md: the host round trip of the margins.
_FALLBACK_COST = (
    "the margins then cross to the host every round (XGBoost's Booster.boost predicts to NumPy "
    "before calling a Python objective): about 2-2.5x the training time of the built-in "
    "multi:softprob on an H100, benchmarks/results/cuda_handoff_h100.md"
)


def _on_cuda(params: Mapping[str, Any]) -> bool:
    device = str(params.get("device", "cpu")).lower()
    return device.startswith("cuda") or device.startswith("gpu")


def _loop_obstacle(params: Mapping[str, Any], dtrain, evals, features) -> Optional[str]:
    """Why the device loop cannot train with these arguments, or None."""
    booster = params.get("booster", "gbtree")
    if booster != "gbtree":
        # DART drops trees at random in each round, so the margins are not the previous ones plus
        # the new trees; gblinear has no iteration_range layers to add.
        return f"booster={booster!r} (the device loop adds each round's trees to the margins: gbtree only)"
    if params.get("process_type", "default") != "default":
        return "process_type='update' rewrites existing trees, so margins cannot be updated round by round"
    if features is None:
        return "no features= given (inplace_predict needs the feature matrix of dtrain and of every evals set)"
    for dmatrix, name in [(dtrain, "dtrain")] + [(d, f"evals set {n!r}") for d, n in evals]:
        if dmatrix not in features:
            return f"features= has no feature matrix for {name}"
        if hasattr(features[dmatrix], "tocsr"):
            return f"the features of {name} are sparse (the device loop takes dense arrays)"
    return None


def _cuda_obstacle() -> Optional[str]:
    try:
        import cupy  # noqa: F401
        from numba import cuda
    except ImportError as error:
        return f"{error.name or 'cupy'} is not installed"
    if not cuda.is_available():
        return "Numba finds no CUDA GPU"
    return None


def _openmp_team(booster_threads: int):
    """XGBoost's OpenMP team for the kernels (:func:`boostfocal.kernels.openmp_team.team_of`), or
    None: then the kernels follow :mod:`boostfocal.kernels.threads`' rules. The environment
    variable ``BOOSTFOCAL_OPENMP_TEAM=0`` turns the team off (read at the start of each training)."""
    if os.environ.get("BOOSTFOCAL_OPENMP_TEAM", "1").strip() == "0":
        return None
    from ..kernels import openmp_team  # its workers compile (or load) at the first team

    return openmp_team.team_of(xgboost_capi.library_path(), booster_threads)


def _booster_threads(params: Mapping[str, Any]) -> int:
    """XGBoost's ``nthread`` (alias ``n_jobs``) as set in ``params``; 0 for its default."""
    value = params.get("nthread", params.get("n_jobs"))
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0  # XGBoost itself rejects what is not a number


def _params_for(loss, params, dtrain, xgb_model, init_score: bool) -> Tuple[Any, dict]:
    """(loss with alpha resolved from dtrain, params with the initial score baked in)."""
    labels, weights = labels_and_weights(dtrain)
    params = dict(params)
    n_classes = params.get("num_class")
    if not loss.is_binary:
        loss = loss.resolve_alpha(labels, weights, n_classes=n_classes)
    else:
        loss = loss.resolve_alpha(labels, weights)
    # A continued model keeps its own base_score; an explicit base_score is the caller's choice.
    if init_score and xgb_model is None and "base_score" not in params:
        params = xgboost_params_with_init_score(loss, labels, params, sample_weight=weights,
                                                n_classes=n_classes)
    return loss, params


def train(
    loss,
    params: Mapping[str, Any],
    dtrain,
    num_boost_round: int = 10,
    *,
    evals: Optional[Sequence[Tuple[Any, str]]] = None,
    early_stopping_rounds: Optional[int] = None,
    verbose_eval=True,
    xgb_model=None,
    callbacks=None,
    evals_result: Optional[dict] = None,
    maximize: Optional[bool] = None,
    features: Optional[Mapping[Any, Any]] = None,
    missing: float = np.nan,
    init_score: bool = True,
    _array_module: Optional[str] = None,
):
    """See :meth:`boostfocal.FocalLoss.xgboost_train`."""
    import xgboost

    evals = list(evals or [])
    loss, params = _params_for(loss, params, dtrain, xgb_model, init_score)
    common = dict(
        evals=evals, early_stopping_rounds=early_stopping_rounds, verbose_eval=verbose_eval,
        xgb_model=xgb_model, callbacks=callbacks, evals_result=evals_result, maximize=maximize,
    )
    array_module = _array_module
    if array_module is None and _on_cuda(params):
        reason = _loop_obstacle(params, dtrain, evals, features) or _cuda_obstacle()
        if reason is None:
            array_module = "cupy"
        else:
            warnings.warn(
                f"xgboost_train on {params.get('device')!r} falls back to xgboost.train with the host "
                f"objective: {reason}; {_FALLBACK_COST}",
                RuntimeWarning,
                stacklevel=3,
            )
            objective = loss.xgboost_objective
            if _cuda_obstacle() is None:
                objective = loss.xgboost_cuda_objective  # at least the gradients go back as CuPy
            return xgboost.train(params, dtrain, num_boost_round, obj=objective,
                                 custom_metric=loss.xgboost_metric, **common)
    if array_module is None:
        if xgboost_capi.unavailable() is not None:
            return xgboost.train(params, dtrain, num_boost_round, obj=loss.xgboost_objective,
                                 custom_metric=loss.xgboost_metric, **common)
        return _train_loop(_PredictionCacheRoute(loss, _booster_threads(params)), params, dtrain, num_boost_round,
                           features=None, missing=missing, **common)
    reason = _loop_obstacle(params, dtrain, evals, features)
    if reason is not None:
        raise ValueError(f"the device loop cannot run: {reason}")
    if array_module == "numpy":
        arrays = _HostArrays(loss)
    elif array_module == "cupy":
        arrays = _CudaArrays(loss)
    else:
        raise ValueError(f"_array_module must be 'numpy' or 'cupy', got {array_module!r}")
    return _train_loop(arrays, params, dtrain, num_boost_round, features=features,
                       missing=missing, **common)


# ------------------------------------------------------------------------------ array modules
class _HostArrays:
    """NumPy arrays and the CPU kernels (through the loss object): the loop's logic, testable on CPU."""

    xp = np

    def __init__(self, loss):
        self.loss = loss

    def asarray(self, values):
        return np.asarray(values)

    def margins(self, booster, dmatrix, features, missing):
        return _Margins(self, booster, dmatrix, features, missing)

    def boost(self, booster, dtrain, iteration: int, gradient, hessian) -> None:
        booster.boost(dtrain, iteration, grad=gradient, hess=hessian)

    def dataset(self, labels, weights):
        return labels, weights

    def gradient_hessian(self, data, margins):
        labels, weights = data
        return self.loss.gradient_hessian(labels, margins, weights)

    def mean_loss(self, data, margins) -> float:
        labels, weights = data
        return self.loss.mean_loss(labels, margins, weights)


class _CudaArrays(_HostArrays):
    """CuPy arrays and the CUDA kernels of :mod:`boostfocal.kernels` (``*_cuda``)."""

    def __init__(self, loss, xp=None):
        from ..kernels import binary as binary_kernels

        if xp is None:
            import cupy as xp
        # xp: CuPy; the CI test passes a NumPy shim and runs the kernels in Numba's simulator.
        self.xp = xp
        self.loss = loss
        self.gamma = float(loss.gamma)
        self.policy = {"exact": binary_kernels.HESSIAN_EXACT, "psd": binary_kernels.HESSIAN_PSD,
                       "floor": binary_kernels.HESSIAN_FLOOR}[loss.hessian]
        self.floor = float(loss.hessian_floor)
        self.binary = bool(loss.is_binary)
        self._gradient_buffers = {}

    def asarray(self, values):
        if not hasattr(values, "__cuda_array_interface__"):
            values = np.asarray(values)  # pandas and other host inputs: through NumPy, once
        return self.xp.asarray(values)

    def dataset(self, labels, weights):
        """Device copies of labels, weights (empty for none), alpha and the total weight, once."""
        xp = self.xp
        if self.binary:
            alpha = xp.asarray(self.loss._alpha_pair(), dtype=xp.float64)
        else:
            alpha = None  # set with the number of columns, at the first call
        device_weights = (xp.asarray(weights, dtype=xp.float64) if weights is not None
                          else xp.empty(0, dtype=xp.float64))
        total = float(np.sum(weights, dtype=np.float64)) if weights is not None else float(len(labels))
        if total <= 0:
            raise ValueError("the mean focal loss needs a positive total sample weight")
        return {"labels": xp.asarray(labels), "weights": device_weights, "alpha": alpha,
                "total_weight": total, "n": len(labels)}

    def _alpha(self, data, margins):
        if data["alpha"] is None:
            data["alpha"] = self.xp.asarray(self.loss._alpha_vector(margins.shape[1]), dtype=self.xp.float64)
        return data["alpha"]

    def _check(self, first_bad, n):
        bad_row, bad_input = (int(value) for value in first_bad.get())
        if bad_input < n:
            raise ValueError(f"invalid label or sample weight in row {bad_input}")
        if bad_row < n:
            raise ValueError(f"raw prediction of row {bad_row} is NaN or inf")

    def gradient_hessian(self, data, margins):
        from ..kernels import binary_cuda, multiclass_cuda

        xp, n = self.xp, data["n"]
        key = (margins.shape, margins.dtype.str)
        if key not in self._gradient_buffers:
            # One pair per shape, reused each round: XGBoost copies them before returning.
            self._gradient_buffers[key] = (xp.empty(margins.shape, margins.dtype),
                                           xp.empty(margins.shape, margins.dtype))
        gradient, hessian = self._gradient_buffers[key]
        first_bad = xp.full(2, n, dtype=xp.int64)
        blocks = multiclass_cuda.blocks_for(n)
        if self.binary:
            skip = xp.empty(0, dtype=xp.float64)
            binary_cuda.focal_loss_gradient_hessian[blocks, multiclass_cuda.THREADS_PER_BLOCK](
                data["labels"], margins, self._alpha(data, margins), data["weights"], self.gamma, self.policy, self.floor, bool(self.loss.soft_labels),
                skip, gradient, hessian, first_bad,
            )
        else:
            multiclass_cuda.focal_loss_gradient_hessian[blocks, multiclass_cuda.THREADS_PER_BLOCK](
                data["labels"], margins, self._alpha(data, margins), data["weights"], self.gamma,
                self.policy, self.floor, gradient, hessian, first_bad,
            )
        self._check(first_bad, n)  # two integers cross to the host
        return gradient, hessian

    def mean_loss(self, data, margins) -> float:
        from ..kernels import binary_cuda, multiclass_cuda

        xp, n = self.xp, data["n"]
        per_sample = xp.empty(n, dtype=xp.float64)
        first_bad = xp.full(2, n, dtype=xp.int64)
        blocks = multiclass_cuda.blocks_for(n)
        if self.binary:
            skip = xp.empty(0, dtype=margins.dtype)
            binary_cuda.focal_loss_gradient_hessian[blocks, multiclass_cuda.THREADS_PER_BLOCK](
                data["labels"], margins, self._alpha(data, margins), data["weights"], self.gamma, self.policy,
                self.floor, bool(self.loss.soft_labels), per_sample, skip, skip, first_bad,
            )
        else:
            multiclass_cuda.focal_loss_per_sample[blocks, multiclass_cuda.THREADS_PER_BLOCK](
                data["labels"], margins, self._alpha(data, margins), data["weights"], self.gamma,
                per_sample, first_bad,
            )
        self._check(first_bad, n)
        # Reduced on the device: one float crosses to the host.
        return float(per_sample.sum()) / data["total_weight"]


class _PredictionCacheRoute:
    """The CPU route of the loop: margins read from XGBoost's own prediction cache, gradients from
    the CPU kernels handed back through XGBoost's C calls (:mod:`.xgboost_capi`).

    What ``xgboost.train(obj=loss.xgboost_objective, custom_metric=loss.xgboost_metric)`` computes
    each round, minus what does not change between rounds: the gradient buffers and their array
    interfaces are made once, the margins are read without a copy, and the checks of labels and
    weights (:class:`_CheckedInputs`) run again only when they change (labels: when their vector
    moves or changes size; the kernel checks their values every round). Each round's gradient step
    is then the kernel call alone (``_gradient_hessian_into``), which still checks every label,
    weight and margin value in its pass.
    """

    def __init__(self, loss, booster_threads: int = 0):
        self.loss = loss
        self._hand_off = None
        self._alpha = None
        self._inputs = {}  # (id of the DMatrix, training) -> _CheckedInputs
        self._booster_threads = booster_threads
        self._team = None  # XGBoost's OpenMP team (kernels.openmp_team), found at the first round

    def margins(self, booster, dmatrix, features, missing):
        return _CachedMargins(self, booster, dmatrix)

    def _checked_inputs(self, dmatrix, margins, training: bool):
        key = (id(dmatrix), training)
        inputs = self._inputs.get(key)
        if inputs is None:
            # The DMatrix is held by the caller (dtrain, evals) for the whole training.
            inputs = self._inputs[key] = _CheckedInputs(self.loss, dmatrix, training)
        return inputs.read(margins)

    def gradient_hessian(self, dmatrix, margins):
        labels, weights, _ = self._checked_inputs(dmatrix, margins, training=True)
        hand_off = self._hand_off
        if hand_off is None or hand_off.gradient.shape != margins.shape:
            # float32 in the margins' shape, as the objective returns them to xgboost.train.
            hand_off = self._hand_off = xgboost_capi.GradientHandOff(margins.shape, margins.dtype)
            self._alpha = self.loss._kernel_alpha(1 if margins.ndim == 1 else margins.shape[1])
            # The kernel runs on XGBoost's own threads where its OpenMP runtime allows: no second
            # pool against its spinning one (kernels/openmp_team.py).
            self._team = _openmp_team(self._booster_threads)
        with inside_booster():
            try:
                self.loss._gradient_hessian_into(labels, margins, self._alpha, weights,
                                                 hand_off.gradient, hand_off.hessian, self._team)
            except ValueError:
                # A bad value the kernel found. Labels set in place since they were checked reach
                # only the kernel: give the objective's message where it has one (it names the
                # booster parameter to fix), as xgboost.train(obj=...) would; else the kernel's.
                check_booster_margins(self.loss, labels, margins, source="XGBoost", training=True)
                raise
        return hand_off.gradient, hand_off.hessian

    def boost(self, booster, dtrain, iteration: int, gradient, hessian) -> None:
        self._hand_off.boost(booster, dtrain, iteration)

    def mean_loss(self, dmatrix, margins) -> float:
        labels, _, weights = self._checked_inputs(dmatrix, margins, training=False)
        with inside_booster():
            # On XGBoost's team too (found at the first gradient, before any evaluation): the
            # per-sample losses of a large evaluation set were a serial pass every round.
            return self.loss._mean_loss(labels, margins, weights, self._team)


class _CheckedInputs:
    """Labels and weights of one DMatrix, read every round as views of its own vectors (a callback
    may set them).

    The checks are those of the objective: :func:`check_booster_margins` (margin columns, label
    range, absent classes, margins that look like probabilities) and the kind and length checks
    of the loss. They run on the first read and again when the labels' view is a new one (the
    vector moved or changed size) or the margins' shape changed. Labels set in place (same size)
    reach the kernel through the view, and the kernel checks every label value in its pass; on a
    bad one the route re-runs :func:`check_booster_margins` for its message
    (``_PredictionCacheRoute.gradient_hessian``). Only the absent-class warning is not repeated
    for them. With the labels compared by value every round, reading and checking labels and
    weights took 79, 121 and 197 µs a round at 1,000, 20,000 and 200,000 rows; so, and with the
    weights' shortcut below, 25, 29 and 30 µs (one thread, benchmarks/results/
    xgboost_round_cpu_before_stop24.md and xgboost_round_cpu_stop24.md): inside training each
    pass over the vectors runs on caches that XGBoost's tree building has evicted. The weights are
    compared by value every round (no weights, size 0, without a comparison): the kernel reads a
    float64 copy of them, converted again when they change.
    """

    def __init__(self, loss, dmatrix, training: bool):
        self.loss = loss
        self.training = training
        self._labels = xgboost_capi.FloatInfo(dmatrix, "label")
        self._weights = xgboost_capi.FloatInfo(dmatrix, "weight")
        self._checked_labels = None  # (labels view, margins shape) last checked
        # A copy of the weights last converted: the view shows the new values when the vector is
        # set to one of the same size, so only a comparison of values tells a change.
        self._checked_weights = None
        self._kernel_weights = None

    @staticmethod
    def _same(previous: np.ndarray, current: np.ndarray) -> bool:
        # NaN never compares equal, so a NaN weight is converted again (and rejected by the
        # kernel) every time. No weights (size 0), the usual case, needs no comparison (inside
        # training the comparison of two empty arrays was measured at 36-60 µs, scratch timers).
        return previous.shape == current.shape and (current.size == 0 or bool((previous == current).all()))

    def read(self, margins):
        """(labels, weights for the kernel: float64 or empty, weights as given: float32 or None)."""
        labels, weights = self._labels.read(), self._weights.read()
        checked = self._checked_labels
        if checked is None or checked[0] is not labels or checked[1] != margins.shape:
            check_booster_margins(self.loss, labels, margins, source="XGBoost", training=self.training)
            label_array(labels, margins.shape[0])  # kind and length; the kernel checks the values
            self._checked_labels = (labels, margins.shape)
        if self._checked_weights is None or not self._same(self._checked_weights, weights):
            self._kernel_weights = weight_array(weights if weights.size else None, margins.shape[0])
            self._checked_weights = weights.copy()
        return labels, self._kernel_weights, (weights if weights.size else None)


# ------------------------------------------------------------------------------------ the loop
class _Margins:
    """The raw margins of one DMatrix, kept in the array module's arrays and advanced round by round."""

    def __init__(self, arrays, booster, dmatrix, features, missing):
        labels, weights = labels_and_weights(dmatrix)
        self.arrays = arrays
        self.features = arrays.asarray(features)
        self.missing = missing
        self.data = arrays.dataset(labels, weights)
        base_margin = dmatrix.get_base_margin()
        base_margin = arrays.asarray(base_margin) if base_margin.size else None
        # Margins of the model as it stands (none: base_score; xgb_model: all its trees), from the
        # DMatrix's base_margin where it has one, as XGBoost's own prediction cache starts.
        self.values = booster.inplace_predict(
            self.features, predict_type="margin", missing=missing,
            base_margin=None if base_margin is None else base_margin.reshape(len(labels), -1),
        )

    def for_gradient(self):
        return self.values

    def add_round(self, booster, layer: int) -> None:
        """Add the trees of boosting round ``layer`` to the margins."""
        margins = self.values
        self.values = booster.inplace_predict(
            self.features, predict_type="margin", missing=self.missing,
            iteration_range=(layer, layer + 1),
            # (n, K) for K classes; XGBoost validates the shape against the model's outputs.
            base_margin=margins if margins.ndim == 2 else margins.reshape(-1, 1),
        )

    def mean_loss(self) -> float:
        return self.arrays.mean_loss(self.data, self.values)


class _CachedMargins:
    """The raw margins of one DMatrix as XGBoost's prediction cache holds them: nothing to keep.

    The gradient reads them as ``Booster.boost`` does (``training=True``), the metric as
    ``Booster.eval_set`` does (``training=False``); the two differ only for DART, whose training
    predictions drop trees. ``data`` is the DMatrix itself: its labels and weights are read at
    each use, as the objective and the metric read them.
    """

    def __init__(self, kernels, booster, dmatrix):
        self.kernels = kernels
        self.data = dmatrix
        self._for_training = xgboost_capi.PredictionCache(booster, dmatrix, training=True)
        self._for_evaluation = xgboost_capi.PredictionCache(booster, dmatrix, training=False)

    def for_gradient(self):
        return self._for_training.margins()

    def add_round(self, booster, layer: int) -> None:
        pass  # XGBoost's updater has already added the new trees to its cache

    def mean_loss(self) -> float:
        return self.kernels.mean_loss(self.data, self._for_evaluation.margins())


def _callback_container(margins_of_evals, callbacks):
    """XGBoost's CallbackContainer, with the focal metric read from the margins we hold."""
    from xgboost.callback import CallbackContainer, _parse_eval_str

    class ResidentMetricContainer(CallbackContainer):
        def after_iteration(self, model, epoch, dtrain, evals):
            # As CallbackContainer.after_iteration, with eval_set's custom metric replaced by the
            # mean focal loss of the margins we already hold (same name and %f format).
            evals = [] if evals is None else evals
            for _, name in evals:
                assert name.find("-") == -1, "Dataset name should not contain `-`"
            score = model.eval_set(evals, epoch)
            for margins, (_, name) in zip(margins_of_evals, evals):
                score += "\t%s-%s:%f" % (name, "focal_loss", margins.mean_loss())
            self._update_history(_parse_eval_str(score), epoch)
            return any(c.after_iteration(model, epoch, self.history) for c in self.callbacks)

    return ResidentMetricContainer(callbacks, metric=None, output_margin=True)


def _check_evals(xgboost, dtrain, evals) -> None:
    """``xgboost.train``'s checks of ``evals`` (XGBoost 3.2 training.py)."""
    import weakref

    reference_class = getattr(xgboost.core, "_RefMixIn", ())
    for dmatrix, _ in evals:
        if not isinstance(dmatrix, xgboost.DMatrix):
            raise TypeError("Invalid type for the `evals`.")
        # A QuantileDMatrix evaluated during training must take its histogram cuts from dtrain.
        if (isinstance(dmatrix, reference_class) and dmatrix is not dtrain
                and dmatrix.ref is not weakref.ref(dtrain)):
            raise ValueError(
                "Training dataset should be used as a reference when constructing the "
                "`QuantileDMatrix` for evaluation: QuantileDMatrix(X_valid, ref=dtrain)."
            )


def _train_loop(arrays, params, dtrain, num_boost_round, *, evals, early_stopping_rounds,
                verbose_eval, xgb_model, callbacks, evals_result, maximize, features, missing):
    """``xgboost.train`` (XGBoost 3.2 training.py) with the objective and metric computed by
    ``arrays`` on the margins it holds: device arrays (``_HostArrays``, ``_CudaArrays``) or
    XGBoost's prediction cache (``_PredictionCacheRoute``)."""
    import xgboost
    from xgboost.callback import EarlyStopping, EvaluationMonitor

    callbacks = [] if callbacks is None else list(callbacks)
    _check_evals(xgboost, dtrain, evals)
    booster = xgboost.Booster(params, [dtrain] + [d for d, _ in evals], model_file=xgb_model)
    if verbose_eval:
        verbose_eval = 1 if verbose_eval is True else verbose_eval
        callbacks.append(EvaluationMonitor(period=verbose_eval))
    if early_stopping_rounds:
        callbacks.append(EarlyStopping(rounds=early_stopping_rounds, maximize=maximize))

    def features_of(dmatrix):
        return None if features is None else features[dmatrix]

    margins_of_evals = []  # filled below, once the model to train is known
    container = _callback_container(margins_of_evals, callbacks)
    # As xgboost.train: a callback may hand back another model to train; the margins are its own.
    booster = container.before_training(booster)
    train_margins = arrays.margins(booster, dtrain, features_of(dtrain), missing)
    resident = [train_margins]
    for dmatrix, _ in evals:
        if dmatrix is dtrain:
            margins_of_evals.append(train_margins)
        else:
            margins_of_evals.append(arrays.margins(booster, dmatrix, features_of(dmatrix), missing))
            resident.append(margins_of_evals[-1])
    if num_boost_round > 0:
        # Booster.boost assigns dtrain's feature names and types to the booster where it has none
        # and checks them every round; once is enough, the DMatrix does not change.
        booster._assign_dmatrix_features(dtrain)
    for iteration in range(num_boost_round):
        if container.before_iteration(booster, iteration, dtrain, evals):
            break
        layer = booster.num_boosted_rounds()
        gradient, hessian = arrays.gradient_hessian(train_margins.data, train_margins.for_gradient())
        arrays.boost(booster, dtrain, iteration, gradient, hessian)
        for margins in resident:
            margins.add_round(booster, layer)
        if container.after_iteration(booster, iteration, dtrain, evals):
            break
    booster = container.after_training(booster)
    if evals_result is not None:
        evals_result.update(container.history)
    return booster.reset()

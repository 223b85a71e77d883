"""GPU trainers: the same objective with XGBoost ``device="cuda"`` and LightGBM ``device_type="gpu"``
/ ``"cuda"``. Every test needs a CUDA GPU and is skipped without one.

The GPU models are compared with the CPU models trained on the same data: GPU histograms sum in a
different order (LightGBM's OpenCL learner in single precision), so the models are close, not equal.
"""

import numpy as np
import pytest

from conftest import requires_gpu

from boostfocal import FocalLoss
from boostfocal.adapters.init_score import (
    lightgbm_train_with_init_score,
    xgboost_params_with_init_score,
)

pytestmark = [requires_gpu, pytest.mark.gpu]

ROUNDS = 20


@pytest.fixture(scope="module")
def data():
    """An imbalanced 4-class problem: train and test halves."""
    rng = np.random.default_rng(0)
    n = 6000
    X = rng.normal(size=(n, 10))
    scores = X[:, :4] * np.array([1.0, 1.5, 2.0, 2.5]) + rng.normal(size=(n, 4))
    scores[:, 0] += 2.5  # class 0 dominates
    y = np.argmax(scores, axis=1)
    return X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:]


def quality(loss, y, raw):
    return loss.mean_loss(y, raw), float(np.mean(np.argmax(raw, axis=1) == y))


def assert_close_quality(loss, y, gpu_raw, cpu_raw):
    assert np.all(np.isfinite(gpu_raw))
    gpu_focal, gpu_accuracy = quality(loss, y, gpu_raw)
    cpu_focal, cpu_accuracy = quality(loss, y, cpu_raw)
    assert gpu_focal <= cpu_focal * 1.05 + 1e-3, (gpu_focal, cpu_focal)
    assert gpu_accuracy >= cpu_accuracy - 0.02, (gpu_accuracy, cpu_accuracy)


# ---------------------------------------------------------------------------------- XGBoost
def test_xgboost_cuda_trains_with_the_unchanged_objective(data):
    xgboost = pytest.importorskip("xgboost")
    X_train, y_train, X_test, y_test = data
    loss = FocalLoss(gamma=2.0, alpha=[0.5, 1.0, 1.5, 2.0])
    received = set()

    def objective(predt, dtrain):
        received.add(type(predt).__module__.split(".")[0])
        return loss.xgboost_objective(predt, dtrain)

    raw = {}
    for device in ("cpu", "cuda"):
        params = xgboost_params_with_init_score(
            loss, y_train, {"device": device, "tree_method": "hist", "max_depth": 4}
        )
        booster = xgboost.train(params, xgboost.DMatrix(X_train, label=y_train), ROUNDS, obj=objective)
        raw[device] = booster.predict(xgboost.DMatrix(X_test), output_margin=True)
        assert booster.predict(xgboost.DMatrix(X_test[:5])).shape == (5, 4)  # softprob on device
    # XGBoost 3.2 copies the margins to the host before calling a Python objective
    assert received <= {"numpy", "cupy"}, received
    assert_close_quality(loss, y_test, raw["cuda"], raw["cpu"])


def test_xgboost_objective_accepts_cupy_margins(data):
    xgboost = pytest.importorskip("xgboost")
    cupy = pytest.importorskip("cupy")
    X_train, y_train, _, _ = data
    loss = FocalLoss(gamma=2.0)
    dtrain = xgboost.DMatrix(X_train, label=y_train)
    margins = np.random.default_rng(1).normal(size=(len(y_train), 4)).astype(np.float32)
    host = loss.xgboost_objective(margins, dtrain)
    device = loss.xgboost_objective(cupy.asarray(margins), dtrain)
    for a, b in zip(host, device):
        np.testing.assert_array_equal(np.asarray(b), a)


def test_xgboost_cuda_objective_hands_back_cupy_and_trains_the_same_model(data):
    xgboost = pytest.importorskip("xgboost")
    cupy = pytest.importorskip("cupy")
    X_train, y_train, X_test, _ = data
    loss = FocalLoss(gamma=2.0, alpha=[0.5, 1.0, 1.5, 2.0])
    dtrain = xgboost.DMatrix(X_train, label=y_train)
    margins = np.random.default_rng(2).normal(size=(len(y_train), 4)).astype(np.float32)
    gradient, hessian = loss.xgboost_cuda_objective(margins, dtrain)
    assert isinstance(gradient, cupy.ndarray) and isinstance(hessian, cupy.ndarray)
    host = loss.xgboost_objective(margins, dtrain)
    np.testing.assert_array_equal(gradient.get(), host[0])
    np.testing.assert_array_equal(hessian.get(), host[1])
    params = xgboost_params_with_init_score(
        loss, y_train, {"device": "cuda", "tree_method": "hist", "max_depth": 4}
    )
    raw = [
        xgboost.train(params, dtrain, ROUNDS, obj=objective).predict(
            xgboost.DMatrix(X_test), output_margin=True
        )
        for objective in (loss.xgboost_objective, loss.xgboost_cuda_objective)
    ]
    np.testing.assert_allclose(raw[1], raw[0], rtol=1e-5, atol=1e-5)


def test_focal_xgb_classifier_on_cuda(data):
    pytest.importorskip("xgboost")
    from boostfocal.sklearn import FocalXGBClassifier

    X_train, y_train, X_test, y_test = data
    models = {
        device: FocalXGBClassifier(gamma=2.0, alpha="balanced", n_estimators=ROUNDS, max_depth=4,
                                   device=device).fit(X_train, y_train)
        for device in ("cpu", "cuda")
    }
    probability = models["cuda"].predict_proba(X_test)
    assert np.all(np.isfinite(probability))
    np.testing.assert_allclose(probability.sum(axis=1), 1.0, atol=1e-9)
    assert_close_quality(models["cpu"].loss_, y_test, models["cuda"].decision_function(X_test),
                         models["cpu"].decision_function(X_test))


# ---------------------------------------------------------------------------------- LightGBM
_NOT_BUILT = ("was not enabled", "No OpenCL device")


@pytest.mark.parametrize("device_type", ["gpu", "cuda"])
def test_lightgbm_gpu_trains_with_the_unchanged_objective(data, device_type):
    lightgbm = pytest.importorskip("lightgbm")
    X_train, y_train, X_test, y_test = data
    loss = FocalLoss(gamma=2.0, alpha=[0.5, 1.0, 1.5, 2.0])
    raw = {}
    for device in ("cpu", device_type):
        params = {"device_type": device, "num_leaves": 15, "verbose": -1}
        try:
            booster = lightgbm_train_with_init_score(
                loss, params, lightgbm.Dataset(X_train, label=y_train), ROUNDS
            )
        except lightgbm.basic.LightGBMError as error:
            if device != "cpu" and any(text in str(error) for text in _NOT_BUILT):
                pytest.skip(f"this LightGBM build cannot train on device_type={device!r}: {error}")
            raise
        raw[device] = booster.predict(X_test, raw_score=True)
    assert_close_quality(loss, y_test, raw[device_type], raw["cpu"])

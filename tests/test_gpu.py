"""GPU trainers: the same objective with XGBoost ``device="cuda"`` and LightGBM ``device_type="gpu"``
/ ``"cuda"``. Every test needs a CUDA GPU and is skipped without one.

The GPU models are compared with the CPU models trained on the same data: GPU histograms sum in a
different order (LightGBM's OpenCL learner in single precision), so the models are close, not equal.
"""

import warnings

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


# ------------------------------------------------------------- loss.xgboost_train, device loop
def test_cuda_kernels_equal_the_cpu_kernels_on_hard_rows():
    """The CUDA kernels on the GPU against the CPU kernels, float64 and float32 rows of
    test_focal_loss.py / test_binary.py (hard_rows.py). Same formulas; the GPU may contract
    multiply-adds differently, so float64 agrees to a few ulps and float32 outputs to one rounding."""
    cupy = pytest.importorskip("cupy")
    from hard_rows import binary_rows, multiclass_rows

    from boostfocal.kernels import binary_cuda, multiclass_cuda

    policy_code = {"exact": 0, "psd": 1, "floor": 2}
    threads = multiclass_cuda.THREADS_PER_BLOCK
    checked = 0
    # Relative agreement down to the smallest normal number: below it (subnormal outputs) one
    # rounding difference is a large relative one, so there the tolerance is absolute.
    for dtypes, rtol in (((np.float64,), 1e-12), ((np.float32,), 2e-6)):
        atol = float(np.finfo(dtypes[0]).tiny)
        for loss, y, raw, w in multiclass_rows(dtypes, widest=1000):
            n, k = raw.shape
            d_raw = cupy.asarray(raw)
            gradient, hessian = cupy.empty_like(d_raw), cupy.empty_like(d_raw)
            per_sample, bad = cupy.empty(n), cupy.full(2, n, dtype=cupy.int64)
            weights = cupy.asarray(w if w is not None else np.empty(0), dtype=cupy.float64)
            alpha = cupy.asarray(loss._alpha_vector(k))
            args = (cupy.asarray(y), d_raw, alpha, weights, loss.gamma)
            multiclass_cuda.focal_loss_gradient_hessian[multiclass_cuda.blocks_for(n), threads](
                *args, policy_code[loss.hessian], loss.hessian_floor, gradient, hessian, bad)
            multiclass_cuda.focal_loss_per_sample[multiclass_cuda.blocks_for(n), threads](
                *args, per_sample, bad)
            assert bad.get().tolist() == [n, n]
            expected = loss.gradient_hessian(y, raw, w)
            np.testing.assert_allclose(gradient.get(), expected[0], rtol=rtol, atol=atol)
            np.testing.assert_allclose(hessian.get(), expected[1], rtol=rtol, atol=atol)
            np.testing.assert_allclose(per_sample.get(), loss.loss(y, raw, w), rtol=1e-12, atol=1e-300)
            checked += 1
        for loss, y, raw, w in binary_rows(dtypes):
            n = raw.shape[0]
            d_raw = cupy.asarray(raw)
            gradient, hessian = cupy.empty_like(d_raw), cupy.empty_like(d_raw)
            per_sample, bad = cupy.empty(n), cupy.full(2, n, dtype=cupy.int64)
            weights = cupy.asarray(w if w is not None else np.empty(0), dtype=cupy.float64)
            binary_cuda.focal_loss_gradient_hessian[multiclass_cuda.blocks_for(n), threads](
                cupy.asarray(y), d_raw, cupy.asarray(loss._alpha_pair()), weights, loss.gamma,
                policy_code[loss.hessian], loss.hessian_floor, loss.soft_labels, per_sample,
                gradient, hessian, bad)
            assert bad.get().tolist() == [n, n]
            expected = loss.gradient_hessian(y, raw, w)
            np.testing.assert_allclose(gradient.get(), expected[0], rtol=rtol, atol=atol)
            np.testing.assert_allclose(hessian.get(), expected[1], rtol=rtol, atol=atol)
            np.testing.assert_allclose(per_sample.get(), loss.loss(y, raw, w), rtol=1e-12, atol=1e-300)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
def test_xgboost_train_on_cuda_keeps_the_host_results(data, binary):
    """The device loop (CuPy margins, CUDA gradients) against the same loop with NumPy and the CPU
    kernels, both on the GPU booster: same trees up to the last bits of the gradients, same best
    iteration; and no fallback warning."""
    xgboost = pytest.importorskip("xgboost")
    cupy = pytest.importorskip("cupy")
    from boostfocal import BinaryFocalLoss

    X_train, y_train, X_test, y_test = data
    if binary:
        y_train, y_test = (y_train == 0).astype(float), (y_test == 0).astype(float)
        loss = BinaryFocalLoss(gamma=2.0, alpha=0.3)
    else:
        loss = FocalLoss(gamma=2.0, alpha="balanced")
    params = {"device": "cuda", "tree_method": "hist", "max_depth": 4}
    dtrain = xgboost.DMatrix(X_train, label=y_train)
    dvalid = xgboost.DMatrix(X_test, label=y_test)
    results = {}
    for array_module in ("cupy", "numpy"):
        history = {}
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no fallback
            booster = loss.xgboost_train(
                params, dtrain, 60, evals=[(dvalid, "valid")], early_stopping_rounds=5,
                verbose_eval=False, evals_result=history, _array_module=array_module,
                features={dtrain: cupy.asarray(X_train) if array_module == "cupy" else X_train,
                          dvalid: X_test},
            )
        results[array_module] = (booster.predict(xgboost.DMatrix(X_test), output_margin=True),
                                 history["valid"]["focal_loss"], booster.best_iteration)
    device, host = results["cupy"], results["numpy"]
    np.testing.assert_allclose(device[0], host[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(device[1], host[1], rtol=1e-4, atol=1e-6)
    assert device[2] == host[2]


def test_xgboost_train_on_cuda_default_path_uses_the_device_loop(data):
    """Without the private flag, device="cuda" with features takes the device loop (no warning) and
    ends near the host objective's model."""
    xgboost = pytest.importorskip("xgboost")
    pytest.importorskip("cupy")
    X_train, y_train, X_test, y_test = data
    loss = FocalLoss(gamma=2.0, alpha=[0.5, 1.0, 1.5, 2.0])
    dtrain = xgboost.DMatrix(X_train, label=y_train)
    params = {"device": "cuda", "tree_method": "hist", "max_depth": 4}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        booster = loss.xgboost_train(params, dtrain, ROUNDS, verbose_eval=False,
                                     features={dtrain: X_train})
    host = xgboost.train(xgboost_params_with_init_score(loss, y_train, params), dtrain, ROUNDS,
                         obj=loss.xgboost_objective)
    dtest = xgboost.DMatrix(X_test)
    np.testing.assert_allclose(booster.predict(dtest, output_margin=True),
                               host.predict(dtest, output_margin=True), rtol=1e-4, atol=1e-4)

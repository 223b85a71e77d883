"""loss.xgboost_train: the xgboost.train drop-in, its device-resident loop run with NumPy arrays on
the CPU, and the CUDA kernels under Numba's CUDA simulator (in a subprocess: the simulator replaces
numba.cuda for the whole process)."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from boostfocal import BinaryFocalLoss, FocalLoss
from boostfocal.adapters.init_score import xgboost_params_with_init_score

xgboost = pytest.importorskip("xgboost")

ROUNDS = 15
PARAMS = {"max_depth": 3, "tree_method": "hist", "eta": 0.3, "seed": 0, "nthread": 2}


def _problem(n, seed, binary):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    X[rng.random(X.shape) < 0.02] = np.nan  # missing values travel through inplace_predict too
    scores = np.nan_to_num(X[:, :4]) * np.array([1.0, 1.5, 2.0, 2.5]) + rng.normal(size=(n, 4))
    scores[:, 0] += 1.5
    y = np.argmax(scores, axis=1)
    return X, ((y == 0).astype(np.float64) if binary else y)


LOSSES = {
    "multiclass-balanced": FocalLoss(gamma=2.0, alpha="balanced"),
    "multiclass-exact-gamma0.5": FocalLoss(gamma=0.5, alpha=[0.5, 1.0, 1.5, 2.0], hessian="floor"),
    "binary": BinaryFocalLoss(gamma=2.0, alpha=0.3),
}


@pytest.fixture(params=list(LOSSES), ids=list(LOSSES))
def case(request):
    loss = LOSSES[request.param]
    X, y = _problem(1200, 0, loss.is_binary)
    X_valid, y_valid = _problem(400, 1, loss.is_binary)
    weights = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    dtrain = xgboost.DMatrix(X, label=y, weight=weights)
    dvalid = xgboost.DMatrix(X_valid, label=y_valid)
    return loss, X, y, weights, X_valid, dtrain, dvalid


def _train(loss, dtrain, dvalid, X, X_valid, rounds=ROUNDS, **kwargs):
    history = {}
    booster = loss.xgboost_train(
        PARAMS, dtrain, rounds, evals=[(dtrain, "train"), (dvalid, "valid")], verbose_eval=False,
        evals_result=history, features={dtrain: X, dvalid: X_valid}, **kwargs,
    )
    return booster, history


def test_cpu_path_is_xgboost_train_with_the_focal_objective_and_initial_score(case):
    loss, X, y, weights, X_valid, dtrain, dvalid = case
    booster, history = _train(loss, dtrain, dvalid, X, X_valid)
    expected, expected_history = _public_route(loss, PARAMS, dtrain, ROUNDS,
                                               [(dtrain, "train"), (dvalid, "valid")])
    dtest = xgboost.DMatrix(X_valid)
    np.testing.assert_array_equal(booster.predict(dtest, output_margin=True),
                                  expected.predict(dtest, output_margin=True))
    assert history == expected_history
    assert list(history["valid"])[-1] == "focal_loss"


@pytest.mark.parametrize("early_stopping_rounds", [None, 3])
def test_resident_loop_gives_the_booster_of_xgboost_train(case, early_stopping_rounds):
    loss, X, _, _, X_valid, dtrain, dvalid = case
    # Enough rounds for early stopping to end training before the last one.
    rounds = 80 if early_stopping_rounds else ROUNDS
    host, host_history = _train(loss, dtrain, dvalid, X, X_valid, rounds,
                                early_stopping_rounds=early_stopping_rounds)
    resident, resident_history = _train(loss, dtrain, dvalid, X, X_valid, rounds,
                                        early_stopping_rounds=early_stopping_rounds,
                                        _array_module="numpy")
    dtest = xgboost.DMatrix(X_valid)
    # Same trees: the margins the loop kept equal the training cache's to float32 rounding.
    np.testing.assert_array_equal(resident.predict(dtest, output_margin=True),
                                  host.predict(dtest, output_margin=True))
    assert resident_history == host_history
    assert resident.num_boosted_rounds() == host.num_boosted_rounds()
    if early_stopping_rounds:
        assert host.num_boosted_rounds() < rounds  # it did stop early
        assert resident.best_iteration == host.best_iteration
        assert resident.best_score == host.best_score


def test_resident_loop_continues_a_model_and_starts_from_base_margin():
    loss = FocalLoss(gamma=2.0)
    X, y = _problem(1500, 3, False)
    margin = np.random.default_rng(4).normal(size=(len(y), 4)).astype(np.float32)
    boosters = []
    for array_module in (None, "numpy"):
        dtrain = xgboost.DMatrix(X, label=y, base_margin=margin)
        first = loss.xgboost_train(PARAMS, dtrain, 5, verbose_eval=False, features={dtrain: X},
                                   _array_module=array_module)
        boosters.append(loss.xgboost_train(PARAMS, dtrain, 5, xgb_model=first, verbose_eval=False,
                                           features={dtrain: X}, _array_module=array_module))
    assert boosters[0].num_boosted_rounds() == 10
    dtest = xgboost.DMatrix(X, base_margin=margin)
    np.testing.assert_array_equal(boosters[1].predict(dtest, output_margin=True),
                                  boosters[0].predict(dtest, output_margin=True))


def test_resident_loop_logs_like_xgboost_train(case, capsys):
    loss, X, _, _, X_valid, dtrain, dvalid = case
    logs = []
    for array_module in (None, "numpy"):
        loss.xgboost_train(PARAMS, dtrain, 4, evals=[(dvalid, "valid")], verbose_eval=2,
                           features={dtrain: X, dvalid: X_valid}, _array_module=array_module)
        logs.append(capsys.readouterr().out)
    assert logs[0] == logs[1]
    assert "valid-focal_loss" in logs[0]


def test_cuda_without_features_or_with_dart_falls_back_with_a_warning():
    loss = FocalLoss(gamma=2.0)
    X, y = _problem(300, 5, False)
    dtrain = xgboost.DMatrix(X, label=y)
    with pytest.warns(RuntimeWarning, match="falls back to xgboost.train.*features="):
        # XGBoost without CUDA warns about the device too; only our warning is asserted.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            loss.xgboost_train({**PARAMS, "device": "cuda"}, dtrain, 2, verbose_eval=False)
    with pytest.raises(ValueError, match="booster='dart'"):
        loss.xgboost_train({**PARAMS, "booster": "dart"}, dtrain, 2, features={dtrain: X},
                           _array_module="numpy")


def test_nothing_passed_is_modified(case):
    loss, X, _, _, X_valid, dtrain, dvalid = case
    params = dict(PARAMS)
    X_before = X.copy()
    _train(loss, dtrain, dvalid, X, X_valid, _array_module="numpy")
    assert params == PARAMS
    np.testing.assert_array_equal(X, X_before)
    assert loss.alpha is LOSSES[[k for k, v in LOSSES.items() if v is loss][0]].alpha


# ------------------------------------------------------------ CPU: XGBoost's cache, direct C calls
def _public_route(loss, params, dtrain, rounds, evals=(), **kwargs):
    """What xgboost_train replaces: xgboost.train with the focal objective and metric."""
    labels, weights = dtrain.get_label(), dtrain.get_weight()
    weights = weights if weights.size else None
    resolved = loss.resolve_alpha(labels, weights)
    if kwargs.get("xgb_model") is None:  # a continued model keeps its own base_score
        params = xgboost_params_with_init_score(resolved, labels, params, sample_weight=weights,
                                                n_classes=params.get("num_class"))
    history = {}
    booster = xgboost.train(params, dtrain, rounds, evals=list(evals), verbose_eval=False,
                            obj=resolved.xgboost_objective, custom_metric=resolved.xgboost_metric,
                            evals_result=history, **kwargs)
    return booster, history


@pytest.fixture
def no_python_round_trip(monkeypatch):
    """Fail on any Booster.predict / Booster.boost: the CPU loop must make the C calls itself."""
    def forbidden(*args, **kwargs):
        raise AssertionError("xgboost_train went through the Python layer")

    monkeypatch.setattr(xgboost.Booster, "predict", forbidden)
    monkeypatch.setattr(xgboost.Booster, "boost", forbidden)


class _SwapModel(xgboost.callback.TrainingCallback):
    """Hands xgboost.train a copy of the model to train (before_training may return another one)."""

    def before_training(self, model):
        return model.copy()


class _ReweightAfterRound(xgboost.callback.TrainingCallback):
    """Doubles the weights of the first rows of dtrain after round 2: the objective must see it."""

    def __init__(self, dtrain):
        self.dtrain = dtrain

    def after_iteration(self, model, epoch, evals_log):
        if epoch == 2:
            weights = self.dtrain.get_weight()
            weights[:300] *= 2.0
            self.dtrain.set_weight(weights)
        return False


class _RelabelAfterRound(xgboost.callback.TrainingCallback):
    """Sets new labels of the same size on dtrain after round 2 (the labels of the next rows): the
    vector is copied in place, so the loop's view of it shows the new values."""

    def __init__(self, dtrain, new_label=None):
        self.dtrain = dtrain
        self.new_label = new_label

    def after_iteration(self, model, epoch, evals_log):
        if epoch == 2:
            labels = np.roll(self.dtrain.get_label(), 1)
            if self.new_label is not None:
                labels[5] = self.new_label
            self.dtrain.set_label(labels)
        return False


CPU_VARIANTS = {
    "gbtree-early-stopping": ({}, {"early_stopping_rounds": 3}, 80),
    "dart": ({"booster": "dart", "rate_drop": 0.2, "skip_drop": 0.0}, {}, ROUNDS),
    "gblinear": ({"booster": "gblinear", "updater": "coord_descent"}, {}, ROUNDS),
    "subsample-lossguide": ({"subsample": 0.7, "grow_policy": "lossguide", "max_leaves": 6}, {}, ROUNDS),
    "learning-rate-callback": ({}, {"callbacks": "schedule"}, ROUNDS),
    "callback-swaps-the-model": ({}, {"callbacks": "swap"}, ROUNDS),
    "callback-changes-weights": ({}, {"callbacks": "reweight"}, ROUNDS),
    "callback-changes-labels": ({}, {"callbacks": "relabel"}, ROUNDS),
    "no-evals": ({}, {"evals": []}, ROUNDS),
}


def _callbacks(name, dtrain):
    """A fresh callback per run: XGBoost's callbacks keep state."""
    if name == "schedule":
        return [xgboost.callback.LearningRateScheduler(lambda epoch: 0.4 * 0.9 ** epoch)]
    if name == "swap":
        return [_SwapModel()]
    if name == "relabel":
        return [_RelabelAfterRound(dtrain)]
    return [_ReweightAfterRound(dtrain)]


@pytest.mark.parametrize("variant", list(CPU_VARIANTS), ids=list(CPU_VARIANTS))
def test_cpu_loop_grows_the_booster_of_the_public_route(case, variant):
    loss, X, y, weights, X_valid, dtrain, dvalid = case
    extra_params, kwargs, rounds = CPU_VARIANTS[variant]
    params = {**PARAMS, **extra_params}
    if params.get("booster") == "gblinear":
        del params["max_depth"], params["tree_method"]  # tree parameters: XGBoost warns of them
    results = []
    for route in ("public", "loop"):
        route_kwargs = dict(kwargs)
        # Each route gets its own DMatrices: a callback may change the weights of its dtrain.
        dtrain = xgboost.DMatrix(X, label=y, weight=weights)
        dvalid = xgboost.DMatrix(X_valid, label=dvalid.get_label())
        evals = route_kwargs.pop("evals", [(dtrain, "train"), (dvalid, "valid")])
        if "callbacks" in route_kwargs:
            route_kwargs["callbacks"] = _callbacks(route_kwargs["callbacks"], dtrain)
        if route == "public":
            results.append(_public_route(loss, params, dtrain, rounds, evals, **route_kwargs))
        else:
            history = {}
            booster = loss.xgboost_train(params, dtrain, rounds, evals=evals, verbose_eval=False,
                                         evals_result=history, **route_kwargs)
            results.append((booster, history))
    (expected, expected_history), (booster, history) = results
    # The same model, byte for byte (trees, leaf values, gain and cover statistics), and the same
    # configuration (learner parameters and the metrics evaluation added).
    assert booster.save_raw("ubj") == expected.save_raw("ubj")
    assert json.loads(booster.save_config()) == json.loads(expected.save_config())
    assert history == expected_history
    assert booster.num_boosted_rounds() == expected.num_boosted_rounds()
    if kwargs.get("early_stopping_rounds"):
        assert booster.num_boosted_rounds() < rounds  # it did stop early
        assert (booster.best_iteration, booster.best_score) == (expected.best_iteration, expected.best_score)


def test_cpu_loop_continues_a_model_as_the_public_route_does(case):
    loss, X, y, weights, X_valid, dtrain, dvalid = case
    first, _ = _public_route(loss, PARAMS, dtrain, 5)
    expected, expected_history = _public_route(loss, PARAMS, dtrain, 5, [(dvalid, "valid")], xgb_model=first)
    history = {}
    booster = loss.xgboost_train(PARAMS, dtrain, 5, evals=[(dvalid, "valid")], xgb_model=first,
                                 verbose_eval=False, evals_result=history)
    assert booster.num_boosted_rounds() == 10
    assert booster.save_raw("ubj") == expected.save_raw("ubj")
    assert json.loads(booster.save_config()) == json.loads(expected.save_config())
    assert history == expected_history


def test_cpu_loop_makes_the_c_calls_itself(case, no_python_round_trip):
    loss, X, _, _, X_valid, dtrain, dvalid = case
    history = {}
    booster = loss.xgboost_train(PARAMS, dtrain, 3, evals=[(dvalid, "valid")], verbose_eval=False,
                                 evals_result=history)
    assert booster.num_boosted_rounds() == 3 and len(history["valid"]["focal_loss"]) == 3


def test_cpu_loop_on_quantile_dmatrix_and_base_margin():
    loss = FocalLoss(gamma=1.5, alpha=[0.4, 1.0, 1.0, 2.0])
    X, y = _problem(1500, 6, False)
    X_valid, y_valid = _problem(300, 7, False)
    margin = np.random.default_rng(8).normal(size=(len(y), 4)).astype(np.float32)
    boosters = []
    for route in ("public", "loop"):
        dtrain = xgboost.QuantileDMatrix(X, label=y, base_margin=margin)
        dvalid = xgboost.QuantileDMatrix(X_valid, label=y_valid, ref=dtrain)
        evals = [(dvalid, "valid")]
        if route == "public":
            boosters.append(_public_route(loss, PARAMS, dtrain, 8, evals))
        else:
            history = {}
            boosters.append((loss.xgboost_train(PARAMS, dtrain, 8, evals=evals, verbose_eval=False,
                                                evals_result=history), history))
    (expected, expected_history), (booster, history) = boosters
    assert booster.save_raw("ubj") == expected.save_raw("ubj")
    assert json.loads(booster.save_config()) == json.loads(expected.save_config())
    assert history == expected_history
    # An evaluation QuantileDMatrix without ref=dtrain is refused, as xgboost.train refuses it.
    dtrain = xgboost.QuantileDMatrix(X, label=y)
    unrelated = xgboost.QuantileDMatrix(X_valid, label=y_valid)
    with pytest.raises(ValueError, match="reference"):
        loss.xgboost_train(PARAMS, dtrain, 2, evals=[(unrelated, "valid")], verbose_eval=False)


def test_cpu_loop_rejects_bad_labels_as_the_objective_does():
    X, y = _problem(200, 9, False)
    loss = FocalLoss(gamma=2.0)
    for labels, message in [(np.where(y == 3, 7, y), "num_class"), (y + 0.5, "integer")]:
        dtrain = xgboost.DMatrix(X, label=labels)
        params = {**PARAMS, "num_class": 4}
        with pytest.raises(ValueError, match=message):
            xgboost.train({**params, "base_score": 0.0}, dtrain, 2, obj=loss.xgboost_objective)
        with pytest.raises(ValueError, match=message):
            loss.xgboost_train(params, dtrain, 2, verbose_eval=False, init_score=False)
    binary = BinaryFocalLoss(gamma=2.0)
    dtrain = xgboost.DMatrix(X, label=(y == 0) * 2.0)  # labels 0 and 2
    with pytest.raises(ValueError, match="label"):
        binary.xgboost_train(PARAMS, dtrain, 2, verbose_eval=False, init_score=False)


@pytest.mark.parametrize("new_label", [7.0, 1.5, -1.0], ids=["too-large", "non-integer", "negative"])
def test_cpu_loop_rejects_bad_labels_a_callback_sets_mid_training(case, new_label):
    # The loop checks the labels against the margins once; values a callback sets in place later
    # reach the kernel through the DMatrix's own vector, and the kernel must reject them, with the
    # message the public route's objective gives.
    loss, X, y, weights, *_ = case
    params = PARAMS if loss.is_binary else {**PARAMS, "num_class": 4}
    messages = []
    for route in ("public", "loop"):
        dtrain = xgboost.DMatrix(X, label=y, weight=weights)
        callbacks = [_RelabelAfterRound(dtrain, new_label)]
        with pytest.raises(ValueError, match="y_true|label") as raised:
            if route == "public":
                _public_route(loss, params, dtrain, 6, callbacks=callbacks)
            else:
                loss.xgboost_train(params, dtrain, 6, verbose_eval=False, callbacks=callbacks)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]


def test_cpu_loop_checks_unchanged_labels_once_and_new_weights_again(case, monkeypatch):
    # The booster-level checks run on the first round only while the labels' vector stays where it
    # is (re-running them every round cost a pass over the labels inside each round); weights set
    # in place are converted again for the kernel, so the model equals the public route's.
    from boostfocal.adapters import xgboost_train

    loss, X, y, weights, *_ = case
    params = PARAMS if loss.is_binary else {**PARAMS, "num_class": 4}
    calls = []
    original = xgboost_train.check_booster_margins

    def counting(*args, **kwargs):
        calls.append(kwargs.get("training"))
        return original(*args, **kwargs)

    monkeypatch.setattr(xgboost_train, "check_booster_margins", counting)
    dtrain = xgboost.DMatrix(X, label=y, weight=weights)
    loss.xgboost_train(params, dtrain, 6, verbose_eval=False)
    assert calls == [True]
    # Valid labels, then weights, set in place: no second check, and the model still follows them.
    for changing_callback in (_RelabelAfterRound, _ReweightAfterRound):
        calls.clear()
        changed, public = (xgboost.DMatrix(X, label=y, weight=weights) for _ in range(2))
        booster = loss.xgboost_train(params, changed, 6, verbose_eval=False,
                                     callbacks=[changing_callback(changed)])
        assert calls == [True]
        expected, _ = _public_route(loss, params, public, 6, callbacks=[changing_callback(public)])
        assert booster.save_raw() == expected.save_raw()


def test_float_info_reader_follows_the_dmatrix_vectors():
    from boostfocal.adapters import xgboost_capi

    X, y = _problem(300, 3, False)
    dtrain = xgboost.DMatrix(X, label=y)
    labels, weights = xgboost_capi.FloatInfo(dtrain, "label"), xgboost_capi.FloatInfo(dtrain, "weight")
    first = labels.read()
    np.testing.assert_array_equal(first, y)
    assert labels.read() is first and not first.flags.writeable  # no new view while nothing moved
    assert weights.read().shape == (0,)
    dtrain.set_label(y[::-1].copy())  # same size: copied in place, the view shows the new values
    np.testing.assert_array_equal(labels.read(), y[::-1])
    dtrain.set_weight(np.full(300, 0.5))
    np.testing.assert_array_equal(weights.read(), np.full(300, 0.5, dtype=np.float32))
    np.testing.assert_array_equal(xgboost_capi.FloatInfo(dtrain, "weight").read(), dtrain.get_weight())


def test_prediction_cache_reads_each_round_into_one_view(case):
    from boostfocal.adapters import xgboost_capi

    loss, X, y, weights, _, dtrain, _ = case
    booster = loss.xgboost_train(PARAMS, dtrain, 2, verbose_eval=False)
    cache = xgboost_capi.PredictionCache(booster, dtrain, training=True)
    loss = loss.resolve_alpha(y, weights)
    views = []
    for iteration in range(2, 5):
        views.append(cache.margins())
        margins = views[-1].copy()  # before Booster.predict refills the buffer the view shows
        np.testing.assert_array_equal(margins, booster.predict(dtrain, output_margin=True, training=True))
        gradient, hessian = loss.gradient_hessian(y, margins, weights, dtype=np.float32)
        booster.boost(dtrain, iteration, grad=gradient, hess=hessian)
    assert all(view is views[0] for view in views)  # the booster's buffer did not move


def test_cpu_loop_warns_once_about_a_class_missing_from_the_labels():
    X, y = _problem(400, 10, False)
    dtrain = xgboost.DMatrix(X, label=np.where(y == 2, 0, y))  # class 2 never occurs
    with pytest.warns(UserWarning, match="2") as caught:
        FocalLoss(gamma=2.0).xgboost_train({**PARAMS, "num_class": 4}, dtrain, 3, verbose_eval=False,
                                           init_score=False)
    assert len([w for w in caught if issubclass(w.category, UserWarning)]) == 1


def test_cpu_loop_falls_back_to_xgboost_train_without_the_c_calls(case, monkeypatch):
    from boostfocal.adapters import xgboost_capi

    loss, X, _, _, X_valid, dtrain, dvalid = case
    expected = loss.xgboost_train(PARAMS, dtrain, 5, evals=[(dvalid, "valid")], verbose_eval=False)
    monkeypatch.setattr(xgboost_capi, "unavailable", lambda: "no such function (test)")
    called = []
    original = xgboost.Booster.boost
    monkeypatch.setattr(xgboost.Booster, "boost",
                        lambda self, *a, **k: called.append(1) or original(self, *a, **k))
    fallback = loss.xgboost_train(PARAMS, dtrain, 5, evals=[(dvalid, "valid")], verbose_eval=False)
    assert len(called) == 5  # through Booster.boost, i.e. xgboost.train(obj=...)
    dtest = xgboost.DMatrix(X_valid)
    np.testing.assert_array_equal(fallback.predict(dtest, output_margin=True),
                                  expected.predict(dtest, output_margin=True))


def test_prediction_cache_view_is_the_margin_prediction_and_read_only(case):
    from boostfocal.adapters import xgboost_capi

    loss, X, _, _, _, dtrain, _ = case
    booster = loss.xgboost_train(PARAMS, dtrain, 4, verbose_eval=False)
    cache = xgboost_capi.PredictionCache(booster, dtrain, training=False)
    view = cache.margins()
    np.testing.assert_array_equal(view, booster.predict(dtrain, output_margin=True))
    assert view.dtype == np.float32 and not view.flags.writeable
    with pytest.raises(ValueError):
        view[0] = 1.0


def test_cpu_loop_trains_in_several_python_threads_at_once(case):
    from concurrent.futures import ThreadPoolExecutor

    loss, X, _, _, X_valid, dtrain, dvalid = case
    dtest = xgboost.DMatrix(X_valid)

    def train(_):
        # Prediction buffers are per booster and per thread: parallel trainings must not mix them.
        booster = loss.xgboost_train(PARAMS, dtrain, 6, evals=[(dvalid, "valid")], verbose_eval=False)
        return booster.predict(dtest, output_margin=True)

    alone = train(None)
    public, _ = _public_route(loss, PARAMS, dtrain, 6, [(dvalid, "valid")])
    np.testing.assert_array_equal(alone, public.predict(dtest, output_margin=True))
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(train, range(4)))
    for margins in together:
        np.testing.assert_array_equal(margins, alone)


# ---------------------------------------------------------------------- CUDA kernels, simulated
_SIMULATED = textwrap.dedent(
    """
    import numpy as np
    from numba import cuda
    from boostfocal import BinaryFocalLoss, FocalLoss
    from boostfocal.kernels import binary_cuda, multiclass_cuda
    from hard_rows import binary_rows, multiclass_rows

    def run_multiclass(loss, y, raw, w):
        n, k = raw.shape
        alpha = np.array(loss._alpha_vector(k))  # writable: the simulator copies arguments back
        weights = np.asarray(w, dtype=np.float64) if w is not None else np.empty(0)
        gradient, hessian = np.empty_like(raw), np.empty_like(raw)
        per_sample, bad = np.empty(n), np.full(2, n, dtype=np.int64)
        policy = {"exact": 0, "psd": 1, "floor": 2}[loss.hessian]
        blocks = (n + 31) // 32  # small blocks: the simulator runs a thread per row
        multiclass_cuda.focal_loss_gradient_hessian[blocks, 32](
            y, raw, alpha, weights, loss.gamma, policy, loss.hessian_floor, gradient, hessian, bad)
        multiclass_cuda.focal_loss_per_sample[blocks, 32](
            y, raw, alpha, weights, loss.gamma, per_sample, bad)
        assert list(bad) == [n, n], bad
        return gradient, hessian, per_sample

    def run_binary(loss, y, raw, w):
        n = raw.shape[0]
        weights = np.asarray(w, dtype=np.float64) if w is not None else np.empty(0)
        out = [np.empty(n), np.empty_like(raw), np.empty_like(raw)]
        bad = np.full(2, n, dtype=np.int64)
        policy = {"exact": 0, "psd": 1, "floor": 2}[loss.hessian]
        binary_cuda.focal_loss_gradient_hessian[(n + 31) // 32, 32](
            y, raw, np.array(loss._alpha_pair()), weights, loss.gamma, policy, loss.hessian_floor,
            loss.soft_labels, out[0], out[1], out[2], bad)
        assert list(bad) == [n, n], bad
        return out[1], out[2], out[0]

    checked = 0
    for loss, y, raw, w in multiclass_rows():
        gradient, hessian, per_sample = run_multiclass(loss, y, raw, w)
        expected = loss.gradient_hessian(y, raw, w)
        np.testing.assert_allclose(gradient, expected[0], rtol=1e-13, atol=0)
        np.testing.assert_allclose(hessian, expected[1], rtol=1e-13, atol=0)
        np.testing.assert_allclose(per_sample, loss.loss(y, raw, w), rtol=1e-13, atol=0)
        checked += 1
    for loss, y, raw, w in binary_rows():
        gradient, hessian, per_sample = run_binary(loss, y, raw, w)
        expected = loss.gradient_hessian(y, raw, w)
        np.testing.assert_allclose(gradient, expected[0], rtol=1e-13, atol=0)
        np.testing.assert_allclose(hessian, expected[1], rtol=1e-13, atol=0)
        np.testing.assert_allclose(per_sample, loss.loss(y, raw, w), rtol=1e-13, atol=0)
        checked += 1
    # A non-finite row is reported and gets NaN outputs, as on the CPU.
    raw = np.array([[0.0, 1.0], [np.nan, 0.0]])
    gradient = np.empty_like(raw); hessian = np.empty_like(raw); bad = np.full(2, 2, dtype=np.int64)
    multiclass_cuda.focal_loss_gradient_hessian[1, 32](
        np.array([0.0, 1.0]), raw, np.ones(2), np.empty(0), 2.0, 1, 1e-16, gradient, hessian, bad)
    assert list(bad) == [1, 2] and np.isnan(gradient[1]).all() and np.isfinite(gradient[0]).all()
    print("checked", checked)

    # The CUDA path's glue (_CudaArrays: launches, buffers, checks, device reduction of the metric)
    # with a NumPy stand-in for CuPy, against xgboost.train with the host objective.
    import xgboost
    from boostfocal.adapters import xgboost_train

    class Device(np.ndarray):
        def get(self):
            return np.asarray(self)

    class FakeCupy:
        float64, int64 = np.float64, np.int64
        asarray = staticmethod(lambda a, dtype=None: np.array(a, dtype=dtype).view(Device))
        empty = staticmethod(lambda shape, dtype=np.float64: np.empty(shape, dtype).view(Device))
        full = staticmethod(lambda shape, value, dtype=None: np.full(shape, value, dtype).view(Device))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = np.argmax(X[:, :3] + rng.normal(size=(200, 3)), axis=1)
    weights = rng.uniform(0.5, 2.0, 200)
    for loss, labels in ((FocalLoss(2.0, alpha="balanced"), y),
                         (BinaryFocalLoss(0.5, 0.3), (y == 0).astype(float))):
        dtrain = xgboost.DMatrix(X, label=labels, weight=weights)
        loss, params = xgboost_train._params_for(loss, {"max_depth": 2, "nthread": 1}, dtrain, None, True)
        history = [{}, {}]
        resident = xgboost_train._train_loop(
            xgboost_train._CudaArrays(loss, xp=FakeCupy), params, dtrain, 4,
            evals=[(dtrain, "train")], early_stopping_rounds=None, verbose_eval=False,
            xgb_model=None, callbacks=None, evals_result=history[0], maximize=None,
            features={dtrain: X}, missing=np.nan)
        host = xgboost.train(params, dtrain, 4, evals=[(dtrain, "train")], verbose_eval=False,
                             obj=loss.xgboost_objective, custom_metric=loss.xgboost_metric,
                             evals_result=history[1])
        assert history[0] == history[1], history
        np.testing.assert_allclose(resident.predict(dtrain, output_margin=True),
                                   host.predict(dtrain, output_margin=True), rtol=1e-6, atol=1e-6)
    print("trained")
    """
)


@pytest.mark.slow
def test_cuda_kernels_equal_the_cpu_kernels_on_hard_rows_in_the_simulator(tmp_path):
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.getcwd(),
                                           os.environ.get("PYTHONPATH", "")]))
    script = tmp_path / "simulated.py"
    script.write_text(_SIMULATED)
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked" in result.stdout and "trained" in result.stdout

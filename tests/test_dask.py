"""The focal loss on Dask: xgboost.dask and lightgbm.dask on a 2-process LocalCluster.

Data are placed on named workers (persisted there), so "unequal partitions" and "a class absent
from one worker" are what the boosters really see.
"""

import logging
import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
xgb = pytest.importorskip("xgboost")
dxgb = pytest.importorskip("xgboost.dask")
lgb = pytest.importorskip("lightgbm")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from boostfocal import FocalLoss, balanced_alpha  # noqa: E402
from boostfocal import dask as bfd  # noqa: E402

N_CLASSES = 4

# Dask model vs single-machine model, same data and parameters, on 1000 held-out rows.
# The distributed trainers see the same rows but build their histogram bins from merged
# per-worker sketches (XGBoost) or per-worker bin finding (LightGBM), so split candidates differ
# slightly. Measured on this data (3 seeds): Dask vs single machine differed by up to 3.2% in
# held-out focal loss and 0.019 in macro-F1; changing only max_bin on ONE machine (256/128/64)
# moves them by up to 4.9% and 0.039 (macro-F1 is coarse: the rarest class has ~50 test rows).
# The tolerances sit just above that bin-choice noise; the constant initial-score model is
# at +120% and -0.47, and a model with misaligned labels would be far out too.
FOCAL_LOSS_RTOL = 0.08
MACRO_F1_ATOL = 0.05


# --------------------------------------------------------------------------- fixtures
def warm_kernels():
    """Compile (or load) the kernels in this process for the types the workers will use, through
    the same booster code paths, so that Numba's disk cache holds them before any worker starts.
    Returns whether that cache is writable."""
    import os

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.arange(60) % N_CLASSES
    w = rng.uniform(0.5, 2.0, size=60)
    dtrain = xgb.DMatrix(X, label=y, weight=w)
    # alpha=None and a vector alpha (stored read-only) are different Numba types: warm both.
    for loss in (FocalLoss(2.0), FocalLoss(2.0, "balanced").resolve_alpha(y)):
        booster = xgb.train({"num_class": N_CLASSES, "max_depth": 1, "disable_default_eval_metric": 1},
                            dtrain, 1, obj=loss.xgboost_objective, evals=[(dtrain, "train")],
                            custom_metric=bfd.XGBoostGlobalMetric(loss), verbose_eval=False)
        loss.predict_proba(booster.predict(dtrain, output_margin=True))
        init = np.tile(loss.init_raw_prediction(y), (60, 1))
        regressor = lgb.LGBMRegressor(objective=loss.sklearn_objective, num_class=N_CLASSES,
                                      n_estimators=1, metric="None", verbose=-1, n_jobs=1)
        regressor.fit(X, y, sample_weight=w, init_score=init)
        loss.predict_proba(regressor.predict(X, raw_score=True) + init[0])
    from boostfocal.kernels.multiclass import focal_loss_gradient_hessian

    cache_path = focal_loss_gradient_hessian.stats.cache_path
    return cache_path is not None and os.access(cache_path, os.W_OK)


@pytest.fixture(scope="module")
def kernel_cache_writable():
    return warm_kernels()


@pytest.fixture(scope="module")
def client(kernel_cache_writable):
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


@pytest.fixture(scope="module")
def workers(client):
    return sorted(client.scheduler_info()["workers"])


@pytest.fixture(scope="module")
def data():
    X, y = sklearn_datasets.make_classification(
        n_samples=3000, n_features=12, n_informative=6, n_redundant=2, n_classes=N_CLASSES,
        weights=[0.7, 0.15, 0.1, 0.05], flip_y=0.02, random_state=0,
    )
    return train_test_split(X, y, test_size=1000, stratify=y, random_state=0)


def place(client, workers, pieces):
    """Dask arrays whose i-th row block lives (persisted) on workers[i].

    pieces: one tuple of numpy arrays (e.g. X, y, w) per worker.
    """
    columns = []
    for position in range(len(pieces[0])):
        blocks = []
        for piece, worker in zip(pieces, workers):
            array = piece[position]
            chunks = array.shape if array.ndim > 1 else (array.shape[0],)
            blocks.append(client.persist(da.from_array(array, chunks=chunks), workers=[worker]))
        columns.append(da.concatenate(blocks, axis=0))
    distributed.wait(columns)
    for column in columns:
        for key, holders in client.who_has(column).items():
            assert len(holders) == 1
    return columns


def softmax(raw):
    shifted = raw - raw.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def assert_same_quality(loss, y_test, raw_single, raw_dask):
    loss_single = loss.mean_loss(y_test, raw_single)
    loss_dask = loss.mean_loss(y_test, raw_dask)
    f1_single = f1_score(y_test, raw_single.argmax(axis=1), average="macro")
    f1_dask = f1_score(y_test, raw_dask.argmax(axis=1), average="macro")
    assert loss_dask == pytest.approx(loss_single, rel=FOCAL_LOSS_RTOL)
    assert f1_dask == pytest.approx(f1_single, abs=MACRO_F1_ATOL)
    # Both must have learned something: far better than the constant model.
    assert loss_dask < 0.6 * loss.mean_loss(y_test, np.zeros_like(raw_dask))


# --------------------------------------------------------------------------- worker probes
class RowRecordingObjective:
    """XGBoost objective that records, on the worker running it, how many rows it was given."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, predt, dtrain):
        distributed.get_worker().boostfocal_rows_seen = predt.shape[0]
        return self.loss.xgboost_objective(predt, dtrain)


def rows_seen(dask_worker):
    return getattr(dask_worker, "boostfocal_rows_seen", None)


def kernel_compilations():
    """(specialisations, disk-cache hits, disk-cache misses = compilations) summed over the
    multiclass Numba kernels in this process."""
    from numba.core.dispatcher import Dispatcher

    from boostfocal.kernels import multiclass

    totals = np.zeros(3, dtype=np.int64)
    dispatchers = [k for k in vars(multiclass).values() if isinstance(k, Dispatcher)]
    # Each parallel kernel carries its serial compilation (boostfocal.kernels.threads).
    dispatchers += [k.serial for k in dispatchers if hasattr(k, "serial")]
    for kernel in dispatchers:
        stats = kernel.stats
        totals += [len(kernel.signatures), sum(stats.cache_hits.values()), sum(stats.cache_misses.values())]
    return tuple(int(value) for value in totals)


# --------------------------------------------------------------------------- pickling
def test_pickle_round_trip_of_everything_sent_to_workers():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=50)
    raw = rng.normal(size=(50, 3)).astype(np.float32)  # XGBoost's margin type: no new compilation
    weights = rng.uniform(0.5, 2.0, size=50)
    loss = FocalLoss(1.5, [1.0, 2.0, 0.5], hessian="floor")
    copy = pickle.loads(pickle.dumps(loss))
    assert copy == loss
    np.testing.assert_array_equal(copy.loss(labels, raw, weights), loss.loss(labels, raw, weights))
    unresolved = pickle.loads(pickle.dumps(FocalLoss(2.0, "balanced")))
    assert unresolved.alpha == "balanced"

    for method in ("xgboost_objective", "sklearn_objective", "lightgbm_objective"):
        restored = pickle.loads(pickle.dumps(getattr(loss, method)))
        assert restored.__self__ == loss and restored.__name__ == method
    restored = pickle.loads(pickle.dumps(loss.sklearn_objective))
    for got, expected in zip(restored(labels, raw, weights), loss.sklearn_objective(labels, raw, weights)):
        np.testing.assert_array_equal(got, expected)

    metric = pickle.loads(pickle.dumps(bfd.SklearnGlobalMetric(loss, name="fl")))
    assert metric.__name__ == "fl"
    # Outside a cluster the global metric is the plain weighted mean.
    assert metric(labels, raw, weights) == pytest.approx(loss.mean_loss(labels, raw, weights), rel=1e-12)
    dmatrix = xgb.DMatrix(np.zeros((50, 1)), label=labels, weight=weights)
    name, value = pickle.loads(pickle.dumps(bfd.XGBoostGlobalMetric(loss)))(raw, dmatrix)
    assert name == "focal_loss"
    # (a DMatrix keeps float32 weights)
    expected = loss.mean_loss(labels, raw, dmatrix.get_weight())
    assert value == pytest.approx(expected, rel=1e-12)
    lgb_metric = pickle.loads(pickle.dumps(bfd._LightGBMLocalMetric(loss)))
    assert lgb_metric(labels, raw, weights)[1] == pytest.approx(loss.mean_loss(labels, raw, weights))

    # The block functions map_blocks / delayed ship (module functions bound with functools.partial).
    init = np.array([0.1, -0.2, 0.3])
    blocks = [
        (bfd.functools.partial(bfd._tile_block, row=init), (raw,)),
        (bfd.functools.partial(bfd._encode_block, classes=np.array([3, 5, 9])), (np.array([9, 3, 5]),)),
        (bfd.functools.partial(bfd._probability_block, loss=loss, kind="softmax"), (raw,)),
        (bfd.functools.partial(bfd._probability_block, loss=loss, kind="posterior"), (raw,)),
        (bfd.functools.partial(bfd._argmax_block, classes=np.array([3, 5, 9])), (softmax(raw),)),
        (bfd._block_class_totals, (labels, weights, 3)),
        (bfd._block_loss_sums, (loss, labels, raw, weights)),
    ]
    for function, arguments in blocks:
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(function))(*arguments), function(*arguments))

    # The estimators drop their client when pickled and keep their parameters.
    for estimator_class in (bfd.FocalDaskXGBClassifier, bfd.FocalDaskLGBMClassifier):
        estimator = estimator_class(gamma=1.0, alpha="balanced", max_depth=2, client=object())
        restored = pickle.loads(pickle.dumps(estimator))
        assert restored.client is None
        assert restored.get_params() == {**estimator.get_params(), "client": None}


# --------------------------------------------------------------------------- global statistics
def test_balanced_alpha_and_init_score_are_global_with_a_class_absent_from_one_worker(client, workers, data):
    X_train, _, y_train, _ = data
    rng = np.random.default_rng(1)
    weights = rng.uniform(0.5, 2.0, size=y_train.shape[0])
    # Worker 0 holds only classes 0 and 1; worker 1 holds the rest of the rows (all classes).
    only_01 = np.flatnonzero(y_train <= 1)[:300]
    rest = np.setdiff1d(np.arange(y_train.shape[0]), only_01)
    pieces = [(X_train[index], y_train[index], weights[index]) for index in (only_01, rest)]
    Xd, yd, wd = place(client, workers, pieces)
    assert set(np.unique(y_train[only_01])) == {0, 1}

    expected_totals = np.bincount(y_train, weights=weights, minlength=N_CLASSES)
    np.testing.assert_allclose(bfd.class_totals(yd, wd), expected_totals, rtol=1e-12)

    expected_alpha = balanced_alpha(y_train, N_CLASSES, sample_weight=weights)
    resolved = bfd.resolve_alpha(FocalLoss(2.0, "balanced"), yd, wd)
    np.testing.assert_allclose(resolved.alpha, expected_alpha, rtol=1e-12)
    # ... and not what either worker's partition alone would give.
    for index in (only_01, rest):
        local = balanced_alpha(y_train[index], N_CLASSES, sample_weight=weights[index])
        assert np.max(np.abs(local - expected_alpha)) > 0.1

    for loss in (FocalLoss(2.0), resolved, FocalLoss(0.5, [1.0, 3.0, 2.0, 4.0])):
        np.testing.assert_allclose(
            bfd.init_raw_prediction(loss, yd, wd),
            loss.init_raw_prediction(y_train, sample_weight=weights, n_classes=N_CLASSES),
            rtol=1e-9, atol=1e-12,
        )

    # The estimators resolve alpha and the initial score globally too. LightGBM's own
    # DaskLGBMClassifier would give worker 0 only 2 classes; the focal one trains all 4 everywhere.
    for estimator_class in (bfd.FocalDaskXGBClassifier, bfd.FocalDaskLGBMClassifier):
        model = estimator_class(gamma=2.0, alpha="balanced", n_estimators=3, max_depth=2, client=client)
        model.fit(Xd, yd, sample_weight=wd)
        np.testing.assert_allclose(model.loss_.alpha, expected_alpha, rtol=1e-12)
        np.testing.assert_allclose(
            model.init_raw_prediction_, resolved.init_raw_prediction(y_train, weights, N_CLASSES), rtol=1e-9
        )
        proba = model.predict_proba(Xd).compute()
        assert proba.shape == (y_train.shape[0], N_CLASSES)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_class_totals_rejects_bad_labels(client):
    labels = da.from_array(np.array([0, 1, 2, 5]), chunks=2)
    with pytest.raises(ValueError, match="y_true must lie in"):
        bfd.class_totals(labels, n_classes=3)
    with pytest.raises(ValueError, match="non-integer"):
        bfd.class_totals(da.from_array(np.array([0.0, 1.5]), chunks=1), n_classes=2)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        bfd.class_totals(labels[:2], da.from_array(np.array([1.0, -1.0]), chunks=1), n_classes=3)


# --------------------------------------------------------------------------- metric, workers, kernels
def test_xgboost_global_metric_with_unequal_partitions(client, workers, data):
    X_train, _, y_train, _ = data
    # Worker 0: 180 rows, mostly the rare classes (high loss); worker 1: 1800 rows (10x).
    order = np.argsort(-y_train, kind="stable")
    small, large = order[:180], order[180:1980]
    rng = np.random.default_rng(2)
    weights = rng.uniform(0.5, 2.0, size=y_train.shape[0])
    pieces = [(X_train[index], y_train[index], weights[index]) for index in (small, large)]
    Xd, yd, wd = place(client, workers, pieces)
    X_all = np.vstack([X_train[small], X_train[large]])
    y_all = np.concatenate([y_train[small], y_train[large]])
    w_all = np.concatenate([weights[small], weights[large]])

    loss = FocalLoss(2.0)
    params = {"num_class": N_CLASSES, "max_depth": 3, "disable_default_eval_metric": 1,
              "base_score": [float(v) for v in bfd.init_raw_prediction(loss, yd, wd)]}
    dtrain = dxgb.DaskDMatrix(client, Xd, yd, weight=wd)
    rounds = 3
    output = dxgb.train(
        client, params, dtrain, num_boost_round=rounds, evals=[(dtrain, "train")],
        obj=RowRecordingObjective(loss), custom_metric=bfd.XGBoostGlobalMetric(loss),
    )
    booster = output["booster"]
    raw_all = booster.predict(xgb.DMatrix(X_all), output_margin=True)
    expected = loss.mean_loss(y_all, raw_all, w_all)
    reported = output["history"]["train"]["focal_loss"][-1]
    # XGBoost records the value printed with 6 decimals.
    assert reported == pytest.approx(expected, abs=2e-6)

    # What XGBoost makes of the plain per-worker metric: the unweighted average of the two
    # worker means, here far from the global mean (so the test above can tell them apart).
    split = small.shape[0]
    worker_means = [
        loss.mean_loss(y_all[:split], raw_all[:split], w_all[:split]),
        loss.mean_loss(y_all[split:], raw_all[split:], w_all[split:]),
    ]
    assert abs(np.mean(worker_means) - expected) > 0.05
    naive = dxgb.train(
        client, params, dtrain, num_boost_round=rounds, evals=[(dtrain, "train")],
        obj=loss.xgboost_objective, custom_metric=loss.xgboost_metric,
    )
    np.testing.assert_allclose(
        naive["booster"].predict(xgb.DMatrix(X_all), output_margin=True), raw_all, rtol=1e-5, atol=1e-6
    )
    assert naive["history"]["train"]["focal_loss"][-1] == pytest.approx(np.mean(worker_means), abs=2e-6)

    # The post-hoc global evaluation over partitions agrees exactly.
    raw_dask = dxgb.inplace_predict(client, booster, Xd, predict_type="margin")
    assert bfd.mean_focal_loss(loss, yd, raw_dask, wd) == pytest.approx(expected, rel=1e-6)

    # Each worker computed the gradients of its own rows only.
    seen = client.run(rows_seen)
    assert seen == {workers[0]: small.shape[0], workers[1]: large.shape[0]}


def test_kernels_compile_once_per_worker_and_are_reused(client, workers, data, kernel_cache_writable):
    X_train, _, y_train, _ = data
    half = y_train.shape[0] // 2
    Xd, yd = place(client, workers, [(X_train[:half], y_train[:half]), (X_train[half:], y_train[half:])])
    loss = FocalLoss(2.0)
    params = {"num_class": N_CLASSES, "max_depth": 2, "disable_default_eval_metric": 1}
    dtrain = dxgb.DaskDMatrix(client, Xd, yd)
    before = client.run(kernel_compilations)
    dxgb.train(client, params, dtrain, num_boost_round=2, obj=loss.xgboost_objective)
    after_first = client.run(kernel_compilations)
    dxgb.train(client, params, dtrain, num_boost_round=8, obj=loss.xgboost_objective,
               evals=[(dtrain, "train")], custom_metric=bfd.XGBoostGlobalMetric(loss))
    after_second = client.run(kernel_compilations)
    for worker in workers:
        signatures, _, misses = after_first[worker]
        # The kernels are loaded in each worker process ...
        assert signatures >= 1
        # ... with at most one new specialisation (XGBoost's float32 margins), none if an earlier
        # test already needed it there ...
        assert signatures - before[worker][0] <= 1
        # ... and, when the parent process could fill Numba's disk cache (warm_kernels), loaded
        # from there rather than compiled again in the worker.
        if kernel_cache_writable:
            assert misses == before[worker][2]
    # 8 more rounds, now with the metric too, compiled and loaded nothing new.
    assert after_second == after_first


# --------------------------------------------------------------------------- quality vs single machine
def test_xgboost_on_dask_matches_single_machine(client, workers, data):
    X_train, X_test, y_train, y_test = data
    half = y_train.shape[0] // 2
    Xd, yd = place(client, workers, [(X_train[:half], y_train[:half]), (X_train[half:], y_train[half:])])
    X_test_d = da.from_array(X_test, chunks=500)
    loss = FocalLoss(2.0)
    booster_params = {"max_depth": 3, "learning_rate": 0.3, "tree_method": "hist", "max_bin": 256}
    rounds = 25

    init = loss.init_raw_prediction(y_train)
    single = xgb.train(
        {**booster_params, "objective": "multi:softprob", "num_class": N_CLASSES, "nthread": 1,
         "base_score": [float(v) for v in init]},
        xgb.DMatrix(X_train, label=y_train), rounds, obj=loss.xgboost_objective,
    )
    raw_single = single.predict(xgb.DMatrix(X_test), output_margin=True)

    model = bfd.FocalDaskXGBClassifier(gamma=2.0, n_estimators=rounds, probability="softmax", client=client,
                                       **booster_params)
    y_test_d = da.from_array(y_test, chunks=500)
    model.fit(Xd, yd, eval_set=[(X_test_d, y_test_d)])
    np.testing.assert_allclose(model.init_raw_prediction_, init, rtol=1e-9)
    raw_dask = model.decision_function(X_test_d).compute()
    assert_same_quality(loss, y_test, raw_single, raw_dask)
    np.testing.assert_allclose(model.predict_proba(X_test_d).compute(), softmax(raw_dask), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(model.predict(X_test_d).compute(), raw_dask.argmax(axis=1))
    assert model.evals_result_["validation_0"]["focal_loss"][-1] == pytest.approx(
        model.focal_loss(X_test_d, y_test_d), abs=2e-6
    )

    # Plain XGBoost API: DaskXGBClassifier with the scikit-learn objective and the global metric.
    plain = dxgb.DaskXGBClassifier(
        objective=loss.sklearn_objective, n_estimators=rounds, eval_metric=bfd.SklearnGlobalMetric(loss),
        base_score=[float(v) for v in init], **booster_params,
    )
    plain.client = client
    plain.fit(Xd, yd, eval_set=[(X_test_d, y_test_d)], verbose=False)
    raw_plain = plain.predict(X_test_d, output_margin=True).compute()
    assert_same_quality(loss, y_test, raw_single, raw_plain)
    np.testing.assert_allclose(plain.predict_proba(X_test_d).compute(), softmax(raw_plain), rtol=1e-5, atol=1e-7)
    assert plain.evals_result_["validation_0"]["focal_loss"][-1] == pytest.approx(
        loss.mean_loss(y_test, raw_plain), abs=2e-6
    )

    # A fitted estimator pickles (without its client) and predicts the same after re-attaching one.
    restored = pickle.loads(pickle.dumps(model)).set_params(client=client)
    np.testing.assert_allclose(restored.decision_function(X_test_d).compute(), raw_dask)


def test_lightgbm_on_dask_matches_single_machine(client, workers, data):
    X_train, X_test, y_train, y_test = data
    # Every class on both workers, so LightGBM's own DaskLGBMClassifier can be compared too.
    parts = [np.arange(0, y_train.shape[0], 2), np.arange(1, y_train.shape[0], 2)]
    Xd, yd = place(client, workers, [(X_train[index], y_train[index]) for index in parts])
    X_test_d = da.from_array(X_test, chunks=500)
    loss = FocalLoss(2.0)
    booster_params = {"n_estimators": 30, "num_leaves": 15, "learning_rate": 0.1, "max_bin": 255}

    init = loss.init_raw_prediction(y_train)
    single = lgb.LGBMRegressor(objective=loss.sklearn_objective, num_class=N_CLASSES, n_jobs=1, metric="None",
                               verbose=-1, **booster_params)
    single.fit(X_train, y_train, init_score=np.tile(init, (y_train.shape[0], 1)))
    raw_single = single.predict(X_test, raw_score=True) + init

    model = bfd.FocalDaskLGBMClassifier(gamma=2.0, probability="softmax", client=client, **booster_params)
    model.fit(Xd, yd)
    np.testing.assert_allclose(model.init_raw_prediction_, init, rtol=1e-9)
    raw_dask = model.decision_function(X_test_d).compute()
    assert_same_quality(loss, y_test, raw_single, raw_dask)
    np.testing.assert_allclose(model.predict_proba(X_test_d).compute(), softmax(raw_dask), rtol=1e-9)
    assert model.focal_loss(X_test_d, da.from_array(y_test, chunks=500)) == pytest.approx(
        loss.mean_loss(y_test, raw_dask), rel=1e-9
    )
    # The initial score lives in the booster (first trees' leaves): a saved model needs nothing
    # else. Its first round alone is b plus one small step, not one small step around 0.
    booster = lgb.Booster(model_str=model.booster_.model_to_string())
    np.testing.assert_allclose(booster.predict(X_test, raw_score=True), raw_dask, rtol=1e-9, atol=1e-12)
    first_round = booster.predict(X_test, raw_score=True, num_iteration=1)
    assert np.max(np.abs(first_round.mean(axis=0) - init)) < 0.1 < np.min(np.abs(init))
    # The model text declares the softmax link: plain predict gives the probabilities.
    np.testing.assert_allclose(booster.predict(X_test), softmax(raw_dask), rtol=0, atol=1e-12)
    # probability="posterior": the focal posterior correction of the same margins; predict keeps
    # the class of largest margin.
    predicted = model.predict(X_test_d).compute()
    model.set_params(probability="posterior")
    np.testing.assert_allclose(model.predict_proba(X_test_d).compute(), model.loss_.posterior_proba(raw_dask),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X_test_d).compute(), predicted)
    model.set_params(probability="calibrated")
    with pytest.raises(ValueError, match="probability must be one of"):
        model.predict_proba(X_test_d)

    # LightGBM's own DaskLGBMClassifier with the objective and the same initial score: as good.
    # (Not bit-equal to the model above: which worker bins which feature varies between runs.)
    # It returns raw scores from predict_proba, without the initial score, hence the wrapper.
    plain = lgb.DaskLGBMClassifier(objective=loss.sklearn_objective, client=client, verbose=-1, **booster_params)
    plain.fit(Xd, yd, init_score=bfd._constant_rows(Xd, init))
    raw_plain = plain.predict_proba(X_test_d, raw_score=True).compute() + init
    assert_same_quality(loss, y_test, raw_single, raw_plain)


# --------------------------------------------------------------------------- example script
def test_dask_compare_example_runs(client, data):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "dask_compare.py"
    spec = importlib.util.spec_from_file_location("dask_compare_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    X_train, X_test, y_train, y_test = data
    rows = example.compare(client, X_train, y_train, X_test, y_test, rounds=10, max_depth=3, learning_rate=0.3)
    assert [row["model"] for row in rows] == [
        "XGBoost softmax", "XGBoost focal", "LightGBM softmax", "LightGBM focal"]
    constant = FocalLoss(2.0).mean_loss(y_test, np.zeros((y_test.shape[0], N_CLASSES)))
    for row in rows:
        assert 0.3 < row["macro_f1"] <= 1.0
        assert 0.0 < row["focal_loss"] < constant
        assert row["fit_seconds"] > 0.0
    assert "| XGBoost focal |" in example.format_table(rows)


def test_dataframes_and_arbitrary_labels(client, data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, y_test = data
    names = np.array([10, 20, 30, 40])
    frame = pd.DataFrame(X_train, columns=[f"f{j}" for j in range(X_train.shape[1])])
    frame["label"] = names[y_train]
    ddf = dd.from_pandas(frame, npartitions=2)
    X, y = ddf.drop(columns="label"), ddf["label"]
    expected_alpha = balanced_alpha(y_train, N_CLASSES)
    for estimator_class in (bfd.FocalDaskXGBClassifier, bfd.FocalDaskLGBMClassifier):
        model = estimator_class(gamma=1.0, alpha="balanced", n_estimators=5, max_depth=3, client=client)
        model.fit(X, y)
        np.testing.assert_array_equal(model.classes_, names)
        np.testing.assert_allclose(model.loss_.alpha, expected_alpha, rtol=1e-12)
        raw = model.decision_function(X).compute()
        np.testing.assert_array_equal(model.predict(X).compute(), names[raw.argmax(axis=1)])
        fitted = model.focal_loss(X, y)
        assert fitted == pytest.approx(model.loss_.mean_loss(y_train, raw), rel=1e-9)
        assert fitted < 0.8 * model.loss_.mean_loss(y_train, np.tile(model.init_raw_prediction_, (2000, 1)))


def test_xgboost_initial_score_as_base_margin_on_older_xgboost(client, workers, data, monkeypatch):
    # XGBoost < 3.1 has one scalar base_score: the estimator then passes the initial score as
    # base_margin, in training and in prediction. Both routes must give the same model.
    X_train, X_test, y_train, _ = data
    half = y_train.shape[0] // 2
    Xd, yd = place(client, workers, [(X_train[:half], y_train[:half]), (X_train[half:], y_train[half:])])
    X_test_d = da.from_array(X_test, chunks=500)
    models = []
    for vector_base_score in (True, False):
        monkeypatch.setattr(bfd, "_xgboost_has_vector_base_score", lambda: vector_base_score)
        model = bfd.FocalDaskXGBClassifier(gamma=2.0, n_estimators=5, max_depth=3, client=client)
        models.append(model.fit(Xd, yd, eval_set=[(Xd, yd)]))
    assert models[1]._base_margin_ and not models[0]._base_margin_
    np.testing.assert_allclose(
        models[1].decision_function(X_test_d).compute(), models[0].decision_function(X_test_d).compute(),
        rtol=1e-5, atol=1e-5,
    )
    assert models[1].evals_result_ == models[0].evals_result_


def test_encoding_refuses_labels_not_seen_in_training():
    from boostfocal.dask import _encode_block

    np.testing.assert_array_equal(_encode_block(np.array([5, 0, 2]), np.array([0, 2, 5])), [2, 0, 1])
    with pytest.raises(ValueError, match="not seen in training"):
        _encode_block(np.array([0, 1, 2, 5]), np.array([0, 2, 5]))
    with pytest.raises(ValueError, match="not seen in training"):
        _encode_block(np.array(["a", "ab"]), np.array(["a", "b", "c"]))


# --------------------------------------------------------------------------- issue 9
def _small_dask_model(client, data):
    import warnings

    X_train, _, y_train, _ = data
    Xd, yd = da.from_array(X_train, chunks=1000), da.from_array(y_train, chunks=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = bfd.FocalDaskLGBMClassifier(client=client, n_estimators=5, num_leaves=7, learning_rate=0.1)
        model.fit(Xd, yd)
    return model, Xd, yd, [str(warning.message) for warning in caught]


def test_lightgbm_on_dask_is_quiet_about_threads_the_user_did_not_set(client, data):
    _, _, _, messages = _small_dask_model(client, data)
    assert [message for message in messages if "will be ignored" in message] == []


def test_lightgbm_on_dask_continued_training_adds_the_initial_score_once(client, data):
    first, Xd, yd, _ = _small_dask_model(client, data)
    X_test_d = da.from_array(data[1], chunks=500)
    raw_first = first.decision_function(X_test_d).compute()
    # One more round with a vanishing step: the scores must stay where they were, not move by b.
    continued = bfd.FocalDaskLGBMClassifier(client=client, n_estimators=1, num_leaves=7, learning_rate=1e-12)
    continued.fit(Xd, yd, init_model=first.booster_)
    assert continued.booster_.current_iteration() == 6
    np.testing.assert_allclose(continued.decision_function(X_test_d).compute(), raw_first, atol=1e-9)


def test_lightgbm_on_dask_refuses_random_forest_mode(client):
    X = da.zeros((20, 2), chunks=10)
    y = da.from_array(np.arange(20) % 3, chunks=10)
    with pytest.raises(ValueError, match="random forest mode"):
        bfd.FocalDaskLGBMClassifier(client=client, boosting="rf").fit(X, y)


def test_readme_dask_examples_run(client):
    """The Dask blocks of README.md and docs/, extracted at test time (convention:
    tests/readme_examples.py)."""
    from readme_examples import python_blocks, run_block, small_data, uses_dask

    blocks = [block for block in python_blocks() if uses_dask(block.code)]
    assert blocks
    names = {name: da.from_array(value, chunks=150) for name, value in small_data().items()}
    names.update(client=client, K=3)
    for block in blocks:
        namespace = run_block(block, dict(names))
    probabilities = namespace["model"].predict_proba(names["X"]).compute()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-9)

"""XGBoost adapters: equivalence with reference objectives, real data, weights, initial score,
margin metrics and misuse errors."""

import warnings

import numpy as np
import pytest

xgboost = pytest.importorskip("xgboost")

from conftest import load_shared_csv, make_multiclass, numpy_softmax_gradients  # noqa: E402

from boostfocal import FocalLoss, balanced_alpha  # noqa: E402
from boostfocal.adapters.init_score import xgboost_params_with_init_score  # noqa: E402
from boostfocal.metrics import (  # noqa: E402
    error_rate,
    log_loss,
    xgboost_error_rate,
    xgboost_log_loss,
    xgboost_metrics,
)

N_THREADS = 2
BASE = {"nthread": N_THREADS, "max_depth": 4, "tree_method": "hist", "learning_rate": 0.3}

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def numpy_softmax_objective(predt, dtrain):
    return numpy_softmax_gradients(predt, dtrain.get_label(), dtrain.get_weight())


def train_margins(params, dtrain, rounds, obj=None):
    return xgboost.train(params, dtrain, rounds, obj=obj).predict(dtrain, output_margin=True)


# ------------------------------------------------------------------------------ equivalences
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gamma0_exact_matches_numpy_softmax_objective(weighted):
    X, y, weight = make_multiclass()
    dtrain = xgboost.DMatrix(X, label=y, weight=weight if weighted else None)
    params = {**BASE, "num_class": 4, "objective": "multi:softprob", "base_score": [0.0] * 4}
    loss = FocalLoss(gamma=0.0, alpha=None, hessian="exact")
    ours = train_margins(params, dtrain, 12, obj=loss.xgboost_objective)
    reference = train_margins(params, dtrain, 12, obj=numpy_softmax_objective)
    assert np.max(np.abs(reference)) > 1.0  # the model has learnt something
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_doubled_hessian_matches_builtin_softprob(weighted):
    """XGBoost's softmax uses Hessian 2 p (1 - p); with base_score fixed the models coincide."""
    X, y, weight = make_multiclass(seed=1)
    dtrain = xgboost.DMatrix(X, label=y, weight=weight if weighted else None)
    params = {**BASE, "num_class": 4, "objective": "multi:softprob", "base_score": [0.0] * 4}
    loss = FocalLoss(gamma=0.0, hessian="exact")

    def doubled(predt, dmatrix):
        gradient, hessian = loss.xgboost_objective(predt, dmatrix)
        return gradient, 2.0 * hessian

    ours = train_margins(params, dtrain, 12, obj=doubled)
    builtin = train_margins(params, dtrain, 12)
    np.testing.assert_allclose(ours, builtin, rtol=0, atol=1e-5)
    # and the plain Hessian gives a different model (the comparison can fail)
    plain = train_margins(params, dtrain, 12, obj=loss.xgboost_objective)
    assert np.max(np.abs(plain - builtin)) > 1e-3


# ------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def shuttle():
    """Shuttle (7 classes): every row of the four rare classes, a sample of the three big ones."""
    X_train, y_train = load_shared_csv("shuttle_train")
    X_test, y_test = load_shared_csv("shuttle_test")
    rng = np.random.default_rng(0)
    keep = []
    for label, cap in zip(range(7), (1500, 10**6, 10**6, 400, 200, 10**6, 10**6)):
        rows = np.flatnonzero(y_train == label)
        keep.append(rng.choice(rows, min(cap, rows.size), replace=False))
    keep = np.sort(np.concatenate(keep))
    return X_train[keep], y_train[keep], X_test, y_test


def minority_recall(y_true, y_pred, majority=0):
    """Mean recall over the classes other than the majority class present in y_true."""
    classes = [label for label in np.unique(y_true) if label != majority]
    return float(np.mean([np.mean(y_pred[y_true == label] == label) for label in classes]))


def test_shuttle_gamma2_per_class_alpha(shuttle):
    X_train, y_train, X_test, y_test = shuttle
    assert np.sum(y_train == 5) == 6  # the rarest class keeps its 6 training rows
    alpha = np.sqrt(balanced_alpha(y_train, 7))
    loss = FocalLoss(gamma=2.0, alpha=alpha)
    dtrain = xgboost.DMatrix(X_train, label=y_train)
    params = xgboost_params_with_init_score(loss, y_train, {**BASE, "max_depth": 3})
    history = {}
    booster = xgboost.train(
        params, dtrain, 15, evals=[(dtrain, "train")], obj=loss.xgboost_objective,
        custom_metric=loss.xgboost_metric, evals_result=history, verbose_eval=False,
    )
    focal = np.array(history["train"]["focal_loss"])
    assert np.all(np.diff(focal[:10]) < 0), focal
    margins = booster.predict(xgboost.DMatrix(X_test), output_margin=True)
    assert np.all(np.isfinite(margins))
    predicted = np.argmax(margins, axis=1)
    majority_only = np.zeros_like(y_test)
    assert minority_recall(y_test, majority_only) == 0.0
    assert minority_recall(y_test, predicted) >= 0.5


# ------------------------------------------------------------------------------ sample weights
def duplicated_and_weighted(seed=2):
    X, y, _ = make_multiclass(n_samples=200, n_classes=3, seed=seed)
    doubled = np.arange(0, 200, 3)  # every third row twice
    X_dup = np.vstack([X, X[doubled]])
    y_dup = np.concatenate([y, y[doubled]])
    weight = np.ones(200)
    weight[doubled] = 2.0
    return X, y, weight, X_dup, y_dup


def test_duplicate_row_equals_weight_two_train_api():
    X, y, weight, X_dup, y_dup = duplicated_and_weighted()
    loss = FocalLoss(gamma=2.0, alpha=[1.0, 2.0, 0.5])
    params = {**BASE, "tree_method": "exact", "max_depth": 3}
    weighted = xgboost.train(
        xgboost_params_with_init_score(loss, y, params, sample_weight=weight),
        xgboost.DMatrix(X, label=y, weight=weight), 8, obj=loss.xgboost_objective,
    )
    duplicated = xgboost.train(
        xgboost_params_with_init_score(loss, y_dup, params),
        xgboost.DMatrix(X_dup, label=y_dup), 8, obj=loss.xgboost_objective,
    )
    dtest = xgboost.DMatrix(X)
    a = weighted.predict(dtest, output_margin=True)
    b = duplicated.predict(dtest, output_margin=True)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    unweighted = xgboost.train(
        xgboost_params_with_init_score(loss, y, params), xgboost.DMatrix(X, label=y), 8,
        obj=loss.xgboost_objective,
    ).predict(dtest, output_margin=True)
    assert np.max(np.abs(unweighted - a)) > 1e-3  # the weights matter


def test_duplicate_row_equals_weight_two_sklearn_api():
    """XGBClassifier passes weights to a parameter named ``sample_weight``."""
    X, y, weight, X_dup, y_dup = duplicated_and_weighted(seed=3)
    loss = FocalLoss(gamma=2.0, alpha=[1.0, 2.0, 0.5])

    def model():
        return xgboost.XGBClassifier(
            objective=loss.sklearn_objective, n_estimators=8, max_depth=3, tree_method="exact",
            n_jobs=N_THREADS, base_score=[0.0] * 3,
        )

    a = model().fit(X, y, sample_weight=weight).predict(X, output_margin=True)
    b = model().fit(X_dup, y_dup).predict(X, output_margin=True)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    c = model().fit(X, y).predict(X, output_margin=True)
    assert np.max(np.abs(c - a)) > 1e-3


# ------------------------------------------------------------------------------ initial score
@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
def test_init_score_lives_in_the_model_and_survives_save_load(tmp_path, binary):
    X, y, weight = make_multiclass(n_samples=300, n_classes=3, seed=4)
    if binary:
        from boostfocal.binary import BinaryFocalLoss

        y = (y == 2).astype(int)
        loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    else:
        loss = FocalLoss(gamma=2.0, alpha=[1.0, 3.0, 0.5])
    b = loss.init_raw_prediction(y, weight) if binary else loss.init_raw_prediction(y, weight, 3)
    params = xgboost_params_with_init_score(loss, y, BASE, sample_weight=weight)
    dtrain = xgboost.DMatrix(X, label=y, weight=weight)

    # before any tree the margins are b: the first objective call starts from them
    start = {}

    def recording_objective(predt, dmatrix):
        start.setdefault("margins", predt.copy())
        return loss.xgboost_objective(predt, dmatrix)

    booster = xgboost.train(params, dtrain, 6, obj=recording_objective)
    expected_start = np.broadcast_to(b, start["margins"].shape)
    np.testing.assert_allclose(start["margins"], expected_start, rtol=0, atol=1e-6)

    margins = booster.predict(dtrain, output_margin=True)
    np.testing.assert_allclose(booster.predict(dtrain), loss.predict_proba(margins), atol=1e-6)
    for suffix in ("json", "ubj"):
        path = tmp_path / f"model.{suffix}"
        booster.save_model(path)
        loaded = xgboost.Booster(model_file=str(path))
        np.testing.assert_array_equal(loaded.predict(dtrain, output_margin=True), margins)
        np.testing.assert_array_equal(loaded.predict(dtrain), booster.predict(dtrain))


def test_xgboost_default_start_is_not_the_init_score():
    """Without the helper XGBoost starts a custom objective from 0.5 in every column."""
    X, y, _ = make_multiclass(n_samples=200, n_classes=3, seed=5)
    seen = {}

    def objective(predt, dmatrix):
        seen.setdefault("margins", predt.copy())
        return FocalLoss().xgboost_objective(predt, dmatrix)

    xgboost.train({**BASE, "num_class": 3}, xgboost.DMatrix(X, label=y), 1, obj=objective)
    np.testing.assert_allclose(seen["margins"], 0.5)


# ------------------------------------------------------------------------------ margin metrics
def _softmax(raw):
    shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_margin_metrics_match_scikit_learn_and_builtin_metrics():
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import log_loss as sklearn_log_loss

    X, y, weight = make_multiclass(n_samples=400, n_classes=4, seed=6)
    loss = FocalLoss(gamma=2.0)
    dtrain = xgboost.DMatrix(X, label=y, weight=weight)
    params = {**xgboost_params_with_init_score(loss, y, BASE), "eval_metric": ["mlogloss", "merror"]}
    history = {}
    booster = xgboost.train(
        params, dtrain, 5, evals=[(dtrain, "train")], obj=loss.xgboost_objective,
        custom_metric=xgboost_metrics(xgboost_log_loss, xgboost_error_rate, loss.xgboost_metric),
        evals_result=history, verbose_eval=False,
    )
    rounds = history["train"]
    # with objective multi:softprob XGBoost's own metrics see probabilities and agree with ours
    np.testing.assert_allclose(rounds["log_loss"], rounds["mlogloss"], rtol=1e-5)
    np.testing.assert_allclose(rounds["error_rate"], rounds["merror"], atol=1e-6)
    assert rounds["focal_loss"][-1] < rounds["focal_loss"][0]

    raw = booster.predict(dtrain, output_margin=True).astype(np.float64)
    probability = _softmax(raw)
    assert log_loss(y, raw, weight) == pytest.approx(
        sklearn_log_loss(y, probability, sample_weight=weight), rel=1e-10
    )
    assert error_rate(y, raw, weight) == pytest.approx(
        1.0 - accuracy_score(y, probability.argmax(axis=1), sample_weight=weight), abs=1e-12
    )
    assert FocalLoss(gamma=0.0).mean_loss(y, raw, weight) == log_loss(y, raw, weight)


def test_binary_margin_metrics_match_scikit_learn():
    from sklearn.metrics import log_loss as sklearn_log_loss

    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 50)
    raw = rng.normal(scale=2.0, size=50)
    probability = 1.0 / (1.0 + np.exp(-raw))
    assert log_loss(y, raw) == pytest.approx(sklearn_log_loss(y, probability), rel=1e-10)
    assert error_rate(y, raw) == pytest.approx(np.mean((raw > 0) != y))
    assert error_rate(y, raw[:, None]) == error_rate(y, raw)


def test_metric_errors():
    with pytest.raises(ValueError, match="NaN or inf"):
        error_rate([0, 1], np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        error_rate([0, 3], np.zeros((2, 3)))
    with pytest.raises(TypeError, match="callables"):
        xgboost_metrics()


# ------------------------------------------------------------------------------ misuse
@pytest.fixture(scope="module")
def small():
    X, y, _ = make_multiclass(n_samples=120, n_classes=3, seed=8)
    return X, y


def test_multiclass_loss_without_num_class_names_the_parameter(small):
    X, y = small
    with pytest.raises(ValueError, match="set num_class"):
        xgboost.train(BASE, xgboost.DMatrix(X, label=y), 1, obj=FocalLoss().xgboost_objective)


def test_labels_outside_num_class_are_reported(small):
    X, y = small
    with pytest.raises(ValueError, match=r"labels run from 0 to 2.*num_class=2"):
        xgboost.train(
            {**BASE, "num_class": 2}, xgboost.DMatrix(X, label=y), 1, obj=FocalLoss().xgboost_objective
        )


def test_classes_absent_from_training_labels_warn(small):
    X, y = small
    with pytest.warns(UserWarning, match=r"classes \[0\] never occur"):
        xgboost.train(
            {**BASE, "num_class": 4}, xgboost.DMatrix(X, label=y + 1), 1,
            obj=FocalLoss().xgboost_objective,
        )


def test_binary_loss_with_num_class_is_refused(small):
    from boostfocal.binary import BinaryFocalLoss

    X, y = small
    with pytest.raises(ValueError, match="needs one"):
        xgboost.train(
            {**BASE, "num_class": 3}, xgboost.DMatrix(X, label=y), 1,
            obj=BinaryFocalLoss().xgboost_objective,
        )


def test_metric_given_probabilities_by_a_builtin_objective_is_refused(small):
    X, y = small
    dtrain = xgboost.DMatrix(X, label=y)
    params = {**BASE, "num_class": 3, "objective": "multi:softprob"}
    for metric in (FocalLoss().xgboost_metric, xgboost_log_loss):
        with pytest.raises(ValueError, match="look like probabilities"):
            xgboost.train(params, dtrain, 2, evals=[(dtrain, "train")], custom_metric=metric,
                          verbose_eval=False)


def test_objective_given_probabilities_is_refused(small):
    X, y = small
    dtrain = xgboost.DMatrix(X, label=y)
    probabilities = _softmax(np.random.default_rng(0).normal(size=(len(y), 3))).astype(np.float32)
    with pytest.raises(ValueError, match="look like probabilities"):
        FocalLoss().xgboost_objective(probabilities, dtrain)
    # a base_score given as class priors instead of margins is caught on the first round
    priors = [float(p) for p in np.bincount(y) / len(y)]
    with pytest.raises(ValueError, match="not class priors"):
        xgboost.train({**BASE, "num_class": 3, "base_score": priors}, dtrain, 1,
                      obj=FocalLoss().xgboost_objective)


def test_unresolved_balanced_alpha_is_refused(small):
    X, y = small
    loss = FocalLoss(alpha="balanced")
    with pytest.raises(ValueError, match="resolve_alpha"):
        xgboost.train({**BASE, "num_class": 3}, xgboost.DMatrix(X, label=y), 1,
                      obj=loss.xgboost_objective)
    with pytest.raises(ValueError, match="resolve_alpha"):
        xgboost_params_with_init_score(loss, y, BASE)


def test_sklearn_wrapper_with_two_classes_points_to_the_binary_loss(small):
    X, y = small
    model = xgboost.XGBClassifier(objective=FocalLoss().sklearn_objective, n_estimators=2,
                                  n_jobs=N_THREADS)
    with pytest.raises(ValueError, match="BinaryFocalLoss"):
        model.fit(X, (y == 1).astype(int))


def test_sklearn_wrapper_with_the_binary_loss(small):
    from boostfocal.binary import BinaryFocalLoss

    X, y = small
    y = (y == 1).astype(int)
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    model = xgboost.XGBClassifier(objective=loss.sklearn_objective, n_estimators=5, max_depth=3,
                                  n_jobs=N_THREADS).fit(X, y)
    raw = model.predict(X, output_margin=True)
    assert raw.shape == (len(y),) and np.all(np.isfinite(raw))
    # XGBClassifier keeps binary:logistic, so its probabilities are the sigmoid of our margins
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], loss.predict_proba(raw), atol=1e-6)
    assert loss.mean_loss(y, raw) < loss.mean_loss(y, np.zeros_like(raw))


def test_init_score_helper_errors(small):
    _, y = small
    loss = FocalLoss()
    with pytest.raises(ValueError, match="already has base_score"):
        xgboost_params_with_init_score(loss, y, {"base_score": 0.5})
    with pytest.raises(ValueError, match="does not fit"):
        xgboost_params_with_init_score(loss, y, {"objective": "binary:logistic"})
    with pytest.raises(ValueError, match="conflicting numbers of classes"):
        xgboost_params_with_init_score(FocalLoss(alpha=[1, 1, 1, 1]), y, {"num_class": 3})
    params = {"max_depth": 2}
    out = xgboost_params_with_init_score(loss, y, params)
    assert params == {"max_depth": 2}  # the caller's dict is left alone
    assert out["num_class"] == 3 and out["objective"] == "multi:softprob"
    np.testing.assert_allclose(out["base_score"], loss.init_raw_prediction(y, n_classes=3))


def test_extreme_binary_logit_needs_logitraw(small):
    from boostfocal.binary import BinaryFocalLoss

    _, y = small
    y = (y > 0).astype(int)
    loss = BinaryFocalLoss(gamma=0.0, alpha=[1e-5, 1.0])  # log-odds of about +12.3
    with pytest.raises(ValueError, match="binary:logitraw"):
        xgboost_params_with_init_score(loss, y, BASE)
    params = xgboost_params_with_init_score(loss, y, {**BASE, "objective": "binary:logitraw"})
    assert params["base_score"] == pytest.approx(loss.init_raw_prediction(y))
    moderate = xgboost_params_with_init_score(BinaryFocalLoss(gamma=0.0), y, BASE)
    prior = np.mean(y)
    assert moderate["objective"] == "binary:logistic"
    assert moderate["base_score"] == pytest.approx(prior, rel=1e-9)  # sigmoid(log-odds) = prior


def test_adapters_do_not_modify_their_inputs(small):
    X, y = small
    dtrain = xgboost.DMatrix(X, label=y)
    predt = np.random.default_rng(1).normal(size=(len(y), 3)).astype(np.float32)
    predt.setflags(write=False)
    before = predt.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradient, hessian = FocalLoss().xgboost_objective(predt, dtrain)
    np.testing.assert_array_equal(predt, before)
    assert gradient.shape == hessian.shape == predt.shape and gradient.dtype == np.float32

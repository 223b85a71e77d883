"""LightGBM adapters: equivalence with reference objectives, real data, weights, initial score
folded into the model, margin metrics and misuse errors."""

import numpy as np
import pytest

lightgbm = pytest.importorskip("lightgbm")

from conftest import load_shared_csv, make_multiclass, numpy_softmax_gradients  # noqa: E402

from boostfocal import FocalLoss, balanced_alpha  # noqa: E402
from boostfocal.adapters.init_score import (  # noqa: E402
    lightgbm_add_init_score,
    lightgbm_init_score,
    lightgbm_train_with_init_score,
)
from boostfocal.metrics import lightgbm_error_rate, lightgbm_log_loss, log_loss  # noqa: E402

N_THREADS = 2
BASE = {"num_threads": N_THREADS, "num_leaves": 8, "min_data_in_leaf": 5, "verbose": -1,
        "learning_rate": 0.2}

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


def numpy_softmax_objective(preds, train_data):
    return numpy_softmax_gradients(preds, train_data.get_label(), train_data.get_weight())


def raw_scores(params, X, y, weight, rounds, init_score=None):
    dataset = lightgbm.Dataset(X, label=y, weight=weight, init_score=init_score)
    return lightgbm.train(params, dataset, rounds).predict(X, raw_score=True)


# ------------------------------------------------------------------------------ equivalences
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gamma0_exact_matches_numpy_softmax_objective(weighted):
    X, y, weight = make_multiclass()
    weight = weight if weighted else None
    params = {**BASE, "num_class": 4}
    loss = FocalLoss(gamma=0.0, alpha=None, hessian="exact")
    ours = raw_scores({**params, "objective": loss.lightgbm_objective}, X, y, weight, 12)
    reference = raw_scores({**params, "objective": numpy_softmax_objective}, X, y, weight, 12)
    assert np.max(np.abs(reference)) > 1.0
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_scaled_hessian_matches_builtin_multiclass(weighted):
    """LightGBM's softmax multiplies the Hessian by K / (K - 1) and, by default, starts from the
    log class priors (boost_from_average), folded into the first trees. The same constant from
    FocalLoss(gamma=0).init_raw_prediction, folded the same way, gives the same model."""
    X, y, weight = make_multiclass(seed=1)
    weight = weight if weighted else None
    n_classes = 4
    params = {**BASE, "num_class": n_classes}
    loss = FocalLoss(gamma=0.0, hessian="exact")

    def scaled(preds, train_data):
        gradient, hessian = loss.lightgbm_objective(preds, train_data)
        return gradient, hessian * n_classes / (n_classes - 1)

    # from zero margins
    ours = raw_scores({**params, "objective": scaled}, X, y, weight, 12)
    builtin = raw_scores({**params, "objective": "multiclass", "boost_from_average": False},
                         X, y, weight, 12)
    np.testing.assert_allclose(ours, builtin, rtol=0, atol=1e-5)
    # from the log priors (boost_from_average) versus our initial score
    ours = lightgbm_train_with_init_score(
        loss, {**params, "objective": scaled}, lightgbm.Dataset(X, label=y, weight=weight), 12
    ).predict(X, raw_score=True)
    builtin = raw_scores({**params, "objective": "multiclass"}, X, y, weight, 12)
    np.testing.assert_allclose(ours, builtin, rtol=0, atol=1e-5)
    plain = raw_scores({**params, "objective": loss.lightgbm_objective}, X, y, weight, 12)
    assert np.max(np.abs(plain - builtin)) > 1e-3  # the comparison can fail


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
    classes = [label for label in np.unique(y_true) if label != majority]
    return float(np.mean([np.mean(y_pred[y_true == label] == label) for label in classes]))


def test_shuttle_gamma2_per_class_alpha(shuttle):
    X_train, y_train, X_test, y_test = shuttle
    assert np.sum(y_train == 5) == 6
    loss = FocalLoss(gamma=2.0, alpha=np.sqrt(balanced_alpha(y_train, 7)))
    train_set = lightgbm.Dataset(X_train, label=y_train)
    history = {}
    booster = lightgbm_train_with_init_score(
        loss, {**BASE, "min_data_in_leaf": 3}, train_set, 15, valid_sets=[train_set],
        valid_names=["train"], feval=loss.lightgbm_metric,
        callbacks=[lightgbm.record_evaluation(history)],
    )
    focal = np.array(history["train"]["focal_loss"])
    assert np.all(np.diff(focal[:10]) < 0), focal
    raw = booster.predict(X_test, raw_score=True)
    assert np.all(np.isfinite(raw))
    predicted = np.argmax(raw, axis=1)
    assert minority_recall(y_test, np.zeros_like(y_test)) == 0.0
    assert minority_recall(y_test, predicted) >= 0.5


# ------------------------------------------------------------------------------ sample weights
def test_sklearn_path_with_sample_weight_equals_train_with_dataset_weights():
    """LGBMClassifier counts three parameters and passes the weights positionally."""
    X, y, weight = make_multiclass(n_samples=300, n_classes=3, seed=2)
    loss = FocalLoss(gamma=2.0, alpha=[1.0, 2.0, 0.5])
    shared = {"n_estimators": 8, "num_leaves": 8, "min_child_samples": 5, "n_jobs": N_THREADS,
              "verbose": -1, "learning_rate": 0.2}

    def sklearn_raw(sample_weight):
        model = lightgbm.LGBMClassifier(objective=loss.sklearn_objective, **shared)
        return model.fit(X, y, sample_weight=sample_weight).predict(X, raw_score=True)

    params = {**BASE, "num_class": 3, "objective": loss.lightgbm_objective}
    low_level = raw_scores(params, X, y, weight, 8)
    np.testing.assert_allclose(sklearn_raw(weight), low_level, rtol=0, atol=1e-6)
    unweighted = sklearn_raw(None)
    assert np.max(np.abs(unweighted - low_level)) > 1e-3  # the weights change the model


# ------------------------------------------------------------------------------ initial score
@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
def test_init_score_folded_into_the_model_survives_save_load(tmp_path, binary):
    X, y, weight = make_multiclass(n_samples=300, n_classes=3, seed=4)
    if binary:
        from boostfocal.binary import BinaryFocalLoss

        y = (y == 2).astype(int)
        loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
        b = loss.init_raw_prediction(y, weight)
        params = {**BASE}
    else:
        loss = FocalLoss(gamma=2.0, alpha=[1.0, 3.0, 0.5])
        b = loss.init_raw_prediction(y, weight, 3)
        params = {**BASE, "num_class": 3}
    params["objective"] = loss.lightgbm_objective

    # the same training by hand: Dataset init_score, trees that do not include it
    unfolded = lightgbm.train(
        params, lightgbm.Dataset(X, label=y, weight=weight, init_score=lightgbm_init_score(b, 300)), 6
    )
    trees_only = unfolded.predict(X, raw_score=True)
    booster = lightgbm_train_with_init_score(loss, params, lightgbm.Dataset(X, label=y, weight=weight), 6)
    raw = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(raw, trees_only + b, rtol=0, atol=1e-12)
    # ... and it is the start the objective saw: the training loss fell from loss(b)
    assert loss.mean_loss(y, raw, weight) < loss.mean_loss(y, np.broadcast_to(b, raw.shape), weight)

    from_string = lightgbm.Booster(model_str=booster.model_to_string())
    np.testing.assert_array_equal(from_string.predict(X, raw_score=True), raw)
    path = tmp_path / "model.txt"
    booster.save_model(path)
    from_file = lightgbm.Booster(model_file=str(path))
    np.testing.assert_array_equal(from_file.predict(X, raw_score=True), raw)


def test_validation_metric_sees_the_init_score():
    X, y, weight = make_multiclass(n_samples=400, n_classes=3, seed=5)
    loss = FocalLoss(gamma=2.0, alpha=[1.0, 2.0, 1.0])
    train_set = lightgbm.Dataset(X[:300], label=y[:300])
    valid_set = lightgbm.Dataset(X[300:], label=y[300:], weight=weight[300:])
    history = {}
    booster = lightgbm_train_with_init_score(
        loss, BASE, train_set, 5, valid_sets=[valid_set], valid_names=["valid"],
        feval=[loss.lightgbm_metric, lightgbm_log_loss, lightgbm_error_rate],
        callbacks=[lightgbm.record_evaluation(history)],
    )
    raw = booster.predict(X[300:], raw_score=True)
    expected = loss.mean_loss(y[300:], raw, weight[300:])
    assert history["valid"]["focal_loss"][-1] == pytest.approx(expected, rel=1e-6)
    assert history["valid"]["log_loss"][-1] == pytest.approx(log_loss(y[300:], raw, weight[300:]),
                                                              rel=1e-6)
    wrong = (np.argmax(raw, axis=1) != y[300:]).astype(float)
    assert history["valid"]["error_rate"][-1] == pytest.approx(
        np.dot(weight[300:], wrong) / weight[300:].sum(), rel=1e-6  # LightGBM keeps float32 weights
    )
    assert np.asarray(valid_set.get_init_score()).shape == (100, 3)


def test_add_init_score_errors():
    X, y, _ = make_multiclass(n_samples=200, n_classes=3, seed=6)
    loss = FocalLoss()
    params = {**BASE, "num_class": 3, "objective": loss.lightgbm_objective}
    booster = lightgbm.train(params, lightgbm.Dataset(X, label=y), 2)
    with pytest.raises(ValueError, match="3 tree"):
        lightgbm_add_init_score(booster, [0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        lightgbm_add_init_score(booster, [0.0, np.nan, 0.0])
    linear = lightgbm.train({**params, "linear_tree": True}, lightgbm.Dataset(X, label=y), 2)
    with pytest.raises(ValueError, match="linear trees"):
        lightgbm_add_init_score(linear, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="linear_tree"):
        lightgbm_train_with_init_score(loss, {**BASE, "linear_tree": True},
                                       lightgbm.Dataset(X, label=y), 2)
    with pytest.raises(ValueError, match="trains with the loss's own objective"):
        lightgbm_train_with_init_score(loss, {**BASE, "objective": "multiclass"},
                                       lightgbm.Dataset(X, label=y), 2)
    with pytest.raises(ValueError, match="already has an init_score"):
        lightgbm_train_with_init_score(
            loss, BASE, lightgbm.Dataset(X, label=y, init_score=np.ones((200, 3))), 2
        )


# ------------------------------------------------------------------------------ misuse
@pytest.fixture(scope="module")
def small():
    X, y, _ = make_multiclass(n_samples=120, n_classes=3, seed=8)
    return X, y


def test_multiclass_loss_without_num_class_names_the_parameter(small):
    X, y = small
    with pytest.raises(ValueError, match="set num_class"):
        lightgbm.train({**BASE, "objective": FocalLoss().lightgbm_objective},
                       lightgbm.Dataset(X, label=y), 1)


def test_labels_outside_num_class_are_reported(small):
    X, y = small
    with pytest.raises(ValueError, match=r"labels run from 0 to 2.*num_class=2"):
        lightgbm.train({**BASE, "num_class": 2, "objective": FocalLoss().lightgbm_objective},
                       lightgbm.Dataset(X, label=y), 1)


def test_classes_absent_from_training_labels_warn(small):
    X, y = small
    with pytest.warns(UserWarning, match=r"classes \[3\] never occur"):
        lightgbm.train({**BASE, "num_class": 4, "objective": FocalLoss().lightgbm_objective},
                       lightgbm.Dataset(X, label=y), 1)


def test_binary_loss_with_num_class_is_refused(small):
    from boostfocal.binary import BinaryFocalLoss

    X, y = small
    with pytest.raises(ValueError, match="needs one"):
        lightgbm.train({**BASE, "num_class": 3, "objective": BinaryFocalLoss().lightgbm_objective},
                       lightgbm.Dataset(X, label=y), 1)


def test_feval_given_probabilities_by_a_builtin_objective_is_refused(small):
    X, y = small
    train_set = lightgbm.Dataset(X, label=y)
    for feval in (FocalLoss().lightgbm_metric, lightgbm_log_loss):
        with pytest.raises(ValueError, match="look like probabilities"):
            lightgbm.train({**BASE, "num_class": 3, "objective": "multiclass"}, train_set, 1,
                           valid_sets=[train_set], feval=feval)


def test_unresolved_balanced_alpha_is_refused(small):
    X, y = small
    loss = FocalLoss(alpha="balanced")
    with pytest.raises(ValueError, match="resolve_alpha"):
        lightgbm.train({**BASE, "num_class": 3, "objective": loss.lightgbm_objective},
                       lightgbm.Dataset(X, label=y), 1)


def test_sklearn_wrapper_with_two_classes_points_to_the_binary_loss(small):
    X, y = small
    model = lightgbm.LGBMClassifier(objective=FocalLoss().sklearn_objective, n_estimators=2,
                                    n_jobs=N_THREADS, verbose=-1)
    with pytest.raises(ValueError, match="BinaryFocalLoss"):
        model.fit(X, (y == 1).astype(int))


def test_sklearn_wrapper_with_the_binary_loss(small):
    from boostfocal.binary import BinaryFocalLoss

    X, y = small
    y = (y == 1).astype(int)
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    model = lightgbm.LGBMClassifier(objective=loss.sklearn_objective, n_estimators=5,
                                    min_child_samples=5, n_jobs=N_THREADS, verbose=-1).fit(X, y)
    raw = model.predict(X, raw_score=True)
    assert raw.shape == (len(y),) and np.all(np.isfinite(raw))
    assert loss.mean_loss(y, raw) < loss.mean_loss(y, np.zeros_like(raw))


def test_objective_returns_float32_fortran_and_leaves_preds_alone(small):
    X, y = small
    loss = FocalLoss()
    seen = {}

    def objective(preds, train_data):
        before = preds.copy()
        gradient, hessian = loss.lightgbm_objective(preds, train_data)
        np.testing.assert_array_equal(preds, before)
        seen["layout"] = (gradient.dtype, gradient.flags.f_contiguous, gradient.shape)
        return gradient, hessian

    lightgbm.train({**BASE, "num_class": 3, "objective": objective}, lightgbm.Dataset(X, label=y), 1)
    assert seen["layout"] == (np.float32, True, (len(y), 3))

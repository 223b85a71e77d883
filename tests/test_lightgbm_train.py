"""``loss.lightgbm_train`` and the direct rounds (LightGBM's two C calls around the kernel): the
booster, history and errors of the public route ``lightgbm.train(objective=loss.lightgbm_objective)``,
also when callbacks change labels and weights, and the rounds really taken by the C calls."""

import pickle

import numpy as np
import pytest

lightgbm = pytest.importorskip("lightgbm")

from conftest import make_multiclass  # noqa: E402

from boostfocal import BinaryFocalLoss, FocalLoss  # noqa: E402
from boostfocal.adapters import lightgbm_rounds  # noqa: E402
from boostfocal.adapters.init_score import lightgbm_add_init_score, lightgbm_init_score  # noqa: E402
from boostfocal.adapters.lightgbm import set_probability_objective  # noqa: E402
from boostfocal.adapters.lightgbm_rounds import DirectRounds  # noqa: E402
from boostfocal.sklearn import FocalLGBMClassifier  # noqa: E402

BASE = {"num_threads": 2, "num_leaves": 8, "min_data_in_leaf": 5, "verbose": -1,
        "learning_rate": 0.3, "seed": 0}

pytestmark = pytest.mark.usefixtures("one_kernel_thread")


@pytest.fixture
def direct_round_count(monkeypatch):
    """The number of rounds run by the C calls in this test."""
    count = {"rounds": 0}
    original = DirectRounds._direct_round

    def counted(self, booster, loss):
        count["rounds"] += 1
        return original(self, booster, loss)

    monkeypatch.setattr(DirectRounds, "_direct_round", counted)
    return count


def task(binary: bool, weighted: bool, seed: int = 0):
    """(loss, params, X, y, weights, X_valid, y_valid)."""
    X, y, weights = make_multiclass(n_samples=600, n_classes=4, seed=seed)
    if binary:
        y = (y == 0).astype(np.float64)
        loss, params = BinaryFocalLoss(gamma=2.0, alpha=0.3), dict(BASE)
    else:
        loss, params = FocalLoss(gamma=2.0, alpha=[0.4, 0.2, 0.2, 0.2]), {**BASE, "num_class": 4}
    weights = weights if weighted else None
    return loss, params, X[:450], y[:450], None if weights is None else weights[:450], X[450:], y[450:]


def initial_score(loss, y, weights, binary):
    if binary:
        return loss.init_raw_prediction(y, weights)
    return loss.init_raw_prediction(y, weights, n_classes=4)


def public_route(loss, params, X, y, weights, X_valid, y_valid, rounds, binary, callbacks=()):
    """What the docs spelled out before lightgbm_train: Datasets with b as init_score,
    lightgbm.train with the objective and the focal metric, b folded in, the link declared."""
    b = initial_score(loss, y, weights, binary)
    train = lightgbm.Dataset(X, label=y, weight=weights, init_score=lightgbm_init_score(b, y.size))
    valid = lightgbm.Dataset(X_valid, label=y_valid, reference=train,
                             init_score=lightgbm_init_score(b, y_valid.size))
    history = {}
    booster = lightgbm.train(
        {**params, "objective": loss.lightgbm_objective}, train, rounds, valid_sets=[train, valid],
        valid_names=["train", "valid"], feval=loss.lightgbm_metric,
        callbacks=[lightgbm.record_evaluation(history), *callbacks],
    )
    lightgbm_add_init_score(booster, b)
    return set_probability_objective(booster, loss), history


def ours(loss, params, X, y, weights, X_valid, y_valid, rounds, callbacks=()):
    train = lightgbm.Dataset(X, label=y, weight=weights)
    valid = lightgbm.Dataset(X_valid, label=y_valid, reference=train)
    history = {}
    booster = loss.lightgbm_train(params, train, rounds, valid_sets=[train, valid],
                                  valid_names=["train", "valid"],
                                  callbacks=[lightgbm.record_evaluation(history), *callbacks])
    return booster, history


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
def test_lightgbm_train_grows_the_public_routes_booster(binary, weighted, direct_round_count):
    loss, params, *data = task(binary, weighted)
    expected, expected_history = public_route(loss, params, *data, 12, binary)
    booster, history = ours(loss, params, *data, 12)
    assert direct_round_count["rounds"] == 12
    assert booster.model_to_string() == expected.model_to_string()
    assert history == expected_history
    assert list(history["valid"]) == ["focal_loss"]
    # b is in the model, and predict() gives probabilities
    X_valid = data[3]
    raw = booster.predict(X_valid, raw_score=True)
    np.testing.assert_allclose(booster.predict(X_valid), loss.predict_proba(raw), rtol=1e-12)
    plain = lightgbm.train({**params, "objective": loss.lightgbm_objective},
                           lightgbm.Dataset(data[0], label=data[1], weight=data[2]), 12)
    assert np.max(np.abs(plain.predict(X_valid, raw_score=True) - raw)) > 1e-3  # the check can fail


def test_lightgbm_train_with_early_stopping_keeps_the_public_routes_trees():
    loss, params, *data = task(binary=False, weighted=False, seed=3)
    params = {**params, "learning_rate": 0.8}
    stop = [lightgbm.early_stopping(3, verbose=False)]
    expected, expected_history = public_route(loss, params, *data, 200, False, callbacks=stop)
    booster, history = ours(loss, params, *data, 200, callbacks=stop)
    assert 0 < booster.best_iteration < 200  # it did stop early
    assert booster.best_iteration == expected.best_iteration
    assert booster.current_iteration() == expected.current_iteration() == booster.best_iteration
    assert booster.model_to_string() == expected.model_to_string()
    assert history == expected_history


def in_place_changes(iteration_to_change):
    """A before-round callback that, at one round, rescales the weights and swaps two classes'
    labels in the training Dataset's own arrays (which the objective reads every round)."""

    def change(env):
        if env.iteration == iteration_to_change:
            train_set = env.model.train_set
            train_set.weight *= np.linspace(0.5, 2.0, train_set.weight.size).astype(train_set.weight.dtype)
            label = train_set.label
            zero, one = label == 0, label == 1
            label[zero], label[one] = 1, 0

    change.before_iteration = True
    return change


def test_direct_rounds_follow_labels_and_weights_changed_in_place(direct_round_count):
    loss, params, X, y, weights, *_ = task(binary=False, weighted=True)
    params = {**params, "objective": loss.lightgbm_objective}

    def train(callbacks):
        dataset = lightgbm.Dataset(X, label=y, weight=weights.copy())
        return lightgbm.train(params, dataset, 10, callbacks=callbacks).model_to_string()

    expected = train([in_place_changes(4)])
    assert train([in_place_changes(4), DirectRounds()]) == expected
    assert direct_round_count["rounds"] == 10
    assert train([DirectRounds()]) != expected  # the changes matter


@pytest.mark.parametrize("at_round", [0, 3], ids=["first_round", "later_round"])
@pytest.mark.parametrize("bad_label", [4.0, 1.5, -1.0], ids=["too_large", "non_integer", "negative"])
def test_a_bad_label_set_in_place_gives_the_objectives_message(bad_label, at_round):
    loss, params, X, y, *_ = task(binary=False, weighted=False)
    params = {**params, "objective": loss.lightgbm_objective}

    def spoil(env):
        if env.iteration == at_round:
            env.model.train_set.label[7] = bad_label

    spoil.before_iteration = True
    messages = []
    for callbacks in ([spoil], [spoil, DirectRounds()]):
        with pytest.raises(ValueError) as error:
            lightgbm.train(params, lightgbm.Dataset(X, label=y.copy()), 6, callbacks=callbacks)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def numpy_objective(preds, train_data):
    labels = train_data.get_label()
    return preds - labels, np.ones_like(preds)


def test_direct_rounds_leave_other_objectives_and_leave_no_trace(direct_round_count):
    _, params, X, y, *_ = task(binary=True, weighted=False)
    params = {**params, "objective": numpy_objective}
    expected = lightgbm.train(params, lightgbm.Dataset(X, label=y), 5).model_to_string()
    booster = lightgbm.train(params, lightgbm.Dataset(X, label=y), 5, callbacks=[DirectRounds()])
    assert direct_round_count["rounds"] == 0
    assert booster.model_to_string() == expected
    # A booster left trainable carries no one-shot update, and pickles.
    loss = BinaryFocalLoss(2.0)
    booster = loss.lightgbm_train(BASE, lightgbm.Dataset(X, label=y), 5, keep_training_booster=True)
    assert direct_round_count["rounds"] == 5
    assert "update" not in vars(booster)
    booster.update(fobj=loss.lightgbm_objective)  # still trainable, by LightGBM's own update
    assert booster.current_iteration() == 6
    assert pickle.loads(pickle.dumps(booster)).current_iteration() == 6


def test_lightgbm_train_resolves_balanced_alpha_continues_and_appends_feval():
    _, params, X, y, weights, X_valid, y_valid = task(binary=False, weighted=True)
    balanced = FocalLoss(gamma=2.0, alpha="balanced")
    resolved = balanced.resolve_alpha(y, weights, n_classes=4)

    def train(loss, rounds, **kwargs):
        return loss.lightgbm_train(params, lightgbm.Dataset(X, label=y, weight=weights), rounds, **kwargs)

    booster = train(balanced, 8)
    assert booster.model_to_string() == train(resolved, 8).model_to_string()
    continued = train(balanced, 4, init_model=train(balanced, 4))
    np.testing.assert_allclose(continued.predict(X_valid, raw_score=True),
                               booster.predict(X_valid, raw_score=True), rtol=0, atol=1e-10)

    def error_count(preds, eval_data):
        return "errors", float(np.sum(np.argmax(preds, axis=1) != eval_data.get_label())), False

    history = {}
    valid = lightgbm.Dataset(X_valid, label=y_valid)
    train(resolved, 3, valid_sets=[valid], feval=error_count,
          callbacks=[lightgbm.record_evaluation(history)])
    assert list(history["valid_0"]) == ["focal_loss", "errors"]


def test_lightgbm_train_refuses_a_named_objective():
    loss, params, X, y, *_ = task(binary=False, weighted=False)
    with pytest.raises(ValueError, match="own objective"):
        loss.lightgbm_train({**params, "objective": "multiclass"}, lightgbm.Dataset(X, label=y), 2)


def test_estimator_trains_by_the_direct_rounds(direct_round_count):
    X, y, _ = make_multiclass(n_samples=300, n_classes=3, seed=2)
    model = FocalLGBMClassifier(n_estimators=6, n_jobs=1, random_state=0).fit(X, y)
    assert direct_round_count["rounds"] == 6
    assert "update" not in vars(model.booster_)
    assert lightgbm_rounds.focal_loss_of(model.loss_.lightgbm_objective) is model.loss_


def test_unresolved_balanced_alpha_gives_the_objectives_message():
    _, params, X, y, *_ = task(binary=False, weighted=False)
    loss = FocalLoss(gamma=2.0, alpha="balanced")
    params = {**params, "objective": loss.lightgbm_objective}
    messages = []
    for callbacks in ([], [DirectRounds()]):
        with pytest.raises(ValueError) as error:
            lightgbm.train(params, lightgbm.Dataset(X, label=y), 3, callbacks=callbacks)
        messages.append(str(error.value))
    assert "balanced" in messages[0] and messages[0] == messages[1]

"""Saved focal models predict probabilities with the plain boosters: checked in a subprocess that
never imports boostfocal, after save_model / Booster(model_file=...), model_to_string and pickling."""

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from boostfocal import BinaryFocalLoss, FocalLoss

lightgbm = pytest.importorskip("lightgbm")

from boostfocal.adapters.init_score import lightgbm_train_with_init_score  # noqa: E402
from boostfocal.sklearn import FocalLGBMClassifier, FocalXGBClassifier  # noqa: E402

# Runs in a fresh interpreter: loads every saved model with the booster alone and writes what it
# predicts. It fails if anything it loads pulls in boostfocal.
BARE_PROCESS = textwrap.dedent(
    """
    import json, pickle, sys
    from pathlib import Path
    import numpy as np
    folder = Path(sys.argv[1])
    X = np.load(folder / "X.npy")
    for case in json.loads((folder / "cases.json").read_text()):
        name, booster = case["name"], case["booster"]
        if booster == "lightgbm":
            import lightgbm
            loaded = {
                "file": lightgbm.Booster(model_file=str(folder / f"{name}.txt")),
                "string": lightgbm.Booster(model_str=(folder / f"{name}.str").read_text()),
                "pickle": pickle.loads((folder / f"{name}.pkl").read_bytes()),
            }
            for how, model in loaded.items():
                np.save(folder / f"{name}-{how}.npy", model.predict(X))
                np.save(folder / f"{name}-{how}-raw.npy", model.predict(X, raw_score=True))
        else:
            import xgboost
            model = xgboost.Booster(model_file=str(folder / f"{name}.json"))
            np.save(folder / f"{name}-file.npy", model.predict(xgboost.DMatrix(X)))
    assert "boostfocal" not in sys.modules, "a saved model pulled in boostfocal"
    print("ok")
    """
)


def _data(n_classes, seed=0, n_samples=400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5))
    score = X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.3 * rng.normal(size=n_samples)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return X, y


def _lightgbm_cases():
    """name -> (lightgbm.Booster, expected probabilities, expected raw scores)."""
    cases = {}
    X, y = _data(3)
    labels = np.array(["ant", "bee", "cat"])[y]
    model = FocalLGBMClassifier(gamma=2.0, alpha="balanced", n_estimators=15, num_leaves=7,
                                probability="softmax", random_state=0).fit(X, labels)
    cases["estimator-multiclass"] = (model.booster_, model.predict_proba(X), model.decision_function(X))
    Xb, yb = _data(2, seed=1)
    model = FocalLGBMClassifier(gamma=1.5, alpha=0.3, n_estimators=15, num_leaves=7,
                                probability="softmax", random_state=0).fit(Xb, np.where(yb == 1, "yes", "no"))
    # Binary: the booster predicts P(classes_[1]), the second column of predict_proba.
    cases["estimator-binary"] = (model.booster_, model.predict_proba(Xb)[:, 1], model.decision_function(Xb))
    params = {"num_leaves": 7, "verbosity": -1, "seed": 0}
    loss = FocalLoss(2.0, [1.0, 2.0, 0.5])
    booster = lightgbm_train_with_init_score(loss, params, lightgbm.Dataset(X, y), 15)
    raw = booster.predict(X, raw_score=True)
    cases["helper-multiclass"] = (booster, loss.predict_proba(raw), raw)
    binary_loss = BinaryFocalLoss(3.0, 0.25)
    booster = lightgbm_train_with_init_score(binary_loss, params, lightgbm.Dataset(Xb, yb), 15)
    raw = booster.predict(Xb, raw_score=True)
    cases["helper-binary"] = (booster, binary_loss.predict_proba(raw), raw)
    return cases, {"estimator-multiclass": X, "helper-multiclass": X, "estimator-binary": Xb,
                   "helper-binary": Xb}


def _run_bare_process(folder, cases_json):
    (folder / "cases.json").write_text(json.dumps(cases_json))
    (folder / "bare.py").write_text(BARE_PROCESS)
    # -I: isolated mode, neither the working directory nor PYTHONPATH is on sys.path.
    result = subprocess.run([sys.executable, "-I", str(folder / "bare.py"), str(folder)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_saved_lightgbm_models_predict_probabilities_without_boostfocal(tmp_path):
    cases, inputs = _lightgbm_cases()
    # One input matrix for the bare process: every case uses 5 features.
    X = np.concatenate([inputs["estimator-multiclass"], inputs["estimator-binary"]])
    np.save(tmp_path / "X.npy", X)
    expected = {}
    for name, (booster, _, _) in cases.items():
        booster.save_model(str(tmp_path / f"{name}.txt"))
        (tmp_path / f"{name}.str").write_text(booster.model_to_string())
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(booster))
        raw = booster.predict(X, raw_score=True)
        loss = BinaryFocalLoss(0.0) if raw.ndim == 1 else FocalLoss(0.0)
        expected[name] = (loss.predict_proba(raw), raw)
        # In this process too: the booster itself predicts what predict_proba returns.
        own = booster.predict(inputs[name])
        np.testing.assert_allclose(own, cases[name][1], rtol=0, atol=1e-12)
        np.testing.assert_allclose(booster.predict(inputs[name], raw_score=True), cases[name][2],
                                   rtol=0, atol=1e-12)
    _run_bare_process(tmp_path, [{"name": name, "booster": "lightgbm"} for name in cases])
    for name, (probability, raw) in expected.items():
        for how in ("file", "string", "pickle"):
            got = np.load(tmp_path / f"{name}-{how}.npy")
            assert got.shape == probability.shape, (name, how)
            np.testing.assert_allclose(got, probability, rtol=0, atol=1e-12, err_msg=f"{name} {how}")
            np.testing.assert_allclose(np.load(tmp_path / f"{name}-{how}-raw.npy"), raw, rtol=0,
                                       atol=1e-12, err_msg=f"{name} {how} raw")
        assert "objective=" in (tmp_path / f"{name}.txt").read_text()


def test_saved_xgboost_models_predict_probabilities_without_boostfocal(tmp_path):
    xgboost = pytest.importorskip("xgboost")
    X, y = _data(3)
    Xb, yb = _data(2, seed=1)
    models = {
        "xgb-multiclass": FocalXGBClassifier(gamma=2.0, alpha="balanced", n_estimators=10, max_depth=3,
                                             probability="softmax", random_state=0).fit(X, y),
        "xgb-binary": FocalXGBClassifier(gamma=2.0, alpha=0.3, n_estimators=10, max_depth=3,
                                         probability="softmax", random_state=0).fit(Xb, yb),
    }
    np.save(tmp_path / "X.npy", X)
    for name, model in models.items():
        model.booster_.save_model(str(tmp_path / f"{name}.json"))
    _run_bare_process(tmp_path, [{"name": name, "booster": "xgboost"} for name in models])
    for name, model in models.items():
        expected = model.predict_proba(X)
        expected = expected[:, 1] if name.endswith("binary") else expected
        got = np.load(tmp_path / f"{name}-file.npy")
        # XGBoost computes its softmax / sigmoid in float32.
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    del xgboost


def test_pickled_estimator_keeps_probability_link_and_predictions():
    X, y = _data(3)
    model = FocalLGBMClassifier(gamma=2.0, n_estimators=10, num_leaves=7, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    softmax = model.set_params(probability="softmax").predict_proba(X)
    np.testing.assert_allclose(restored.booster_.predict(X), softmax, rtol=0, atol=1e-12)


def test_early_stopping_keeps_best_iteration_through_the_rewrite():
    X, y = _data(3)
    model = FocalLGBMClassifier(gamma=2.0, n_estimators=200, learning_rate=0.5, num_leaves=15,
                                early_stopping_rounds=3, probability="softmax", random_state=0)
    model.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])])
    assert model.best_iteration_ is not None and model.best_iteration_ + 1 < 200
    assert model.booster_.best_iteration == model.best_iteration_ + 1
    # The loaded model predicts predict_proba (which uses the best iteration).
    loaded = lightgbm.Booster(model_str=model.booster_.model_to_string())
    np.testing.assert_allclose(loaded.predict(X), model.predict_proba(X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", [FocalLoss(2.0), BinaryFocalLoss(2.0, 0.3)], ids=["multiclass", "binary"])
def test_continued_training_from_a_self_describing_booster(loss):
    X, y = _data(2 if loss.is_binary else 3)
    params = {"num_leaves": 7, "verbosity": -1, "seed": 0}
    first = lightgbm_train_with_init_score(loss, params, lightgbm.Dataset(X, y), 5)
    raw_first = first.predict(X, raw_score=True)
    extra = {} if loss.is_binary else {"num_class": 3}
    continued = lightgbm.train({**params, **extra, "objective": loss.lightgbm_objective},
                               lightgbm.Dataset(X, y), 4, init_model=first)
    assert continued.current_iteration() == 9
    np.testing.assert_allclose(continued.predict(X, raw_score=True, num_iteration=5), raw_first, rtol=0, atol=1e-12)
    # Through the helper, the continued model is self-describing again.
    again = lightgbm_train_with_init_score(loss, params, lightgbm.Dataset(X, y), 3, init_model=first)
    raw_again = again.predict(X, raw_score=True)
    np.testing.assert_allclose(again.predict(X), loss.predict_proba(raw_again), rtol=0, atol=1e-12)


def test_set_probability_objective_rejects_a_mismatched_loss():
    from boostfocal.adapters.lightgbm import set_probability_objective

    X, y = _data(3)
    booster = lightgbm_train_with_init_score(FocalLoss(2.0), {"verbosity": -1}, lightgbm.Dataset(X, y), 2)
    with pytest.raises(ValueError, match="does not fit BinaryFocalLoss"):
        set_probability_objective(booster, BinaryFocalLoss(2.0))

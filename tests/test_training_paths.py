"""Training paths a user takes beyond the first fit (issue 9, items 1, 2, 7 and 9): continued
training, early stopping with several evaluation sets, DataFrames with category columns, booster
modes that cannot take a custom objective, and LightGBM's log."""

import numpy as np
import pytest

from boostfocal import BinaryFocalLoss, FocalLoss
from boostfocal.sklearn import FocalLGBMClassifier, FocalXGBClassifier

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")
from sklearn.datasets import make_classification  # noqa: E402

from boostfocal.adapters.init_score import lightgbm_train_with_init_score  # noqa: E402

LIGHTGBM_PARAMS = {"num_leaves": 7, "learning_rate": 0.1, "num_threads": 1, "deterministic": True,
                   "min_data_in_leaf": 5}


def _data(n_classes=3, n_samples=300, seed=0):
    return make_classification(
        n_samples=n_samples, n_features=6, n_informative=4, n_redundant=0, n_classes=n_classes,
        random_state=seed,
    )


# ------------------------------------------------------------------ 1. continued training
@pytest.mark.parametrize("make_loss, n_classes", [(FocalLoss, 3), (BinaryFocalLoss, 2)],
                         ids=["multiclass", "binary"])
def test_lightgbm_continued_training_equals_training_in_one_go(make_loss, n_classes):
    X, y = _data(n_classes)
    loss = make_loss(2.0)

    def dataset():
        return lgb.Dataset(X, y, free_raw_data=False)

    in_one_go = lightgbm_train_with_init_score(loss, LIGHTGBM_PARAMS, dataset(), 20)
    reused = dataset()  # the same Dataset for both parts, as a user would write it
    first = lightgbm_train_with_init_score(loss, LIGHTGBM_PARAMS, reused, 10)
    first_raw = first.predict(X, raw_score=True)
    continued = lightgbm_train_with_init_score(loss, LIGHTGBM_PARAMS, reused, 10, init_model=first)
    fresh = lightgbm_train_with_init_score(loss, LIGHTGBM_PARAMS, dataset(), 10, init_model=first)
    expected = in_one_go.predict(X, raw_score=True)
    np.testing.assert_allclose(continued.predict(X, raw_score=True), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fresh.predict(X, raw_score=True), expected, rtol=0, atol=1e-9)
    # The initial model is left as it was.
    np.testing.assert_array_equal(first.predict(X, raw_score=True), first_raw)
    assert continued.current_iteration() == 20


def test_xgboost_continued_training_equals_training_in_one_go():
    from boostfocal.adapters.init_score import xgboost_params_with_init_score

    X, y = _data(3)
    loss = FocalLoss(2.0)
    params = xgboost_params_with_init_score(loss, y, {"max_depth": 3, "nthread": 1})
    dtrain = xgb.DMatrix(X, label=y)
    in_one_go = xgb.train(params, dtrain, 20, obj=loss.xgboost_objective)
    first = xgb.train(params, dtrain, 10, obj=loss.xgboost_objective)
    continued = xgb.train(params, dtrain, 10, obj=loss.xgboost_objective, xgb_model=first)
    np.testing.assert_allclose(
        continued.predict(dtrain, output_margin=True), in_one_go.predict(dtrain, output_margin=True),
        rtol=0, atol=1e-5,
    )


# ------------------------------------------------------------------ 2. early stopping
@pytest.mark.parametrize("estimator", [FocalLGBMClassifier, FocalXGBClassifier], ids=["lightgbm", "xgboost"])
def test_early_stopping_watches_the_last_eval_set_only(estimator):
    X, y = _data(3, n_samples=400)
    rng = np.random.default_rng(0)
    X_noise, y_noise = rng.normal(size=(200, X.shape[1])), rng.integers(0, 3, size=200)
    model = estimator(n_estimators=40, learning_rate=0.1, early_stopping_rounds=3, n_jobs=1,
                      random_state=0)
    model.fit(X, y, eval_set=[(X_noise, y_noise), (X, y)])
    last = model.evals_result_["validation_1"]["focal_loss"]
    noise = model.evals_result_["validation_0"]["focal_loss"]
    # The training rows as the last set improve every round; the noise set stalls early.
    assert np.all(np.diff(last) < 0)
    assert int(np.argmin(noise)) < 10
    assert len(last) == 40
    assert model.best_iteration_ == 39


# ------------------------------------------------------------------ 7. DataFrames
def _frame_with_categories(n_samples=300, seed=0):
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=n_samples)
    size = rng.normal(size=n_samples)
    # The class is the colour (up to 10 % noise): only a split on the category separates them.
    y = np.select([colour == "red", colour == "green"], [0, 1], 2)
    flip = rng.random(n_samples) < 0.1
    y[flip] = rng.integers(0, 3, size=flip.sum())
    X = pd.DataFrame({"colour": pd.Categorical(colour), "size": size})
    return X, y


@pytest.mark.parametrize("estimator", [FocalLGBMClassifier, FocalXGBClassifier], ids=["lightgbm", "xgboost"])
def test_category_columns_are_split_on_natively(estimator):
    X, y = _frame_with_categories()
    model = estimator(n_estimators=20, n_jobs=1, random_state=0).fit(X, y, eval_set=[(X, y)])
    assert model.categorical_features_ == ["colour"]
    assert model.feature_names_in_.tolist() == ["colour", "size"]
    accuracy = np.mean(model.predict(X) == y)
    assert accuracy > 0.85  # the colour explains 90 %+ of the labels; size nothing
    # Rows in another order, with the categories listed in another order: the same predictions.
    shuffled = X.iloc[::-1].copy()
    shuffled["colour"] = shuffled["colour"].cat.reorder_categories(["red", "blue", "green"])
    np.testing.assert_allclose(model.predict_proba(shuffled), model.predict_proba(X)[::-1], atol=1e-6)
    with pytest.raises(ValueError, match="category columns"):
        model.predict(X.assign(colour=X["colour"].cat.codes))


@pytest.mark.parametrize("estimator", [FocalLGBMClassifier, FocalXGBClassifier], ids=["lightgbm", "xgboost"])
def test_string_columns_are_named_in_the_error(estimator):
    X, y = _frame_with_categories()
    X = X.assign(colour=np.asarray(X["colour"], dtype=object), shade=X["colour"].astype("string"))
    with pytest.raises(ValueError, match=r"'colour' \((object|str)\), 'shade' \(string\).*astype\('category'\)"):
        estimator(n_estimators=2).fit(X, y)


def test_object_columns_of_numbers_still_work():
    X, y = _data(3)
    frame = pd.DataFrame(X).astype(object)
    model = FocalXGBClassifier(n_estimators=2, n_jobs=1).fit(frame, y)
    assert model.categorical_features_ == []
    np.testing.assert_allclose(model.predict_proba(frame), model.predict_proba(X))


# ------------------------------------------------------------------ 7. random forest mode
def test_lightgbm_random_forest_mode_says_what_to_do():
    X, y = _data(3)
    for params in ({"boosting": "rf"}, {"boosting_type": "random_forest", "bagging_fraction": 0.8,
                                         "bagging_freq": 1}):
        with pytest.raises(ValueError, match="random forest mode.*boosting='gbdt'"):
            FocalLGBMClassifier(n_estimators=2, booster_params=params).fit(X, y)
        with pytest.raises(ValueError, match="random forest mode"):
            lightgbm_train_with_init_score(FocalLoss(), params, lgb.Dataset(X, y), 2)


# ------------------------------------------------------------------ 9. LightGBM's log
def test_lightgbm_helper_is_quiet_unless_asked(capfd):
    X, y = _data(3, n_samples=60)  # tiny: many nodes have no split with positive gain
    # Asked first: LightGBM's log level is global, so this order also shows that the default
    # call below turns it off again.
    lightgbm_train_with_init_score(FocalLoss(), {"num_leaves": 31, "verbosity": 1}, lgb.Dataset(X, y), 20)
    captured = capfd.readouterr()
    assert "No further splits with positive gain" in captured.out + captured.err
    lightgbm_train_with_init_score(FocalLoss(), {"num_leaves": 31}, lgb.Dataset(X, y), 20)
    captured = capfd.readouterr()
    assert "[LightGBM]" not in captured.out + captured.err

"""``boostfocal.compare.compare``: repeated stratified cross-validation, the same folds for every
contender, the corrected resampled t interval and verdicts, and the checks that run before training."""

import json
import math

import numpy as np
import pytest

from boostfocal import FocalLoss
from boostfocal.compare import (
    Contender,
    DataError,
    PROBABILITIES,
    compare,
    corrected_interval,
    format_report,
    save_json,
    verdict,
)
from boostfocal.compare import fit as fitting
from boostfocal.calibration import reliability_curve
from boostfocal.compare import METRICS, build_figure
from boostfocal.compare.evaluate import CALIBRATION_BINS, NO_DIFFERENCE, pooled_reliability, student_t_quantile

from boostfocal.compare.folds import repeated_stratified_folds

SMALL = dict(cv=3, repeats=2, rounds=15, early_stopping=5, n_threads=1)


def overlapping_classes(n=600, minority_share=0.1, shift=1.0, seed=0):
    """Two overlapping Gaussian classes: unweighted models mostly predict the majority in the overlap,
    so re-weighting the minority raises its recall."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < minority_share).astype(np.int64)
    X = np.column_stack([rng.normal(size=n) + shift * y, rng.normal(size=n)])
    return X, y


def three_classes(n=450, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    X = rng.normal(size=(n, 3)) + np.eye(3)[y] * 1.5
    return X, y


# ----------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("df", [1, 2, 3, 4, 9, 10, 29, 99])
def test_student_t_quantile_matches_scipy(df):
    stats = pytest.importorskip("scipy.stats")
    assert student_t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-10)


def test_corrected_interval_is_the_nadeau_bengio_formula():
    stats = pytest.importorskip("scipy.stats")
    d = np.array([0.02, -0.01, 0.03, 0.00, 0.05, 0.01, -0.02, 0.04, 0.02, 0.01])
    n_test, n_train = 100.0, 400.0
    got = corrected_interval(d, n_test, n_train)
    half = stats.t.ppf(0.975, 9) * math.sqrt((1 / 10 + n_test / n_train) * d.var(ddof=1))
    assert got["mean"] == pytest.approx(d.mean())
    assert (got["low"], got["high"]) == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-10)
    # Wider than the naive interval that ignores the overlap of the training sets.
    naive = stats.t.ppf(0.975, 9) * d.std(ddof=1) / math.sqrt(10)
    assert got["high"] - got["low"] > 2 * naive


def test_zero_variance_gives_a_zero_width_interval():
    same = corrected_interval(np.zeros(10), 100, 400)
    assert (same["low"], same["mean"], same["high"]) == (0.0, 0.0, 0.0)
    assert verdict(same["low"], same["high"], True) == NO_DIFFERENCE
    # The same nonzero difference on every fold: the interval [c, c] does exclude 0.
    constant = corrected_interval(np.full(6, 0.25), 100, 400)
    assert constant["low"] == constant["high"] == 0.25
    assert verdict(constant["low"], constant["high"], True) == "better"
    assert math.isnan(corrected_interval([0.1], 100, 400)["low"])  # one fold: no interval
    assert verdict(math.nan, math.nan, True) == NO_DIFFERENCE


@pytest.mark.parametrize("low, high, higher_is_better, expected", [
    (0.01, 0.05, True, "better"),
    (-0.05, -0.01, True, "worse"),
    (-0.05, -0.01, False, "better"),  # log loss: lower is better
    (0.01, 0.05, False, "worse"),
    (-0.01, 0.05, True, NO_DIFFERENCE),
    (-0.01, 0.05, False, NO_DIFFERENCE),
    (0.0, 0.05, True, NO_DIFFERENCE),  # touching 0 is not excluding it
])
def test_verdict_is_direction_aware_and_never_claims_more_than_the_interval(low, high, higher_is_better, expected):
    assert verdict(low, high, higher_is_better) == expected


# ------------------------------------------------------------------------------------ the folds
def test_repeated_folds_are_stratified_and_partition_the_rows():
    y = np.repeat(np.arange(3), [50, 17, 5])
    assignment = repeated_stratified_folds(y, 5, 3, seed=7)
    assert assignment.shape == (3, y.size)
    for repeat in assignment:
        for k, n_k in enumerate([50, 17, 5]):
            per_fold = np.bincount(repeat[y == k], minlength=5)
            assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == n_k
    assert not np.array_equal(assignment[0], assignment[1])  # a fresh shuffle per repeat
    assert np.array_equal(assignment, repeated_stratified_folds(y, 5, 3, seed=7))


def test_every_contender_and_booster_gets_the_same_folds(monkeypatch):
    X, y = three_classes()
    seen = {}
    original = fitting.fit_contender

    def spy(booster, contender, X_, y_, rows, n_classes, settings):
        key = (rows.repeat, rows.fold)
        seen.setdefault(key, {})[(booster, contender.name)] = (rows.fit.tolist(), rows.valid.tolist(), rows.test.tolist())
        return original(booster, contender, X_, y_, rows, n_classes, settings)

    monkeypatch.setattr(fitting, "fit_contender", spy)
    result = compare(X, y, loss=[FocalLoss(1.0), FocalLoss(2.0, alpha="balanced")], **SMALL)
    assert len(seen) == SMALL["cv"] * SMALL["repeats"]
    n_contenders = 4  # softmax, softmax alpha=balanced, two focal settings
    for key, by_contender in seen.items():
        assert len(by_contender) == 2 * n_contenders
        rows = list(by_contender.values())
        assert all(r == rows[0] for r in rows), key
        fit, valid, test = (set(part) for part in rows[0])
        assert not (fit & valid or fit & test or valid & test) and len(fit | valid | test) == y.size
    for repeat in range(SMALL["repeats"]):
        tests = [set(seen[(repeat, f)][("xgboost", "softmax")][2]) for f in range(SMALL["cv"])]
        assert set().union(*tests) == set(range(y.size))
        fold_of_row = np.asarray(result["folds"]["fold_of_row"][repeat])
        for f, test in enumerate(tests):
            assert test == set(np.flatnonzero(fold_of_row == f).tolist())


# ------------------------------------------------------------------------------------- verdicts
@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_the_baseline_against_itself_shows_no_difference(booster, monkeypatch):
    X, y = three_classes()
    trained = []
    original = fitting.fit_contender
    monkeypatch.setattr(fitting, "fit_contender",
                        lambda b, contender, *args: trained.append(contender.name) or original(b, contender, *args))
    result = compare(X, y, contenders=[Contender("softmax"), Contender("softmax again")], boosters=(booster,), **SMALL)
    records = result["summary"]
    assert {r["metric"] for r in records} == {"macro_f1", "balanced_accuracy", "minority_recall", "log_loss",
                                              "brier", "ece"}
    for record in records:
        assert record["verdict"] == NO_DIFFERENCE
        assert record["ci_low"] <= 0.0 <= record["ci_high"]
        # Deterministic single-threaded training: identical models, so exactly zero everywhere.
        assert record["difference"] == record["ci_low"] == record["ci_high"] == 0.0
    assert trained.count("softmax again") == SMALL["cv"] * SMALL["repeats"]  # trained again, not shared
    assert result["verdicts"][0]["verdict"] == f"{NO_DIFFERENCE} on any metric"
    assert "no detectable difference on any metric" in format_report(result)


def test_balanced_reweighting_is_better_on_minority_recall():
    X, y = overlapping_classes()
    result = compare(X, y, loss=FocalLoss(gamma=1.0, alpha="balanced"), boosters=("lightgbm",), **SMALL)
    by = {(r["contender"], r["metric"]): r for r in result["summary"]}
    for name in ("softmax alpha=balanced", "focal gamma=1 alpha=balanced"):
        record = by[(name, "minority_recall")]
        assert record["verdict"] == "better", record
        assert record["ci_low"] > 0 and record["contender_mean"] > record["baseline_mean"] + 0.2


def test_focal_loss_worse_log_loss_reads_as_worse_not_better():
    """Log loss is the one metric where lower is better: a contender whose probabilities are uniform
    has a clearly higher log loss and must be called worse on it."""
    X, y = three_classes()
    PROBABILITIES_BEFORE = dict(PROBABILITIES)
    try:
        PROBABILITIES["uniform"] = lambda loss, raw: np.full_like(raw, 1.0 / raw.shape[1])
        result = compare(X, y, contenders=[Contender("softmax"), Contender("uniform", probability="uniform")],
                         boosters=("lightgbm",), **SMALL)
    finally:
        PROBABILITIES.clear()
        PROBABILITIES.update(PROBABILITIES_BEFORE)
    fits = [f for f in result["fits"] if f["contender"] == "uniform"]
    assert all(f["log_loss"] == pytest.approx(math.log(3)) for f in fits)  # the kind was used
    log_loss = next(r for r in result["summary"] if r["metric"] == "log_loss")
    assert log_loss["difference"] > 0 and log_loss["verdict"] == "worse"


def test_unknown_probability_kind_is_refused():
    with pytest.raises(ValueError, match="unknown probability kind"):
        Contender("x", probability="nope")


# ---------------------------------------------------------------------------------- plain data
def test_result_is_plain_data_with_every_fold(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = three_classes()
    lines = []
    result = compare(X, y, loss=[FocalLoss(0.5), FocalLoss(2.0)], boosters=("lightgbm",), progress=lines.append, **SMALL)
    folds = SMALL["cv"] * SMALL["repeats"]
    fits = pd.DataFrame(result["fits"])
    assert len(fits) == 5 * folds and set(fits["contender"]) == {
        "softmax", "focal gamma=0.5", "focal gamma=0.5 (posterior)", "focal gamma=2", "focal gamma=2 (posterior)"}
    assert (fits["rounds"] >= 1).all() and (fits["rounds"] <= SMALL["rounds"]).all()
    summary = pd.DataFrame(result["summary"])
    assert len(summary) == 4 * 6
    # The summary is reproducible from the fold records.
    focal = fits[fits.contender == "focal gamma=2"].sort_values(["repeat", "fold"])["macro_f1"].to_numpy()
    base = fits[fits.contender == "softmax"].sort_values(["repeat", "fold"])["macro_f1"].to_numpy()
    row = summary[(summary.contender == "focal gamma=2") & (summary.metric == "macro_f1")].iloc[0]
    assert row["difference"] == pytest.approx(np.mean(focal - base))
    # Three models per fold: each focal model is scored twice (softmax and posterior), trained once.
    assert len(lines) == 1 + 3 * folds and lines[0].startswith(f"{3 * folds} fits: 1 booster(s) x 3 models")
    assert lines[-1].startswith(f"fit {3 * folds}/{3 * folds}") and "ETA 0 s" in lines[-1]
    assert result["environment"]["boostfocal"] and result["config"]["device"] == {"lightgbm": "cpu"}
    saved = json.loads(save_json(result, tmp_path / "r.json").read_text())
    assert len(saved["fits"]) == len(result["fits"]) and saved["method"].startswith("3-fold stratified")


# ------------------------------------------------------------------------ the probability kinds
def test_focal_settings_are_scored_with_both_probability_kinds_from_one_model(tmp_path):
    X, y = three_classes()
    result = compare(X, y, loss=FocalLoss(2.0, alpha="balanced"), boosters=("xgboost",), **SMALL)
    names = [c["name"] for c in result["config"]["contenders"]]
    assert names == ["softmax", "softmax alpha=balanced", "focal gamma=2 alpha=balanced",
                     "focal gamma=2 alpha=balanced (posterior)"]
    posterior = result["config"]["contenders"][-1]
    assert posterior["probability"] == "posterior" and posterior["model"] == "focal gamma=2 alpha=balanced"
    fits = {(f["contender"], f["repeat"], f["fold"]): f for f in result["fits"]}
    for (name, repeat, fold), record in fits.items():
        if name.endswith("(posterior)"):
            shared = fits[(name[: -len(" (posterior)")], repeat, fold)]
            assert record["probability"] == "posterior" and record["model"] == shared["contender"]
            assert record["rounds"] == shared["rounds"]  # one model, scored twice
            for key in ("log_loss", "brier", "ece", "macro_f1"):
                assert key in record
    records = [r for r in result["summary"] if r["contender"].endswith("(posterior)")]
    assert {r["metric"] for r in records} == {key for key, _, _ in METRICS}
    assert any(v["contender"] == "focal gamma=2 alpha=balanced (posterior)" for v in result["verdicts"])
    report = format_report(result)
    assert "focal gamma=2 alpha=balanced (posterior)" in report and "Brier" in report and "ECE" in report
    saved = json.loads(save_json(result, tmp_path / "r.json").read_text())
    assert {f["probability"] for f in saved["fits"]} == {"softmax", "posterior"}
    assert {(c["contender"], c["probability"]) for c in saved["reliability"]} == {
        (name, "posterior" if name.endswith("(posterior)") else "softmax") for name in names}
    for curve in saved["reliability"]:  # pooled over every test fold: each row once per repeat
        assert sum(curve["count"]) == SMALL["repeats"] * y.size


def test_posterior_scores_are_those_of_posterior_proba_on_the_fold(monkeypatch):
    """The posterior row's log loss, Brier score and macro-F1 on each fold equal those computed here
    from FocalLoss.posterior_proba of that fold's test margins (and differ from the softmax row's)."""
    X, y = three_classes()
    margins = {}
    original = fitting.fit_contender

    def spy(booster, contender, X_, y_, rows, n_classes, settings):
        outcome = original(booster, contender, X_, y_, rows, n_classes, settings)
        margins[(contender.name, rows.repeat, rows.fold)] = (rows, outcome.raw.copy())
        return outcome

    monkeypatch.setattr(fitting, "fit_contender", spy)
    gamma, alpha = 2.0, [1.0, 2.0, 6.0]
    result = compare(X, y, loss=FocalLoss(gamma, alpha=alpha), boosters=("lightgbm",), **SMALL)
    name = "focal gamma=2 alpha=[1,2,6]"
    fits = {(f["contender"], f["repeat"], f["fold"]): f for f in result["fits"]}
    moved = 0
    for (model, repeat, fold), (rows, raw) in margins.items():
        if model != name:
            continue
        truth = y[rows.test]
        posterior = FocalLoss(gamma, alpha=alpha).posterior_proba(raw)
        record = fits[(name + " (posterior)", repeat, fold)]
        log_loss = -np.mean(np.log(posterior[np.arange(truth.size), truth]))
        brier = np.mean(np.sum((posterior - np.eye(3)[truth]) ** 2, axis=1))
        predicted = posterior.argmax(axis=1)
        f1 = []
        for k in range(3):
            tp = np.sum((predicted == k) & (truth == k))
            f1.append(2 * tp / (np.sum(predicted == k) + np.sum(truth == k)))
        assert record["log_loss"] == pytest.approx(log_loss, rel=1e-12)
        assert record["brier"] == pytest.approx(brier, rel=1e-12)
        assert record["macro_f1"] == pytest.approx(np.mean(f1), rel=1e-12)
        assert record["log_loss"] != pytest.approx(fits[(name, repeat, fold)]["log_loss"], rel=1e-3)
        moved += np.any(predicted != raw.argmax(axis=1))
    assert moved > 0  # with alpha the correction moves the argmax on some fold


def test_pooled_reliability_is_the_curve_of_the_pooled_rows():
    rng = np.random.default_rng(3)
    parts, labels, probabilities = [], [], []
    for n in (50, 80, 7):
        proba = rng.dirichlet(np.ones(4) * 0.7, size=n)
        truth = rng.integers(0, 4, size=n)
        parts.append(reliability_curve(truth, proba, n_bins=CALIBRATION_BINS))
        labels.append(truth)
        probabilities.append(proba)
    pooled = pooled_reliability(parts)
    whole = reliability_curve(np.concatenate(labels), np.concatenate(probabilities), n_bins=CALIBRATION_BINS)
    assert pooled["count"] == whole["count"].tolist()
    np.testing.assert_allclose(pooled["confidence"], whole["confidence"], rtol=1e-12)
    np.testing.assert_allclose(pooled["accuracy"], whole["accuracy"], rtol=1e-12)


def test_figure_has_a_reliability_panel_per_booster():
    pytest.importorskip("matplotlib")
    X, y = three_classes()
    result = compare(X, y, loss=FocalLoss(2.0), **SMALL)
    figure = build_figure(result)
    titles = [ax.get_title() for ax in figure.axes]
    reliability = [ax for ax in figure.axes if "reliability" in ax.get_title()]
    assert [ax.get_title().split(":")[0] for ax in reliability] == ["XGBoost", "LightGBM"], titles
    for ax in reliability:
        drawn = {line.get_label() for line in ax.get_lines()}
        assert {"softmax", "focal gamma=2", "focal gamma=2 (posterior)"} <= drawn


# ------------------------------------------------------------------------------ XGBoost training
def _one_fold(X, y, seed=0):
    from boostfocal.compare.folds import fold_rows

    assignment = repeated_stratified_folds(y, 3, 1, seed)
    return fold_rows(y, assignment, 0, 0, 0.2, seed)


XGB_SETTINGS = dict(rounds=30, early_stopping=5, learning_rate=0.1, seed=0, device="cpu", n_threads=1)


@pytest.mark.parametrize("alpha", [None, "balanced"])
def test_xgboost_focal_fit_on_cpu_matches_plain_xgboost_train(alpha):
    """The focal contender now trains through loss.xgboost_train; on the CPU its margins must be
    exactly those of the former path: xgboost.train with the initial score as a length-K base_score."""
    xgb = pytest.importorskip("xgboost")
    X, y = three_classes()
    rows = _one_fold(X, y)
    loss = FocalLoss(2.0, alpha=alpha)
    outcome = fitting.fit_contender("xgboost", Contender("focal", loss=loss), X, y, rows, 3, XGB_SETTINGS)
    resolved = loss.resolve_alpha(y[rows.fit], n_classes=3)
    params = {"tree_method": "hist", "max_depth": 6, "learning_rate": 0.1, "num_class": 3, "seed": 0,
              "nthread": 1, "device": "cpu", "verbosity": 0, "disable_default_eval_metric": 1,
              "base_score": resolved.init_raw_prediction(y[rows.fit], n_classes=3).tolist()}
    dfit = xgb.DMatrix(X[rows.fit], label=y[rows.fit], nthread=1)
    dvalid = xgb.DMatrix(X[rows.valid], label=y[rows.valid], nthread=1)
    booster = xgb.train(params, dfit, 30, obj=resolved.xgboost_objective, custom_metric=resolved.xgboost_metric,
                        evals=[(dvalid, "valid")], early_stopping_rounds=5, verbose_eval=False)
    kept = booster.best_iteration + 1
    raw = booster.predict(xgb.DMatrix(X[rows.test], nthread=1), output_margin=True, iteration_range=(0, kept))
    assert outcome.rounds == kept
    np.testing.assert_array_equal(outcome.raw, raw.astype(np.float64))


def test_xgboost_focal_fit_on_cuda_uses_the_device_loop(monkeypatch):
    """--device cuda: the focal contender trains through loss.xgboost_train with the feature matrices
    of the fitting and validation DMatrix (what the device-resident loop needs). Without a GPU the
    spy trains on the CPU instead."""
    pytest.importorskip("xgboost")
    X, y = three_classes()
    rows = _one_fold(X, y)
    calls = []
    original = FocalLoss.xgboost_train

    def spy(self, params, dtrain, rounds, *, features=None, evals=(), **kwargs):
        calls.append((dict(params), dtrain, features, list(evals)))
        return original(self, {**params, "device": "cpu"}, dtrain, rounds, features=features, evals=evals, **kwargs)

    monkeypatch.setattr(FocalLoss, "xgboost_train", spy)
    settings = {**XGB_SETTINGS, "device": "cuda"}
    outcome = fitting.fit_contender("xgboost", Contender("focal", loss=FocalLoss(2.0)), X, y, rows, 3, settings)
    assert len(calls) == 1 and outcome.rounds >= 1
    params, dtrain, features, evals = calls[0]
    assert params["device"] == "cuda" and "base_score" not in params  # xgboost_train bakes the initial score
    (dvalid, _), = evals
    assert set(features) == {dtrain, dvalid}
    np.testing.assert_array_equal(features[dtrain], X[rows.fit])
    np.testing.assert_array_equal(features[dvalid], X[rows.valid])


# ------------------------------------------------------------------------- checks before training
@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained although the sizes could be checked up front")

    monkeypatch.setattr(fitting, "fit_contender", refuse)
    monkeypatch.setattr(fitting, "warm_up", refuse)


def test_more_folds_than_the_rarest_class_has_rows_is_refused_before_training(no_training):
    X, y = three_classes()
    y = y.copy()
    y[np.flatnonzero(y == 2)[3:]] = 0  # class 2 keeps 3 rows
    with pytest.raises(DataError, match=r"class '2' has 3 row\(s\), fewer than the 5 folds"):
        compare(X, y, cv=5, repeats=1)


def test_inner_split_too_small_is_refused_before_training(no_training):
    X, y = three_classes()
    y = y.copy()
    y[np.flatnonzero(y == 2)[2:]] = 0  # class 2 keeps 2 rows: a training fold of 2 folds keeps 1
    with pytest.raises(DataError, match="too few to split off the inner validation rows"):
        compare(X, y, cv=2, repeats=1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(cv=1), "--cv must be at least 2"),
    (dict(y=np.array(["a", "b"] * 225)), "integer class codes"),
    (dict(y=np.full(450, 0.5)), "integer class codes"),
    (dict(validation_size=1.0), "validation share"),
    (dict(repeats=0), "repeats must be a positive integer"),
])
def test_bad_settings_are_refused(no_training, kwargs, message):
    X, y = three_classes()
    y = kwargs.pop("y", y)
    with pytest.raises(ValueError, match=message):
        compare(X, y, **kwargs)


def test_integer_labels_stored_as_floats_are_accepted(monkeypatch):
    X, y = three_classes()
    result = compare(X, y.astype(np.float64), boosters=("lightgbm",), **SMALL)
    assert result["data"]["class_counts"] == np.bincount(y).tolist()

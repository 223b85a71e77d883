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
from boostfocal.compare.evaluate import NO_DIFFERENCE, student_t_quantile
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
def test_the_baseline_against_itself_shows_no_difference(booster):
    X, y = three_classes()
    result = compare(X, y, contenders=[Contender("softmax"), Contender("softmax again")], boosters=(booster,), **SMALL)
    records = result["summary"]
    assert {r["metric"] for r in records} == {"macro_f1", "balanced_accuracy", "minority_recall", "log_loss"}
    for record in records:
        assert record["verdict"] == NO_DIFFERENCE
        assert record["ci_low"] <= 0.0 <= record["ci_high"]
        # Deterministic single-threaded training: identical models, so exactly zero everywhere.
        assert record["difference"] == record["ci_low"] == record["ci_high"] == 0.0
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
    assert len(fits) == 3 * folds and set(fits["contender"]) == {"softmax", "focal gamma=0.5", "focal gamma=2"}
    assert (fits["rounds"] >= 1).all() and (fits["rounds"] <= SMALL["rounds"]).all()
    summary = pd.DataFrame(result["summary"])
    assert len(summary) == 2 * 4
    # The summary is reproducible from the fold records.
    focal = fits[fits.contender == "focal gamma=2"].sort_values(["repeat", "fold"])["macro_f1"].to_numpy()
    base = fits[fits.contender == "softmax"].sort_values(["repeat", "fold"])["macro_f1"].to_numpy()
    row = summary[(summary.contender == "focal gamma=2") & (summary.metric == "macro_f1")].iloc[0]
    assert row["difference"] == pytest.approx(np.mean(focal - base))
    assert len(lines) == 1 + 3 * folds and lines[0].startswith(f"{3 * folds} fits: 1 booster(s) x 3 contenders")
    assert lines[-1].startswith(f"fit {3 * folds}/{3 * folds}") and "ETA 0 s" in lines[-1]
    assert result["environment"]["boostfocal"] and result["config"]["device"] == {"lightgbm": "cpu"}
    saved = json.loads(save_json(result, tmp_path / "r.json").read_text())
    assert len(saved["fits"]) == len(result["fits"]) and saved["method"].startswith("3-fold stratified")


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

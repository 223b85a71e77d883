"""The ``boostfocal compare`` command: a short run on the embedded data, its outputs, the metrics
against scikit-learn, and the one-line errors for bad user files (exit code 2)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from boostfocal import cli
from boostfocal.compare import classification_metrics, read_table, stratified_split
from boostfocal.datasets import load_page_blocks

from conftest import REPO_ROOT

ROUNDS = 6


def run_main(capsys, *args):
    code = cli.main(["compare", "--quiet", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    """One short run of ``boostfocal compare`` on the embedded data, both boosters."""
    out = tmp_path_factory.mktemp("compare")
    code = cli.main(["compare", "--quiet", "--rounds", str(ROUNDS), "--out", str(out)])
    return code, out


# ------------------------------------------------------------------------ the default command
def test_embedded_run_writes_table_json_and_png(embedded_run, capsys):
    code, out = embedded_run
    assert code == 0
    report = (out / "compare.txt").read_text()
    for expected in ("XGBoost", "LightGBM", "macro-F1", "balanced accuracy", "log loss",
                     "recall graphic (n=7)", "training time (s)", "focal-softmax"):
        assert expected in report
    result = json.loads((out / "compare.json").read_text())
    data = result["data"]
    assert data["n_train"] + data["n_test"] == 5473
    assert data["class_names"] == ["text", "horizontal line", "graphic", "vertical line", "picture"]
    assert sum(data["test_counts"]) == data["n_test"] and min(data["test_counts"]) >= 1
    assert set(result["results"]) == {"xgboost", "lightgbm"}
    for entry in result["results"].values():
        assert list(entry["contenders"]) == ["softmax", "focal"]
        for scores in entry["contenders"].values():
            assert 0.3 < scores["macro_f1"] <= 1 and 0.3 < scores["balanced_accuracy"] <= 1
            assert 0 < scores["log_loss"] < np.log(5)  # better than the uniform guess
            assert len(scores["recall"]) == 5 and scores["train_time_s"] > 0
            assert scores["balanced_accuracy"] == pytest.approx(np.mean(scores["recall"]))
            assert np.sum(scores["confusion"]) == data["n_test"]
            assert scores["curve"]["rounds"][-1] == ROUNDS
            assert scores["curve"]["log_loss"][-1] == pytest.approx(scores["log_loss"])
        # The table prints what the JSON holds.
        focal = entry["contenders"]["focal"]
        assert f"{focal['macro_f1']:.4f}" in report
    png = (out / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_embedded_data_matches_its_readme():
    dataset = load_page_blocks()
    assert dataset.X.shape == (5473, 10) and dataset.X.dtype == np.float64
    assert np.bincount(dataset.y).tolist() == [4913, 329, 28, 88, 115]
    assert dataset.feature_names[0] == "height" and len(dataset.class_names) == 5


def test_no_subcommand_prints_help(capsys):
    assert cli.main([]) == 0
    assert "compare" in capsys.readouterr().out


def test_python_dash_m_runs_and_imports_no_matplotlib_without_a_plot(tmp_path):
    """``python -m boostfocal`` works, and matplotlib is imported only to save the figure.

    LightGBM < 4.7 imports matplotlib itself when it is installed, so only the matplotlib modules that
    appear after ``import lightgbm`` are boostfocal's."""
    code = (
        "import sys, runpy\n"
        "import lightgbm\n"
        "def matplotlib_modules():\n"
        "    return {name for name in sys.modules if name.split('.')[0] == 'matplotlib'}\n"
        "before = matplotlib_modules()\n"
        f"sys.argv = ['boostfocal', 'compare', '--quiet', '--no-plot', '--booster', 'lightgbm', "
        f"'--rounds', '2', '--out', {str(tmp_path)!r}]\n"
        "try:\n    runpy.run_module('boostfocal', run_name='__main__')\n"
        "except SystemExit as stop:\n    assert stop.code == 0, stop.code\n"
        "print('matplotlib modules loaded by boostfocal:', sorted(matplotlib_modules() - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "matplotlib modules loaded by boostfocal: []" in done.stdout, done.stdout
    assert (tmp_path / "compare.json").is_file() and not (tmp_path / "compare.png").exists()


# -------------------------------------------------------------------------- user data files
def test_string_labels_alpha_balanced_and_numeric_text(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    n = 300
    labels = rng.choice(np.array(["cat", "dog", "emu"]), size=n, p=[0.7, 0.2, 0.1])
    frame = pd.DataFrame({
        "id": np.arange(n).astype(str),  # text: left out with --drop
        "x0": rng.normal(size=n) + (labels == "dog"),
        "x1": [f"{v:.3f}" for v in rng.normal(size=n) + 2 * (labels == "emu")],  # numbers as text
        "flag": rng.random(n) > 0.5,
        "animal": labels,
    })
    path = tmp_path / "animals.csv"
    frame.to_csv(path, index=False)
    code, out, err = run_main(capsys, "--data", str(path), "--label", "animal", "--drop", "id",
                              "--alpha", "balanced", "--booster", "lightgbm", "--rounds", "4",
                              "--no-plot", "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "[LightGBM]" not in out + err  # no booster chatter (LightGBM < 4.5 printed some)
    result = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert result["data"]["class_names"] == ["cat", "dog", "emu"]
    assert result["data"]["n_features"] == 3
    # With an alpha, softmax with the same class weights is trained too.
    assert list(result["results"]["lightgbm"]["contenders"]) == ["softmax", "softmax+w", "focal"]
    alpha = result["config"]["alpha_resolved"]
    assert alpha[0] < alpha[1] < alpha[2]  # rarer class, larger weight
    assert "recall emu" in out


def test_read_table_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "label": [3, 3, 7, 7]})
    frame.to_parquet(tmp_path / "t.parquet")
    data = read_table(tmp_path / "t.parquet")
    assert data.y.tolist() == [0, 0, 1, 1] and data.class_names == ("3", "7")
    assert np.isnan(data.X[2, 0]) and data.X.shape == (4, 1)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_FILES = {
    "missing label column": ("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", [], "no label column 'label'"),
    "one class only": ("a,label\n1,x\n2,x\n3,x\n", [], "only one class ('x')"),
    "non-numeric feature": ("a,color,label\n1,red,0\n2,blue,1\n3,red,0\n4,blue,1\n", [], "'color' are not numeric"),
    "missing labels": ("a,label\n1,0\n2,\n3,1\n4,1\n", [], "1 missing value(s)"),
    "single-row class": ("a,label\n1,0\n2,0\n3,1\n4,1\n5,2\n", [], "single row"),
    "alpha of wrong length": ("a,label\n1,0\n2,0\n3,1\n4,1\n", ["--alpha", "1,2,3"], "--alpha has 3 values"),
    "alpha all zero": ("a,label\n1,0\n2,0\n3,1\n4,1\n", ["--alpha", "0,0"], "alpha must not be all zero"),
    "unknown --drop column": ("a,label\n1,0\n2,0\n3,1\n4,1\n", ["--drop", "zz"], "'zz'"),
    "no feature columns": ("label\n0\n1\n0\n1\n", [], "no feature columns"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=lambda case: case.replace(" ", "-"))
def test_bad_user_file_gives_one_line_and_exit_2(tmp_path, capsys, case):
    text, extra, message = BAD_FILES[case]
    path = _write(tmp_path, "data.csv", text)
    code, out, err = run_main(capsys, "--data", str(path), *extra, "--out", str(tmp_path / "o"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("boostfocal compare: error: ") and message in lines[0]
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("name, content", [("missing.csv", None), ("garbage.parquet", b"\x00\x01 not parquet"),
                                           ("binary.csv", b"\x00\xff\xfe\x00" * 64)],
                         ids=["no-such-file", "bad-parquet", "binary-csv"])
def test_unreadable_file_gives_one_line_and_exit_2(tmp_path, capsys, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_main(capsys, "--data", str(path), "--out", str(tmp_path / "o"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("boostfocal compare: error: "), err
    assert str(path) in lines[0] or "cannot read" in lines[0] or "no label column" in lines[0]


def test_error_in_a_real_process_has_no_traceback(tmp_path):
    path = _write(tmp_path, "d.csv", "a,b\n1,2\n3,4\n")
    done = subprocess.run([sys.executable, "-m", "boostfocal", "compare", "--data", str(path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"boostfocal compare: error: d.csv: no label column 'label'; the columns are 'a', 'b' "
        "(name the label column with --label)"
    ]


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--gamma", "-1"], ["--test-size", "1.5"],
                                  ["--alpha", "1,x"], ["--booster", "catboost"]])
def test_bad_arguments_exit_2(capsys, args):
    with pytest.raises(SystemExit) as stop:
        cli.main(["compare", *args])
    assert stop.value.code == 2
    assert "error" in capsys.readouterr().err


# ---------------------------------------------------------------------- metrics and the split
def test_metrics_agree_with_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    n, k = 500, 4
    y = rng.integers(0, k, n)
    raw = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    raw[:, 3] -= 10  # class 3 is never predicted: precision 0, F1 0
    ours = classification_metrics(y, raw, k)
    predicted = raw.argmax(axis=1)
    proba = np.exp(raw - raw.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    assert ours["macro_f1"] == pytest.approx(metrics.f1_score(y, predicted, average="macro", zero_division=0))
    assert ours["balanced_accuracy"] == pytest.approx(metrics.balanced_accuracy_score(y, predicted))
    assert ours["recall"] == pytest.approx(metrics.recall_score(y, predicted, average=None).tolist())
    assert ours["log_loss"] == pytest.approx(metrics.log_loss(y, proba, labels=range(k)), rel=1e-9)
    assert ours["confusion"] == metrics.confusion_matrix(y, predicted, labels=range(k)).tolist()


def test_stratified_split_keeps_every_class_in_both_parts():
    y = np.repeat(np.arange(4), [500, 40, 5, 2])
    train, test = stratified_split(y, 0.25, seed=3)
    assert np.intersect1d(train, test).size == 0 and train.size + test.size == y.size
    assert np.bincount(y[test]).tolist() == [125, 10, 1, 1]
    again, _ = stratified_split(y, 0.25, seed=3)
    other, _ = stratified_split(y, 0.25, seed=4)
    assert np.array_equal(train, again) and not np.array_equal(train, other)

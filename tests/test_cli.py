"""The ``boostfocal compare`` command: a short run on the embedded data, its outputs, the metrics
against scikit-learn, and the one-line errors for bad user files (exit code 2)."""

import json
import subprocess
import sys

import numpy as np
import pytest

import boostfocal
from boostfocal import cli
from boostfocal.compare import classification_metrics, read_table, stratified_split
from boostfocal.datasets import load_page_blocks

from conftest import REPO_ROOT

# A short run: 2 folds, 1 repeat, few rounds (the default run is 5 x 2 folds and up to 100 rounds).
SHORT = ["--cv", "2", "--repeats", "1", "--rounds", "20", "--early-stopping", "3", "--learning-rate", "0.2"]


def run_main(capsys, *args):
    code = cli.main(["compare", "--quiet", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    """One short run of ``boostfocal compare`` on the embedded data, both boosters."""
    out = tmp_path_factory.mktemp("compare")
    code = cli.main(["compare", "--quiet", *SHORT, "--out", str(out)])
    return code, out


# ------------------------------------------------------------------------ the default command
def test_embedded_run_writes_table_json_and_png(embedded_run, capsys):
    code, out = embedded_run
    assert code == 0
    report = (out / "compare.txt").read_text()
    for expected in ("XGBoost", "LightGBM", "macro-F1", "balanced accuracy", "log loss", "Brier", "ECE",
                     "recall graphic", "time (s)", "focal gamma=2 (posterior)", "difference to softmax", "verdict:",
                     "corrected resampled t-test", "2-fold stratified cross-validation repeated 1 times"):
        assert expected in report
    result = json.loads((out / "compare.json").read_text())
    data = result["data"]
    assert data["n_rows"] == 5473 and data["class_counts"] == [4913, 329, 28, 88, 115]
    assert data["class_names"] == ["text", "horizontal line", "graphic", "vertical line", "picture"]
    assert data["minority_class"] == "graphic"
    assert result["config"]["boosters"] == ["xgboost", "lightgbm"]
    names = [c["name"] for c in result["config"]["contenders"]]
    assert names == ["softmax", "focal gamma=2", "focal gamma=2 (posterior)"]
    assert len(result["fits"]) == 2 * 3 * 2  # boosters x contenders x folds
    for fit in result["fits"]:
        assert 0.3 < fit["macro_f1"] <= 1 and 0.3 < fit["balanced_accuracy"] <= 1
        assert 0 < fit["log_loss"] < np.log(5)  # better than the uniform guess
        assert len(fit["recall"]) == 5 and fit["train_time_s"] > 0 and 1 <= fit["rounds"] <= 20
        assert fit["balanced_accuracy"] == pytest.approx(np.nanmean(fit["recall"]))
        assert fit["minority_recall"] == fit["recall"][2]
        assert fit["n_fit"] + fit["n_valid"] == fit["n_train"] and fit["n_train"] + fit["n_test"] == 5473
    for record in result["summary"]:
        # The table prints what the JSON holds.
        assert f"{record['difference']:+.4f}" in report and record["verdict"] in report
    assert result["environment"]["boostfocal"] == boostfocal.__version__
    assert result["config"]["device"] == {"xgboost": "cpu", "lightgbm": "cpu"}
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
    """``python -m boostfocal`` works, matplotlib is imported only to save the figure, and with stderr
    piped (not a terminal) no progress lines are printed although --quiet is not given.

    LightGBM < 4.7 imports matplotlib itself when it is installed, so only the matplotlib modules that
    appear after ``import lightgbm`` are boostfocal's."""
    code = (
        "import sys, runpy\n"
        "import lightgbm\n"
        "def matplotlib_modules():\n"
        "    return {name for name in sys.modules if name.split('.')[0] == 'matplotlib'}\n"
        "before = matplotlib_modules()\n"
        f"sys.argv = ['boostfocal', 'compare', '--no-plot', '--booster', 'lightgbm', "
        f"'--rounds', '2', '--cv', '2', '--repeats', '1', '--out', {str(tmp_path)!r}]\n"
        "try:\n    runpy.run_module('boostfocal', run_name='__main__')\n"
        "except SystemExit as stop:\n    assert stop.code == 0, stop.code\n"
        "print('matplotlib modules loaded by boostfocal:', sorted(matplotlib_modules() - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
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
                              "--alpha", "balanced", "--booster", "lightgbm", *SHORT,
                              "--no-plot", "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "[LightGBM]" not in out + err  # no booster chatter (LightGBM < 4.5 printed some)
    result = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert result["data"]["class_names"] == ["cat", "dog", "emu"]
    assert result["data"]["n_features"] == 3
    # With an alpha, softmax with the same class weights is trained too.
    names = [c["name"] for c in result["config"]["contenders"]]
    assert names == ["softmax", "softmax alpha=balanced", "focal gamma=2 alpha=balanced",
                     "focal gamma=2 alpha=balanced (posterior)"]
    assert result["data"]["minority_class"] == "emu" and "recall emu" in out


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
    "single-row class": ("a,label\n1,0\n2,0\n3,1\n4,1\n5,2\n", [], "class '2' has 1 row(s), fewer than the 5 folds"),
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


@pytest.mark.parametrize("args, message", [
    (["--rounds", "0"], "--rounds: expected a positive integer, got '0'"),
    (["--gamma", "-1"], "--gamma: expected a finite number >= 0, got '-1'"),
    (["--gamma", "1,,2"], "--gamma: empty item in the list '1,,2'"),
    (["--gamma", "1,x"], "--gamma: expected a number >= 0, got 'x'"),
    (["--gamma", "1,1"], "--gamma: repeated value in the list '1,1'"),
    (["--alpha", "none,,balanced"], "--alpha: empty item"),
    (["--alpha", "1,x"], "--alpha: expected one finite weight >= 0 per class"),
    (["--cv", "1"], "--cv: expected at least 2 folds, got '1'"),
    (["--repeats", "0"], "--repeats: expected a positive integer"),
    (["--validation-size", "0.99"], "--validation-size: expected a share in (0, 0.5], got '0.99'"),
    (["--booster", "catboost"], "--booster: invalid choice: 'catboost'"),
])
def test_bad_arguments_exit_2_with_one_error_line(capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        cli.main(["compare", *args])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.strip().splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("boostfocal compare: error: "), err
    assert message in errors[0]


def test_gamma_and_alpha_lists_make_one_contender_each(tmp_path, capsys):
    code, out, err = run_main(capsys, "--gamma", "0.5,2", "--alpha", "none,balanced", "--booster", "lightgbm",
                              *SHORT, "--no-plot", "--out", str(tmp_path))
    assert code == 0, err
    result = json.loads((tmp_path / "compare.json").read_text())
    names = [c["name"] for c in result["config"]["contenders"]]
    focal = ["focal gamma=0.5", "focal gamma=2", "focal gamma=0.5 alpha=balanced", "focal gamma=2 alpha=balanced"]
    assert names == ["softmax", "softmax alpha=balanced"] + [n for name in focal for n in (name, f"{name} (posterior)")]
    assert len(result["fits"]) == 10 * 2 and len(result["verdicts"]) == 9
    for name in names[1:]:
        assert f"  {name}\n" in out


def test_vector_alpha_with_commas_still_means_one_vector(tmp_path, capsys):
    code, out, err = run_main(capsys, "--alpha", "1,2,3,4,5", "--booster", "lightgbm", *SHORT,
                              "--no-plot", "--out", str(tmp_path))
    assert code == 0, err
    result = json.loads((tmp_path / "compare.json").read_text())
    assert result["config"]["contenders"][-1]["alpha"] == "[1,2,3,4,5]"


def test_more_folds_than_the_rarest_class_is_one_line_before_training(tmp_path, capsys, monkeypatch):
    from boostfocal.compare import fit as fitting

    monkeypatch.setattr(fitting, "fit_contender", lambda *a, **k: pytest.fail("trained before checking sizes"))
    path = _write(tmp_path, "d.csv", "a,label\n" + "".join(f"{i},{'b' if i < 3 else 'a'}\n" for i in range(40)))
    code, out, err = run_main(capsys, "--data", str(path), "--cv", "5", "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "boostfocal compare: error: class 'b' has 3 row(s), fewer than the 5 folds of --cv 5: every test "
        "fold needs a row of every class (use --cv 3 or fewer, or merge rare classes)"
    ]


def test_data_folder_says_it_is_a_folder(tmp_path, capsys):
    code, out, err = run_main(capsys, "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.strip().splitlines() == [
        f"boostfocal compare: error: cannot read {tmp_path}: it is a folder; give the path of a CSV or Parquet file"
    ]


def test_help_is_clean(capsys):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # help lines wrap at the terminal width
    assert "(default: None)" not in text and "(default: [])" not in text and "(default: False)" not in text
    assert text.count("(default: psd, FocalLoss's default)") == 1 and "default: FocalLoss's default) (default" not in text
    for fmt in (".gz", ".bz2", ".xz", ".zip", ".tsv", "Parquet"):
        assert fmt in text
    compare_parser = cli.build_parser()._subparsers._group_actions[0].choices["compare"]
    for action in compare_parser._actions:
        assert action.help, action.option_strings  # every option, --booster and --device too
    assert "(default: 2)" in text and "(default: 5)" in text  # --gamma's list default shown as a list


def test_device_cuda_never_reports_cuda_when_the_cpu_was_used(tmp_path, capsys):
    """XGBoost falls back to the CPU with only a log warning when it finds no GPU: refuse that in one
    line; where a GPU is present, the JSON records the device XGBoost really used."""
    code, out, err = run_main(capsys, "--device", "cuda", "--booster", "xgboost", *SHORT, "--no-plot",
                              "--out", str(tmp_path))
    if code == 2:
        assert err.strip().splitlines() == [
            "boostfocal compare: error: --device cuda: XGBoost cannot use a GPU here (it would train on the "
            "CPU instead: device cpu); use --device cpu, or run on a machine with a CUDA GPU and a CUDA "
            "build of XGBoost"
        ]
        assert not (tmp_path / "compare.json").exists()
    else:
        assert code == 0, err
        result = json.loads((tmp_path / "compare.json").read_text())
        assert result["config"]["device"]["xgboost"].startswith("cuda")
        assert "device cuda" in out


class _Stream:
    def __init__(self, tty):
        self.tty, self.text = tty, []

    def isatty(self):
        return self.tty

    def write(self, text):
        self.text.append(text)

    def flush(self):
        pass


def test_progress_lines_only_on_a_terminal():
    assert cli._progress(quiet=False, stream=_Stream(tty=False)) is None
    assert cli._progress(quiet=True, stream=_Stream(tty=True)) is None
    terminal = _Stream(tty=True)
    emit = cli._progress(quiet=False, stream=terminal)
    emit("fit 1/4 xgboost softmax (repeat 1, fold 1): 12 rounds, 0.10 s; ETA 1 s")
    assert "ETA 1 s" in "".join(terminal.text)

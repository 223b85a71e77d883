"""Extreme finite inputs, empty class axes and bad labels on every entry point (issue 9, items 3-6).

Each case names the answer or the message that the loss's own checks give, so that a path that
counts classes (max + 1, bincount) before validating cannot fall back to a NumPy or Numba error.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from boostfocal import BinaryFocalLoss, FocalLoss, balanced_alpha
from boostfocal.adapters.init_score import xgboost_params_with_init_score
from boostfocal.metrics import error_rate, log_loss

pd = pytest.importorskip("pandas")


# ------------------------------------------------------------------ logit gaps beyond float64
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.7])
def test_gradient_is_finite_when_the_logit_gap_overflows(gamma):
    # 1e308 - (-1e308) = inf: p_t underflows to 0 and log p_t to -inf. The true gradient is
    # alpha_t psi'(s) (e_t - p) with psi' -> -1 as p_t -> 0, i.e. [1, -1].
    gradient, hessian = FocalLoss(gamma).gradient_hessian([1], [[1e308, -1e308]])
    np.testing.assert_array_equal(gradient, [[1.0, -1.0]])
    assert np.all(np.isfinite(hessian)) and np.all(hessian > 0.0)
    # Same row, gap 2e300 (representable): the same answer, computed without any overflow.
    reference, _ = FocalLoss(gamma).gradient_hessian([1], [[1e300, -1e300]])
    np.testing.assert_array_equal(gradient, reference)


def test_loss_of_an_overflowing_gap_is_inf_not_nan():
    # The true loss is about 2e308 > the largest double: inf is its correctly rounded value.
    loss = FocalLoss(0.0).loss([1, 0], [[1e308, -1e308], [1e308, -1e308]])
    assert loss[0] == np.inf and loss[1] == 0.0


@pytest.mark.parametrize("make_loss", [FocalLoss, BinaryFocalLoss], ids=["multiclass", "binary"])
def test_mean_loss_with_weights_near_the_float64_limit(make_loss):
    loss = make_loss()
    if loss.is_binary:
        raw = np.zeros(2)
    else:
        raw = np.zeros((2, 3))
    y = [0, 1]
    expected = loss.mean_loss(y, raw)  # equal weights: the unweighted mean
    assert loss.mean_loss(y, raw, [1e308, 1e308]) == pytest.approx(expected, rel=1e-15)
    assert loss.mean_loss(y, raw, [1.7e308, 1e-300]) == pytest.approx(
        float(loss.loss(y, raw)[0]), rel=1e-15
    )
    if not loss.is_binary:
        assert expected == pytest.approx(4.0 / 9.0 * np.log(3.0), rel=1e-15)  # (2/3)^2 log 3
    assert log_loss(y, raw, [1e308, 1e308]) == pytest.approx(log_loss(y, raw), rel=1e-15)


def test_error_rate_with_weights_near_the_float64_limit():
    raw = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert error_rate([0, 1], raw, [1e308, 1e308]) == 0.5
    assert error_rate([0, 1], raw, [1e-300, 1e308]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive total sample weight"):
        error_rate([0, 1], raw, [0.0, 0.0])


def test_mean_loss_weights_are_checked_and_not_modified():
    weights = np.array([1e308, 1e308])
    FocalLoss().mean_loss([0, 1], np.zeros((2, 3)), weights)
    np.testing.assert_array_equal(weights, [1e308, 1e308])
    with pytest.raises(ValueError, match="positive total sample weight"):
        FocalLoss().mean_loss([0, 1], np.zeros((2, 3)), [0.0, 0.0])
    with pytest.raises(ValueError, match="sample_weight contains NaN or inf"):
        FocalLoss().mean_loss([0, 1], np.zeros((2, 3)), [np.nan, 1.0])
    with pytest.raises(ValueError, match="sample_weight has 3 entries but there are 2 samples"):
        FocalLoss().mean_loss([0, 1], np.zeros((2, 3)), [1.0, 1.0, 1.0])


def test_probabilities_at_overflowing_gaps():
    np.testing.assert_array_equal(FocalLoss().predict_proba([[1e308, -1e308, 0.0]]), [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(BinaryFocalLoss().predict_proba([1e308, -1e308]), [1.0, 0.0])
    gradient, _ = BinaryFocalLoss(0.0).gradient_hessian([1, 0], [-1e308, 1e308])
    np.testing.assert_array_equal(gradient, [-1.0, 1.0])


# ------------------------------------------------------------------ no class axis
EMPTY_CLASS_AXIS = {
    "predict_proba": lambda: FocalLoss().predict_proba(np.empty((3, 0))),
    "loss": lambda: FocalLoss().loss([0, 0, 0], np.empty((3, 0))),
    "gradient_hessian": lambda: FocalLoss().gradient_hessian([0, 0, 0], np.empty((3, 0))),
    "log_loss": lambda: log_loss([0, 0, 0], np.empty((3, 0))),
    "error_rate": lambda: error_rate([0, 0, 0], np.empty((3, 0))),
    "binary predict_proba": lambda: BinaryFocalLoss().predict_proba(np.empty((3, 0))),
}


@pytest.mark.parametrize("call", EMPTY_CLASS_AXIS.values(), ids=EMPTY_CLASS_AXIS.keys())
def test_zero_columns_are_refused(call):
    with pytest.raises(ValueError, match=r"0 column|got \(3, 0\)"):
        call()


def test_softmax_is_never_entered_with_zero_columns_under_boundscheck(tmp_path):
    """Under NUMBA_BOUNDSCHECK=1 an out-of-bounds read in a kernel raises IndexError."""
    code = (
        "import numpy as np\n"
        "from boostfocal import FocalLoss\n"
        "try:\n"
        "    FocalLoss().predict_proba(np.empty((3, 0)))\n"
        "except ValueError as error:\n"
        "    print('refused:', error)\n"
    )
    # Its own cache: kernels compiled with bounds checks must not land in the shared one.
    environment = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment,
        cwd=os.path.join(os.path.dirname(__file__), ".."), timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "refused: raw_prediction has 0 column(s)" in result.stdout


# ------------------------------------------------------------------ labels before counting classes
def _categorical_labels():
    return pd.Series(["a", "b", "a"]).astype("category")


BAD_LABELS = {
    "strings": (np.array(["a", "b", "a"]), TypeError, "y_true must hold integer class labels"),
    "NaN": (np.array([0.0, np.nan, 1.0]), ValueError, "y_true contains NaN or inf"),
    "categorical": (_categorical_labels(), TypeError, "y_true must hold integer class labels"),
    "negative": (np.array([0, -1, 1]), ValueError, "y_true must|labels must be integers"),
    "fraction": (np.array([0.0, 0.5, 1.0]), ValueError, "integer class labels"),
}

COUNTING_PATHS = {
    "resolve_alpha": lambda y: FocalLoss(alpha="balanced").resolve_alpha(y),
    "init_raw_prediction": lambda y: FocalLoss().init_raw_prediction(y),
    "balanced_alpha": lambda y: balanced_alpha(y, 2),
    "xgboost_params_with_init_score": lambda y: xgboost_params_with_init_score(FocalLoss(), y, {}),
    "sklearn_objective": lambda y: FocalLoss().sklearn_objective(y, np.zeros((3, 3))),
    "loss": lambda y: FocalLoss().loss(y, np.zeros((3, 3))),
}


@pytest.mark.parametrize("labels, error, message", BAD_LABELS.values(), ids=BAD_LABELS.keys())
@pytest.mark.parametrize("path", COUNTING_PATHS.values(), ids=COUNTING_PATHS.keys())
def test_bad_labels_get_the_loss_messages_everywhere(path, labels, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy cast warnings on the way to the message
        with pytest.raises(error, match=message):
            path(labels)


def test_lightgbm_train_with_init_score_checks_labels_first():
    lgb = pytest.importorskip("lightgbm")
    from boostfocal.adapters.init_score import lightgbm_train_with_init_score

    dataset = lgb.Dataset(np.zeros((3, 1)), label=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="y_true contains NaN or inf"):
        lightgbm_train_with_init_score(FocalLoss(), {"verbose": -1}, dataset, 1)


def test_init_raw_prediction_names_its_own_argument():
    with pytest.raises(ValueError, match=r"alpha has 3 entries but n_classes=4") as caught:
        FocalLoss(alpha=[1, 1, 1]).init_raw_prediction([0, 1, 2], n_classes=4)
    assert "raw_prediction" not in str(caught.value)
    with pytest.raises(ValueError, match=r"y_true must lie in \[0, 2\)"):
        FocalLoss(alpha="balanced").resolve_alpha([0, 1, 2], n_classes=2)


def test_dask_class_count_checks_labels():
    da = pytest.importorskip("dask.array")
    from boostfocal import dask as bfd

    with pytest.raises(ValueError, match="y_true contains NaN or inf"):
        bfd.class_totals(da.from_array(np.array([0.0, np.nan, 1.0]), chunks=2))
    with pytest.raises(ValueError, match="y_true contains NaN or inf"):
        bfd.class_totals(np.array([0.0, np.nan, 1.0]))


# ------------------------------------------------------------ what the kernels are compiled for
LABEL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64", ">i8", ">f8")


def _kernel_argument_types(monkeypatch, module):
    """Spy on ``module.run_kernel``: the Numba types of the arguments of every kernel call."""
    import numba

    seen = []
    original = module.run_kernel

    def spy(kernel, raw_shape, rows_per_chunk, *args):
        seen.append(tuple(str(numba.typeof(arg)) for arg in args))
        return original(kernel, raw_shape, rows_per_chunk, *args)

    monkeypatch.setattr(module, "run_kernel", spy)
    return seen


def _frozen(array):
    array = array.copy()
    array.setflags(write=False)
    return array


@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
def test_every_label_dtype_and_writability_reaches_few_kernel_types(monkeypatch, binary):
    """Numba compiles a kernel per argument-type combination (15-40 s each): label dtypes, read-only
    flags and "no weights" must not multiply them. Labels reach the kernels as int64, float32 or
    float64, everything else as one read-only type, and the results do not depend on the form."""
    import boostfocal.binary as binary_module
    import boostfocal.loss as loss_module

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 64)  # two classes, so that boolean labels are valid too
    raw = rng.normal(size=64) if binary else rng.normal(size=(64, 2))
    weights = rng.integers(1, 4, 64).astype(np.float64)  # exact in every dtype below
    loss = BinaryFocalLoss(2.0) if binary else FocalLoss(2.0)
    expected = loss.gradient_hessian(y, raw, weights)
    seen = _kernel_argument_types(monkeypatch, binary_module if binary else loss_module)
    label_forms = [y.astype(dtype) for dtype in LABEL_DTYPES] + [_frozen(y), np.repeat(y, 2)[::2]]
    weight_forms = [weights, _frozen(weights), weights.astype(np.float32), weights.astype(np.int64),
                    np.repeat(weights, 2)[::2]]
    for labels in label_forms:
        for raw_form in (raw, _frozen(raw)):
            np.testing.assert_array_equal(loss.gradient_hessian(labels, raw_form, weights)[0], expected[0])
    for weight_form in weight_forms:
        np.testing.assert_array_equal(loss.gradient_hessian(y, raw, weight_form)[1], expected[1])
    loss.gradient_hessian(y, raw)
    loss.gradient_hessian(y, _frozen(raw))
    label_types = {types[0] for types in seen}
    assert label_types <= {"readonly array(int64, 1d, C)", "readonly array(float32, 1d, C)",
                           "readonly array(float64, 1d, C)"}, label_types
    assert len(label_types) == 3, label_types
    others = {types[1:] for types in seen}
    assert len(others) == 1, others
    assert all(kind.startswith("readonly") for kind in next(iter(others))[:3]), others

"""README.md's code examples run as written (extracted from the README at test time, never copied
here); see tests/readme_examples.py for the names the blocks may use. The Dask blocks run in
tests/test_dask.py, on its LocalCluster."""

import json

import numpy as np
import pytest

pytest.importorskip("xgboost")
pytest.importorskip("lightgbm")
pytest.importorskip("sklearn")

from readme_examples import block_id, python_blocks, run_block, small_data, uses_dask  # noqa: E402

BLOCKS = python_blocks()
LOCAL = [index for index, (_, code) in enumerate(BLOCKS) if not uses_dask(code)]


def test_the_readme_has_examples_to_run():
    assert len(BLOCKS) >= 6
    assert 1 <= sum(uses_dask(code) for _, code in BLOCKS) < len(BLOCKS)


@pytest.mark.parametrize("index", LOCAL, ids=[block_id(BLOCKS[index]) for index in LOCAL])
def test_readme_example_runs(index, capfd):
    line, code = BLOCKS[index]
    data = small_data()
    namespace = run_block(code, dict(data), line)
    out, err = capfd.readouterr()
    assert "No further splits" not in out + err  # LightGBM's per-round log stays off
    if index == 0:
        check_quick_start(namespace, data)


def check_quick_start(namespace, data):
    """The first example users copy gives probabilities from a model that starts at the focal
    initial score, loss.init_raw_prediction(y_train), stored as the booster's base_score."""
    from boostfocal import FocalLoss

    proba = namespace["proba"]
    assert proba.shape == (data["X_test"].shape[0], 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all((proba > 0.0) & (proba < 1.0))
    loss = namespace["loss"]
    assert isinstance(loss, FocalLoss)
    # alpha="balanced" is resolved from the training labels by xgboost_train, as here.
    loss = loss.resolve_alpha(data["y_train"])
    learner = json.loads(namespace["booster"].save_config())["learner"]
    assert learner["objective"]["name"] == "multi:softprob"
    base_score = json.loads(learner["learner_model_param"]["base_score"])
    np.testing.assert_allclose(base_score, loss.init_raw_prediction(data["y_train"]), rtol=1e-6)

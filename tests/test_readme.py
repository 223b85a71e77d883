"""The code examples of README.md and docs/*.md run as written (extracted from the pages at test
time, never copied here); see tests/readme_examples.py for the names the blocks may use. The Dask
blocks run in tests/test_dask.py, on its LocalCluster. Every relative link of those pages leads to a
file (and heading) that exists."""

import json
import re

import numpy as np
import pytest

pytest.importorskip("xgboost")
pytest.importorskip("lightgbm")
pytest.importorskip("sklearn")

from readme_examples import (  # noqa: E402
    README, ROOT, block_id, needs_gpu, pages, python_blocks, run_block, small_data, uses_dask,
)

BLOCKS = python_blocks()
LOCAL = [index for index, block in enumerate(BLOCKS) if not uses_dask(block.code)]


def _cuda_gpu_found() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device
        return False


def test_the_pages_have_examples_to_run():
    assert BLOCKS[0].page == README
    assert sum(block.page == README for block in BLOCKS) >= 2  # one example per booster up front
    assert len(BLOCKS) >= 6
    assert 1 <= sum(uses_dask(block.code) for block in BLOCKS) < len(BLOCKS)


@pytest.mark.parametrize("index", LOCAL, ids=[block_id(BLOCKS[index]) for index in LOCAL])
def test_readme_example_runs(index, capfd):
    block = BLOCKS[index]
    if needs_gpu(block.code) and not _cuda_gpu_found():
        pytest.skip("the example runs on a CUDA GPU (CuPy)")
    data = small_data()
    namespace = run_block(block, dict(data))
    out, err = capfd.readouterr()
    assert "No further splits" not in out + err  # LightGBM's per-round log stays off
    if index == 0:
        check_quick_start(namespace, data)


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def relative_links(page):
    """(target path, anchor or None) of every relative link of a Markdown page."""
    links = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # web addresses; anchors within the page
        path, _, anchor = target.partition("#")
        links.append(((page.parent / path).resolve(), anchor or None))
    return links


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_somewhere(page):
    links = relative_links(page)
    missing = [str(path) for path, _ in links if not path.exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"
    for path, anchor in links:
        if anchor is not None:
            anchors = {_anchor(heading) for heading in _HEADING.findall(path.read_text(encoding="utf-8"))}
            assert anchor in anchors, f"{page.name}: no heading #{anchor} in {path.name}"


def test_the_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[there](missing.md) and [here](page.md#title) and [web](https://x.org)\n")
    assert relative_links(page) == [((tmp_path / "missing.md").resolve(), None), (page.resolve(), "title")]
    assert _anchor("`boostfocal compare`: is it worth it?") == "boostfocal-compare-is-it-worth-it"


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

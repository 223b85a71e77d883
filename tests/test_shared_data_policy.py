"""Tests that read ../shared/data skip without it on a user's checkout, but fail under CI=true."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = '''
from conftest import load_shared_csv

def test_probe():
    X, y = load_shared_csv("glass")
    assert X.shape[0] == y.shape[0] > 0
'''


@pytest.mark.parametrize(
    "ci, data_dir, expected_code, expected_word",
    [
        ("", "missing", 0, "skipped"),
        ("true", "missing", 1, "failed"),
        ("true", "real", 0, "passed"),
    ],
    ids=["user-checkout-skips", "ci-fails", "ci-with-data-passes"],
)
def test_shared_data_policy(tmp_path, ci, data_dir, expected_code, expected_word):
    from conftest import SHARED_DATA

    if data_dir == "real" and not SHARED_DATA.is_dir():
        pytest.skip("the real shared data is needed for this case")
    tests_dir = Path(__file__).resolve().parent
    (tmp_path / "conftest.py").write_text((tests_dir / "conftest.py").read_text())
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = dict(os.environ, CI=ci)
    env["BOOSTFOCAL_SHARED_DATA"] = str(SHARED_DATA if data_dir == "real" else tmp_path / "nowhere")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert result.returncode == expected_code, result.stdout + result.stderr
    assert f"1 {expected_word}" in result.stdout, result.stdout

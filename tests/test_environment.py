"""Under CI every optional dependency of the test suite must be importable, so that no test module
is skipped by ``pytest.importorskip`` without anyone noticing."""

import importlib
import os

import pytest

TEST_MODULES = [
    "scipy", "sklearn", "pandas", "pyarrow", "matplotlib", "mpmath",
    "xgboost", "xgboost.dask", "lightgbm", "lightgbm.dask", "dask.array", "distributed",
]


@pytest.mark.skipif(
    os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="only CI must have every optional dependency",
)
@pytest.mark.parametrize("module", TEST_MODULES)
def test_ci_has_every_test_dependency(module):
    importlib.import_module(module)

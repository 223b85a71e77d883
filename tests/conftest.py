"""Shared fixtures: the real data sets in ../shared/data, and the GPU marker."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("BOOSTFOCAL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _require_shared_data() -> Path:
    """Skip when ../shared/data is absent (a user's checkout); fail under CI, where it must exist."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but the shared data directory {SHARED_DATA} is missing")
    pytest.skip(f"real data sets not available at {SHARED_DATA}")


def load_shared_csv(name: str):
    """(X float64, y int64) from ../shared/data/<name>.csv.gz (last column `label`)."""
    path = _require_shared_data() / f"{name}.csv.gz"
    with gzip.open(path, "rt") as handle:
        header = handle.readline().strip().split(",")
        table = np.loadtxt(handle, delimiter=",", dtype=np.float64)
    assert header[-1] == "label"
    return table[:, :-1], table[:, -1].astype(np.int64)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    return _require_shared_data()


def _has_cuda_gpu() -> bool:
    try:
        import cupy  # noqa: F401

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        pass
    return Path("/dev/nvidia0").exists()


HAS_GPU = _has_cuda_gpu()
requires_gpu = pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU")

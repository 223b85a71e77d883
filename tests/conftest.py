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


@pytest.fixture(scope="module")
def one_kernel_thread():
    """Run the Numba kernels on one thread: the booster tests call them once per round on a few
    hundred rows, where waking a thread pool on shared CI cores costs more than the work. The
    threaded kernels are exercised by test_focal_loss.py."""
    numba = pytest.importorskip("numba")
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(previous)


def make_multiclass(n_samples=500, n_classes=4, seed=0):
    """Features that carry class signal plus noise; weights in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 6))
    y = np.argmax(X[:, :n_classes] + rng.normal(scale=1.0, size=(n_samples, n_classes)), axis=1)
    weight = rng.uniform(0.5, 2.0, n_samples)
    return X, y, weight


def numpy_softmax_gradients(margins, labels, weight=None):
    """Softmax cross-entropy written from scratch: gradient p - onehot, Hessian p (1 - p), times w."""
    shifted = margins - margins.max(axis=1, keepdims=True)
    probability = np.exp(shifted)
    probability /= probability.sum(axis=1, keepdims=True)
    onehot = np.eye(margins.shape[1])[np.asarray(labels).astype(int)]
    weight = 1.0 if weight is None or np.size(weight) == 0 else np.asarray(weight)[:, None]
    return (probability - onehot) * weight, probability * (1.0 - probability) * weight

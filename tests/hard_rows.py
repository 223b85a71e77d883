"""Hard rows of test_focal_loss.py and test_binary.py, as (loss, y, raw, sample_weight) cases, for
comparing the CUDA kernels with the CPU kernels (test_xgboost_train.py in Numba's CUDA simulator,
test_gpu.py on a GPU). Kept small: the simulator runs every thread in Python."""

import numpy as np

from boostfocal import BinaryFocalLoss, FocalLoss
from test_focal_loss import LOGIT_KINDS, POLICIES, make_case

GAMMAS = [0.0, 0.3, 2.0, 10.0]


def multiclass_rows(dtypes=(np.float64,), widest=10):
    for dtype in dtypes:
        for policy in POLICIES:
            for gamma in GAMMAS:
                for n_classes in (2, 7):
                    for kind in LOGIT_KINDS:
                        y, raw = make_case(n_classes, kind)
                        weights = np.random.default_rng(n_classes).uniform(0.0, 3.0, len(y))
                        alpha = np.linspace(0.5, 2.0, n_classes)
                        yield FocalLoss(gamma, alpha, hessian=policy), y, raw.astype(dtype), weights
                # test_extremes_stay_finite: logits +-1e4 and +-30, p_t = 1 and p_t = 0 exactly.
                for n_classes in sorted({10, widest}):
                    rng = np.random.default_rng(2)
                    raw = rng.choice([-1e4, -30.0, 0.0, 30.0, 1e4], size=(40, n_classes))
                    y = rng.integers(0, n_classes, 40)
                    raw[0, :] = -1e4
                    raw[0, y[0]] = 1e4
                    raw[1, :] = 1e4
                    raw[1, y[1]] = -1e4
                    yield FocalLoss(gamma, hessian=policy), y, raw.astype(dtype), None


def binary_rows(dtypes=(np.float64,)):
    z = np.array([-1e4, -1e3, -700.0, -88.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 88.0, 700.0, 1e3, 1e4])
    z = np.concatenate([z, np.random.default_rng(0).normal(0.0, 5.0, 19)])
    for dtype in dtypes:
        for policy in POLICIES:
            for gamma in GAMMAS + [0.99]:
                for label in (0, 1):
                    y = np.full(z.shape, label)
                    yield BinaryFocalLoss(gamma, 0.25, hessian=policy), y, z.astype(dtype), None
                soft = np.random.default_rng(1).uniform(0.0, 1.0, z.shape)
                weights = np.random.default_rng(3).uniform(0.0, 2.0, z.shape)
                yield (BinaryFocalLoss(gamma, [0.3, 1.7], hessian=policy, soft_labels=True), soft,
                       z.astype(dtype), weights)

"""Does handing XGBoost CuPy gradients (instead of NumPy) cut the per-round cost on device="cuda"?"""
import statistics, sys, time
import numpy as np
import xgboost as xgb
import cupy
from boostfocal import FocalLoss

n, f, k, rounds = int(sys.argv[1]), 50, int(sys.argv[2]), 10
rng = np.random.default_rng(0)
X = rng.normal(size=(n, f)).astype(np.float32)
y = np.argmax(X[:, :k] + rng.normal(size=(n, k)), axis=1)
dtrain = xgb.DMatrix(X, label=y)
loss = FocalLoss(2.0)
params = {"num_class": k, "tree_method": "hist", "device": "cuda", "max_depth": 6, "base_score": [0.0] * k}

def numpy_obj(predt, d):
    return loss.xgboost_objective(predt, d)

def cupy_obj(predt, d):
    return loss.xgboost_cuda_objective(predt, d)

def run(kind):
    p = dict(params)
    if kind == "softmax":
        p["objective"] = "multi:softprob"
        start = time.perf_counter(); xgb.train(p, dtrain, rounds); return time.perf_counter() - start
    p["objective"] = "multi:softprob"  # link only; the custom objective gives the gradients
    obj = numpy_obj if kind == "focal-numpy" else cupy_obj
    start = time.perf_counter(); xgb.train(p, dtrain, rounds, obj=obj); return time.perf_counter() - start

for kind in ("softmax", "focal-numpy", "focal-cupy"):
    run(kind)  # warm-up
times = {kind: [] for kind in ("softmax", "focal-numpy", "focal-cupy")}
for _ in range(3):
    for kind in times:
        times[kind].append(run(kind))
base = statistics.median(times["softmax"])
for kind, values in times.items():
    median = statistics.median(values)
    print(f"{n}x{f}x{k} {kind:12s} {median:.3f} s  ratio {median / base:.2f}")

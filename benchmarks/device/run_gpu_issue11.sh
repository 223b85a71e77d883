#!/bin/bash
# Issue 11 on a GPU machine (the device tool's H200: CuPy, numba, numba-cuda there; no network).
# Before it: benchmarks/device/prepare_issue11.sh here; it prints the device calls: one per part of
# the compressed libxgboost.so but the last (carry .devparts/xgbpartNN):
#     mkdir -p /tmp/x && cp .devparts/xgbpart* /tmp/x/
# each within the machine's 30 s warm window, then the last (carry the last part and .dev2,
# timeout_s 600):
#     bash benchmarks/device/run_gpu_issue11.sh
# Elsewhere (a GPU box with network): pip install ".[test]" cupy-cuda12x (or -cuda13x), then
# SKIP_INSTALL=1 bash benchmarks/device/run_gpu_issue11.sh.
# Writes the logs and results to $OUT (and benchmarks/results/); about 5-7 minutes, then up to
# CPU_BENCH_S (200) seconds of the issue-10 CPU benchmark on the host's cores.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/issue11_out}
log() { echo "=== $(date +%T) $*"; }
mkdir -p "$OUT"
log start
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/machine.txt"
echo "cores $(nproc)" | tee -a "$OUT/machine.txt"
python3 -V
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  mkdir -p /tmp/site
  mkdir -p /tmp/x && cp .devparts/xgbpart* /tmp/x/ 2>/dev/null
  parts=$(ls /tmp/x/xgbpart* 2>/dev/null | sort)
  echo "parts: $parts"
  [ -f /tmp/x/xgbpart00 ] || { echo "missing xgbpart00: run the earlier device calls first (see the header)"; exit 1; }
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .dev2/lightgbm*.whl || echo "lightgbm install failed (its GPU test will skip)"
  tar -xf .dev2/xgboost_rest.tar -C /tmp/site
  cat $parts | python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), open('/tmp/site/xgboost/lib/libxgboost.so', 'wb'), 1 << 24)"
  echo "$(sha256sum /tmp/site/xgboost/lib/libxgboost.so | cut -d' ' -f1) expected $(cut -d' ' -f1 .dev2/sha256.txt)"
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
python3 -c "import numba, numpy, cupy, xgboost; print('numba', numba.__version__, 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'xgboost', xgboost.__version__, 'cuda build', xgboost.build_info().get('USE_CUDA'))" 2>&1 | tee -a "$OUT/machine.txt"
python3 -c "import numba_cuda; print('numba-cuda', numba_cuda.__version__)" 2>&1 | tail -1 | tee -a "$OUT/machine.txt"
log gpu-tests
timeout 240 python3 -m pytest tests/test_gpu.py -v -rs -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests_issue11.log" | tail -30
log simulator-and-loop-tests-on-this-host
timeout 120 python3 -m pytest tests/test_xgboost_train.py -q -p no:cacheprovider -k "resident_loop_gives" 2>&1 | tail -3
log bench
timeout ${BENCH_S:-300} python3 benchmarks/device/bench_xgboost_train_cuda.py --out "$OUT" 2>&1 | tail -30
cp "$OUT"/xgboost_train_cuda.* benchmarks/results/ 2>/dev/null
# Issue 10 on the host's 16 cores, if time is left: focal / built-in / NumPy floor at default threads
# and 1 thread, two sizes (on 2 cores this subset takes about 6 minutes).
log cpu-threads-16-cores
timeout ${CPU_BENCH_S:-200} python3 benchmarks/bench_training_speed.py --rows 20000,200000 --tasks multiclass7,binary --repeats 3 2>&1 | grep '^\[' | tail -16
cp benchmarks/results/training_speed_cpu_subset.md "$OUT/training_speed_cpu_16cores.md" 2>/dev/null
cp benchmarks/results/training_speed_cpu_subset.json "$OUT/training_speed_cpu_16cores.json" 2>/dev/null
log end

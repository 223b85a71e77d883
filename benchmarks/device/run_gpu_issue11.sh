#!/bin/bash
# Issues 11 and 10 on a GPU machine (the device tool's H200: CuPy, numba, numba-cuda there; no network).
# Before it: benchmarks/device/prepare_issue11.sh here. The XGBoost library travels in two parts, so
# the device run is two calls, the second within the machine's 30 s warm window:
#   1. carry .devparts/xgbpart00, timeout_s 130:
#        bash benchmarks/device/run_gpu_issue11.sh kernels
#      keeps part 00 in /tmp/x, prints the machine and the packages, and runs the CUDA kernels'
#      test (CuPy and Numba only, no XGBoost needed).
#   2. carry .devparts/xgbpart01 and .dev2, timeout_s 520:
#        bash benchmarks/device/run_gpu_issue11.sh rest
#      unpacks XGBoost 3.2.0 (sha256 checked) and LightGBM 4.7.0 into /tmp/site, runs the other GPU
#      tests, benchmarks/device/bench_xgboost_train_cuda.py (issue 11: 500,000 x 50 x 7 and
#      2,000,000 x 50 x 10) and a subset of benchmarks/bench_training_speed.py at the boosters'
#      default threads on the host's cores (issue 10).
# Elsewhere (a GPU box with network): pip install ".[test]" cupy-cuda12x (or -cuda13x), then
#   SKIP_INSTALL=1 bash benchmarks/device/run_gpu_issue11.sh all
# Logs and results go to $OUT (at most 8 files: the device tool brings back no more).
set -u
export PYTHONUNBUFFERED=1
stage=${1:-all}
OUT=${OUT:-/tmp/issue11_out}
log() { echo "=== $(date +%T) $*"; }
mkdir -p "$OUT" /tmp/x
cp .devparts/xgbpart* /tmp/x/ 2>/dev/null
export PYTHONPATH=/tmp/shim:/tmp/site:$PWD
# The H200 image pairs numba-cuda 0.30.4 with NumPy 2.5, which no longer has numpy.row_stack: its
# CUDA target fails on first compile (numba_cuda/numba/cuda/cudaimpl.py). A shim for that image only.
mkdir -p /tmp/shim
echo 'import numpy; numpy.row_stack = getattr(numpy, "row_stack", numpy.vstack)' > /tmp/shim/sitecustomize.py

if [ "$stage" = kernels ] || [ "$stage" = all ]; then
  log machine
  { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "cores $(nproc)"; lscpu | grep "Model name"; python3 -V
    python3 -c "import numba, numpy, cupy, llvmlite.binding as b; print('numba', numba.__version__, 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'host cpu', b.get_host_cpu_name())"
    python3 -c "import numba_cuda; print('numba-cuda', numba_cuda.__version__)" 2>&1 | tail -1
  } 2>&1 | tee "$OUT/machine.txt"
  log cuda-kernels-test
  timeout ${KERNEL_TEST_S:-110} python3 -m pytest -o addopts=-ra tests/test_gpu.py -v -rs -p no:cacheprovider \
    -k cuda_kernels_equal 2>&1 | tee "$OUT/gpu_kernels_test.log" | tail -15
fi

if [ "$stage" = rest ] || [ "$stage" = all ]; then
  if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    log install
    parts=$(ls /tmp/x/xgbpart* 2>/dev/null | sort | tr '\n' ' ')
    echo "parts: $parts"
    [ -f /tmp/x/xgbpart00 ] || { echo "missing xgbpart00: run the kernels call first (see the header)"; exit 1; }
    mkdir -p /tmp/site
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .dev2/lightgbm*.whl \
      || echo "lightgbm install failed (its tests will skip)"
    tar -xf .dev2/xgboost_rest.tar -C /tmp/site
    cat $parts | python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), open('/tmp/site/xgboost/lib/libxgboost.so', 'wb'), 1 << 24)"
    echo "libxgboost.so sha256 $(sha256sum /tmp/site/xgboost/lib/libxgboost.so | cut -d' ' -f1) expected $(cut -d' ' -f1 .dev2/sha256.txt)"
  fi
  python3 -c "import xgboost, lightgbm; print('xgboost', xgboost.__version__, 'cuda build', xgboost.build_info().get('USE_CUDA'), 'lightgbm', lightgbm.__version__)" 2>&1 | tee -a "$OUT/machine.txt"
  log gpu-tests
  deselect=""; [ "$stage" = rest ] && deselect="not cuda_kernels_equal"
  timeout ${GPU_TEST_S:-90} python3 -m pytest -o addopts=-ra tests/test_gpu.py -v -rs -p no:cacheprovider ${deselect:+-k "$deselect"} \
    2>&1 | tee "$OUT/gpu_tests_issue11.log" | tail -20
  log bench-xgboost-train-cuda
  timeout ${BENCH_S:-220} python3 benchmarks/device/bench_xgboost_train_cuda.py --out "$OUT" 2>&1 | tail -14
  # Issue 10 on the host's cores: the boosters' default threads (all cores), both boosters,
  # 7 classes and binary, small to large; written after every cell.
  log cpu-default-threads
  timeout ${CPU_BENCH_S:-150} python3 benchmarks/bench_training_speed.py --threads default \
    --rows 1000,20000,200000,2000000 --tasks multiclass7,binary --repeats 3 --stem training_speed_cpu_devicehost \
    2>&1 | grep '^\[' | tee "$OUT/cpu_default_threads.log" | tail -16
  cp benchmarks/results/training_speed_cpu_devicehost.json benchmarks/results/training_speed_cpu_devicehost.md "$OUT/" 2>/dev/null
fi
log end

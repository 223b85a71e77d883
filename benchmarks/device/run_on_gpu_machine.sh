#!/bin/bash
# The script that produced the GPU figures in benchmarks/results (*cuda*, *h100*), run from the
# repository root on a machine with one NVIDIA H100 and no network. The XGBoost 3.2.0 wheel (with
# CUDA) was carried there zstd-compressed in two parts (.dev1/, .dev2/) next to the LightGBM 4.7.0
# and zstandard wheels and a copy of the shuttle data; elsewhere, `pip install ".[test]" cupy-cuda12x`
# and the pytest / benchmark lines below are all that is needed.
set -u
export PYTHONUNBUFFERED=1
log() { echo "=== $(date +%T) $*"; }
log start
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "cores $(nproc)"; lscpu | grep "Model name"
python3 -V
mkdir -p /tmp/site "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .dev2/zstandard*.whl .dev2/lightgbm*.whl || { echo "pip failed"; exit 1; }
tar -xf .dev2/xgboost_rest.tar -C /tmp/site
part0=.dev1/xgbpart00; [ -f "$part0" ] || part0=/tmp/x/xgbpart00
cat "$part0" .dev2/xgbpart01 | PYTHONPATH=/tmp/site python3 -c "import sys, zstandard; zstandard.ZstdDecompressor(max_window_size=2**31).copy_stream(sys.stdin.buffer, open('/tmp/site/xgboost/lib/libxgboost.so', 'wb'))"
sha256sum /tmp/site/xgboost/lib/libxgboost.so; grep libxgboost.so$ .dev2/sha256.txt
# LightGBM's OpenCL learner needs the NVIDIA OpenCL ICD registered.
ocl=$(ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib64/libnvidia-opencl.so.1 2>/dev/null | head -1)
[ -z "$ocl" ] && ocl=$(find / -xdev -name 'libnvidia-opencl.so*' 2>/dev/null | head -1)
echo "opencl icd: ${ocl:-none}"
if [ -n "$ocl" ]; then mkdir -p /etc/OpenCL/vendors; echo "$ocl" > /etc/OpenCL/vendors/nvidia.icd; fi
export PYTHONPATH=/tmp/site:$PWD BOOSTFOCAL_SHARED_DATA=$PWD/.dev2/data
python3 -c "import numba, numpy, xgboost, lightgbm, sklearn; print('numba', numba.__version__, 'numpy', numpy.__version__, 'xgboost', xgboost.__version__, 'cuda', xgboost.build_info().get('USE_CUDA'), 'lightgbm', lightgbm.__version__, 'sklearn', sklearn.__version__)"
log gpu-tests
timeout 200 python3 -m pytest -o addopts=-ra tests/test_gpu.py -v -rs -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.log" | tail -40
log cuda-handoff
timeout 90 python3 benchmarks/device/cuda_handoff.py 2000000 10 2>&1 | tail -4
timeout 45 python3 benchmarks/device/cuda_handoff.py 500000 7 2>&1 | tail -4
log kernel-bench-2-cores
timeout 120 taskset -c 0,1 env NUMBA_NUM_THREADS=2 python3 benchmarks/bench_kernel.py --repeats 9 --fresh-processes 3 2>&1 | tail -14
cp benchmarks/results/kernel.json "$OUT/kernel_devicehost.json"
log speed-cuda
timeout ${SPEED_CUDA_S:-200} python3 benchmarks/bench_training_speed.py --device cuda --sizes full --lightgbm-device gpu 2>&1 | tail -40; cp benchmarks/results/speed_cuda.* "$OUT/" 2>/dev/null
log end

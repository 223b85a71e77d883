#!/bin/bash
# Issue 10 on the device machine's host CPU (16 cores), one call, no GPU needed. Before it, here:
#   echo /.devcpu/ >> .git/info/exclude; mkdir -p .devcpu
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .devcpu xgboost-cpu==3.2.0
# (XGBoost's CPU wheel, 5.6 MB, with the same vendored libgomp as the full wheel). Then the call:
# carry .devcpu, timeout_s 240:  bash benchmarks/device/run_cpu_threads.sh
# Runs benchmarks/bench_booster_threads.py (XGBoost: team / pool / serial against the built-in) and
# the XGBoost cells of benchmarks/bench_training_speed.py at the default threads; both write their
# results after every cell, and the logs and results go to $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/cpu_threads_out}
log() { echo "=== $(date +%T) $*"; }
mkdir -p "$OUT" /tmp/site
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .devcpu/xgboost_cpu*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
{ echo "cores $(nproc)"; lscpu | grep "Model name"
  python3 -c "import numba, numpy, xgboost, llvmlite.binding as b; print('numba', numba.__version__, 'numpy', numpy.__version__, 'xgboost', xgboost.__version__, 'host cpu', b.get_host_cpu_name())"
} 2>&1 | tee "$OUT/machine.txt"
log booster-threads
(cd benchmarks && timeout ${THREADS_S:-110} python3 bench_booster_threads.py --rows 20000,200000,2000000 \
  --repeats 3 --stem booster_threads_team_devicehost 2>&1 | grep "^{" | tee "$OUT/booster_threads.log")
cp benchmarks/results/booster_threads_team_devicehost.* "$OUT/" 2>/dev/null
log training-speed-xgboost-default-threads
timeout ${SPEED_S:-100} python3 benchmarks/bench_training_speed.py --boosters xgboost --threads default \
  --rows 20000,200000,2000000,1000 --tasks multiclass7,binary --repeats 3 --stem training_speed_cpu_devicehost_team \
  2>&1 | grep '^\[' | tee "$OUT/training_speed.log"
cp benchmarks/results/training_speed_cpu_devicehost_team.* "$OUT/" 2>/dev/null
log end

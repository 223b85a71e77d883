#!/bin/bash
# Run HERE (the machine with network), from the repository root, before the device calls of
# run_gpu_issue11.sh. The H200 image has CuPy (cupy-cuda13x), numba and numba-cuda but no XGBoost
# and no network; the XGBoost 3.2.0 wheel (131 MB, CUDA inside) is over the 64 MiB a device call
# carries, so its libxgboost.so (237 MB) travels xz-compressed in parts of 56 MiB, one per call:
#   .devparts/xgbpart00, xgbpart01, ...    (each earlier call: carry that one file, and run
#                                            mkdir -p /tmp/x && cp .devparts/xgbpart* /tmp/x/)
#   .dev2/xgboost_rest.tar .dev2/lightgbm*.whl .dev2/sha256.txt  (the last call, with the last part)
# Python's own lzma module unpacks it there (no zstd needed). The folders are git-excluded.
# Checked here on 2026-12-02: 3.5 minutes on 2 cores, xz output 92 MB in two parts (56 MiB + 32 MiB,
# so two device calls), and run_gpu_issue11.sh's unpacking gives the wheel's libxgboost.so (sha256
# equal); the rest of that script needs the device's numba and CuPy.
set -eu
exclude=$(git rev-parse --git-path info/exclude)
for folder in /.devparts/ /.dev2/; do grep -qx "$folder" "$exclude" || echo "$folder" >> "$exclude"; done
rm -rf .devparts && mkdir -p .devparts .dev2 /tmp/issue11_wheels
pip_download() {
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d /tmp/issue11_wheels "$@"
}
pip_download xgboost==3.2.0
pip_download lightgbm==4.7.0
rm -rf /tmp/issue11_wheels/x && mkdir -p /tmp/issue11_wheels/x
(cd /tmp/issue11_wheels/x && unzip -q ../xgboost-3.2.0-*.whl)
so=/tmp/issue11_wheels/x/xgboost/lib/libxgboost.so
sha256sum "$so" | sed 's# .*/# #' > .dev2/sha256.txt
# Everything but the shared library, as a tar to unpack into the device's site folder.
(cd /tmp/issue11_wheels/x && tar -cf - --exclude=xgboost/lib/libxgboost.so .) > .dev2/xgboost_rest.tar
xz -9 -T0 -c "$so" > /tmp/issue11_wheels/libxgboost.so.xz
split -b 56m -d /tmp/issue11_wheels/libxgboost.so.xz .devparts/xgbpart
cp /tmp/issue11_wheels/lightgbm-4.7.0-*.whl .dev2/
ls -la .devparts .dev2
echo "device calls (see run_gpu_issue11.sh's header), the second within 30 s of the first:"
echo "  1. carry .devparts/xgbpart00, timeout_s 130: bash benchmarks/device/run_gpu_issue11.sh kernels"
echo "  2. carry .devparts/xgbpart01 and .dev2, timeout_s 520: bash benchmarks/device/run_gpu_issue11.sh rest"

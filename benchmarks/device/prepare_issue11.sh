#!/bin/bash
# Run HERE (the machine with network), from the repository root, before the device calls of
# run_gpu_issue11.sh. The H200 image has CuPy (cupy-cuda13x), numba and numba-cuda but no XGBoost
# and no network; the XGBoost 3.2.0 wheel (131 MB, CUDA inside) is over the 64 MiB a device call
# carries, so its libxgboost.so travels xz-compressed in two parts, one per call:
#   .dev1/xgbpart00                       (call 1 copies it to /tmp/x on the warm machine)
#   .dev2/xgbpart01 .dev2/xgboost_rest.tar .dev2/lightgbm*.whl .dev2/sha256.txt   (call 2)
# Python's own lzma module unpacks it there (no zstd needed). Both folders are git-excluded.
set -eu
grep -qx '/.dev1/' .git/info/exclude 2>/dev/null || echo '/.dev1/' >> "$(git rev-parse --git-path info/exclude)"
grep -qx '/.dev2/' "$(git rev-parse --git-path info/exclude)" || echo '/.dev2/' >> "$(git rev-parse --git-path info/exclude)"
mkdir -p .dev1 .dev2 /tmp/issue11_wheels
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
half=$(( ($(stat -c %s /tmp/issue11_wheels/libxgboost.so.xz) + 1) / 2 ))
split -b "$half" -d /tmp/issue11_wheels/libxgboost.so.xz /tmp/issue11_wheels/xgbpart
mv /tmp/issue11_wheels/xgbpart00 .dev1/ && mv /tmp/issue11_wheels/xgbpart01 .dev2/
cp /tmp/issue11_wheels/lightgbm-4.7.0-*.whl .dev2/
du -sh .dev1 .dev2

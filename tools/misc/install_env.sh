#!/usr/bin/env bash
# Create (or complete) the project's virtual environment with the pinned
# OpenMMLab stack. Safe to run again: every step skips what is already there.
#
# Environment:
#   VENV         where the environment lives (default: .venv)
#   PYTHON       interpreter used to create it (default: python3)
#   MMCV_CACHE   folder for built mmcv wheels, keyed by torch version
#                (default: ~/.cache/mmhornet/mmcv-wheels)
set -euo pipefail

cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
MMCV_CACHE=${MMCV_CACHE:-$HOME/.cache/mmhornet/mmcv-wheels}
PINS=requirements/pins.txt
pin() { grep -E "^$1[=<>]" "$PINS" | head -n 1; }

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q -c "$PINS")

echo "[install] build tools"
"${PIP[@]}" "setuptools" wheel ninja psutil

echo "[install] $(pin torch) $(pin torchvision)"
"${PIP[@]}" "$(pin torch)" "$(pin torchvision)"

torch_version=$("$PY" -c 'import torch; print(torch.__version__)')
mmcv_version=$(pin mmcv | sed 's/.*==//')
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$mmcv_version'" 2>/dev/null; then
    wheel_dir="$MMCV_CACHE/torch-$torch_version"
    wheel=$(ls "$wheel_dir"/mmcv-"$mmcv_version"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        echo "[install] building mmcv $mmcv_version with ops against torch" \
             "$torch_version (5-12 minutes on 2 cores; cached in $wheel_dir)"
        mkdir -p "$wheel_dir"
        MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "$PY" -m pip wheel -q \
            --disable-pip-version-check --no-build-isolation --no-deps --no-cache-dir \
            -w "$wheel_dir" "mmcv==$mmcv_version"
        wheel=$(ls "$wheel_dir"/mmcv-"$mmcv_version"-*.whl | head -n 1)
    fi
    echo "[install] mmcv from $wheel"
    "${PIP[@]}" --no-deps "$wheel"
fi

echo "[install] OpenMMLab toolboxes and mmhornet (with its C++ operators)"
"${PIP[@]}" -r requirements/mminstall.txt -r requirements/runtime.txt \
    -r requirements/cls.txt -r requirements/det.txt -r requirements/seg.txt \
    -r requirements/optional.txt -r requirements/tests.txt \
    -r requirements/deploy.txt
"${PIP[@]}" --no-deps --no-build-isolation -e .
"$PY" -c 'import mmcv.ops, mmengine, mmpretrain, mmdet, mmseg, mmhornet'
if [ "${MMHORNET_WITH_OPS:-1}" != 0 ]; then
    "$PY" -c 'import mmhornet.ops._ext'
fi
echo "[install] done: $VENV"

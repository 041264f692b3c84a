#!/usr/bin/env bash
# Create (or complete) the project's virtual environment with the pinned
# OpenMMLab stack. Safe to run again: every step skips what is already there.
#
# Environment:
#   VENV         where the environment lives (default: .venv)
#   PYTHON       interpreter used to create it (default: python3)
#   MMCV_CACHE   folder for built mmcv wheels, one sub-folder per build key:
#                torch version, CUDA version and GPU architectures, or `cpu`
#                (default: ~/.cache/mmhornet/mmcv-wheels)
#   FORCE_CUDA=1, TORCH_CUDA_ARCH_LIST, MMCV_CUDA_TOOLKIT: how mmcv's CUDA
#                operators are built (tools/misc/mmcv_build.py; mmcv builds
#                them anyway when torch sees a GPU)
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

mmcv_version=$(pin mmcv | sed 's/.*==//')
BUILD=tools/misc/mmcv_build.py
plan=$("$PY" "$BUILD" plan)  # MMCV_BUILD_KEY, MMCV_FORCE_CUDA, MMCV_ARCH_LIST
eval "$plan"
key_file="$VENV/.mmcv-build-key"
if [ "$(cat "$key_file" 2>/dev/null)" != "mmcv-$mmcv_version-$MMCV_BUILD_KEY" ] \
        || ! "$PY" "$BUILD" check "$mmcv_version" >/dev/null 2>&1; then
    wheel_dir="$MMCV_CACHE/$MMCV_BUILD_KEY"
    wheel=$(ls "$wheel_dir"/mmcv-"$mmcv_version"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        if [ "$MMCV_FORCE_CUDA" = 1 ]; then
            echo "[install] CUDA operators for GPU architectures $MMCV_ARCH_LIST"
            toolkit=$("$PY" "$BUILD" toolkit)  # export CUDA_HOME=... PATH=...
            eval "$toolkit"
        fi
        echo "[install] building mmcv $mmcv_version ($MMCV_BUILD_KEY; CPU only:" \
             "5-12 minutes on 2 cores; with CUDA, about 45 minutes for one GPU"\
             "architecture on 2 cores; cached in $wheel_dir)"
        mkdir -p "$wheel_dir"
        MMCV_WITH_OPS=1 FORCE_CUDA=$MMCV_FORCE_CUDA \
            TORCH_CUDA_ARCH_LIST=$MMCV_ARCH_LIST MAX_JOBS=${MAX_JOBS:-2} \
            "$PY" -m pip wheel -q --disable-pip-version-check --no-build-isolation \
            --no-deps --no-cache-dir -w "$wheel_dir" "mmcv==$mmcv_version"
        wheel=$(ls "$wheel_dir"/mmcv-"$mmcv_version"-*.whl | head -n 1)
    fi
    echo "[install] mmcv from $wheel"
    "${PIP[@]}" --no-deps --force-reinstall "$wheel"
    echo "mmcv-$mmcv_version-$MMCV_BUILD_KEY" > "$key_file"
fi

echo "[install] OpenMMLab toolboxes and mmhornet (with its C++ operators)"
"${PIP[@]}" -r requirements/mminstall.txt -r requirements/runtime.txt \
    -r requirements/cls.txt -r requirements/det.txt -r requirements/seg.txt \
    -r requirements/optional.txt -r requirements/tests.txt \
    -r requirements/deploy.txt
"${PIP[@]}" --no-deps --no-build-isolation -e .
"$PY" -c 'import mmcv.ops, mmengine, mmpretrain, mmdet, mmseg, mmhornet'
# mmcv's operators compiled with CUDA wherever torch sees a GPU (or FORCE_CUDA=1)
MMCV_CACHE=$MMCV_CACHE "$PY" "$BUILD" check "$mmcv_version"
if [ "${MMHORNET_WITH_OPS:-1}" != 0 ]; then
    "$PY" -c 'import mmhornet.ops._ext'
fi
echo "[install] done: $VENV"

#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=min(GPUS,8)] [CPUS_PER_TASK=5] [GRES=...] \
#     [SRUN_ARGS=...] [PYTHON=python] \
#     bash tools/misc/srun_tasks.sh PARTITION JOB_NAME SCRIPT [args]
# What tools/slurm_train.sh and tools/slurm_test.sh share: srun starts GPUS
# tasks (GPUS_PER_NODE per node) of `$PYTHON -u SCRIPT args`.
#
# GPUs or not: --gres=gpu:GPUS_PER_NODE is requested only when the partition
# has GPUs (sinfo lists a gpu generic resource for it). On a CPU-only
# partition, where such a request is refused, nothing is requested and GPUS
# is the number of CPU processes (tools/train.py and test.py then use gloo).
# GRES overrides the choice: GRES=gpu:a100:4 asks for that, GRES=none for
# no generic resource at all.
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME SCRIPT [args]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}

if [ -z "${GRES:-}" ]; then
    if sinfo -h -p "$PARTITION" -o '%G' 2>/dev/null | grep -q 'gpu'; then
        GRES=gpu:$GPUS_PER_NODE
    else
        GRES=none
    fi
fi
GRES_ARG=()
[ "$GRES" = none ] || GRES_ARG=(--gres="$GRES")

set -x
# SRUN_ARGS is split into words on purpose: it holds several options.
PYTHONPATH="$(dirname "$0")/../..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    "${GRES_ARG[@]}" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$SCRIPT" "${@:4}"

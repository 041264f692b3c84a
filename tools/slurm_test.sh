#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=min(GPUS,8)] [CPUS_PER_TASK=5] [GRES=...] \
#     [SRUN_ARGS=...] [MASTER_PORT=29500] \
#     bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args]
# Starts GPUS tasks, one per GPU, or GPUS CPU processes on a partition
# without GPUs (see tools/misc/srun_tasks.sh); the extra args go to
# tools/test.py. Two jobs sharing a node need different MASTER_PORTs.
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]" >&2
    exit 2
fi
TOOLS=$(dirname "$0")
exec bash "$TOOLS/misc/srun_tasks.sh" "$1" "$2" "$TOOLS/test.py" "$3" "$4" \
    --launcher=slurm "${@:5}"

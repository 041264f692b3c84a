# Copyright (c) mmhornet contributors. All rights reserved.
from .launch import (cpu_threads_per_process, launch_runner, replace_sync_bn,
                     setup_launcher, teardown_launcher)
from .total_batch import (TotalBatch, accumulation_for, apply_total_batch,
                          launcher_world_size, log_total_batch,
                          stretch_iteration_counts)

__all__ = [
    'TotalBatch', 'accumulation_for', 'apply_total_batch',
    'cpu_threads_per_process', 'launch_runner', 'launcher_world_size',
    'log_total_batch', 'replace_sync_bn', 'setup_launcher',
    'stretch_iteration_counts', 'teardown_launcher'
]

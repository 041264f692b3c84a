# Copyright (c) mmhornet contributors. All rights reserved.
from .checkpoint import (AtomicCheckpointHook, atomic_write,
                         enable_safe_checkpoints, find_resumable_checkpoint,
                         is_readable_checkpoint)
from .cpu import (AmpOptimWrapper, cpu_threads_per_process, replace_sync_bn,
                  setup_launcher, teardown_launcher)
from .layer_decay import LayerDecayOptimWrapperConstructor
from .random_state_hook import (RandomStateHook, get_random_states,
                                set_random_states)
from .total_batch import (TotalBatch, accumulation_for, apply_total_batch,
                          launcher_world_size, log_total_batch,
                          stretch_iteration_counts)

__all__ = [
    'AmpOptimWrapper', 'AtomicCheckpointHook',
    'LayerDecayOptimWrapperConstructor', 'RandomStateHook', 'TotalBatch',
    'accumulation_for', 'apply_total_batch', 'atomic_write',
    'cpu_threads_per_process', 'enable_safe_checkpoints',
    'find_resumable_checkpoint', 'get_random_states', 'is_readable_checkpoint',
    'launcher_world_size', 'log_total_batch', 'replace_sync_bn',
    'set_random_states', 'setup_launcher', 'stretch_iteration_counts',
    'teardown_launcher'
]

# Copyright (c) mmhornet contributors. All rights reserved.
from .checkpoint import (AtomicCheckpointHook, atomic_write,
                         enable_safe_checkpoints, find_resumable_checkpoint,
                         is_readable_checkpoint)
from .cpu import (AmpOptimWrapper, cpu_threads_per_process, replace_sync_bn,
                  setup_launcher, teardown_launcher)
from .layer_decay import LayerDecayOptimWrapperConstructor
from .random_state_hook import (RandomStateHook, get_random_states,
                                set_random_states)

__all__ = [
    'AmpOptimWrapper', 'AtomicCheckpointHook',
    'LayerDecayOptimWrapperConstructor', 'RandomStateHook', 'atomic_write',
    'cpu_threads_per_process', 'enable_safe_checkpoints',
    'find_resumable_checkpoint', 'get_random_states', 'is_readable_checkpoint',
    'replace_sync_bn', 'set_random_states', 'setup_launcher',
    'teardown_launcher'
]

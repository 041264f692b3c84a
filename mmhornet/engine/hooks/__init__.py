# Copyright (c) mmhornet contributors. All rights reserved.
from .checkpoint_hook import (AtomicCheckpointHook, atomic_write,
                              enable_safe_checkpoints,
                              find_resumable_checkpoint,
                              is_readable_checkpoint)
from .random_state_hook import (RandomStateHook, get_random_states,
                                set_random_states)

__all__ = [
    'AtomicCheckpointHook', 'RandomStateHook', 'atomic_write',
    'enable_safe_checkpoints', 'find_resumable_checkpoint',
    'get_random_states', 'is_readable_checkpoint', 'set_random_states'
]

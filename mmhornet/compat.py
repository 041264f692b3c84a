# Copyright (c) mmhornet contributors. All rights reserved.
"""The former home of the safe checkpoint loaders, now
:mod:`mmhornet.checkpoint`. The names the documentation of earlier versions
gave (``mmhornet.compat.patch_checkpoint_loading()``, ...) keep working."""
from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, hash_prefix_of,
                         load_checkpoint_file, load_url,
                         patch_checkpoint_loading)

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'hash_prefix_of', 'load_checkpoint_file',
    'load_url', 'patch_checkpoint_loading'
]

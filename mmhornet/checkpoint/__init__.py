# Copyright (c) mmhornet contributors. All rights reserved.
"""Checkpoints: read safely, download verified, convert official and mmcv
1.x ones, load into a model.

The ground floor of mmhornet: it imports torch, numpy and mmengine, nothing
of mmhornet (no registry). Importing it changes nothing;
:func:`patch_checkpoint_loading` makes mmengine's own ``CheckpointLoader``
use these readers, and only the tools that run mmengine's ``Runner`` call
it.
"""
from .convert import (convert_checkpoint, convert_official_hornet,
                      is_official_layout)
from .download import hash_prefix_of, load_url
from .load import load_checkpoint, load_weights
from .patch import patch_checkpoint_loading
from .safe_load import CHECKPOINT_SAFE_GLOBALS, load_checkpoint_file

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'convert_checkpoint', 'convert_official_hornet',
    'hash_prefix_of', 'is_official_layout', 'load_checkpoint',
    'load_checkpoint_file', 'load_url', 'load_weights',
    'patch_checkpoint_loading'
]

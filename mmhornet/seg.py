# Copyright (c) mmhornet contributors. All rights reserved.
"""The former home of ``GNUPerHead``, now
:mod:`mmhornet.models.heads.gn_uper_head`. Configs no longer need
``custom_imports`` for it; those that still list ``mmhornet.seg`` load."""
from mmhornet.models.heads.gn_uper_head import GNUPerHead

__all__ = ['GNUPerHead']

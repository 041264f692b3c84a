# Copyright (c) mmhornet contributors. All rights reserved.
"""Heads. ``GNUPerHead`` (``gn_uper_head.py``) extends mmseg's ``UPerHead``:
it is imported when a config names it (see
:attr:`mmhornet.registry.ModelRegistry.on_demand`), so that mmhornet imports
without mmseg."""

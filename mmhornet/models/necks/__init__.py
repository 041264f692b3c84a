# Copyright (c) mmhornet contributors. All rights reserved.
"""Necks. ``HorFPN`` (``hor_fpn.py``) extends mmdet's ``FPN``: it is imported
when a config names it (see :attr:`mmhornet.registry.ModelRegistry.on_demand`),
so that mmhornet imports without mmdet and classification does not pay for
importing mmdet."""

# Copyright (c) mmhornet contributors. All rights reserved.
"""Necks. ``HorFPN`` extends mmdet's ``FPN``: it is imported on first use
(``mmhornet.HorFPN`` in a config, ``from mmhornet.models import HorFPN``), so
that mmhornet imports without mmdet and classification does not pay for
importing mmdet."""
from mmhornet.utils.toolbox import import_toolbox

__all__ = ['HorFPN']


def __getattr__(name: str):
    if name == 'HorFPN':
        import_toolbox('mmdet.models.necks', 'HorFPN')
        from .hor_fpn import HorFPN
        return HorFPN
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

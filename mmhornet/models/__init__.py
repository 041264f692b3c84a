# Copyright (c) mmhornet contributors. All rights reserved.
from . import necks
from .backbones import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403


def __getattr__(name: str):
    # necks (HorFPN needs mmdet) are imported on first use
    if name in necks.__all__:
        return getattr(necks, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

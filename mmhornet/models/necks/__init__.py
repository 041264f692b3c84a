# Copyright (c) mmhornet contributors. All rights reserved.
from .hor_fpn import HorFPN

__all__ = ['HorFPN']

# Copyright (c) mmhornet contributors. All rights reserved.
from .hornet import HorNet

__all__ = ['HorNet']

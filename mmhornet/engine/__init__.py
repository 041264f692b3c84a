# Copyright (c) mmhornet contributors. All rights reserved.
from .optim_wrapper import AmpOptimWrapper

__all__ = ['AmpOptimWrapper']

# Copyright (c) mmhornet contributors. All rights reserved.
from .layer_decay import LayerDecayOptimWrapperConstructor
from .optim_wrapper import AmpOptimWrapper

__all__ = ['AmpOptimWrapper', 'LayerDecayOptimWrapperConstructor']

# Copyright (c) mmhornet contributors. All rights reserved.
from .amp_optim_wrapper import AmpOptimWrapper
from .layer_decay_optim_wrapper_constructor import \
    LayerDecayOptimWrapperConstructor

__all__ = ['AmpOptimWrapper', 'LayerDecayOptimWrapperConstructor']

# Copyright (c) mmhornet contributors. All rights reserved.
from .block import HorNetBlock
from .gnconv import (GlobalLocalFilter, build_spatial_mixer, gnConv,
                     resize_complex_weight, spectral_filter)
from .norm import LayerNorm2d, LayerScale

__all__ = [
    'gnConv', 'GlobalLocalFilter', 'build_spatial_mixer',
    'resize_complex_weight', 'spectral_filter', 'HorNetBlock', 'LayerNorm2d',
    'LayerScale'
]

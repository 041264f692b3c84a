# Copyright (c) mmhornet contributors. All rights reserved.
from .block import HorNetBlock
from .gnconv import (GlobalLocalFilter, build_spatial_mixer, gnConv,
                     resize_complex_weight, spectral_filter)
from .gnconv_conv import gnConv2d
from .norm import LayerNorm2d, LayerScale

__all__ = [
    'gnConv', 'gnConv2d', 'GlobalLocalFilter', 'build_spatial_mixer',
    'resize_complex_weight', 'spectral_filter', 'HorNetBlock', 'LayerNorm2d',
    'LayerScale'
]

# Copyright (c) mmhornet contributors. All rights reserved.
from .block import HorNetBlock
from .fused import plain_forward
from .gnconv import gnConv
from .gnconv_conv import gnConv2d
from .mixers import DepthwiseConv2d, GlobalLocalFilter, build_spatial_mixer
from .norm import LayerNorm2d, LayerScale

__all__ = [
    'gnConv', 'gnConv2d', 'GlobalLocalFilter', 'DepthwiseConv2d',
    'build_spatial_mixer', 'HorNetBlock', 'LayerNorm2d', 'LayerScale',
    'plain_forward'
]

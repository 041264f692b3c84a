# Copyright (c) mmhornet contributors. All rights reserved.
from mmhornet.ops import plain_forward
from .block import HorNetBlock
from .gnconv import gnConv
from .gnconv_conv import gnConv2d
from .mixers import DepthwiseConv2d, GlobalLocalFilter
from .norm import LayerNorm2d, LayerScale

__all__ = [
    'gnConv', 'gnConv2d', 'GlobalLocalFilter', 'DepthwiseConv2d',
    'HorNetBlock', 'LayerNorm2d', 'LayerScale', 'plain_forward'
]

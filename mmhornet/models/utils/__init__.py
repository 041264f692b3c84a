# Copyright (c) mmhornet contributors. All rights reserved.
from .ckpt_convert import convert_official_hornet, is_official_layout
from .complexity import fft_flops, get_complexity

__all__ = [
    'convert_official_hornet', 'fft_flops', 'get_complexity',
    'is_official_layout'
]

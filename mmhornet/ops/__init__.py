# Copyright (c) mmhornet contributors. All rights reserved.
"""Custom operators: the functional forms HorNet's layers call where they
differ from plain PyTorch for speed, each computing the same sums."""
from .depthwise_conv import depthwise_conv2d, ops_available
from .global_filter import (resize_complex_weight, spectral_filter,
                            spectral_filter_matmul)
from .linear_gelu import linear_gelu

__all__ = [
    'depthwise_conv2d', 'ops_available', 'linear_gelu',
    'resize_complex_weight', 'spectral_filter', 'spectral_filter_matmul'
]

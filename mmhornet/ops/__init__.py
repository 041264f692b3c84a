# Copyright (c) mmhornet contributors. All rights reserved.
"""Custom operators: the functional forms HorNet's layers call where they
differ from plain PyTorch for speed, each computing the same sums, and the
one switch that turns them all off (:func:`plain_forward`)."""
from .depthwise_conv import depthwise_conv2d, ops_available
from .fast_paths import fast_paths_enabled, plain_forward
from .global_filter import (resize_complex_weight, spectral_filter,
                            spectral_filter_matmul)
from .linear_gelu import linear_gelu, onednn_linear_gelu_supported

__all__ = [
    'depthwise_conv2d', 'fast_paths_enabled', 'linear_gelu',
    'onednn_linear_gelu_supported', 'ops_available', 'plain_forward',
    'resize_complex_weight', 'spectral_filter', 'spectral_filter_matmul'
]

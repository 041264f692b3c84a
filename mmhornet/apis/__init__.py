# Copyright (c) mmhornet contributors. All rights reserved.
from .complexity import fft_flops, get_complexity
from .model import ModelHub, get_model, inference_model, list_models

__all__ = [
    'ModelHub', 'fft_flops', 'get_complexity', 'get_model', 'inference_model',
    'list_models'
]

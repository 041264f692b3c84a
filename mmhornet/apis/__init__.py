# Copyright (c) mmhornet contributors. All rights reserved.
from .model import ModelHub, get_model, inference_model, list_models

__all__ = ['ModelHub', 'get_model', 'inference_model', 'list_models']

# Copyright (c) mmhornet contributors. All rights reserved.
from .ckpt_convert import convert_official_hornet, is_official_layout

__all__ = ['convert_official_hornet', 'is_official_layout']

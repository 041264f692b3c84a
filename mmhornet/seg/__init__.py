# Copyright (c) mmhornet contributors. All rights reserved.
"""mmseg-specific modules; configs import them with
``custom_imports = dict(imports=['mmhornet.seg'])``."""
from .gn_uper_head import GNUPerHead

__all__ = ['GNUPerHead']

# Copyright (c) mmhornet contributors. All rights reserved.
"""mmseg-specific modules; configs import them with
``custom_imports = dict(imports=['mmhornet.seg'])``."""
from mmhornet.utils.toolbox import import_toolbox

import_toolbox('mmseg.models.decode_heads', 'mmhornet.seg (GNUPerHead)')
from .gn_uper_head import GNUPerHead  # noqa: E402

__all__ = ['GNUPerHead']

# Copyright (c) mmhornet contributors. All rights reserved.
from .data import check_data_roots
from .precision import cpu_has_native_bfloat16, warn_if_bfloat16_emulated
from .toolbox import import_toolbox, load_config

__all__ = [
    'check_data_roots', 'cpu_has_native_bfloat16', 'import_toolbox',
    'load_config', 'warn_if_bfloat16_emulated'
]

# Copyright (c) mmhornet contributors. All rights reserved.
from .data import check_data_roots
from .toolbox import import_toolbox, load_config, toolbox_message

__all__ = [
    'check_data_roots', 'import_toolbox', 'load_config', 'toolbox_message'
]

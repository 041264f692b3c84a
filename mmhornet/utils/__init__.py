# Copyright (c) mmhornet contributors. All rights reserved.
from .data import check_data_roots
from .dist import (cpu_threads_per_process, replace_sync_bn, setup_launcher,
                   teardown_launcher)

__all__ = [
    'check_data_roots', 'setup_launcher', 'teardown_launcher',
    'replace_sync_bn', 'cpu_threads_per_process'
]

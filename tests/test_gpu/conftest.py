# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/misc/gpu_check.py, imported for its tests."""
import importlib.util
import os.path as osp

from ..conftest import REPO_ROOT


def _load_gpu_check():
    path = osp.join(REPO_ROOT, 'tools', 'misc', 'gpu_check.py')
    spec = importlib.util.spec_from_file_location('gpu_check', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load_gpu_check()

# Copyright (c) mmhornet contributors. All rights reserved.
"""mmhornet: HorNet and gnConv for the OpenMMLab 2.0 toolboxes.

``get_model``, ``inference_model`` and ``list_models`` (:mod:`mmhornet.apis`)
and the subpackages are imported on first use.
"""
import importlib

import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

mmcv_minimum_version = '2.0.0'
mmcv_maximum_version = '2.2.0'  # exclusive: mmdet 3.3 and mmseg 1.2 need it
mmengine_minimum_version = '0.8.3'
mmengine_maximum_version = '1.0.0'  # exclusive


def _check_version(name: str, version: str, minimum: str,
                   maximum: str) -> None:
    if not digit_version(minimum) <= digit_version(version) < digit_version(
            maximum):
        raise ImportError(
            f'{name}=={version} is used but incompatible with mmhornet '
            f'{__version__}: please install {name}>={minimum},<{maximum} '
            '(`make install` sets up a verified environment).')


_check_version('mmcv', mmcv.__version__, mmcv_minimum_version,
               mmcv_maximum_version)
_check_version('mmengine', mmengine.__version__, mmengine_minimum_version,
               mmengine_maximum_version)

_LAZY = ('get_model', 'inference_model', 'list_models')
_SUBPACKAGES = ('apis', 'checkpoint', 'compat', 'deploy', 'engine', 'models',
                'ops', 'registry', 'utils')


def __getattr__(name: str):
    # The root stays light (importing it imports no model code and changes
    # no global state): the APIs and subpackages are imported on first use.
    if name in _LAZY:
        return getattr(importlib.import_module('.apis', __name__), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f'.{name}', __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['__version__', 'version_info', *_LAZY]

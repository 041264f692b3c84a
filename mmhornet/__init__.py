# Copyright (c) mmhornet contributors. All rights reserved.
"""mmhornet: HorNet and gnConv for the OpenMMLab 2.0 toolboxes."""
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

from . import compat  # noqa: E402,F401  (modern-torch fixes, applied once)
from .apis import get_model, inference_model, list_models  # noqa: E402

__all__ = [
    '__version__', 'version_info', 'get_model', 'inference_model',
    'list_models'
]

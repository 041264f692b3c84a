# Copyright (c) mmhornet contributors. All rights reserved.
"""The generated datasets of the detection and segmentation tests, and the
exported digits, for the configs of configs/gnconv/."""
import os.path as osp

import pytest

from ..conftest import run_tool
from ..test_det.conftest import tiny_coco  # noqa: F401
from ..test_seg.conftest import tiny_ade  # noqa: F401


@pytest.fixture(scope='session')
def digits(tmp_path_factory) -> str:
    """scikit-learn's digits exported as train/ and val/ image folders."""
    root = str(tmp_path_factory.mktemp('digits'))
    run_tool(['tools/dataset_converters/export_digits.py', root])
    assert osp.isdir(osp.join(root, 'val', '9'))
    return root

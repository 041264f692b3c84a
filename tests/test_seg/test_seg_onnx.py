# Copyright (c) mmhornet contributors. All rights reserved.
"""An exported segmentor (global filter included) evaluated by
tools/test.py with the config's sliding-window test and IoU metric."""
import os.path as osp

import pytest

from .conftest import SEG_CONFIG, TRAIN_ITERS, run_seg_tool, seg_data_options
from .test_seg_tools import printed_miou, val_miou

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow


def test_onnx_segmentor_tests_like_its_checkpoint(seg_trained_run, tiny_ade,
                                                  tmp_path):
    checkpoint = osp.join(seg_trained_run, f'iter_{TRAIN_ITERS}.pth')
    onnx_file = str(tmp_path / 'upernet.onnx')
    # default shape: the config's sliding-window crop (64x64)
    result = run_seg_tool([
        'tools/deployment/pytorch2onnx.py', SEG_CONFIG, '--checkpoint',
        checkpoint, '--output-file', onnx_file, '--verify'
    ])
    assert 'at 64x64' in result.stdout
    result = run_seg_tool([
        'tools/test.py', SEG_CONFIG, onnx_file, '--work-dir',
        str(tmp_path), '--cfg-options', *seg_data_options(tiny_ade)
    ])
    # the PyTorch checkpoint's mIoU on the same data (tested equal to
    # tools/test.py's in test_seg_tools)
    assert printed_miou(result.stdout) == pytest.approx(
        val_miou(seg_trained_run), abs=0.01)

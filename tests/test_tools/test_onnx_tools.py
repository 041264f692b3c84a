# Copyright (c) mmhornet contributors. All rights reserved.
"""An exported classifier inside the toolbox: pytorch2onnx.py --verify,
tools/test.py, inference_model, the image demo and the benchmark, in
onnxruntime and OpenVINO."""
import os.path as osp
import pickle
import re

import pytest
import torch

from mmhornet.apis import get_model, inference_model
from ..conftest import TEST_CONFIG, data_options, run_tool

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def exported(trained_run, tmp_path_factory) -> tuple:
    """The checkpoint of a real training run and its ONNX export (dynamic
    batch, verified in onnxruntime by the tool)."""
    checkpoint = osp.join(trained_run, 'epoch_1.pth')
    onnx_file = str(tmp_path_factory.mktemp('onnx') / 'nano.onnx')
    result = run_tool([
        'tools/deployment/pytorch2onnx.py', TEST_CONFIG, '--checkpoint',
        checkpoint, '--output-file', onnx_file, '--shape', '32', '32',
        '--dynamic-batch', '--verify'
    ])
    match = re.search(r'max relative difference ([\d.e+-]+)', result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) < 1e-5
    return checkpoint, onnx_file


def test_onnx_file_tests_like_its_checkpoint(exported, tiny_folder_dataset,
                                             tmp_path):
    checkpoint, onnx_file = exported
    outputs = {}
    runs = dict(
        torch=[checkpoint],
        onnxruntime=[onnx_file],
        openvino=[onnx_file, '--backend', 'openvino'])
    for name, weights in runs.items():
        out_file = str(tmp_path / f'{name}.pkl')
        result = run_tool([
            'tools/test.py', TEST_CONFIG, *weights, '--work-dir',
            str(tmp_path / name), '--out', out_file, '--cfg-options',
            *data_options(tiny_folder_dataset)
        ])
        accuracy = re.search(r'accuracy/top1: ([\d.]+)', result.stdout)
        assert accuracy, result.stdout[-2000:]
        with open(out_file, 'rb') as f:
            outputs[name] = (float(accuracy.group(1)), pickle.load(f))
    for runtime in ('onnxruntime', 'openvino'):
        assert outputs[runtime][0] == outputs['torch'][0]
        # the same scores for all 12 images (batches of 8 and 4)
        assert len(outputs[runtime][1]) == len(outputs['torch'][1]) == 12
        for ours, ref in zip(outputs[runtime][1], outputs['torch'][1]):
            assert ours['img_path'] == ref['img_path']
            torch.testing.assert_close(
                ours['pred_score'], ref['pred_score'], rtol=1e-5, atol=1e-6)


def test_test_tool_backend_needs_an_onnx_file(exported):
    result = run_tool(
        ['tools/test.py', TEST_CONFIG, exported[0], '--backend', 'openvino'],
        check=False)
    assert result.returncode != 0
    assert '--backend openvino runs .onnx files' in result.stderr


def test_test_tool_refuses_amp_with_onnx(exported, tiny_folder_dataset):
    result = run_tool(['tools/test.py', TEST_CONFIG, exported[1], '--amp'],
                      check=False)
    assert result.returncode != 0
    assert 'an ONNX file runs as exported' in result.stderr


def test_inference_model_and_demo_with_onnx(exported, tiny_folder_dataset):
    checkpoint, onnx_file = exported
    image = osp.join(tiny_folder_dataset, 'val', 'green', 'green_0.png')
    ours = inference_model(TEST_CONFIG, image, pretrained=onnx_file)
    ref = inference_model(TEST_CONFIG, image, pretrained=checkpoint)
    assert ours['pred_label'] == ref['pred_label']
    assert ours['pred_class'] == ref['pred_class']
    assert ours['pred_score'] == pytest.approx(ref['pred_score'], rel=1e-5)
    openvino = inference_model(
        TEST_CONFIG, image, pretrained=onnx_file, backend='openvino')
    assert openvino['pred_label'] == ref['pred_label']
    assert openvino['pred_score'] == pytest.approx(ref['pred_score'], rel=1e-5)
    model = get_model(TEST_CONFIG, pretrained=onnx_file)
    assert type(model).__name__ == 'OnnxRuntimeModel'
    assert model.dataset_meta['classes'] == list(
        get_model(TEST_CONFIG, pretrained=checkpoint).dataset_meta['classes'])
    result = run_tool(
        ['demo/image_demo.py', image, TEST_CONFIG, '--checkpoint', onnx_file])
    assert f"'pred_class': '{ref['pred_class']}'" in result.stdout


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_benchmark_runtime_backend(backend):
    result = run_tool([
        'tools/analysis_tools/benchmark.py', TEST_CONFIG, '--backend', backend,
        '--shape', '32', '32', '--batch-size', '4', '--warmup', '1',
        '--repeats', '2'
    ])
    out = result.stdout
    for batch in (1, 4):
        for name in ('mmhornet', backend):
            line = re.search(
                rf'inference\s+{name}: +([\d.]+) img/s +([\d.]+) '
                rf'ms/batch of {batch}\b', out)
            assert line and float(line.group(1)) > 0, out
    ratios = re.findall(rf'inference speed-up {backend} / mmhornet: ([\d.]+)x',
                        out)
    assert len(ratios) == 2 and all(float(r) > 0 for r in ratios), out


def test_benchmark_onnxruntime_has_no_bfloat16():
    result = run_tool([
        'tools/analysis_tools/benchmark.py', TEST_CONFIG, '--backend',
        'onnxruntime', '--amp'
    ],
                      check=False)
    assert result.returncode != 0
    assert 'use --amp with --backend openvino' in result.stderr

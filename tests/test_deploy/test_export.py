# Copyright (c) mmhornet contributors. All rights reserved.
"""ONNX export: the matrix form of the global filter, and onnxruntime
parity of small classifiers and segmentors (7x7 and GF)."""
import os.path as osp
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from mmhornet.apis import get_model
from mmhornet.deploy import export_onnx, verify_onnx
from mmhornet.models.layers import LayerScale
from mmhornet.ops import resize_complex_weight, spectral_filter_matmul
from mmhornet.ops.global_filter import MAX_PIXELS_2D_DFT
from ..conftest import REPO_ROOT, TEST_CONFIG

SEG_CONFIG = osp.join(REPO_ROOT, 'tests', 'data',
                      'upernet_hornet-nano_tiny-ade.py')
HORFPN_CONFIG = osp.join(REPO_ROOT, 'tests', 'data',
                         'upernet-horfpn-gf_hornet-nano_tiny-ade.py')
NANO = dict(
    base_dim=8,
    depths=[1, 1, 1, 1],
    orders=[2, 2, 3, 3],
    dw_cfg=[dict(type='DW', kernel_size=7)] * 4)
NANO_GF = dict(
    NANO,
    dw_cfg=[
        dict(type='DW', kernel_size=7),
        dict(type='DW', kernel_size=7),
        dict(type='GF', h=4, w=3),
        dict(type='GF', h=2, w=2)
    ])


def fft_filter(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The global filter as the official code computes it (torch.fft)."""
    height, width = x.shape[2:]
    spectrum = torch.fft.rfft2(x, dim=(2, 3), norm='ortho')
    if weight.shape[1:3] != spectrum.shape[2:]:
        weight = resize_complex_weight(weight, *spectrum.shape[2:])
    spectrum = spectrum * torch.view_as_complex(weight.contiguous())
    return torch.fft.irfft2(
        spectrum, s=(height, width), dim=(2, 3), norm='ortho')


@pytest.mark.parametrize('dtype, tolerance', [(torch.float64, 1e-13),
                                              (torch.float32, 2e-6)])
@pytest.mark.parametrize(
    'size, filter_size',
    [
        ((14, 14), (14, 8)),  # HorNet-GF stage 3 at 224 px
        ((7, 7), (7, 4)),  # stage 4: odd height and width
        ((12, 10), (12, 6)),  # even, non-square
        ((9, 13), (9, 7)),  # odd, non-square
        ((14, 14), (7, 4)),  # filter resized up
        ((6, 9), (12, 7)),  # filter resized down
        ((1, 2), (1, 2)),  # degenerate sizes
        ((24, 25), (24, 13)),  # above MAX_PIXELS_2D_DFT: products along H, W
        ((26, 31), (12, 7)),  # the same, resized
    ])
def test_matrix_form_equals_torch_fft(size, filter_size, dtype, tolerance):
    generator = torch.Generator().manual_seed(sum(size) + sum(filter_size))
    x = torch.randn(2, 3, *size, generator=generator, dtype=dtype)
    weight = torch.randn(3, *filter_size, 2, generator=generator, dtype=dtype)
    expected = fft_filter(x, weight)
    actual = spectral_filter_matmul(x, weight)
    assert actual.dtype == dtype and actual.shape == x.shape
    assert (size[0] * size[1] > MAX_PIXELS_2D_DFT) == (size[0] > 20)
    error = (actual - expected).abs().max() / expected.abs().max()
    assert error < tolerance
    # the tolerance is not loose: a one-bin error in the filter is caught
    weight[0, -1, -1, 0] += 1
    error = (spectral_filter_matmul(x, weight) - expected).abs().max()
    assert error / expected.abs().max() > 1e-3


def onnx_op_types(path: str) -> set:
    graph = onnx.load(path).graph
    types = set()

    def walk(g):
        for node in g.node:
            types.add(node.op_type)
            for attribute in node.attribute:
                if attribute.g is not None:
                    walk(attribute.g)

    walk(graph)
    return types


def visible_layer_scales(model: torch.nn.Module) -> None:
    """Layer scales from U(0.5, 1): at their 1e-6 initial value the blocks
    would hardly change the output, and an error in them would not show."""
    for module in model.modules():
        if isinstance(module, LayerScale):
            torch.nn.init.uniform_(module.weight, 0.5, 1.0)


@pytest.mark.parametrize('arch', [NANO, NANO_GF], ids=['7x7', 'gf'])
@pytest.mark.slow
def test_classifier_parity_in_onnxruntime_and_openvino(arch, tmp_path):
    torch.manual_seed(0)
    model = get_model(TEST_CONFIG, backbone=dict(arch=arch))
    visible_layer_scales(model)
    path = str(tmp_path / 'cls.onnx')
    export_onnx(model, path, shape=(64, 96), dynamic_batch=True)
    ops = onnx_op_types(path)
    assert 'DFT' not in ops and 'STFT' not in ops
    if arch is NANO_GF:
        assert 'MatMul' in ops
    # batch 3 through a graph traced at batch 1
    for backend in ('onnxruntime', 'openvino'):
        error = verify_onnx(
            model, path, (64, 96), batch_size=3, backend=backend)
        assert error < 1e-5, backend
    # the comparison can fail: a changed weight is seen
    with torch.no_grad():
        model.head.fc.bias[0] += 1e-3
    for backend in ('onnxruntime', 'openvino'):
        with pytest.raises(
                AssertionError, match=f'in {backend} differs from PyTorch'):
            verify_onnx(model, path, (64, 96), batch_size=1, backend=backend)


@pytest.mark.parametrize(
    'config, arch', [(SEG_CONFIG, NANO), (SEG_CONFIG, None),
                     (HORFPN_CONFIG, None)],
    ids=['upernet-7x7', 'upernet-gf', 'gnconv-head-gf'])
@pytest.mark.slow
def test_segmentor_parity_in_onnxruntime(config, arch, tmp_path):
    torch.manual_seed(0)
    overrides = dict(backbone=dict(arch=arch)) if arch else {}
    model = get_model(config, **overrides)
    path = str(tmp_path / 'seg.onnx')
    export_onnx(model, path, shape=(64, 96), dynamic_batch=True)
    assert 'DFT' not in onnx_op_types(path)
    error = verify_onnx(model, path, (64, 96), batch_size=2)
    assert error < 1e-4
    if arch is None:  # GF stages; OpenVINO too
        error = verify_onnx(
            model, path, (64, 96), batch_size=2, backend='openvino')
        assert error < 1e-4


def test_metadata_and_config_runtime(tmp_path):
    torch.manual_seed(0)
    model = get_model(TEST_CONFIG)
    model.dataset_meta = dict(classes=['a', 'b', 'c'])
    path = str(tmp_path / 'cls.onnx')
    export_onnx(model, path, shape=(32, 32))
    runtime = get_model(TEST_CONFIG, pretrained=path)
    assert runtime.dataset_meta == dict(classes=['a', 'b', 'c'])
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(
            runtime(images, mode='tensor').numpy(),
            model(images, mode='tensor').numpy(),
            rtol=1e-5,
            atol=1e-6)
    with pytest.raises(ValueError, match=r'takes inputs of shape \[1, 3, 32'):
        runtime(torch.rand(1, 3, 64, 64), mode='tensor')


def test_openvino_runtime_model(tmp_path):
    """get_model(..., backend='openvino') runs the file in OpenVINO, at any
    batch of a dynamic-batch graph (compiled once per batch size)."""
    torch.manual_seed(0)
    model = get_model(TEST_CONFIG, backbone=dict(arch=NANO_GF))
    visible_layer_scales(model)
    model.dataset_meta = dict(classes=['a', 'b', 'c'])
    path = str(tmp_path / 'cls.onnx')
    export_onnx(model, path, shape=(32, 32), dynamic_batch=True)
    runtime = get_model(TEST_CONFIG, pretrained=path, backend='openvino')
    assert runtime.backend == 'openvino'
    assert runtime.dataset_meta == dict(classes=['a', 'b', 'c'])
    for batch in (1, 4, 1):
        images = torch.rand(batch, 3, 32, 32)
        with torch.no_grad():
            expected = model(images, mode='tensor').numpy()
        actual = runtime(images, mode='tensor').numpy()
        assert actual.shape == expected.shape
        error = np.abs(actual - expected).max() / np.abs(expected).max()
        assert error < 1e-5
    with pytest.raises(ValueError, match=r'takes inputs of shape'):
        runtime(torch.rand(1, 3, 64, 64), mode='tensor')
    with pytest.raises(ValueError, match='runs an exported .onnx file'):
        get_model(TEST_CONFIG, backend='openvino')
    with pytest.raises(ValueError, match="Unknown backend 'tensorrt'"):
        get_model(TEST_CONFIG, pretrained=path, backend='tensorrt')


@pytest.mark.parametrize('module,call,name', [
    ('onnxruntime', 'from mmhornet.deploy.runtime import create_session\n'
     'create_session("model.onnx")', 'onnxruntime'),
    ('openvino', 'from mmhornet.deploy import create_runner\n'
     'create_runner("model.onnx", "openvino")', 'OpenVINO'),
])
def test_missing_runtime_is_explained(module, call, name):
    code = f'import sys; sys.modules["{module}"] = None\n{call}'
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True,
                            cwd=REPO_ROOT)
    assert result.returncode != 0
    assert (f'needs {name}: pip install --no-build-isolation -e '
            '".[deploy]"') in result.stderr


@pytest.mark.slow
def test_detector_backbone_and_neck_features(tmp_path):
    from ..test_det.tiny_config import tiny_config
    config = tiny_config('configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py',
                         str(tmp_path), str(tmp_path))
    torch.manual_seed(0)
    model = get_model(config)  # a tiny HorNet with GF stages 3 and 4
    path = str(tmp_path / 'feats.onnx')
    export_onnx(model, path, (64, 96))
    assert 'DFT' not in onnx_op_types(path)
    outputs = [o.name for o in onnx.load(path).graph.output]
    assert outputs == [f'feats_{i}' for i in range(5)]  # FPN P2-P6
    assert verify_onnx(model, path, (64, 96)) < 1e-4
    with pytest.raises(ValueError, match='not its heads'):
        get_model(config, pretrained=path)


def test_opset_is_honoured(tmp_path):
    torch.manual_seed(0)
    model = get_model(TEST_CONFIG)
    path = str(tmp_path / 'cls.onnx')
    export_onnx(model, path, shape=(32, 32), opset=18)
    versions = {o.domain: o.version for o in onnx.load(path).opset_import}
    assert versions[''] == 18
    assert verify_onnx(model, path, (32, 32)) < 1e-5


@pytest.mark.parametrize('config, shape', [
    ('hornet/hornet-tiny_8xb128_in1k.py', (224, 224)),
    ('hornet/hornet-large-gf384_in21k-pre_8xb16_in1k-384px.py', (384, 384)),
    ('hornet/hornet-large-gf384_8xb32_in21k-384px.py', (384, 384)),
    ('upernet/upernet_hornet-l_8xb2-160k_ade20k-640x640.py', (640, 640)),
    ('mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py', None),
])
def test_the_default_export_size_is_the_test_size(config, shape):
    """The export tools' default: the size the config tests at (the
    pipeline's CenterCrop or fixed Resize, a segmentor's crop); detectors
    resize keeping the aspect ratio, so they must be given one."""
    from mmengine.config import Config

    from mmhornet.deploy.export import eval_input_shape
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    if shape is None:
        with pytest.raises(ValueError, match='give the export shape'):
            eval_input_shape(cfg)
    else:
        assert eval_input_shape(cfg) == shape


def transposed_layer_norms(path: str) -> int:
    """``Transpose -> LayerNormalization -> Transpose`` chains in a file."""
    graph = onnx.load(path).graph
    producers = {out: node for node in graph.node for out in node.output}
    chains = 0
    for node in graph.node:
        source = producers.get(node.input[0]) if node.input else None
        if (node.op_type == 'Transpose' and source is not None
                and source.op_type == 'LayerNormalization'
                and producers.get(source.input[0]) is not None
                and producers[source.input[0]].op_type == 'Transpose'):
            chains += 1
    return chains


@pytest.mark.parametrize('opset', [17, 20])
def test_channels_first_layer_norms_in_the_export(opset, tmp_path):
    """LayerNorm2d exports as a norm over the channel axis (the form
    OpenVINO runs without transposes), with the same outputs; the chain is
    there without the rewrite."""
    from mmhornet.deploy.graph import channels_first_layer_norms
    torch.manual_seed(0)
    model = get_model(TEST_CONFIG)
    visible_layer_scales(model)
    path = str(tmp_path / 'cls.onnx')
    export_onnx(model, path, shape=(32, 32), opset=opset)
    assert transposed_layer_norms(path) == 0
    for backend in ('onnxruntime', 'openvino'):
        assert verify_onnx(model, path, (32, 32), backend=backend) < 1e-5
    # the same model exported by torch alone has the chains
    raw = str(tmp_path / 'raw.onnx')
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.rand(1, 3, 32, 32), ),
            raw,
            dynamo=True,
            opset_version=opset,
            external_data=False)
    chains = transposed_layer_norms(raw)
    assert chains > 0
    graph = onnx.load(raw)
    assert channels_first_layer_norms(graph) == chains

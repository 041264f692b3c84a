# Copyright (c) mmhornet contributors. All rights reserved.
"""Mask R-CNN with a HorNet backbone (7x7 and GF) through mmdeploy 1.3's
``torch2onnx`` and onnxruntime, against the same rewritten graph run in
PyTorch. Skipped without mmdeploy, which is not a project requirement (see
docs/deployment.md (Detection): its protobuf<=3.20.2 pin conflicts with the
pinned onnx)."""
import functools
import os.path as osp

import numpy as np
import pytest
import torch

mmdeploy = pytest.importorskip(
    'mmdeploy',
    reason='mmdeploy is not installed; it is not an mmhornet requirement '
    '(`pip install --no-deps mmdeploy==1.3.1` plus aenum, multiprocess, '
    'prettytable, terminaltables: docs/deployment.md (Detection))')
ort = pytest.importorskip('onnxruntime')
onnx = pytest.importorskip('onnx')

from ..conftest import REPO_ROOT  # noqa: E402
from ..test_det.tiny_config import TINY_ARCH, tiny_config  # noqa: E402

DEPLOY_CONFIG = osp.join(REPO_ROOT, 'configs', 'deploy',
                         'instance-seg_onnxruntime_static-800x1344.py')
WIDTH, HEIGHT = 128, 96


@pytest.fixture
def mmdeploy_on_torch2(monkeypatch):
    """The two patches mmdeploy 1.3.1 needs on torch >= 2.9 (measured on
    torch 2.13): it calls ``torch.onnx.export`` without ``dynamo=``, whose
    default became True (its rewriters target the TorchScript exporter),
    and its RoI Align symbolic imports ``symbolic_opset9._cast_Long``,
    which torch 2 removed (a Cast to int64)."""
    import torch.onnx.symbolic_opset9 as opset9
    monkeypatch.setattr(torch.onnx, 'export',
                        functools.partial(torch.onnx.export, dynamo=False))
    if not hasattr(opset9, '_cast_Long'):
        monkeypatch.setattr(
            opset9,
            '_cast_Long',
            lambda g, x, non_blocking: g.op('Cast', x, to_i=7),
            raising=False)


def _random_detector_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Random weights whose detections do not hinge on rounding: RPN
    objectness logits spread (std ~3) so the top-k picks are not near-ties,
    and one class favoured so boxes pass the 0.05 score threshold."""
    with torch.no_grad():
        x = torch.randn(
            1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(1))
        logits = torch.cat([
            level.flatten()
            for level in model.rpn_head(model.extract_feat(x))[0]
        ])
        model.rpn_head.rpn_cls.weight.mul_(3.0 / logits.std())
        model.rpn_head.rpn_cls.bias.zero_()
        model.roi_head.bbox_head.fc_cls.bias[1] += 4.0
    torch.save({'state_dict': model.state_dict()}, path)


def test_mask_rcnn_mmdeploy_onnxruntime(mmdeploy_on_torch2, tmp_path):
    """One tiny HorNet with both spatial mixers: 7x7 depth-wise stages 1-2,
    global filters (exported as matrix products) in stages 3-4."""
    from mmdeploy.apis import build_task_processor, torch2onnx
    from mmdeploy.core import RewriterContext, patch_model
    from mmengine import Config

    config = tiny_config('configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py',
                         str(tmp_path / 'data'), str(tmp_path))
    model_cfg = Config.fromfile(config)
    assert model_cfg.model.backbone.arch == TINY_ARCH
    deploy_cfg = Config.fromfile(DEPLOY_CONFIG)
    deploy_cfg.onnx_config.input_shape = [WIDTH, HEIGHT]

    torch.manual_seed(0)
    task = build_task_processor(model_cfg, deploy_cfg, 'cpu')
    checkpoint = str(tmp_path / 'random.pth')
    _random_detector_checkpoint(task.build_pytorch_model(None), checkpoint)
    image = np.random.default_rng(0).integers(
        0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)

    torch2onnx(image, str(tmp_path), 'end2end.onnx', deploy_cfg, model_cfg,
               checkpoint, 'cpu')
    graph = onnx.load(str(tmp_path / 'end2end.onnx'))
    op_types = {node.op_type for node in graph.graph.node}
    assert {'RoiAlign', 'NonMaxSuppression'} <= op_types
    assert 'DFT' not in op_types
    assert all(node.domain in ('', 'ai.onnx') for node in graph.graph.node)

    # reference: mmdeploy's rewritten graph, run by PyTorch (GF in torch.fft)
    model = task.build_pytorch_model(checkpoint)
    data, inputs = task.create_input(
        image, [WIDTH, HEIGHT], data_preprocessor=model.data_preprocessor)
    assert tuple(inputs.shape) == (1, 3, HEIGHT, WIDTH)
    patched = patch_model(model, cfg=deploy_cfg, backend='onnxruntime')
    with RewriterContext(cfg=deploy_cfg, backend='onnxruntime'), \
            torch.no_grad():
        dets, labels, masks = (
            t.numpy()
            for t in patched(inputs, data['data_samples'], mode='predict'))

    session = ort.InferenceSession(
        str(tmp_path / 'end2end.onnx'), providers=['CPUExecutionProvider'])
    ort_dets, ort_labels, ort_masks = session.run(None,
                                                  {'input': inputs.numpy()})

    assert (dets[0, :, 4] > 0.05).sum() >= 5, 'no detections to compare'
    np.testing.assert_array_equal(ort_labels, labels)
    np.testing.assert_allclose(ort_dets[..., :4], dets[..., :4], atol=1e-3)
    np.testing.assert_allclose(ort_dets[..., 4], dets[..., 4], atol=1e-5)
    np.testing.assert_allclose(ort_masks, masks, atol=1e-4)

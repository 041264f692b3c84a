# Copyright (c) mmhornet contributors. All rights reserved.
"""Every detection config builds its model, with the published size, its
optimizer follows the official layer numbering, and official checkpoints
convert and load."""
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from PIL import Image

import mmhornet
from mmhornet.apis import get_model, inference_model
from mmhornet.apis.model import ModelHub
from mmhornet.checkpoint import load_checkpoint_file
from ..conftest import REPO_ROOT, run_tool
from .conftest import CLASSES
from .tiny_config import tiny_config

CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for pattern in ('configs/mask_rcnn/*.py', 'configs/cascade_mask_rcnn/*.py')
    for path in glob.glob(osp.join(REPO_ROOT, pattern)))
# Official README: #params (M) of the Cascade Mask R-CNN 3x models.
PUBLISHED_PARAMS_M = {
    't': 80,
    't-gf': 80,
    's': 107,
    's-gf': 108,
    'b': 144,
    'b-gf': 146,
    'l': 251,
    'l-gf': 259
}


def build(cfg: Config) -> torch.nn.Module:
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model)


def test_every_config_is_in_the_model_index():
    indexed = {
        osp.relpath(model.config, REPO_ROOT)
        for model in ModelHub.models().values()
    }
    assert len(CONFIGS) == 12
    assert set(CONFIGS) <= indexed


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_with_the_published_size(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    assert cfg.default_scope == 'mmdet'
    assert cfg.model.backbone.type == 'mmhornet.HorNet'
    model = build(cfg)  # no init_weights: nothing is downloaded
    assert isinstance(model.backbone, mmhornet.models.HorNet)
    params = sum(p.numel() for p in model.parameters())
    name = osp.splitext(osp.basename(config))[0]
    (model_info, ) = [
        m for m in ModelHub.models().values() if m.config.endswith(config)
    ]
    assert model_info.metadata.parameters == params
    size = re.search(r'hornet-([a-z-]+)_', name).group(1)
    if name.startswith('cascade'):
        assert round(params / 1e6) == PUBLISHED_PARAMS_M[size]
        assert model_info.metadata.epochs == cfg.train_cfg.max_epochs == 36
        # 4conv1fc heads with SyncBN and GIoU in all three stages
        for head in cfg.model.roi_head.bbox_head:
            assert head.num_shared_convs == 4
            assert head.norm_cfg.type == 'SyncBN'
            assert head.loss_bbox.type == 'GIoULoss'
    if 'horfpn' in name:
        assert type(model.neck).__name__ == 'HorFPN'


def official_layer_id(name: str) -> int:
    """The official HorNet detection layer numbering (num_layers 12),
    written from the reference: downsample 0/2/3/12, stages 1, 2,
    3 + block // 2 (at most 11), 12; everything else 13."""
    match = re.match(r'backbone\.downsample_layers\.(\d)', name)
    if match:
        return (0, 2, 3, 12)[int(match.group(1))]
    match = re.match(r'backbone\.stages\.(\d)\.(\d+)', name)
    if match:
        stage, block = map(int, match.groups())
        return (1, 2, min(3 + block // 2, 11), 12)[stage]
    return 13


@pytest.mark.parametrize('config,rate,top', [
    ('configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-t_fpn_3x_coco.py',
     0.7, 13),
    ('configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-b_fpn_3x_coco.py',
     0.8, 13),
    ('configs/mask_rcnn/mask-rcnn_hornet-s_horfpn_1x_coco.py', 0.95, 7),
])
def test_layer_decay_follows_the_official_numbering(config, rate, top):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    model = build(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base_lr = cfg.optim_wrapper.optimizer.lr
    seen = 0
    for group in wrapper.optimizer.param_groups:
        for name in group['param_names']:
            layer_id = official_layer_id(name)
            # num_layers 6 keeps ids 0..12 but puts the rest at 7
            layer_id = top if layer_id == 13 else layer_id
            assert group['lr'] == pytest.approx(base_lr *
                                                rate**(top - layer_id))
            one_dim = name.endswith('.bias') or 'norm' in name or ('gamma'
                                                                   in name)
            if one_dim:
                assert group['weight_decay'] == 0
            seen += 1
    assert seen == sum(1 for _ in model.parameters())
    scales = {g['lr'] / base_lr for g in wrapper.optimizer.param_groups}
    if top == 7:  # the published quirk: the deepest blocks exceed 1
        assert max(scales) == pytest.approx(0.95**-5)


def to_official_layout(state_dict: dict) -> dict:
    """What an official mmdet 2.x HorNet checkpoint holds: gnConv's
    ``pws`` and bare ``gamma1``/``gamma2`` layer scales."""
    official = {}
    for key, value in state_dict.items():
        key = key.replace('gnconv.projs.', 'gnconv.pws.')
        key = re.sub(r'\.(gamma[12])\.weight$', r'.\1', key)
        official[key] = value
    return official


@pytest.mark.slow
def test_official_checkpoint_converts_loads_and_infers(tiny_coco, tmp_path):
    config = tiny_config(
        'configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-t-gf_fpn_3x_'
        'coco.py', tiny_coco, str(tmp_path))
    torch.manual_seed(0)
    model = build(Config.fromfile(config))
    model.init_weights()
    for name, param in model.named_parameters():
        if 'gamma' in name:  # layer scales far from their 1e-6 init
            param.data.uniform_(0.5, 1.5)
    state_dict = model.state_dict()
    official = to_official_layout(state_dict)
    assert 'backbone.stages.2.0.gnconv.pws.0.weight' in official
    assert 'backbone.stages.0.0.gamma1' in official
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(
        dict(
            state_dict=official,
            meta=dict(CLASSES=CLASSES, epoch=36, mmdet_version='2.25.0')), src)

    result = run_tool(
        ['tools/model_converters/hornet2mmhornet.py',
         str(src),
         str(dst)])
    assert '(state_dict)' in result.stdout
    converted = load_checkpoint_file(str(dst))
    assert list(converted['state_dict']) == list(state_dict)
    assert converted['meta']['dataset_meta'] == dict(classes=list(CLASSES))

    image = osp.join(tiny_coco, 'val', 'val_1.jpg')
    # get_model converts the official file on the fly: same weights
    for checkpoint in (dst, src):
        net = get_model(config, pretrained=str(checkpoint))
        for key, value in net.state_dict().items():
            assert torch.equal(value, state_dict[key]), key
        assert net.dataset_meta['classes'] == list(CLASSES)
    show_dir = tmp_path / 'vis'
    result = inference_model(net, image, show_dir=str(show_dir))
    assert isinstance(result, DetDataSample)
    instances = result.pred_instances
    assert instances.masks.shape[1:] == (64, 80)
    assert len(instances.bboxes) == len(instances.scores) <= 20
    drawn = np.asarray(Image.open(show_dir / 'val_1.jpg'))
    assert drawn.shape == (64, 80, 3)
    # a BGR array gives the same prediction as the file
    array = np.asarray(Image.open(image))[..., ::-1].copy()
    again = inference_model(net, array)
    assert torch.allclose(again.pred_instances.bboxes, instances.bboxes)


@pytest.mark.slow
def test_image_demo_draws_detections(tiny_coco, tmp_path):
    config = tiny_config('configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py',
                         tiny_coco, str(tmp_path))
    torch.manual_seed(0)
    model = build(Config.fromfile(config))
    model.init_weights()
    checkpoint = tmp_path / 'model.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=CLASSES))), checkpoint)
    image = osp.join(tiny_coco, 'val', 'val_2.jpg')
    result = run_tool([
        'demo/image_demo.py', image, config, '--checkpoint',
        str(checkpoint), '--show-dir',
        str(tmp_path / 'vis')
    ])
    # one entry per instance: a box, a class of the dataset and a score
    entries = re.findall(
        r"'bbox': \[([\d., ]+)\],\s+'label': '(\w+)',\s+'score': ([\d.]+)",
        result.stdout)
    assert entries, result.stdout
    for box, label, score in entries:
        assert len(box.split(',')) == 4
        assert label in CLASSES and 0 <= float(score) <= 1
    assert (tmp_path / 'vis' / 'val_2.jpg').is_file()

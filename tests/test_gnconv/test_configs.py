# Copyright (c) mmhornet contributors. All rights reserved.
"""The parameter counts of configs/gnconv/README.md: each variant and its
plain twin (the same config with the replacement removed)."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmhornet.apis import get_model
from mmhornet.models.layers import gnConv2d
from ..conftest import REPO_ROOT

# config: (gnConv2d layers, params, params of the plain twin)
PARAMS = {
    'mask-rcnn_r50-gnconv-c3-c5_fpn_1x_coco': (13, 37_778_736, 44_396_336),
    'mask-rcnn_hornet-s_fpn-gnconv_1x_coco': (8, 68_379_152, 69_034_512),
    'resnet50-gnconv-c3-c5_8xb32_in1k': (13, 18_939_432, 25_557_032),
    'resnet50-gnconv-c3-c5_1xb64_digits': (13, 1_086_618, 1_486_106),
    'upernet_r50_head-gnconv_4xb4-160k_ade20k-512x512':
    (12, 48_888_972, 66_516_108),
}


def plain_twin(cfg: Config) -> Config:
    """``cfg`` without gnConv2d: no dcn in the backbone, no conv_cfg in the
    neck and the decode head."""
    model = cfg.model
    if model.backbone.get('dcn'):
        model.backbone.update(dcn=None, stage_with_dcn=(False, ) * 4)
    for part in ('neck', 'decode_head'):
        if model.get(part) and model[part].get('conv_cfg'):
            model[part].conv_cfg = None
    return cfg


def count(model) -> tuple:
    return (sum(isinstance(m, gnConv2d) for m in model.modules()),
            sum(p.numel() for p in model.parameters()))


@pytest.mark.parametrize('name', list(PARAMS))
def test_params_against_the_plain_twin(name):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/gnconv', name + '.py'))
    layers, params, twin_params = PARAMS[name]
    assert count(get_model(cfg)) == (layers, params)
    assert count(get_model(plain_twin(cfg))) == (0, twin_params)

# Copyright (c) mmhornet contributors. All rights reserved.
"""Every shipped config: an OpenMMLab name, and (slow) it resolves, with the
invariants the shared bases are there to keep."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from mmhornet.models import HorNet
from .conftest import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '*', '*.py'))
    if '/_base_/' not in path and '/deploy/' not in path)
# {algorithm}_{modules}_{N}xb{B}-{schedule}_{data}: the data is the last
# '_' field; a few ImageNet configs put the pre-training data before it
DATA = re.compile(r'_(in1k|in1k-384px|in21k|in21k-384px|digits|coco|'
                  r'ade20k-\d+x\d+)\.py$')


def test_the_configs_are_found():
    assert len(CONFIGS) == 39  # hornet 12, detection 12, upernet 10, gnconv 5
    assert 'configs/hornet/hornet-nano_1xb64_digits.py' in CONFIGS


@pytest.mark.parametrize('config', CONFIGS)
def test_name_puts_the_data_last_and_decoders_after_the_backbone(config):
    name = osp.basename(config)
    assert DATA.search(name), name
    # HorFPN / gnConv decoders sit in the module slot, after the backbone:
    # a detector's or segmentor's algorithm slot is its plain name
    algorithm = name.split('_')[0]
    if 'rcnn' in algorithm or 'upernet' in algorithm:
        assert algorithm in ('mask-rcnn', 'cascade-mask-rcnn', 'upernet')


def _base_dim(arch) -> int:
    if isinstance(arch, str):
        return HorNet.arch_zoo[arch]['base_dim']
    return arch['base_dim']


@pytest.mark.slow
@pytest.mark.parametrize('config', CONFIGS)
def test_config_resolves_with_one_constructor_and_matching_widths(config):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    wrapper = cfg.get('optim_wrapper') or {}
    constructor = wrapper.get('constructor', 'DefaultOptimWrapperConstructor')
    # one layer-decay constructor for all three tasks
    assert constructor in ('DefaultOptimWrapperConstructor',
                           'mmhornet.LayerDecayOptimWrapperConstructor')
    if constructor != 'DefaultOptimWrapperConstructor':
        assert set(wrapper.paramwise_cfg) <= {
            'decay_rate', 'decay_type', 'num_layers'
        }
    backbone = cfg.model.backbone
    if backbone.type != 'mmhornet.HorNet':
        return
    dims = [_base_dim(backbone.arch) * 2**i for i in range(4)]
    model = cfg.model
    if 'head' in model:  # classifier: the head takes the last stage
        assert model.head.in_channels == dims[-1]
    if model.get('neck') and 'in_channels' in model.neck:  # FPN / HorFPN
        assert list(model.neck.in_channels) == dims
    if 'decode_head' in model:  # UPerNet
        assert list(model.decode_head.in_channels) == dims
        assert model.auxiliary_head.in_channels == dims[2]

# Copyright (c) mmhornet contributors. All rights reserved.
"""Layer-wise / stage-wise lr decay against the official HorNet numbers."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper

from mmhornet.models import HorNet


class Detector(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = HorNet(
            arch='tiny',
            out_indices=(0, 1, 2, 3),
            gap_before_final_norm=False,
            frozen_stages=-1)
        self.neck = nn.Conv2d(512, 256, 1)


@pytest.fixture(scope='module')
def detector():
    torch.manual_seed(0)
    return Detector()


def build(model, **paramwise_cfg):
    wrapper = build_optim_wrapper(
        model,
        dict(
            constructor='mmhornet.LayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.05),
            paramwise_cfg=paramwise_cfg))
    settings = {}
    for group in wrapper.optimizer.param_groups:
        for name in group['param_names']:
            settings[name] = (round(group['lr_scale'],
                                    4), group['lr'], group['weight_decay'])
    return settings


def test_layer_wise_official_scales(detector):
    settings = build(
        detector, decay_rate=0.7, decay_type='layer_wise', num_layers=12)
    assert len(settings) == len(list(detector.parameters()))
    expected = {  # reference: official layer-wise rule, rate 0.7, 12 layers
        'backbone.downsample_layers.0.0.weight': 0.0097,
        'backbone.stages.0.1.pwconv1.weight': 0.0138,
        'backbone.downsample_layers.1.1.weight': 0.0198,
        'backbone.stages.1.2.gnconv.proj_in.weight': 0.0198,
        'backbone.downsample_layers.2.1.weight': 0.0282,
        'backbone.stages.2.1.norm1.weight': 0.0282,
        'backbone.stages.2.2.gamma1.weight': 0.0404,
        'backbone.stages.2.9.pwconv2.weight': 0.1176,
        'backbone.stages.2.16.pwconv2.weight': 0.4900,
        'backbone.stages.2.17.gnconv.dwconv.weight': 0.4900,
        'backbone.downsample_layers.3.1.weight': 0.7,
        'backbone.stages.3.1.gnconv.projs.3.weight': 0.7,
        'backbone.norm3.weight': 1.0,
        'neck.weight': 1.0,
    }
    for name, scale in expected.items():
        assert settings[name][0] == scale, name
        # lr = base lr x scale (the reference values are rounded to 4 places)
        assert settings[name][1] == pytest.approx(2e-4 * scale, rel=5e-3)
    # no weight decay on 1-D parameters and biases
    assert settings['backbone.stages.0.0.gamma1.weight'][2] == 0
    assert settings['neck.bias'][2] == 0
    assert settings['neck.weight'][2] == 0.05
    assert settings['backbone.stages.2.3.gnconv.proj_in.weight'][2] == 0.05


def test_horfpn_quirk_gives_scales_above_one(detector):
    settings = build(
        detector, decay_rate=0.95, decay_type='layer_wise', num_layers=6)
    assert settings['backbone.downsample_layers.0.0.weight'][0] == 0.6983
    assert settings['backbone.stages.2.9.pwconv1.weight'][0] == 1.0  # id 7
    assert settings['backbone.stages.2.10.pwconv1.weight'][0] == 1.0526
    assert settings['backbone.stages.2.17.pwconv1.weight'][0] == 1.2277
    assert settings['backbone.stages.3.0.pwconv1.weight'][0] == 1.2924
    assert settings['neck.weight'][0] == 1.0
    assert settings['backbone.norm0.weight'][0] == 1.0


@pytest.mark.parametrize('num_layers,expected', [
    (6, [0.4783, 0.5314, 0.5905, 0.6561, 0.7290]),
    (12, [0.2542, 0.2824, 0.3138, 0.3487, 0.3874]),
])
def test_stage_wise_official_scales(detector, num_layers, expected):
    settings = build(
        detector,
        decay_rate=0.9,
        decay_type='stage_wise',
        num_layers=num_layers)
    for i in range(4):
        assert settings[f'backbone.downsample_layers.{i}.0.weight'][0] == (
            expected[0])
        assert settings[f'backbone.stages.{i}.0.pwconv1.weight'][0] == (
            expected[i + 1])
    assert settings['backbone.norm2.bias'][0] == 1.0
    assert settings['neck.weight'][0] == 1.0


def test_frozen_parameters_are_left_out_and_errors(detector):
    frozen = Detector()
    frozen.backbone.frozen_stages = 1
    frozen.backbone.train()
    settings = build(frozen, decay_rate=0.9, num_layers=12)
    assert not any(name.startswith('backbone.stages.0.') for name in settings)
    assert 'backbone.stages.1.0.pwconv1.weight' in settings
    with pytest.raises(ValueError, match='decay_type'):
        build(detector, decay_type='block_wise')
    with pytest.raises(TypeError, match='get_layer_depth'):
        build(nn.Linear(2, 2), decay_rate=0.9)


def test_classifier_matches_mmpretrain_layer_decay():
    """On a classifier the one constructor gives every parameter the lr and
    weight decay of mmpretrain's LearningRateDecayOptimWrapperConstructor
    with the fine-tuning settings the 384-px configs used before."""
    pytest.importorskip('mmpretrain')
    from mmpretrain.models import ImageClassifier
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone=dict(
            type='mmhornet.HorNet',
            arch=dict(
                base_dim=8,
                depths=[1, 2, 7, 1],
                orders=[2, 3, 4, 5],
                dw_cfg=[dict(type='DW', kernel_size=7)] * 2 +
                [dict(type='GF', h=4, w=3)] * 2)),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=64))
    optimizer = dict(type='AdamW', lr=5e-5, weight_decay=1e-8)

    def per_param(constructor, paramwise_cfg):
        wrapper = build_optim_wrapper(
            model,
            dict(
                constructor=constructor,
                optimizer=optimizer,
                paramwise_cfg=paramwise_cfg))
        names = {id(p): n for n, p in model.named_parameters()}
        return {
            names[id(p)]: (group['lr'], group['weight_decay'])
            for group in wrapper.optimizer.param_groups
            for p in group['params']
        }

    ours = per_param('mmhornet.LayerDecayOptimWrapperConstructor',
                     dict(decay_rate=0.7))
    theirs = per_param(
        'mmpretrain.LearningRateDecayOptimWrapperConstructor',
        dict(
            layer_decay_rate=0.7,
            norm_decay_mult=0.0,
            bias_decay_mult=0.0,
            flat_decay_mult=0.0))
    assert len(ours) == len(list(model.parameters()))
    assert ours.keys() == theirs.keys()
    for name, (lr, wd) in theirs.items():
        assert ours[name][0] == pytest.approx(lr, rel=1e-12), name
        assert ours[name][1] == wd, name
    # the deepest and shallowest scales really differ: depths 1/2/7/1 give
    # ids 0 (stem) to 7 (last stage), 8 for the head, so 0.7 ** 8 apart
    assert ours['backbone.downsample_layers.0.0.weight'][0] == pytest.approx(
        5e-5 * 0.7**8)
    assert ours['head.fc.weight'] == (5e-5, 1e-8)
    assert ours['head.fc.bias'] == (5e-5, 0.0)


def test_unknown_paramwise_keys_are_refused(detector):
    with pytest.raises(KeyError, match='layer_decay_rate'):
        build(detector, layer_decay_rate=0.7)

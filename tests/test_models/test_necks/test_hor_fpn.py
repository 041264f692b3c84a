# Copyright (c) mmhornet contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.necks import FPN
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmhornet.checkpoint import convert_official_hornet
from mmhornet.models import gnConv
from mmhornet.models.necks.hor_fpn import HorFPN
from ...conftest import REPO_ROOT

IN_CHANNELS = [8, 16, 32, 64]
SIZES = [32, 16, 8, 4]


def inputs(batch=2):
    return tuple(
        torch.randn(batch, c, s, s) for c, s in zip(IN_CHANNELS, SIZES))


@pytest.mark.parametrize('extra',
                         [False, 'on_input', 'on_lateral', 'on_output'])
@pytest.mark.parametrize('start_level', [0, 1])
def test_routing_equals_mmdet_fpn(extra, start_level):
    """With mmdet's output convs swapped in, HorFPN is mmdet's FPN."""
    torch.manual_seed(0)
    kwargs = dict(
        in_channels=IN_CHANNELS,
        out_channels=16,
        num_outs=6,
        start_level=start_level,
        add_extra_convs=extra,
        relu_before_extra_convs=True)
    fpn = FPN(**kwargs).eval()
    hor_fpn = HorFPN(**kwargs).eval()
    for lateral, reference in zip(hor_fpn.lateral_convs, fpn.lateral_convs):
        lateral.load_state_dict(reference.state_dict())
    assert len(hor_fpn.fpn_convs) == len(fpn.fpn_convs)
    hor_fpn.fpn_convs = fpn.fpn_convs
    x = inputs()
    with torch.no_grad():
        for actual, expected in zip(hor_fpn(x), fpn(x)):
            assert torch.equal(actual, expected)


@pytest.mark.parametrize('extra',
                         [False, 'on_input', 'on_lateral', 'on_output'])
def test_output_shapes_with_gnconv(extra):
    neck = HorFPN(IN_CHANNELS, 16, num_outs=6, add_extra_convs=extra)
    assert all(isinstance(m, gnConv) for m in neck.fpn_convs[:4])
    outs = neck(inputs())
    assert [o.shape for o in outs] == [(2, 16, s, s)
                                       for s in [32, 16, 8, 4, 2, 1]]
    outs[-1].sum().backward()  # every level is differentiable
    if extra:
        assert isinstance(neck.fpn_convs[4][1], gnConv)
        assert neck.fpn_convs[4][0].conv.stride == (2, 2)
        expected_in = 64 if extra == 'on_input' else 16
        assert neck.fpn_convs[4][0].conv.in_channels == expected_in


def test_global_filter_variant_and_registry():
    with DefaultScope.overwrite_default_scope('mmdet'):
        neck = DET_MODELS.build(
            dict(
                type='mmhornet.HorFPN',
                in_channels=IN_CHANNELS,
                out_channels=16,
                num_outs=5,
                gnconv_cfg=dict(
                    order=2, dw_cfg=dict(type='GF', h=32, w=17), scale=1.0)))
    assert isinstance(neck, HorFPN)
    # one 32x17 filter, resized to each level's spectrum at run time
    assert neck.fpn_convs[0].dwconv.complex_weight.shape == (12, 32, 17, 2)
    outs = neck(inputs())
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]
    neck.init_weights()  # official: Xavier-uniform convolutions, zero bias
    assert neck.lateral_convs[0].conv.bias.abs().max() == 0


def test_bad_settings():
    with pytest.raises(ValueError, match='add_extra_convs'):
        HorFPN(IN_CHANNELS, 16, num_outs=5, add_extra_convs='on_head')
    with pytest.raises(ValueError, match='num_outs'):
        HorFPN(IN_CHANNELS, 16, num_outs=3)
    with pytest.raises(ValueError, match='end_level'):
        HorFPN(IN_CHANNELS, 16, num_outs=5, end_level=2)


@pytest.mark.parametrize('extra', [False, 'on_input', 'on_output'])
def test_everything_but_the_output_convs_is_mmdet_fpn(extra):
    """HorFPN is FPN with gnConvs after the pathway: same forward, and the
    lateral and extra-level convolutions FPN builds (same keys, shapes)."""
    assert issubclass(HorFPN, FPN)
    assert 'forward' not in vars(HorFPN)  # FPN's forward
    kwargs = dict(
        in_channels=IN_CHANNELS,
        out_channels=16,
        num_outs=6,
        start_level=1,
        add_extra_convs=extra,
        norm_cfg=dict(type='BN'))
    fpn, neck = FPN(**kwargs), HorFPN(**kwargs)
    used = len(IN_CHANNELS) - 1
    assert len(neck.lateral_convs) == used
    assert all(isinstance(m, gnConv) for m in neck.fpn_convs[:used])
    for extra_level in neck.fpn_convs[used:]:
        assert isinstance(extra_level, nn.Sequential)
        assert [type(m) for m in extra_level] == [ConvModule, gnConv]
    expected = {}
    for key, value in fpn.state_dict().items():
        parts = key.split('.')
        if parts[0] == 'fpn_convs':
            if int(parts[1]) < used:
                continue  # the 3x3 output convolutions gnConv replaces
            key = '.'.join(parts[:2] + ['0'] + parts[2:])
        expected[key] = value.shape
    shared = {}
    for key, value in neck.state_dict().items():
        parts = key.split('.')
        level = int(parts[1]) if parts[0] == 'fpn_convs' else -1
        if level < 0 or level >= used and parts[2] == '0':
            shared[key] = value.shape
    assert shared == expected
    assert 'lateral_convs.0.bn.running_var' in shared
    assert ('fpn_convs.3.0.conv.weight' in shared) == bool(extra)


def _official_gnfpn_keys(dw: str) -> dict:
    """Keys of the official GNFPN neck (mmdet 2.x ``neck.``) with
    in_channels [96, 192, 384, 768], 256 channels, order 2, proj_out."""
    keys = {}
    for i, channels in enumerate([96, 192, 384, 768]):
        keys[f'neck.lateral_convs.{i}.conv.weight'] = (256, channels, 1, 1)
        keys[f'neck.lateral_convs.{i}.conv.bias'] = (256, )
    for i in range(4):
        gn = f'neck.fpn_convs.{i}.'
        keys.update({
            gn + 'proj_in.weight': (512, 256, 1, 1),
            gn + 'proj_in.bias': (512, )
        })
        if dw == 'DW':
            keys.update({
                gn + 'dwconv.weight': (384, 1, 7, 7),
                gn + 'dwconv.bias': (384, )
            })
        else:
            keys.update({
                gn + 'dwconv.dw.weight': (192, 1, 3, 3),
                gn + 'dwconv.complex_weight': (192, 32, 17, 2),
                gn + 'dwconv.pre_norm.weight': (384, ),
                gn + 'dwconv.pre_norm.bias': (384, ),
                gn + 'dwconv.post_norm.weight': (384, ),
                gn + 'dwconv.post_norm.bias': (384, )
            })
        keys.update({
            gn + 'pws.0.weight': (256, 128, 1, 1),
            gn + 'pws.0.bias': (256, ),
            gn + 'proj_out.weight': (256, 256, 1, 1),
            gn + 'proj_out.bias': (256, )
        })
    return keys


@pytest.mark.parametrize('name,dw', [('horfpn', 'DW'), ('horfpn-gf', 'GF')])
def test_published_and_converted_weights_load_strictly(name, dw):
    """The shipped HorFPN configs have the official neck's keys and shapes
    (up to the converter's pws -> projs), so converted weights load."""
    config = Config.fromfile(
        f'{REPO_ROOT}/configs/mask_rcnn/mask-rcnn_hornet-s_{name}_1x_coco.py')
    with DefaultScope.overwrite_default_scope('mmdet'):
        neck = DET_MODELS.build(config.model.neck)
    official = {
        key: torch.randn(shape)
        for key, shape in _official_gnfpn_keys(dw).items()
    }
    official['backbone.stages.0.0.gamma1'] = torch.ones(4)
    converted, _ = convert_official_hornet(official)
    weights = {
        key[len('neck.'):]: value
        for key, value in converted.items() if key.startswith('neck.')
    }
    assert neck.load_state_dict(weights, strict=True)
    assert torch.equal(neck.fpn_convs[3].projs[0].weight,
                       official['neck.fpn_convs.3.pws.0.weight'])

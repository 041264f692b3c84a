# Copyright (c) mmhornet contributors. All rights reserved.
import pytest
import torch
from mmdet.models.necks import FPN
from mmdet.registry import MODELS as DET_MODELS
from mmengine.registry import DefaultScope

from mmhornet.models import HorFPN, gnConv

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

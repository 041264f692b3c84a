# Copyright (c) mmhornet contributors. All rights reserved.
import torch
from mmengine.registry import DefaultScope
from mmseg.models.decode_heads import UPerHead
from mmseg.registry import MODELS as SEG_MODELS

from mmhornet.models import gnConv
from mmhornet.models.heads.gn_uper_head import GNUPerHead

IN_CHANNELS = [8, 16, 32, 64]
HEAD = dict(
    in_channels=IN_CHANNELS,
    in_index=[0, 1, 2, 3],
    pool_scales=(1, 2, 3, 6),
    channels=16,
    dropout_ratio=0.1,
    num_classes=5,
    norm_cfg=dict(type='BN', requires_grad=True),
    align_corners=False)


def inputs():
    return [
        torch.randn(2, c, 32 // 2**i, 32 // 2**i)
        for i, c in enumerate(IN_CHANNELS)
    ]


def test_only_the_fusion_conv_differs_from_uperhead():
    torch.manual_seed(0)
    head = GNUPerHead(**HEAD)
    reference = UPerHead(**HEAD)
    gn, norm, act = head.fpn_bottleneck
    assert isinstance(gn, gnConv) and gn.dims == [8, 16] and gn.scale == 1
    assert gn.proj_in.in_channels == 4 * 16
    assert isinstance(norm, torch.nn.BatchNorm2d)
    assert isinstance(act, torch.nn.ReLU)
    # With UPerHead's fusion conv swapped in, the two heads are the same.
    reference_state = reference.state_dict()
    own = {
        k: v
        for k, v in reference_state.items()
        if not k.startswith('fpn_bottleneck')
    }
    head.load_state_dict(own, strict=False)
    head.fpn_bottleneck = reference.fpn_bottleneck
    head.eval(), reference.eval()
    x = inputs()
    with torch.no_grad():
        assert torch.equal(head(x), reference(x))


def test_output_shape_global_filter_and_registry():
    with DefaultScope.overwrite_default_scope('mmseg'):
        head = SEG_MODELS.build(
            dict(
                type='mmhornet.GNUPerHead',
                gnconv_cfg=dict(
                    order=2, dw_cfg=dict(type='GF', h=32, w=17), scale=1.0),
                **HEAD))
    assert isinstance(head, GNUPerHead)
    out = head(inputs())
    assert out.shape == (2, 5, 32, 32)  # the stride-4 level's size
    out.sum().backward()
    weight = head.fpn_bottleneck[0].dwconv.complex_weight
    assert weight.shape == (12, 32, 17, 2) and weight.grad is not None

# Copyright (c) mmhornet contributors. All rights reserved.
"""gnConv2d: gnConv behind a convolution's signature, against an explicit
composition of gnConv and the stride operation, and inside mmcv/mmdet
modules that build their convolutions with ``build_conv_layer``."""
import math

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer
from mmdet.models.backbones import ResNet
from mmdet.models.necks import FPN
from mmengine.registry import DefaultScope

from mmhornet.models.layers import gnConv, gnConv2d

GF = dict(type='GF', h=3, w=2)
SIZES = [(9, 9), (8, 8), (7, 10)]
# (kernel_size, stride, padding, dilation): every kind of accepted geometry
ACCEPTED = [
    (3, 1, 1, 1),
    (3, 2, 1, 1),
    (3, 1, 2, 2),
    (3, 2, 2, 2),
    (5, 1, 2, 1),
    (1, 1, 0, 1),
    (1, 2, 0, 1),
    (3, (2, 1), 1, 1),
    (3, 1, 'same', 1),
    (2, 1, 1, 2),  # an even kernel whose dilated extent is odd (3)
]


def pool_by_hand(x: torch.Tensor, stride: tuple) -> torch.Tensor:
    """Average over stride windows, a last partial window averaged over
    the pixels it covers."""
    sh, sw = stride
    height, width = x.shape[2:]
    rows = []
    for i in range(0, height, sh):
        rows.append(
            torch.stack([
                x[:, :, i:i + sh, j:j + sw].mean((2, 3))
                for j in range(0, width, sw)
            ], -1))
    return torch.stack(rows, -2)


def composition(layer: gnConv2d, dw_cfg: dict, x: torch.Tensor,
                stride_mode: str) -> torch.Tensor:
    """The layer's computation spelt out: a gnConv with the layer's
    weights, then every stride-th output ('sample'), or after averaging the
    input over stride windows ('pool')."""
    reference = gnConv(
        layer.in_channels,
        layer.out_channels,
        order=layer.gnconv.order,
        dw_cfg=dw_cfg,
        scale=layer.gnconv.scale)
    reference.load_state_dict(layer.gnconv.state_dict(), strict=True)
    sh, sw = layer.stride
    if stride_mode == 'pool' and layer.stride != (1, 1):
        return reference(pool_by_hand(x, layer.stride))
    return reference(x)[:, :, ::sh, ::sw]


@pytest.mark.parametrize('stride_mode', ['sample', 'pool'])
@pytest.mark.parametrize('mixer', ['DW', 'GF'])
@pytest.mark.parametrize('kernel_size,stride,padding,dilation', ACCEPTED)
def test_layer_equals_gnconv_and_stride(kernel_size, stride, padding, dilation,
                                        mixer, stride_mode):
    torch.manual_seed(0)
    conv = nn.Conv2d(12, 16, kernel_size, stride, padding, dilation)
    layer = gnConv2d(
        12,
        16,
        kernel_size,
        stride,
        padding,
        dilation,
        order=3,
        scale=0.5,
        dw_cfg=GF if mixer == 'GF' else None,
        stride_mode=stride_mode)
    extent = dilation * (kernel_size - 1) + 1
    if mixer == 'DW':
        # kernel_size and dilation become a dense mixer of the same extent
        assert layer.gnconv.dwconv.weight.shape == (28, 1, extent, extent)
        dw_cfg = dict(type='DW', kernel_size=extent)
    else:
        assert layer.gnconv.dwconv.complex_weight.shape == (14, 3, 2, 2)
        dw_cfg = GF
    for name in ('in_channels', 'out_channels', 'kernel_size', 'stride',
                 'padding', 'dilation', 'groups', 'transposed',
                 'output_padding'):
        assert getattr(layer, name) == getattr(conv, name), name
    for size in SIZES:
        x = torch.randn(2, 12, *size)
        out = layer(x)
        assert out.shape == conv(x).shape
        expected = composition(layer, dw_cfg, x, stride_mode)
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_stride_modes_differ_and_sample_is_the_dense_output():
    torch.manual_seed(0)
    sample = gnConv2d(8, 8, 3, 2, 1, order=2)
    pool = gnConv2d(8, 8, 3, 2, 1, order=2, stride_mode='pool')
    dense = gnConv2d(8, 8, 3, 1, 1, order=2)
    pool.load_state_dict(sample.state_dict())
    dense.load_state_dict(sample.state_dict())
    x = torch.randn(1, 8, 11, 11)
    assert sample(x).shape == pool(x).shape == (1, 8, 6, 6)
    assert torch.equal(sample(x), dense(x)[:, :, ::2, ::2])
    assert not torch.allclose(sample(x), pool(x))


def test_bias_is_the_output_bias():
    torch.manual_seed(0)
    with_bias = gnConv2d(8, 8, 3, padding=1, order=2)
    layer = gnConv2d(8, 8, 3, padding=1, order=2, bias=False)
    assert isinstance(with_bias.bias, nn.Parameter)
    assert with_bias.bias is with_bias.gnconv.proj_out.bias
    assert layer.bias is None
    state = layer.state_dict()
    assert 'gnconv.proj_out.bias' not in state
    assert 'gnconv.proj_in.bias' in state  # biases inside the recursion
    with_bias.load_state_dict(state, strict=False)
    with torch.no_grad():
        with_bias.gnconv.proj_out.bias.zero_()
    x = torch.randn(2, 8, 6, 7)
    torch.testing.assert_close(layer(x), with_bias(x))
    assert 'bias=False' in repr(layer)


@pytest.mark.parametrize(
    'kwargs,message', [
        (dict(kernel_size=3), r'padding \(1.0, 1.0\), got padding 0'),
        (dict(kernel_size=3, padding=2), 'got padding 2'),
        (dict(kernel_size=3, padding=1,
              dilation=2), r'dilation \(2, 2\) that is padding \(2.0, 2.0\)'),
        (dict(kernel_size=2, padding=1), r'kernel_size \(2, 2\)'),
        (dict(kernel_size=3, padding=1, groups=4), 'groups=4'),
        (dict(kernel_size=3, stride=2,
              padding='same'), "padding='same' is not supported with stride"),
        (dict(kernel_size=3, padding='valid'), "got padding 'valid'"),
        (dict(kernel_size=3, padding='full'), "got 'full'"),
        (dict(kernel_size=3, padding=1, stride=0), 'must be >= 1'),
        (dict(kernel_size=(1, 3), padding=(0, 1)), 'mixer is square'),
        (dict(kernel_size=3, padding=1, stride_mode='max'), 'stride_mode'),
        (dict(kernel_size=3, padding=(1, 1, 1)), 'padding must be an int'),
    ],
    ids=lambda v: str(v)[:30])
def test_refused_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gnConv2d(16, 16, order=2, **kwargs)


def test_non_square_kernel_with_a_global_filter():
    layer = gnConv2d(16, 16, (1, 3), padding=(0, 1), order=2, dw_cfg=GF)
    assert layer(torch.randn(1, 16, 5, 6)).shape == (1, 16, 5, 6)
    # an explicit depth-wise size overrides the kernel's
    layer = gnConv2d(
        16, 16, 3, padding=1, order=2, dw_cfg=dict(type='DW', kernel_size=7))
    assert layer.gnconv.dwconv.kernel_size == (7, 7)
    assert layer.kernel_size == (3, 3)


@pytest.mark.parametrize('scope', [None, 'mmdet', 'mmpretrain', 'mmseg'])
def test_build_conv_layer_from_every_default_scope(scope):
    cfg = dict(type='mmhornet.gnConv2d', order=2, dw_cfg=GF)
    if scope is None:
        layer = build_conv_layer(cfg, 8, 16, 3, stride=2, padding=1)
    else:
        with DefaultScope.overwrite_default_scope(scope):
            layer = build_conv_layer(cfg, 8, 16, 3, stride=2, padding=1)
    assert type(layer) is gnConv2d
    assert layer(torch.randn(1, 8, 7, 7)).shape == (1, 16, 4, 4)


def test_conv_module_reads_the_layer():
    torch.manual_seed(0)
    cfg = dict(type='mmhornet.gnConv2d', order=2)
    module = ConvModule(
        8, 16, 3, stride=2, padding=1, conv_cfg=cfg, norm_cfg=dict(type='BN'))
    plain = ConvModule(8, 16, 3, stride=2, padding=1, norm_cfg=dict(type='BN'))
    for name in ('in_channels', 'out_channels', 'kernel_size', 'stride',
                 'padding', 'dilation', 'groups', 'transposed',
                 'output_padding', 'with_bias'):
        assert getattr(module, name) == getattr(plain, name), name
    assert module.conv.bias is None  # bias='auto' before a norm
    for size in SIZES:
        x = torch.randn(2, 8, *size)
        assert module(x).shape == plain(x).shape
    # ConvModule's Kaiming init (fan_out) left the layer's own init alone
    proj_in = module.conv.gnconv.proj_in.weight
    assert abs(proj_in.std().item() * 8**0.5 - 1) < 0.15  # N(0, 1/fan_in)
    # explicit padding hands the layer padding 0: refused, not ignored
    with pytest.raises(ValueError, match='got padding 0'):
        ConvModule(8, 16, 3, padding=1, conv_cfg=cfg, padding_mode='reflect')


@pytest.mark.parametrize('order', [1, 3, 5])
@pytest.mark.parametrize('mixer', ['DW', 'GF'])
def test_initialisation_keeps_the_variance(order, mixer):
    """With scale 1 the output variance is about the input's, also after
    an enclosing model's Kaiming init, and an init_cfg of the layer
    applies."""
    torch.manual_seed(0)
    dw_cfg = dict(type='GF', h=8, w=5) if mixer == 'GF' else None
    layer = gnConv2d(64, 64, 3, padding=1, order=order, dw_cfg=dw_cfg)
    x = torch.randn(8, 64, 16, 16)
    with torch.no_grad():
        assert 0.1 < layer(x).var().item() < 10
        for module in layer.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out')
        layer.init_weights()
        assert 0.1 < layer(x).var().item() < 10
        if mixer == 'DW':  # PyTorch's default init: 1/50-1/200
            plain = gnConv(
                64, order=order, dw_cfg=dict(type='DW', kernel_size=3))
            assert plain(x).var().item() < 0.05
    layer = gnConv2d(
        8,
        8,
        3,
        padding=1,
        order=2,
        init_cfg=dict(type='Constant', val=0.5, layer='Conv2d'))
    layer.init_weights()
    assert torch.all(layer.gnconv.proj_out.weight == 0.5)


def count_layers(model: nn.Module) -> int:
    return sum(isinstance(m, gnConv2d) for m in model.modules())


@pytest.mark.parametrize(
    'strides,dilations', [((1, 2, 2, 2), (1, 1, 1, 1)),
                          ((1, 2, 1, 1), (1, 1, 2, 4))],
    ids=['strided', 'dilated'])
def test_resnet_dcn_slot(strides, dilations):
    """ResNet-50's 3x3 convolutions of stages 3-5 (strided or dilated)."""
    torch.manual_seed(0)
    common = dict(
        depth=50, base_channels=8, strides=strides, dilations=dilations)
    plain = ResNet(**common)
    model = ResNet(
        **common,
        dcn=dict(type='mmhornet.gnConv2d', order=3, scale=1 / 3),
        stage_with_dcn=(False, True, True, True))
    plain.eval()  # mmdet's train() returns None
    model.eval()
    model.init_weights()
    # the layers' own init after ResNet's Kaiming init_cfg
    stats = model.layer3[1].conv2.gnconv.proj_out.weight.std().item()
    assert abs(stats * model.layer3[1].conv2.out_channels**0.5 - 1) < 0.1
    assert count_layers(model) == 4 + 6 + 3
    assert isinstance(model.layer1[0].conv2, nn.Conv2d)
    conv2 = model.layer2[0].conv2
    assert conv2.stride == (2, 2) and conv2.bias is None
    last = model.layer4[0].conv2
    # dilation 4 of a 3x3: a dense 9x9 mixer
    assert last.gnconv.dwconv.kernel_size == (2 * dilations[3] + 1, ) * 2
    for size in [(64, 64), (45, 67)]:
        x = torch.randn(1, 3, *size)
        with torch.no_grad():
            outs, expected = model(x), plain(x)
        assert [o.shape for o in outs] == [e.shape for e in expected]


def test_fpn_conv_cfg():
    torch.manual_seed(0)
    common = dict(
        in_channels=[8, 16, 32, 64],
        out_channels=16,
        num_outs=5,
        add_extra_convs='on_input')
    plain = FPN(**common)
    neck = FPN(
        **common, conv_cfg=dict(type='mmhornet.gnConv2d', order=2, dw_cfg=GF))
    # 4 laterals, 4 output and 1 strided extra convolution
    assert count_layers(neck) == 9
    assert neck.fpn_convs[4].conv.stride == (2, 2)
    for size in [(32, 32), (27, 35)]:
        feats = [
            torch.randn(1, c, math.ceil(size[0] / 2**i),
                        math.ceil(size[1] / 2**i))
            for i, c in enumerate(common['in_channels'])
        ]
        outs, expected = neck(feats), plain(feats)
        assert [o.shape for o in outs] == [e.shape for e in expected]


def test_the_plugin_way_adds_a_gnconv_after_conv2():
    """docs/backbone.md's second way: gnConv as an mmcv plugin, after the
    3x3 convolution (which stays)."""
    torch.manual_seed(0)
    model = ResNet(
        depth=50,
        base_channels=8,
        plugins=[
            dict(
                cfg=dict(type='mmhornet.gnConv', order=3, scale=1.0),
                position='after_conv2',
                stages=(False, True, True, True))
        ])
    block = model.layer2[0]
    assert isinstance(block.conv2, nn.Conv2d)
    plugin = getattr(block, block.after_conv2_plugin_names[0])
    assert isinstance(plugin, gnConv) and plugin.order == 3
    assert sum(isinstance(m, gnConv) for m in model.modules()) == 13
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 45, 67))
    assert [o.shape[1:] for o in outs] == [(32, 12, 17), (64, 6, 9),
                                           (128, 3, 5), (256, 2, 3)]

# Copyright (c) mmhornet contributors. All rights reserved.
"""Official segmentation checkpoints with the gnConv head (HorFPN study)
convert to mmhornet's keys and load strictly.

The official checkpoint is laid out by re-building the official modules
from their specification (``GNConvModule`` and ``GlobalLocalConv2Norm`` of
``semantic_segmentation/mmcv_custom/gn_module.py``, ``GNUPerHead`` of
``decode_heads/gn_uper_head.py``), key by key, so the test checks the
layout and the arithmetic of those modules, not mmhornet against itself.
"""
import re
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.models.decode_heads import UPerHead
from mmseg.registry import MODELS as SEG_MODELS

from mmhornet.checkpoint import convert_official_hornet, is_official_layout
from mmhornet.engine import replace_sync_bn
from mmhornet.models.heads.gn_uper_head import GNUPerHead
from .conftest import SEG_CONFIG


class _ChannelsFirstLayerNorm(nn.Module):
    """The official ``LayerNorm(data_format='channels_first')``."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class _OfficialGlobalLocal(nn.Module):
    """The official ``GlobalLocalConv2Norm(dim, h, w, kernel_size=3)``."""

    def __init__(self, dim: int, h: int, w: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(
            dim // 2, dim // 2, 3, padding=1, bias=False, groups=dim // 2)
        self.complex_weight = nn.Parameter(torch.randn(dim // 2, h, w, 2))
        self.pre_norm = _ChannelsFirstLayerNorm(dim)
        self.post_norm = _ChannelsFirstLayerNorm(dim)

    def forward(self, x):
        x = self.pre_norm(x)
        x1, x2 = torch.chunk(x, 2, dim=1)
        x1 = self.dw(x1)
        batch, channels, a, b = x2.shape
        x2 = torch.fft.rfft2(x2.float(), dim=(2, 3), norm='ortho')
        weight = self.complex_weight
        if weight.shape[1:3] != x2.shape[2:4]:
            weight = F.interpolate(
                weight.permute(3, 0, 1, 2),
                size=x2.shape[2:4],
                mode='bilinear',
                align_corners=True).permute(1, 2, 3, 0)
        x2 = x2 * torch.view_as_complex(weight.contiguous())
        x2 = torch.fft.irfft2(x2, s=(a, b), dim=(2, 3), norm='ortho')
        x = torch.cat([x1.unsqueeze(2), x2.unsqueeze(2)],
                      dim=2).reshape(batch, 2 * channels, a, b)
        return self.post_norm(x)


class _OfficialGNConvModule(nn.Module):
    """The official segmentation ``GNConvModule`` (no scale ``s``; norm
    registered under mmcv's abbreviation, e.g. ``bn``)."""

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size=7,
                 norm_cfg=None,
                 proj_out=True,
                 order=2,
                 type='gnconv',
                 h=32):
        super().__init__()
        self.order = order
        self.dims = [out_channels // 2**i for i in range(order)][::-1]
        self.proj_in = nn.Conv2d(in_channels, 2 * out_channels, 1)
        width = sum(self.dims)
        if type == 'gnconv':
            self.dwconv = nn.Conv2d(
                width,
                width,
                kernel_size,
                padding=(kernel_size - 1) // 2,
                groups=width)
        else:
            self.dwconv = _OfficialGlobalLocal(width, h, h // 2 + 1)
        self.proj_out = nn.Conv2d(out_channels, out_channels, 1) \
            if proj_out else nn.Identity()
        self.pws = nn.ModuleList(
            nn.Conv2d(self.dims[i], self.dims[i + 1], 1)
            for i in range(order - 1))
        self.norm_name, norm = build_norm_layer(norm_cfg, out_channels)
        self.add_module(self.norm_name, norm)
        self.activate = nn.ReLU()

    def forward(self, x):
        fused = self.proj_in(x)
        pwa, abc = torch.split(fused, (self.dims[0], sum(self.dims)), dim=1)
        dw_list = torch.split(self.dwconv(abc), self.dims, dim=1)
        x = pwa * dw_list[0]
        for i in range(self.order - 1):
            x = self.pws[i](x) * dw_list[i + 1]
        x = getattr(self, self.norm_name)(self.proj_out(x))
        return self.activate(x)


def _official_head(cfg: dict, gn_cfg: dict) -> UPerHead:
    """The official ``GNUPerHead``: mmseg's UPerHead (same PPM, bottleneck,
    lateral and FPN ConvModules) with the gnConv fusion module."""
    head = UPerHead(**cfg)
    head.fpn_bottleneck = _OfficialGNConvModule(
        len(head.in_channels) * head.channels,
        head.channels,
        norm_cfg=head.norm_cfg,
        **gn_cfg)
    return head


def _official_backbone_key(key: str) -> str:
    """mmhornet's backbone key under the official name (the inverse of the
    converter's dense rules)."""
    key = re.sub(r'\.projs\.(\d+)\.', r'.pws.\1.', key)
    return re.sub(r'\.(gamma[12])\.weight$', r'.\1', key)


def _randomize(module: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                low = 0.5 if name.endswith('running_var') else -0.5
                tensor.copy_(
                    torch.rand(tensor.shape, generator=generator) + low)


@pytest.mark.parametrize('mixer', ['gnconv', 'gngf'])
def test_official_gn_uper_head_converts_and_loads_strictly(mixer):
    cfg = Config.fromfile(SEG_CONFIG)
    replace_sync_bn(cfg.model)
    head_cfg = cfg.model.decode_head
    if mixer == 'gnconv':  # horfpn_7x7_upernet_...: 7x7, proj_out, order 2
        gn_cfg = dict(type='gnconv', kernel_size=7, proj_out=True, order=2)
        dw_cfg = dict(type='DW', kernel_size=7)
    else:  # horfpn_gf_upernet_...: the global filter stored at 32x17
        gn_cfg = dict(type='gngf', proj_out=True, order=2)
        dw_cfg = dict(type='GF', h=32, w=17)
    head_cfg.update(
        type='mmhornet.GNUPerHead',
        gnconv_cfg=dict(order=2, dw_cfg=dw_cfg, scale=1.0))
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = SEG_MODELS.build(cfg.model)
    assert isinstance(model.decode_head, GNUPerHead)
    official_cfg = {
        k: v
        for k, v in head_cfg.items()
        if k not in ('type', 'gnconv_cfg', 'loss_decode')
    }
    official = _official_head(official_cfg, gn_cfg)
    _randomize(official, seed=0)

    # The official checkpoint, key by key: backbone and auxiliary head as
    # the official repository names them, the decode head as its modules do.
    state_dict = OrderedDict()
    for key, value in model.state_dict().items():
        if key.startswith('backbone.'):
            state_dict[_official_backbone_key(key)] = value + 1
        elif key.startswith('auxiliary_head.'):
            state_dict[key] = value + 2
    for key, value in official.state_dict().items():
        state_dict[f'decode_head.{key}'] = value
    fusion = {k for k in state_dict if '.fpn_bottleneck.' in k}
    expected = {
        'decode_head.fpn_bottleneck.proj_in.weight',
        'decode_head.fpn_bottleneck.pws.0.bias',
        'decode_head.fpn_bottleneck.proj_out.weight',
        'decode_head.fpn_bottleneck.bn.weight',
        'decode_head.fpn_bottleneck.bn.running_var',
        'decode_head.fpn_bottleneck.bn.num_batches_tracked',
    }
    if mixer == 'gnconv':
        expected.add('decode_head.fpn_bottleneck.dwconv.bias')
    else:
        expected |= {
            'decode_head.fpn_bottleneck.dwconv.complex_weight',
            'decode_head.fpn_bottleneck.dwconv.pre_norm.weight',
            'decode_head.fpn_bottleneck.dwconv.dw.weight'
        }
    assert expected <= fusion
    assert is_official_layout(state_dict)

    converted, unknown = convert_official_hornet(state_dict)
    assert unknown == []
    model.load_state_dict(converted, strict=True)
    own = model.state_dict()
    assert torch.equal(own['decode_head.fpn_bottleneck.1.running_var'],
                       state_dict['decode_head.fpn_bottleneck.bn.running_var'])
    assert torch.equal(own['decode_head.fpn_bottleneck.0.projs.0.weight'],
                       state_dict['decode_head.fpn_bottleneck.pws.0.weight'])
    assert torch.equal(
        own['decode_head.lateral_convs.1.bn.running_mean'],
        state_dict['decode_head.lateral_convs.1.bn.running_mean'])

    # The arithmetic: both heads on the same features (eval mode).
    model.eval(), official.eval()
    torch.manual_seed(1)
    feats = [
        torch.randn(2, c, 64 // 2**(i + 2), 64 // 2**(i + 2))
        for i, c in enumerate(head_cfg.in_channels)
    ]
    with torch.no_grad():
        ours, theirs = model.decode_head(feats), official(feats)
        ours_fused = model.decode_head._forward_feature(feats)
        theirs_fused = official._forward_feature(feats)
    assert ours.shape == theirs.shape == (2, 150, 16, 16)
    if mixer == 'gnconv':
        # Same operations in the same order: equal to the last bit.
        assert torch.equal(ours_fused, theirs_fused)
        assert torch.equal(ours, theirs)
    else:
        # mmhornet's LayerNorm2d is torch's layer_norm, the official one a
        # hand-written mean/var: equal up to float32 rounding.
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=2e-6)


def test_plain_uperhead_fusion_conv_is_kept():
    """mmseg's UPerHead names its fusion ConvModule's norm ``bn`` too: only
    a gnConv fusion module (one with ``proj_in``) is renamed."""
    state_dict = OrderedDict([
        ('backbone.stages.0.0.gamma1', torch.ones(2)),
        ('decode_head.fpn_bottleneck.conv.weight', torch.ones(4, 8, 3, 3)),
        ('decode_head.fpn_bottleneck.bn.weight', torch.ones(4)),
        ('decode_head.fpn_bottleneck.bn.running_var', torch.ones(4)),
    ])
    converted, _ = convert_official_hornet(state_dict)
    assert list(converted) == [
        'backbone.stages.0.0.gamma1.weight',
        'decode_head.fpn_bottleneck.conv.weight',
        'decode_head.fpn_bottleneck.bn.weight',
        'decode_head.fpn_bottleneck.bn.running_var'
    ]


def test_official_head_without_proj_out_is_refused():
    state_dict = {
        'backbone.stages.0.0.gamma1': torch.ones(2),
        'decode_head.fpn_bottleneck.proj_in.weight': torch.ones(4, 8, 1, 1),
        'decode_head.fpn_bottleneck.pws.0.weight': torch.ones(2, 1, 1, 1),
    }
    with pytest.raises(ValueError, match='without proj_out'):
        convert_official_hornet(state_dict)

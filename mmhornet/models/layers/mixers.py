# Copyright (c) mmhornet contributors. All rights reserved.
"""gnConv's spatial mixers: a depth-wise convolution or the global-local
filter of HorNet-GF."""
import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch.nn.init import trunc_normal_

from mmhornet.ops import (depthwise_conv2d, resize_complex_weight,
                          spectral_filter)
from .norm import LayerNorm2d


class GlobalLocalFilter(nn.Module):
    """Global-local filter: half the channels go through a 3x3 depth-wise
    convolution, the other half through a learnable filter in the 2-D rFFT
    domain (as in GFNet).

    The filter is stored for one spectrum size ``(h, w)``; for inputs whose
    spectrum ``(H, W // 2 + 1)`` differs it is bilinearly resized on the fly.
    The FFT branch runs in float32 under mixed precision. Output channels
    interleave the two branches (``2k``: local, ``2k + 1``: global).

    Args:
        channels (int): Input and output channels (even).
        h (int): Spectrum height the filter is stored for. Defaults to 14.
        w (int): Spectrum width (``W // 2 + 1``). Defaults to 8.
    """

    def __init__(self, channels: int, h: int = 14, w: int = 8) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError('GlobalLocalFilter needs an even channel count, '
                             f'got {channels}')
        half = channels // 2
        self.dw = nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False)
        self.complex_weight = nn.Parameter(torch.empty(half, h, w, 2))
        trunc_normal_(self.complex_weight, std=.02)
        self.pre_norm = LayerNorm2d(channels)
        self.post_norm = LayerNorm2d(channels)

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """Filter ``x``; a ``scale`` other than 1 multiplies the output,
        folded into the output norm's affine terms."""
        local, spatial = torch.chunk(self.pre_norm(x), 2, dim=1)
        local = self.dw(local)
        spatial = spectral_filter(spatial, self.complex_weight)
        # interleave the branches' channels
        x = torch.stack([local, spatial], dim=2).flatten(1, 2)
        return self.post_norm(x, scale)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A filter trained at another resolution (e.g. 224-px weights in a
        # 384-px or detection model) is resized as the official loaders do.
        key = prefix + 'complex_weight'
        weight = state_dict.get(key)
        own = self.complex_weight
        if (weight is not None and weight.dim() == 4
                and weight.shape[0] == own.shape[0]
                and weight.shape[1:3] != own.shape[1:3]):
            print_log(
                f'Resized {key} from {tuple(weight.shape)} to '
                f'{tuple(own.shape)} (bilinear, align_corners=True)',
                logger='current')
            state_dict[key] = resize_complex_weight(
                weight.float(), *own.shape[1:3]).to(weight.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class DepthwiseConv2d(nn.Conv2d):
    """Depth-wise k x k convolution (``padding=(k - 1) // 2``). On CPU, 7x7
    training in float32 or under bfloat16 autocast takes the faster backward
    of :func:`mmhornet.ops.depthwise_conv2d` (same sums).

    Args:
        channels (int): Input and output channels.
        kernel_size (int): Defaults to 7.
        bias (bool): Defaults to True.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int = 7,
                 bias: bool = True) -> None:
        super().__init__(
            channels,
            channels,
            kernel_size,
            padding=(kernel_size - 1) // 2,
            groups=channels,
            bias=bias)

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """Convolve ``x``; a ``scale`` other than 1 multiplies the output,
        folded into the weight and bias."""
        weight, bias = self.weight, self.bias
        if scale != 1.0:
            weight = weight * scale
            bias = None if bias is None else bias * scale
        return depthwise_conv2d(x, weight, bias, self.padding[0])


def build_spatial_mixer(dw_cfg: dict, channels: int) -> nn.Module:
    """Build gnConv's spatial mixer from ``dict(type='DW', kernel_size=7)``
    (depth-wise k x k convolution with bias) or ``dict(type='GF', h=14,
    w=8)`` (:class:`GlobalLocalFilter`)."""
    cfg = dict(dw_cfg)
    mixer_type = cfg.pop('type', None)
    if mixer_type == 'DW':
        module = DepthwiseConv2d(
            channels,
            kernel_size=cfg.pop('kernel_size', 7),
            bias=cfg.pop('bias', True))
    elif mixer_type == 'GF':
        module = GlobalLocalFilter(
            channels, h=cfg.pop('h', 14), w=cfg.pop('w', 8))
    else:
        raise ValueError("dw_cfg['type'] must be 'DW' (depth-wise conv) or "
                         f"'GF' (global-local filter), got {mixer_type!r}")
    if cfg:
        raise ValueError(f'Unknown keys {sorted(cfg)} in dw_cfg {dw_cfg}; a '
                         "'DW' mixer takes kernel_size and bias, a 'GF' "
                         'mixer h and w')
    return module

# Copyright (c) mmhornet contributors. All rights reserved.
"""The recursive gated convolution (gnConv).

Adapted from https://github.com/raoyongming/HorNet (the arithmetic, not the
code). Paper: `HorNet: Efficient High-Order Spatial Interactions with
Recursive Gated Convolutions <https://arxiv.org/abs/2207.14284>`_.
"""
from typing import List, Optional

import torch
import torch.nn as nn

from mmhornet.ops import fast_paths_enabled
from mmhornet.registry import MODELS
from .fused import fused_gnconv
from .mixers import build_spatial_mixer


@MODELS.register_module()
class gnConv(nn.Module):
    """Recursive gated convolution of order n.

    A 1x1 projection yields a gate ``p0`` and features ``q``; ``q`` is mixed
    spatially (depth-wise conv or global-local filter), scaled by ``s`` and
    split into n gates of doubling width; then ``p_{k+1} = proj_k(p_k) *
    q_k`` recursively and a 1x1 projection gives the output. Usable as a
    plug-in for a convolution, including one that changes width.

    Args:
        in_channels (int): Input channels.
        out_channels (int, optional): Output channels. Defaults to
            ``in_channels``.
        order (int): Interaction order n >= 1. Defaults to 5.
        dw_cfg (dict): Spatial mixer, ``dict(type='DW', kernel_size=7)`` or
            ``dict(type='GF', h=14, w=8)``. Defaults to a 7x7 depth-wise conv.
        scale (float): The scale ``s`` applied after the mixer. HorNet uses
            1/3; the gnConv decoders of the paper use 1. Defaults to 1.0.
        mid_channels (int, optional): Width ``C`` of the recursion (the last
            gate); must be divisible by ``2 ** (order - 1)``. Defaults to
            ``out_channels``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 order: int = 5,
                 dw_cfg: dict = dict(type='DW', kernel_size=7),
                 scale: float = 1.0,
                 mid_channels: Optional[int] = None) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        dim = mid_channels or out_channels
        if order < 1:
            raise ValueError(f'gnConv order must be >= 1, got {order}')
        if dim % 2**(order - 1):
            raise ValueError(
                f'gnConv of order {order} needs a width divisible by '
                f'{2**(order - 1)}, got {dim}')
        self.order = order
        self.scale = scale
        self.dims: List[int] = [dim // 2**i for i in range(order)][::-1]
        self.proj_in = nn.Conv2d(in_channels, 2 * dim, 1)
        self.dwconv = build_spatial_mixer(dw_cfg, sum(self.dims))
        self.projs = nn.ModuleList(
            nn.Conv2d(self.dims[i], self.dims[i + 1], 1)
            for i in range(order - 1))
        self.proj_out = nn.Conv2d(dim, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply gnConv to ``x`` (N, C, H, W)."""
        if fast_paths_enabled():
            return fused_gnconv(self, x)
        gate, features = self.proj_in(x).split(
            [self.dims[0], sum(self.dims)], dim=1)
        gates = torch.split(self.dwconv(features) * self.scale, self.dims, 1)
        x = gate * gates[0]  # p_1 = p_0 * q_0
        for proj, gate in zip(self.projs, gates[1:]):
            x = proj(x) * gate  # p_{k+1} = g_k(p_k) * q_k
        return self.proj_out(x)

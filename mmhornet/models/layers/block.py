# Copyright (c) mmhornet contributors. All rights reserved.
import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath

from mmhornet.ops import fast_paths_enabled
from .fused import fused_block
from .gnconv import gnConv
from .norm import LayerNorm2d, LayerScale


class HorNetBlock(nn.Module):
    """HorNet block: a gnConv token mixer and an MLP, each in a pre-norm
    residual branch with layer scale and stochastic depth.

    Args:
        dim (int): Channels of the block.
        order (int): Order of the block's gnConv. Defaults to 5.
        dw_cfg (dict): Spatial mixer of the gnConv (see :class:`gnConv`).
            Defaults to a 7x7 depth-wise convolution.
        scale (float): gnConv's scale ``s``. Defaults to 1/3.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        use_layer_scale (bool): Scale both branches by learnable per-channel
            ``gamma`` (initialised to ``layer_scale_init_value``). Defaults
            to True.
        layer_scale_init_value (float): Defaults to 1e-6.
        mlp_ratio (float): Hidden width of the MLP. Defaults to 4.
    """

    def __init__(self,
                 dim: int,
                 order: int = 5,
                 dw_cfg: dict = dict(type='DW', kernel_size=7),
                 scale: float = 1 / 3,
                 drop_path_rate: float = 0.,
                 use_layer_scale: bool = True,
                 layer_scale_init_value: float = 1e-6,
                 mlp_ratio: float = 4.) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(dim)
        self.gnconv = gnConv(dim, order=order, dw_cfg=dw_cfg, scale=scale)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, int(mlp_ratio * dim))
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(int(mlp_ratio * dim), dim)
        if use_layer_scale:
            self.gamma1 = LayerScale(dim, layer_scale_init_value,
                                     'channels_first')
            self.gamma2 = LayerScale(dim, layer_scale_init_value)
        else:
            self.gamma1 = self.gamma2 = nn.Identity()
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0. else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` (N, C, H, W); channels-last memory
        (as :class:`HorNet` passes it) runs fastest."""
        if fast_paths_enabled():
            return fused_block(self, x)
        x = x + self.drop_path(self.gamma1(self.gnconv(self.norm1(x))))
        y = self.norm2(x.permute(0, 2, 3, 1))  # (N, H, W, C)
        y = self.gamma2(self.pwconv2(self.act(self.pwconv1(y))))
        return x + self.drop_path(y.permute(0, 3, 1, 2))

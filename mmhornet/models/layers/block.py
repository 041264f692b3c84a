# Copyright (c) mmhornet contributors. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gnconv import gnConv
from .norm import LayerNorm2d, LayerScale


def _fused_linear_gelu_available() -> bool:
    return hasattr(
        torch.ops.mkldnn,
        '_linear_pointwise') and (torch.backends.mkldnn.is_available())


_FUSED_LINEAR_GELU = _fused_linear_gelu_available()


def linear_gelu(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``GELU(linear(x))`` (exact, erf-based GELU).

    Without autograd on a CPU, oneDNN computes it as one matrix product with
    the bias and the GELU applied to each output tile while it is in cache
    (the kernel ``torch.compile`` uses for the same pattern), instead of a
    product, a bias pass and a GELU pass over the (N, H, W, 4C) hidden
    tensor. Under autocast it runs in the autocast dtype, as ``F.linear``
    would. Otherwise (autograd, GPU, inside ``torch.compile``, which fuses
    the pattern itself, or while traced by TorchScript for ONNX export) it
    is ``F.gelu(F.linear(...))``.
    """
    if (_FUSED_LINEAR_GELU and not torch.is_grad_enabled()
            and x.device.type == 'cpu' and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing()):
        weight, bias = linear.weight, linear.bias
        if torch.is_autocast_enabled('cpu'):
            dtype = torch.get_autocast_dtype('cpu')
            x, weight = x.to(dtype), weight.to(dtype)
            bias = None if bias is None else bias.to(dtype)
        if x.dtype in (torch.float32, torch.bfloat16) and (weight.dtype
                                                           == x.dtype):
            return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'gelu',
                                                      [], 'none')
    return F.gelu(linear(x))


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
        self.out_channels = dim
        self.norm1 = LayerNorm2d(dim)
        self.gnconv = gnConv(dim, order=order, dw_cfg=dw_cfg, scale=scale)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, int(mlp_ratio * dim))
        self.pwconv2 = nn.Linear(int(mlp_ratio * dim), dim)
        if use_layer_scale:
            self.gamma1 = LayerScale(dim, layer_scale_init_value,
                                     'channels_first')
            self.gamma2 = LayerScale(dim, layer_scale_init_value)
        else:
            self.gamma1 = self.gamma2 = nn.Identity()
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` (N, C, H, W); channels-last memory
        (as :class:`HorNet` passes it) runs fastest."""
        # In full precision the layer scales are folded into the last
        # weights of each branch (gnConv's proj_out, pwconv2): the same
        # products as scaling the branch outputs, without a pass over them.
        # Under autocast the folded weights would be rounded to the low
        # precision (measured: about twice the bfloat16 error of the
        # reference), so there the scales multiply the branch outputs in
        # full precision, fused with the residual sum.
        scaled = isinstance(self.gamma1, LayerScale)
        fold = scaled and not torch.is_autocast_enabled(x.device.type)
        if fold:
            branch = self.gnconv(self.norm1(x), out_scale=self.gamma1.weight)
            x = self._add_branch(x, branch)
        else:
            gamma = self.gamma1.weight.view(-1, 1, 1) if scaled else None
            x = self._add_branch(x, self.gnconv(self.norm1(x)), gamma)

        y = linear_gelu(self.norm2(x.permute(0, 2, 3, 1)), self.pwconv1)
        if fold:
            gamma = self.gamma2.weight
            y = F.linear(y, self.pwconv2.weight * gamma[:, None],
                         self.pwconv2.bias * gamma)
            return self._add_branch(x, y.permute(0, 3, 1, 2))
        gamma = self.gamma2.weight.view(-1, 1, 1) if scaled else None
        return self._add_branch(x, self.pwconv2(y).permute(0, 3, 1, 2), gamma)

    def _add_branch(self,
                    x: torch.Tensor,
                    branch: torch.Tensor,
                    scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x + drop_path(scale * branch)`` in one ``addcmul`` pass: a
        stochastic-depth mask joins the per-channel scale, drawn as mmcv's
        ``DropPath`` draws it (``floor(keep + U[0, 1)) / keep`` per
        sample)."""
        if self.training and self.drop_path_rate > 0:
            keep = 1 - self.drop_path_rate
            mask = torch.rand((x.shape[0], 1, 1, 1),
                              dtype=x.dtype,
                              device=x.device).add_(keep).floor_().div_(keep)
            scale = mask if scale is None else scale * mask
        if scale is None:
            return x + branch
        return torch.addcmul(x, branch, scale)

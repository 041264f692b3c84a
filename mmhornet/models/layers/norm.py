# Copyright (c) mmhornet contributors. All rights reserved.
import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor.

    HorNet's reference code normalises channels-first maps with six separate
    element-wise passes (mean, subtract, square, mean, sqrt, affine). This
    computes the same biased-variance normalisation with one fused
    ``F.layer_norm`` over a channels-last view, exact up to float rounding,
    reading and writing the tensor once instead of six times. Subclassing
    :class:`torch.nn.LayerNorm` keeps ``weight``/``bias`` keys and lets
    ``dict(type='Constant', layer='LayerNorm')`` initialise it.

    Args:
        num_channels (int): The number of channels C.
        eps (float): Added to the variance. Defaults to 1e-6 (HorNet's).
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """Normalise ``x``; a ``scale`` other than 1 multiplies the output,
        folded into the affine terms (no pass over the output)."""
        weight, bias = self.weight, self.bias
        if scale != 1.0:
            weight, bias = weight * scale, bias * scale
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, weight, bias,
            self.eps)
        return x.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """Learnable per-channel scale (the ``gamma`` of HorNet blocks).

    Args:
        dim (int): The number of channels.
        init_value (float): Initial value of every scale. Defaults to 1e-6.
        data_format (str): ``'channels_first'`` for (N, C, H, W) inputs or
            ``'channels_last'`` for (..., C). Defaults to 'channels_last'.
    """

    def __init__(self,
                 dim: int,
                 init_value: float = 1e-6,
                 data_format: str = 'channels_last') -> None:
        super().__init__()
        if data_format not in ('channels_first', 'channels_last'):
            raise ValueError("data_format must be 'channels_first' or "
                             f"'channels_last', got {data_format!r}")
        self.data_format = data_format
        self.weight = nn.Parameter(torch.full((dim, ), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_format == 'channels_first':
            return x * self.weight.view(-1, 1, 1)
        return x * self.weight

# Copyright (c) mmhornet contributors. All rights reserved.
"""The fused forward of gnConv and the HorNet block: where the speed is.

:class:`~mmhornet.models.layers.gnConv` and
:class:`~mmhornet.models.layers.HorNetBlock` write the paper's arithmetic
plainly (``x + drop_path(gamma * branch(norm(x)))``); their ``forward``
dispatches here, to functions that compute the same products with fewer
passes over the activations. They are used by default, in eager, compiled
and exported models; :func:`~mmhornet.ops.plain_forward`, the one switch
of all fast paths, turns them off (the tests check that both give the same
outputs and gradients). The mechanics:

- **Channels-last memory.** :class:`~mmhornet.models.HorNet` converts its
  input to channels-last once: the 1x1 convolutions become plain matrix
  products, and the permutes to and from the MLP's (N, H, W, C) layout are
  free views.
- **Split input projection.** ``proj_in`` runs as two convolutions, for the
  gate ``p0`` and for the features ``q``, so that each is a dense tensor in
  the input's memory format (slicing one channels-last output would make
  the mixer copy its input).
- **One autocast cast.** Under autocast the input of ``proj_in`` is cast
  once for both halves (autocast would cast it for each convolution).
- **Folded scales.** gnConv's ``s`` is folded into the mixer's last linear
  step (the mixers take it as an argument: the depth-wise weight and bias,
  or the affine parameters of the global filter's output norm), and a
  block's layer scales into the weights of ``proj_out`` and ``pwconv2``:
  the same products as scaling the outputs, without a pass over them.
  Under autocast the layer scales are not folded (the folded weights would
  be rounded to the low precision, a larger bfloat16 error:
  docs/benchmark.md);
  there they multiply the branch in full precision, fused with the
  residual sum.
- **Fused residual.** ``x + drop_path(gamma * branch)`` is one ``addcmul``:
  the stochastic-depth mask joins the per-channel scale, drawn as mmcv's
  ``DropPath`` draws it, so a seed gives the same masks as the plain form.
- **Operators** (:mod:`mmhornet.ops`, each explained there):
  ``linear_gelu`` (oneDNN's fused Linear + GELU for CPU inference, where
  the CPU has it),
  ``depthwise_conv2d`` (a C++ weight gradient for the 7x7 CPU backward,
  also used by the plain form) and ``spectral_filter`` (the global filter
  as FFTs in eager mode, as DFT matrix products when compiled or exported).

The functions assume the modules as :class:`HorNetBlock` and
:class:`gnConv` build them (a mixer takes ``(x, scale)``); code that
replaces their submodules should run them under
:func:`~mmhornet.ops.plain_forward`.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath

from mmhornet.ops import linear_gelu
from .norm import LayerScale


def fused_gnconv(gnconv: nn.Module,
                 x: torch.Tensor,
                 out_scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """:class:`gnConv` applied to ``x``, times the per-channel ``out_scale``
    (a block's layer scale) if given."""
    if torch.is_autocast_enabled(x.device.type):
        x = x.to(torch.get_autocast_dtype(x.device.type))
    weight, bias = gnconv.proj_in.weight, gnconv.proj_in.bias
    split = gnconv.dims[0]
    gate = F.conv2d(x, weight[:split], bias[:split])
    features = F.conv2d(x, weight[split:], bias[split:])
    gates = torch.split(
        gnconv.dwconv(features, gnconv.scale), gnconv.dims, dim=1)
    x = gate * gates[0]
    for proj, gate in zip(gnconv.projs, gates[1:]):
        x = proj(x) * gate
    if out_scale is None:
        return gnconv.proj_out(x)
    return F.conv2d(x, gnconv.proj_out.weight * out_scale.view(-1, 1, 1, 1),
                    gnconv.proj_out.bias * out_scale)


def _add_branch(x: torch.Tensor,
                branch: torch.Tensor,
                drop_prob: float,
                scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``x + drop_path(scale * branch)`` in one ``addcmul`` pass."""
    if drop_prob > 0:
        keep = 1 - drop_prob
        mask = torch.rand((x.shape[0], 1, 1, 1),
                          dtype=x.dtype,
                          device=x.device).add_(keep).floor_().div_(keep)
        scale = mask if scale is None else scale * mask
    if scale is None:
        return x + branch
    return torch.addcmul(x, branch, scale)


def fused_block(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:class:`HorNetBlock` applied to ``x`` (N, C, H, W)."""
    drop_prob = block.drop_path.drop_prob if (
        block.training and isinstance(block.drop_path, DropPath)) else 0.
    scaled = isinstance(block.gamma1, LayerScale)
    fold = scaled and not torch.is_autocast_enabled(x.device.type)
    if fold:
        branch = fused_gnconv(
            block.gnconv, block.norm1(x), out_scale=block.gamma1.weight)
        x = _add_branch(x, branch, drop_prob)
    else:
        gamma = block.gamma1.weight.view(-1, 1, 1) if scaled else None
        branch = fused_gnconv(block.gnconv, block.norm1(x))
        x = _add_branch(x, branch, drop_prob, gamma)

    y = linear_gelu(block.norm2(x.permute(0, 2, 3, 1)), block.pwconv1)
    if fold:
        gamma = block.gamma2.weight
        y = F.linear(y, block.pwconv2.weight * gamma[:, None],
                     block.pwconv2.bias * gamma)
        return _add_branch(x, y.permute(0, 3, 1, 2), drop_prob)
    gamma = block.gamma2.weight.view(-1, 1, 1) if scaled else None
    return _add_branch(x,
                       block.pwconv2(y).permute(0, 3, 1, 2), drop_prob, gamma)

# Copyright (c) mmhornet contributors. All rights reserved.
"""Depth-wise convolution with a faster CPU backward for HorNet's 7x7 case.

The weight gradient comes from the C++ operator
``mmhornet::depthwise_conv7x7_weight_grad`` (built with the package as
``mmhornet._ext``), the input gradient from a forward convolution with the
flipped kernel; both compute the same sums as PyTorch's backward.
"""
import warnings
from typing import Optional

import torch
import torch.nn.functional as F

try:
    from mmhornet import _ext  # noqa: F401 (registers the operators)
except ModuleNotFoundError:  # installed with MMHORNET_WITH_OPS=0
    _ext = None
except ImportError as error:  # built, but not for this torch
    warnings.warn(
        f'mmhornet._ext failed to load ({error}); HorNet runs without its '
        'C++ operators (same results, slower CPU training). Rebuild them '
        'for the installed torch: pip install --no-build-isolation -e .')
    _ext = None


def ops_available() -> bool:
    """Whether mmhornet's C++ operators were built and loaded."""
    return _ext is not None


class _DepthwiseConv7x7(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, padding=3, groups=C)`` with the backward
    described in the module docstring."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, padding=3, groups=x.shape[1])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            # For stride 1 and padding (k - 1) / 2, the transposed
            # convolution is the convolution with the flipped kernel.
            grad_x = F.conv2d(
                grad, weight.flip(2, 3), padding=3, groups=x.shape[1])
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.mmhornet.depthwise_conv7x7_weight_grad(
                x, grad)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor,
                     bias: Optional[torch.Tensor],
                     padding: int) -> torch.Tensor:
    """Depth-wise convolution (stride 1, ``groups = C``) of ``x`` (N, C, H,
    W) with ``weight`` (C, 1, k, k).

    When a CPU float32 7x7 convolution (padding 3) needs gradients and the
    C++ operators are available, its backward is the faster one of
    :class:`_DepthwiseConv7x7` (a few times faster than oneDNN's on HorNet's
    channels-last shapes). Otherwise, inside ``torch.compile`` and when
    traced (FLOP counters, ONNX export see a plain convolution), it is
    ``F.conv2d``.
    """
    if (_ext is not None and torch.is_grad_enabled()
            and (x.requires_grad or weight.requires_grad)
            and x.device.type == 'cpu' and x.dtype == torch.float32
            and weight.dtype == torch.float32 and weight.shape[-2:] == (7, 7)
            and padding == 3 and not torch.is_autocast_enabled('cpu')
            and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()):
        return _DepthwiseConv7x7.apply(x, weight, bias)
    return F.conv2d(x, weight, bias, padding=padding, groups=x.shape[1])

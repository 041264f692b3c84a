# Copyright (c) mmhornet contributors. All rights reserved.
"""``GELU(linear(x))`` with oneDNN's fused CPU inference kernel."""
import torch
import torch.nn as nn
import torch.nn.functional as F


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

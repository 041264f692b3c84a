# Copyright (c) mmhornet contributors. All rights reserved.
"""``GELU(linear(x))`` with oneDNN's fused CPU inference kernel."""
import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fast_paths import fast_paths_enabled


@functools.lru_cache(maxsize=None)
def onednn_linear_gelu_supported(dtype: torch.dtype) -> bool:
    """Whether oneDNN's fused Linear + GELU runs in ``dtype`` on this CPU and
    equals the plain operators there; found out once per dtype and process.

    The kernel is a oneDNN primitive whose availability depends on the CPU
    and on the oneDNN build, not on the architecture's name: oneDNN has no
    bfloat16 inner product on x86 CPUs below AVX-512 (nor with
    ``ONEDNN_MAX_CPU_ISA=AVX2``), and builds for other architectures may
    lack the operator. So it is run once on a small input, and used only if
    it runs and matches ``F.gelu(F.linear(...))``.
    """
    if not (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, '_linear_pointwise')):
        return False
    generator = torch.Generator().manual_seed(0)
    x, weight, bias = (
        torch.randn(shape, generator=generator).to(dtype)
        for shape in ((2, 3, 5, 16), (24, 16), (24, )))
    with torch.no_grad(), torch.autocast('cpu', enabled=False):
        try:
            fused = torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'gelu',
                                                       [], 'none')
        except RuntimeError:  # no primitive for this dtype on this CPU
            return False
        plain = F.gelu(F.linear(x.float(), weight.float(), bias.float()))
    tolerance = 1e-5 if dtype == torch.float32 else 3e-2
    return fused.shape == plain.shape and torch.allclose(
        fused.float(), plain, rtol=tolerance, atol=tolerance)


def linear_gelu(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``GELU(linear(x))`` (exact, erf-based GELU).

    Without autograd on a CPU, oneDNN computes it as one matrix product with
    the bias and the GELU applied to each output tile while it is in cache
    (the kernel ``torch.compile`` uses for the same pattern), instead of a
    product, a bias pass and a GELU pass over the (N, H, W, 4C) hidden
    tensor. Under autocast it runs in the autocast dtype, as ``F.linear``
    would. Otherwise (autograd, GPU, inside ``torch.compile``, which fuses
    the pattern itself, while traced for export, inside
    :func:`~mmhornet.ops.plain_forward`, or where
    :func:`onednn_linear_gelu_supported` finds no such kernel for the dtype)
    it is ``F.gelu(F.linear(...))``.
    """
    if (fast_paths_enabled() and not torch.is_grad_enabled()
            and x.device.type == 'cpu' and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing()):
        weight, bias = linear.weight, linear.bias
        if torch.is_autocast_enabled('cpu'):
            dtype = torch.get_autocast_dtype('cpu')
            x, weight = x.to(dtype), weight.to(dtype)
            bias = None if bias is None else bias.to(dtype)
        if (x.dtype in (torch.float32, torch.bfloat16)
                and weight.dtype == x.dtype
                and onednn_linear_gelu_supported(x.dtype)):
            return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'gelu',
                                                      [], 'none')
    return F.gelu(linear(x))

# Copyright (c) mmhornet contributors. All rights reserved.
"""Depth-wise convolution with a faster CPU backward for HorNet's 7x7 case.

The weight gradient comes from the C++ operator
``mmhornet::depthwise_conv7x7_weight_grad`` (built with the package as
``mmhornet.ops._ext``), the input gradient from a forward convolution with
the flipped kernel; both compute the same sums as PyTorch's backward. The
operator is plain C++, compiled on x86 also for AVX2 and AVX-512; the
version run is the instruction set ATen runs its own kernels with
(:func:`kernel_isa`), so it runs on any CPU torch runs on.
"""
import functools
import warnings
from typing import Optional

import torch
import torch.nn.functional as F

from .fast_paths import fast_paths_enabled

try:
    from . import _ext  # noqa: F401 (registers the operators)
except ModuleNotFoundError:  # installed with MMHORNET_WITH_OPS=0
    _ext = None
except ImportError as error:  # built, but not for this torch
    warnings.warn(
        f'mmhornet.ops._ext failed to load ({error}); HorNet runs without '
        'its C++ operators (same results, slower CPU training). Rebuild them '
        'for the installed torch: pip install --no-build-isolation -e .')
    _ext = None


def ops_available() -> bool:
    """Whether mmhornet's C++ operators were built and loaded."""
    return _ext is not None


@functools.lru_cache(maxsize=None)
def kernel_isa() -> str:
    """The instruction set of the C++ kernel to run: the one of ATen's own
    CPU kernels (``'avx512'``, ``'avx2'`` or the portable ``'default'``),
    found once per process, so that ``ATEN_CPU_CAPABILITY`` caps both."""
    capability = torch.backends.cpu.get_cpu_capability()
    return {'AVX512': 'avx512', 'AVX2': 'avx2'}.get(capability, 'default')


class _DepthwiseConv7x7(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, padding=3, groups=C)`` with the backward
    described in the module docstring.

    ``dtype`` is the precision of the convolution: float32, or under CPU
    autocast bfloat16, to which the inputs are cast as autocast would cast
    them. The gradients of float32 weights then carry the rounding to
    bfloat16 that autocast's cast would give them.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor],
                dtype: torch.dtype) -> torch.Tensor:
        with torch.autocast('cpu', enabled=False):
            x_low, weight_low = x.to(dtype), weight.to(dtype)
            bias_low = None if bias is None else bias.to(dtype)
            out = F.conv2d(
                x_low, weight_low, bias_low, padding=3, groups=x.shape[1])
        ctx.save_for_backward(x_low, weight_low)
        ctx.dtypes = (x.dtype, weight.dtype,
                      None if bias is None else bias.dtype)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        x_dtype, weight_dtype, bias_dtype = ctx.dtypes
        grad_x = grad_weight = grad_bias = None
        with torch.autocast('cpu', enabled=False):
            if ctx.needs_input_grad[0]:
                # For stride 1 and padding (k - 1) / 2, the transposed
                # convolution is the convolution with the flipped kernel.
                grad_x = F.conv2d(
                    grad, weight.flip(2, 3), padding=3,
                    groups=x.shape[1]).to(x_dtype)
            if ctx.needs_input_grad[1]:
                grad_weight = torch.ops.mmhornet.depthwise_conv7x7_weight_grad(
                    x.float(), grad.float(), kernel_isa())
                grad_weight = grad_weight.to(x.dtype).to(weight_dtype)
            if bias_dtype is not None and ctx.needs_input_grad[2]:
                grad_bias = grad.float().sum((0, 2, 3))
                grad_bias = grad_bias.to(x.dtype).to(bias_dtype)
        return grad_x, grad_weight, grad_bias, None


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor,
                     bias: Optional[torch.Tensor],
                     padding: int) -> torch.Tensor:
    """Depth-wise convolution (stride 1, ``groups = C``) of ``x`` (N, C, H,
    W) with ``weight`` (C, 1, k, k).

    When a 7x7 convolution (padding 3) on CPU needs gradients, in float32 or
    under bfloat16 autocast, and the C++ operators are available, its
    backward is the faster one of :class:`_DepthwiseConv7x7` (compared
    with oneDNN's in docs/benchmark.md). Otherwise,
    inside ``torch.compile``, when traced (FLOP counters, ONNX export see a
    plain convolution) and inside :func:`~mmhornet.ops.plain_forward`, it
    is ``F.conv2d``.
    """
    low_precision = (torch.float32, torch.bfloat16)
    if torch.is_autocast_enabled('cpu'):
        # Autocast casts float32 and bfloat16 inputs to its dtype.
        dtype = torch.get_autocast_dtype('cpu')
        dtypes_ok = dtype in low_precision and all(
            t.dtype in low_precision
            for t in (x, weight, bias) if t is not None)
    else:
        dtype = x.dtype
        dtypes_ok = dtype in low_precision and all(
            t.dtype == dtype for t in (weight, bias) if t is not None)
    if (_ext is not None and fast_paths_enabled() and dtypes_ok
            and torch.is_grad_enabled()
            and (x.requires_grad or weight.requires_grad)
            and x.device.type == 'cpu' and weight.shape[-2:] == (7, 7)
            and padding == 3 and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()):
        return _DepthwiseConv7x7.apply(x, weight, bias, dtype)
    return F.conv2d(x, weight, bias, padding=padding, groups=x.shape[1])

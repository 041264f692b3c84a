# Copyright (c) mmhornet contributors. All rights reserved.
"""The recursive gated convolution (gnConv) and its global-local filter.

Adapted from https://github.com/raoyongming/HorNet (the arithmetic, not the
code). Paper: `HorNet: Efficient High-Order Spatial Interactions with
Recursive Gated Convolutions <https://arxiv.org/abs/2207.14284>`_.
"""
import functools
import math
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch.nn.init import trunc_normal_

from mmhornet.ops import depthwise_conv2d
from mmhornet.registry import MODELS
from .norm import LayerNorm2d


def resize_complex_weight(weight: torch.Tensor, h: int,
                          w: int) -> torch.Tensor:
    """Bilinearly resize a (C, H, W, 2) rFFT filter to (C, h, w, 2).

    The real/imaginary axis is treated as the batch, exactly as the official
    code does at run time and when it loads a checkpoint into a model built
    for another input size (``align_corners=True``).
    """
    weight = F.interpolate(
        weight.permute(3, 0, 1, 2),
        size=(h, w),
        mode='bilinear',
        align_corners=True)
    return weight.permute(1, 2, 3, 0)


def _filter_spectrum(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    height, width = x.shape[2:]
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    spectrum = torch.fft.rfft2(x, dim=(2, 3), norm='ortho')
    if weight.shape[1:3] != spectrum.shape[2:4]:
        weight = resize_complex_weight(weight, *spectrum.shape[2:4])
    spectrum = spectrum * torch.view_as_complex(weight.contiguous())
    return torch.fft.irfft2(
        spectrum, s=(height, width), dim=(2, 3), norm='ortho')


def _irfft_twins(width: int) -> np.ndarray:
    """Weights of the rFFT bins in the inverse of a real signal of length
    ``width``: 1 for the DC and Nyquist bins, else 2 (the Hermitian twins
    the rFFT leaves out)."""
    twins = np.full(width // 2 + 1, 2.)
    twins[0] = 1.
    if width % 2 == 0:
        twins[-1] = 1.
    return twins


@functools.lru_cache(maxsize=None)
def _dft2_bases(height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """The 2-D rFFT of an H x W map as one real matrix, and its inverse.

    With ``phi = 2 pi (k1 h / H + k2 w / W)`` over pixels ``(h, w)`` and
    frequencies ``(k1, k2 < Wf = W // 2 + 1)``: the forward matrix is
    ``[cos phi | -sin phi] / sqrt(HW)`` (HW, 2 H Wf), the inverse
    ``[c cos phi; -c sin phi] / sqrt(HW)`` (2 H Wf, HW) with the bin weights
    ``c`` of :func:`_irfft_twins`; ``sin phi`` vanishes on the DC and
    Nyquist columns, so their imaginary parts drop out as in a C2R
    transform. Phases are reduced modulo 2 pi in integers, so they are exact
    before the float64 cosines are taken.
    """
    freqs = width // 2 + 1
    rows, cols = np.meshgrid(
        np.arange(height), np.arange(width), indexing='ij')
    k1, k2 = np.meshgrid(np.arange(height), np.arange(freqs), indexing='ij')
    pixels = height * width
    turns = (np.outer(rows.ravel() * width, k1.ravel()) +
             np.outer(cols.ravel() * height, k2.ravel())) % pixels
    phase = 2 * np.pi * turns / pixels  # (HW, H Wf)
    forward = np.concatenate([np.cos(phase), -np.sin(phase)], axis=1)
    twins = np.tile(_irfft_twins(width), height)[:, None]
    inverse = np.concatenate(
        [twins * np.cos(phase).T, -twins * np.sin(phase).T])
    return forward / math.sqrt(pixels), inverse / math.sqrt(pixels)


@functools.lru_cache(maxsize=None)
def _dft_bases(height: int,
               width: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 2-D rFFT of an H x W map as 1-D transforms along each axis.

    Returns ``[cos | sin]`` (H, 2H) of the DFT along H, the rFFT along W as
    ``[cos | -sin]`` (W, 2Wf) and its inverse ``[c cos; -c sin]`` (2Wf, W),
    each orthonormally scaled, with the phases reduced as in
    :func:`_dft2_bases`.
    """
    k_h = np.arange(height)
    angle_h = 2 * np.pi * (np.outer(k_h, k_h) % height) / height
    along_h = np.concatenate([np.cos(angle_h), np.sin(angle_h)], axis=1)
    freqs = width // 2 + 1
    angle_w = 2 * np.pi * (np.outer(np.arange(width), np.arange(freqs)) %
                           width) / width
    rfft_w = np.concatenate([np.cos(angle_w), -np.sin(angle_w)], axis=1)
    twins = _irfft_twins(width)[:, None]
    irfft_w = np.concatenate(
        [twins * rfft_w[:, :freqs].T, twins * rfft_w[:, freqs:].T])
    return (along_h / math.sqrt(height), rfft_w / math.sqrt(width),
            irfft_w / math.sqrt(width))


#: Maps up to this many pixels (24 x 24: HorNet-GF's stages at 224 and 384
#: px) are filtered with one matrix product per direction (2-D DFT
#: matrices), larger ones with products along H and W (1-D DFT matrices:
#: the 2-D matrices grow as the square of the map, e.g. 2 x 72 MB at the
#: 50 x 84 maps of a detector).
MAX_PIXELS_2D_DFT = 576


@torch._dynamo.assume_constant_result
def _dft_matrices(height: int, width: int, dtype: torch.dtype,
                  device: torch.device) -> Tuple[torch.Tensor, ...]:
    """The DFT matrices of :func:`spectral_filter_matmul` as tensors, which
    are constants of a compiled or exported graph (dynamo calls this
    function while tracing instead of tracing into it; the NumPy matrices
    are cached per size)."""
    if height * width <= MAX_PIXELS_2D_DFT:
        bases = _dft2_bases(height, width)
    else:
        bases = _dft_bases(height, width)
    return tuple(torch.from_numpy(b).to(device, dtype) for b in bases)


def spectral_filter_matmul(x: torch.Tensor,
                           weight: torch.Tensor) -> torch.Tensor:
    """:func:`spectral_filter` as real matrix products: the export form.

    ``rfft2``, the complex product with the filter and ``irfft2`` are
    linear maps, written here with DFT matrices for the input's size
    (constants of an exported graph) and real and imaginary parts kept
    apart. An exported graph therefore holds only MatMul, Mul, Add/Sub,
    Transpose, Slice/Split and Concat (plus a Resize of the filter when its
    size differs), which every runtime supports, instead of ONNX ``DFT``
    nodes (slow in onnxruntime for HorNet's sizes, not supported by
    TensorRT). The sums are those of the FFT, so the two agree within float
    rounding (about 1e-15 relative in float64 and 5e-7 in float32, tested).
    Inside ``torch.compile`` this form is the faster one too (inductor fuses
    the real and imaginary arithmetic around the products); eager runs keep
    ``torch.fft``, which is faster there.

    Small maps (up to :data:`MAX_PIXELS_2D_DFT` pixels) take one product
    with the 2-D DFT matrix each way (6% faster HorNet-T-GF in onnxruntime
    than the 1-D form, measured); larger maps take products along H and W.
    The size must be static: a graph is exported for one input size.
    """
    height, width = x.shape[2:]
    if torch.jit.is_tracing():  # TorchScript traces sizes as tensors
        height, width = int(height), int(width)
    if not (isinstance(height, int) and isinstance(width, int)):
        raise ValueError(
            'A global filter is exported for one input size: give the '
            'input static height and width (dynamic batch is fine).')
    dtype = torch.promote_types(x.dtype, torch.float32)
    freqs = width // 2 + 1
    if weight.shape[1:3] != (height, freqs):
        weight = resize_complex_weight(weight, height, freqs)
    x, weight = x.to(dtype), weight.to(dtype)

    if height * width <= MAX_PIXELS_2D_DFT:
        forward, inverse = _dft_matrices(height, width, dtype, x.device)
        weight_re, weight_im = weight.flatten(1, 2).unbind(-1)
        spec_re, spec_im = (x.flatten(2) @ forward).chunk(2, -1)
        spectrum = torch.cat([
            spec_re * weight_re - spec_im * weight_im,
            spec_re * weight_im + spec_im * weight_re
        ], -1)
        return (spectrum @ inverse).unflatten(-1, (height, width))

    along_h, rfft_w, irfft_w = _dft_matrices(height, width, dtype, x.device)
    # The maps are handled transposed, (..., W, H), between the products
    # along W, so that each product has its matrix on the right (one large
    # product instead of a batch of N * C small ones).
    weight_re, weight_im = weight.transpose(1, 2).unbind(-1)

    def split(t: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # (..., 2Wf, 2H) -> re-cos, re-sin, im-cos, im-sin, each (..., Wf, H)
        return (*t[..., :freqs, :].split(height, -1),
                *t[..., freqs:, :].split(height, -1))

    # rFFT along W, then the DFT (cos - i sin) along H
    spectrum = (x @ rfft_w).transpose(-1, -2)
    re_cos, re_sin, im_cos, im_sin = split(spectrum @ along_h)
    spec_re, spec_im = re_cos + im_sin, im_cos - re_sin
    # the filter, a complex product
    spec_re, spec_im = (spec_re * weight_re - spec_im * weight_im,
                        spec_re * weight_im + spec_im * weight_re)
    # inverse DFT (cos + i sin) along H, then the inverse rFFT along W
    re_cos, re_sin, im_cos, im_sin = split(
        torch.cat([spec_re, spec_im], -2) @ along_h)
    spectrum = torch.cat([re_cos - im_sin, im_cos + re_sin], -2)
    return spectrum.transpose(-1, -2) @ irfft_w


def spectral_filter(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Filter ``x`` (N, C, H, W) in the 2-D rFFT domain with ``weight``
    (C, h, w, 2), resized to the spectrum size ``(H, W // 2 + 1)`` if needed.

    Runs in at least float32 (FFTs in half precision are unsupported or
    inaccurate; a float64 model stays in float64). Eager runs use
    ``torch.fft``; compiled and exported models (``torch.compile``,
    ``torch.export``, ``torch.onnx.export``) use
    :func:`spectral_filter_matmul`, which has no FFT or complex op and is
    the faster form inside ``torch.compile``.
    """
    if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return spectral_filter_matmul(x, weight)
    return _filter_spectrum(x, weight)


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
        """Filter ``x``; ``scale`` multiplies the output (folded into the
        output norm's affine parameters)."""
        x = self.pre_norm(x)
        local, spatial = torch.chunk(x, 2, dim=1)
        local = self.dw(local)

        batch, channels, height, width = spatial.shape
        spatial = spectral_filter(spatial, self.complex_weight)
        x = torch.stack([local, spatial],
                        dim=2).reshape(batch, 2 * channels, height, width)
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
    """Depth-wise k x k convolution (``padding=(k - 1) // 2``) whose
    forward takes an output ``scale``, folded into the weight and bias: the
    same arithmetic as scaling the output, without a pass over it. On CPU,
    7x7 training in float32 or under bfloat16 autocast uses the faster
    backward of :func:`mmhornet.ops.depthwise_conv2d`.

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

    def forward(self,
                x: torch.Tensor,
                out_scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Apply gnConv to ``x`` (N, C, H, W).

        ``proj_in`` runs as two convolutions, for the gate ``p0`` and for
        the features ``q``, so that each is a dense tensor in ``x``'s
        memory format (slicing one channels-last output would make the
        mixer copy its input). ``s`` and the optional per-channel
        ``out_scale`` (a block's layer scale) are folded into the weights of
        the mixer and of ``proj_out``: the same products as scaling their
        outputs, without two more passes over the activations.
        """
        if torch.is_autocast_enabled(x.device.type):
            # Cast once for both halves of proj_in (autocast would cast the
            # input for each convolution).
            x = x.to(torch.get_autocast_dtype(x.device.type))
        weight, bias = self.proj_in.weight, self.proj_in.bias
        split = self.dims[0]
        gate = F.conv2d(x, weight[:split], bias[:split])
        features = F.conv2d(x, weight[split:], bias[split:])
        gates = torch.split(
            self.dwconv(features, self.scale), self.dims, dim=1)
        x = gate * gates[0]
        for proj, gate in zip(self.projs, gates[1:]):
            x = proj(x) * gate
        if out_scale is None:
            return self.proj_out(x)
        return F.conv2d(x, self.proj_out.weight * out_scale.view(-1, 1, 1, 1),
                        self.proj_out.bias * out_scale)

# Copyright (c) mmhornet contributors. All rights reserved.
"""The global filter of HorNet-GF (GFNet's): a learnt complex filter
applied in the 2-D real FFT domain, in two forms that compute the same sums.

* Eager runs use ``torch.fft`` (:func:`_filter_spectrum`), the fastest
  form there.
* Compiled and exported models use :func:`spectral_filter_matmul`, the
  same linear maps as real matrix products with precomputed DFT matrices:
  no FFT or complex op, so ONNX runtimes and TensorRT take it, and inductor
  fuses the arithmetic around the products (faster than the FFT when
  compiled, measured in docs/deployment.md).
"""
import functools
import math
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F


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
    with the 2-D DFT matrix each way (faster in onnxruntime than the 1-D
    form, docs/contributing.md); larger maps take products along H and W.
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
        return _filter_with_2d_dft(x, weight)
    return _filter_with_1d_dfts(x, weight)


def _filter_with_2d_dft(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """:func:`spectral_filter_matmul` with one product by the 2-D DFT
    matrix each way."""
    height, width = x.shape[2:]
    forward, inverse = _dft_matrices(height, width, x.dtype, x.device)
    weight_re, weight_im = weight.flatten(1, 2).unbind(-1)
    spec_re, spec_im = (x.flatten(2) @ forward).chunk(2, -1)
    spectrum = torch.cat([
        spec_re * weight_re - spec_im * weight_im,
        spec_re * weight_im + spec_im * weight_re
    ], -1)
    return (spectrum @ inverse).unflatten(-1, (height, width))


def _filter_with_1d_dfts(x: torch.Tensor,
                         weight: torch.Tensor) -> torch.Tensor:
    """:func:`spectral_filter_matmul` with products along W and H.

    The maps are handled transposed, (..., W, H), between the products
    along W, so that each product has its matrix on the right (one large
    product instead of a batch of N * C small ones).
    """
    height, width = x.shape[2:]
    freqs = width // 2 + 1
    along_h, rfft_w, irfft_w = _dft_matrices(height, width, x.dtype, x.device)
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

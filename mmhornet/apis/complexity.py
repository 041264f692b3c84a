# Copyright (c) mmhornet contributors. All rights reserved.
"""Parameter and FLOP counts of HorNet models, as the published tables count
them, plus what those tables leave out."""
import math
from typing import Dict, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer

from ..models.layers import GlobalLocalFilter, LayerNorm2d, plain_forward


def fft_flops(channels: int, height: int, width: int) -> int:
    """Multiply-accumulate equivalents of one global filter's FFT branch.

    A real 2-D FFT of ``N = height * width`` points costs about
    ``2.5 N log2 N`` real operations (half a complex radix-2 FFT), the
    inverse the same, and the spectrum product 6 per complex element. Like
    the main FLOP figure, where a multiply-accumulate counts once, the sum
    is halved.
    """
    points = height * width
    transforms = 2 * 2.5 * points * math.log2(points) if points > 1 else 0
    product = 6 * height * (width // 2 + 1)
    return int(round(channels * (transforms + product) / 2))


def get_complexity(model: nn.Module,
                   input_shape: Tuple[int, int, int]) -> Dict[str, int]:
    """Count parameters and FLOPs of ``model`` for one input.

    ``flops`` is mmengine's count (convolutions, linear layers, norms; a
    multiply-accumulate counts once) without the channels-first LayerNorms.
    The reference implementation computes those with element-wise ops the
    counter ignores, so this equals the published figures; they are given
    in ``layer_norm_2d_flops``. ``fft_flops`` is the cost of the global
    filters' FFTs (see :func:`fft_flops`), which no published figure counts.
    The model runs in its plain form
    (:func:`~mmhornet.models.layers.plain_forward`), in which every norm and
    filter is a module call; the fused form computes the same.

    Args:
        model (nn.Module): The model, called as ``model(inputs)``.
        input_shape (tuple): ``(C, H, W)`` of one input.

    Returns:
        dict: ``params``, ``flops``, ``layer_norm_2d_flops``, ``fft_flops``.
    """
    with plain_forward():  # one module call per step, as the paper reads
        return _count(model, torch.rand(1, *input_shape))


def _count(model: nn.Module, inputs: torch.Tensor) -> Dict[str, int]:
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_module = analyzer.by_module()

    fft_total = 0

    def count_fft(module, args, output):
        nonlocal fft_total
        _, channels, height, width = args[0].shape
        fft_total += fft_flops(channels // 2, height, width)

    filters = [m for m in model.modules() if isinstance(m, GlobalLocalFilter)]
    handles = [f.register_forward_hook(count_fft) for f in filters]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    norm_flops = sum(
        by_module.get(name, 0) for name, module in model.named_modules()
        if isinstance(module, LayerNorm2d))
    return dict(
        params=sum(p.numel() for p in model.parameters()),
        flops=analyzer.total() - norm_flops,
        layer_norm_2d_flops=norm_flops,
        fft_flops=fft_total)

# Copyright (c) mmhornet contributors. All rights reserved.
"""One switch for all of mmhornet's fast paths.

HorNet's modules compute the paper's arithmetic; where it pays, they take
faster forms of the same sums: the fused forward of gnConv and the HorNet
block (:mod:`mmhornet.models.layers.fused`), oneDNN's fused Linear + GELU
(:func:`~mmhornet.ops.linear_gelu`) and the C++ weight gradient of the 7x7
depth-wise convolution (:func:`~mmhornet.ops.depthwise_conv2d`). Each is
taken only while :func:`fast_paths_enabled` and only where the running
machine supports it, which each operator finds out once per process (see
there). Inside :func:`plain_forward` none of them runs: every step is one
plain PyTorch module or operator call, as FLOP counters and reference
comparisons need.
"""
import contextlib
from typing import Iterator

_enabled = True


def fast_paths_enabled() -> bool:
    """Whether mmhornet's fast paths may run: outside
    :func:`plain_forward`."""
    return _enabled


@contextlib.contextmanager
def plain_forward() -> Iterator[None]:
    """Run HorNet in its plain form inside the ``with`` block: the paper's
    arithmetic, one module call per step, no custom or fused operator."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous

# Copyright (c) mmhornet contributors. All rights reserved.
"""Mixed-precision training (``--amp``) on CPU-only hosts as well.

mmengine 0.10.7's ``AmpOptimWrapper`` refuses to start without a GPU (or
NPU/MLU/MUSA). :class:`AmpOptimWrapper` is mmengine's class wherever that
runs, and on a CPU-only host runs the forward pass under CPU autocast with a
CPU ``GradScaler``: enabled for float16, disabled (a pass-through) for
bfloat16, so that mmengine's ``backward``, ``step`` and ``load_state_dict``
serve both precisions unchanged.
"""
import contextlib
from typing import Iterator, Optional, Union

import torch
from mmengine.device import (is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.optim import AmpOptimWrapper as _AmpOptimWrapper
from mmengine.optim import OptimWrapper

from mmhornet.registry import OPTIM_WRAPPERS

__all__ = ['AmpOptimWrapper']


def _has_accelerator() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` runs on this host."""
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def _cpu_autocast_dtype(
        dtype: Optional[Union[str, torch.dtype]]) -> torch.dtype:
    """The CPU autocast dtype for ``dtype``: bfloat16 (None) or float16."""
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, dtype)
    if dtype not in (None, torch.bfloat16, torch.float16):
        raise ValueError('Mixed precision on CPU supports bfloat16 and '
                         f'float16, got dtype={dtype!r}')
    return dtype or torch.bfloat16


def _cpu_grad_scaler(loss_scale: Union[str, float, dict],
                     enabled: bool) -> torch.amp.GradScaler:
    """A CPU GradScaler from ``loss_scale`` as mmengine reads it."""
    if loss_scale == 'dynamic':
        return torch.amp.GradScaler('cpu', enabled=enabled)
    if isinstance(loss_scale, float):
        return torch.amp.GradScaler(
            'cpu', init_scale=loss_scale, enabled=enabled)
    if isinstance(loss_scale, dict):
        return torch.amp.GradScaler('cpu', **dict(loss_scale, enabled=enabled))
    raise TypeError("loss_scale must be 'dynamic', a float or a dict of "
                    f'GradScaler arguments, got {loss_scale!r}')


@contextlib.contextmanager
def _float32_cpu_nms() -> Iterator[None]:
    """Inside the block, mmcv's NMS takes float16 CPU boxes as float32.

    Its CPU kernel has no float16 version, and under CPU float16 autocast a
    detector's proposals are float16; NMS returns indices only, so nothing
    downstream changes type.
    """
    from mmcv.ops.nms import NMSop
    forward = NMSop.forward

    def float32_forward(ctx, bboxes, scores, *args):
        if bboxes.device.type == 'cpu' and bboxes.dtype == torch.float16:
            bboxes, scores = bboxes.float(), scores.float()
        return forward(ctx, bboxes, scores, *args)

    NMSop.forward = staticmethod(float32_forward)
    try:
        yield
    finally:
        NMSop.forward = staticmethod(forward)


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(_AmpOptimWrapper):
    """Mixed-precision optimizer wrapper that also runs on a CPU-only host.

    On GPU (or NPU/MLU/MUSA) it is mmengine's ``AmpOptimWrapper``. On CPU
    the forward pass runs under ``torch.autocast('cpu', dtype)``: bfloat16
    (the default) without loss scaling, as bfloat16 has float32's exponent
    range and gradients do not underflow; float16 with
    ``torch.amp.GradScaler('cpu')``, which ``loss_scale`` configures as on a
    GPU.

    Args:
        loss_scale (str | float | dict): ``'dynamic'``, a static scale or
            the GradScaler's arguments; unused by CPU bfloat16. Defaults to
            'dynamic'.
        dtype (str | torch.dtype, optional): Autocast dtype. On CPU
            ``bfloat16`` (if None) or ``float16``.
        **kwargs: Arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 **kwargs) -> None:
        self.on_cpu = not _has_accelerator()
        if not self.on_cpu:
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        OptimWrapper.__init__(self, **kwargs)
        self.cast_dtype = _cpu_autocast_dtype(dtype)
        self.loss_scaler = _cpu_grad_scaler(
            loss_scale, enabled=self.cast_dtype == torch.float16)
        self._scale_update_param = (
            loss_scale if isinstance(loss_scale, float) else None)

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        """mmengine's context; on a CPU-only host, CPU autocast in
        ``cast_dtype`` (mmengine's autocast takes only bfloat16 there)."""
        if not self.on_cpu:
            with super().optim_context(model):
                yield
            return
        with OptimWrapper.optim_context(self, model), torch.autocast(
                'cpu', dtype=self.cast_dtype), _float32_cpu_nms():
            yield

    def state_dict(self) -> dict:
        """mmengine's state, without the ``loss_scaler`` entry of a
        disabled scaler (CPU bfloat16), which has no state."""
        state_dict = super().state_dict()
        if not self.loss_scaler.is_enabled():
            del state_dict['loss_scaler']
        return state_dict

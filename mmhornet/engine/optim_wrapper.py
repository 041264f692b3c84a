# Copyright (c) mmhornet contributors. All rights reserved.
from typing import Optional, Union

import torch
from mmengine.device import (is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.optim import AmpOptimWrapper as _AmpOptimWrapper
from mmengine.optim import OptimWrapper

from mmhornet.registry import OPTIM_WRAPPERS


def _has_accelerator() -> bool:
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(_AmpOptimWrapper):
    """Mixed-precision optimizer wrapper that also runs on a CPU-only host.

    On GPU (or NPU/MLU/MUSA) it is mmengine's ``AmpOptimWrapper``. On CPU,
    where that class refuses to start, the forward pass runs under
    ``torch.autocast('cpu', dtype=torch.bfloat16)`` without loss scaling:
    bfloat16 has float32's exponent range, so gradients do not underflow.

    Args:
        loss_scale (str | float | dict): Loss scaling of the accelerator
            path (ignored on CPU). Defaults to 'dynamic'.
        dtype (str | torch.dtype, optional): Autocast dtype. On CPU only
            ``bfloat16`` (the default there) is supported.
        **kwargs: Arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 **kwargs) -> None:
        if _has_accelerator():
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        OptimWrapper.__init__(self, **kwargs)
        dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if dtype not in (None, torch.bfloat16):
            raise ValueError('Mixed precision on CPU supports bfloat16 only, '
                             f'got dtype={dtype}')
        self.cast_dtype = torch.bfloat16
        self.loss_scaler = None
        self._scale_update_param = None

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is None:
            return OptimWrapper.backward(self, loss, **kwargs)
        return super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            return OptimWrapper.step(self, **kwargs)
        return super().step(**kwargs)

    def state_dict(self) -> dict:
        if self.loss_scaler is None:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        if self.loss_scaler is None:
            state_dict.pop('loss_scaler', None)  # saved by a GPU run
            return OptimWrapper.load_state_dict(self, state_dict)
        return super().load_state_dict(state_dict)

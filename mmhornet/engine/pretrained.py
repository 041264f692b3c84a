# Copyright (c) mmhornet contributors. All rights reserved.
"""Initialise a part of a model from a HorNet checkpoint, official or not,
optionally keeping only some rows of a classification head."""
import os.path as osp
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info

from mmhornet.checkpoint import (convert_checkpoint, load_checkpoint,
                                 load_checkpoint_file)
from mmhornet.registry import WEIGHT_INITIALIZERS

OFFICIAL_REPO = 'https://github.com/raoyongming/HorNet'


def load_rows(filename: str) -> torch.Tensor:
    """The class indices of a row map such as ``in1k_to_21k_map.pth``: a
    saved 1-D integer tensor or list (e.g. 1000 indices into 21,841)."""
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'The head row map {osp.abspath(filename)} does not exist. For '
            'the ImageNet-22k -> 1k fine-tuning configs it is the official '
            '`in1k_to_21k_map.pth` (1000 indices of the ImageNet-1k classes '
            f'among the 21,841 of ImageNet-22k) from {OFFICIAL_REPO}: put '
            'it there, or set the head\'s `init_cfg.rows` to its path.')
    rows = load_checkpoint_file(filename, map_location='cpu')
    rows = torch.as_tensor(rows)
    if rows.ndim != 1 or rows.dtype.is_floating_point or rows.is_complex():
        raise ValueError(f'{filename} must hold a 1-D list or tensor of '
                         f'class indices, not {rows.dtype} of shape '
                         f'{tuple(rows.shape)}')
    return rows.long()


@WEIGHT_INITIALIZERS.register_module()
class HorNetPretrained:
    """Load the ``prefix`` part of a checkpoint into a module, strictly.

    Like mmengine's ``Pretrained``, as ``init_cfg`` of a backbone or head,
    but the checkpoint may be an official one of raoyongming/HorNet
    (converted on the way), every key must match (a missing, unexpected or
    misshapen tensor is an error, never a silent re-initialisation) and, with
    ``rows``, the first dimension of every tensor under ``prefix`` (a
    linear head's weight and bias) is indexed by a saved row map first: the
    official fine-tuning from ImageNet-22k to 1k keeps the 22k head's rows
    of the 1k classes (``in1k_to_21k_map.pth``). Global filters are resized
    to the model's as they load.

    Example:
        >>> init_cfg = dict(type='mmhornet.HorNetPretrained',
        ...                 checkpoint='hornet_large_7x7_22k.pth',
        ...                 prefix='head.', rows='in1k_to_21k_map.pth')

    Args:
        checkpoint (str): Path or URL of the checkpoint, read by
            :func:`mmhornet.checkpoint.load_checkpoint` (safely, without
            patching mmengine).
        prefix (str): The module's key prefix in the checkpoint (with
            mmhornet's keys), e.g. ``'backbone.'`` or ``'head.'``.
        rows (str, optional): File of the row indices to keep. Defaults to
            None (all rows).
        map_location (str): Defaults to ``'cpu'``.
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: str,
                 rows: Optional[str] = None,
                 map_location: str = 'cpu') -> None:
        self.checkpoint = checkpoint
        self.prefix = prefix if prefix.endswith('.') else prefix + '.'
        self.rows = rows
        self.map_location = map_location

    def __call__(self, module: nn.Module) -> None:
        # the row map first: a missing one fails before a large download
        rows = load_rows(self.rows) if self.rows is not None else None
        state_dict = convert_checkpoint(
            load_checkpoint(self.checkpoint, self.map_location))['state_dict']
        part = {
            key[len(self.prefix):]: value
            for key, value in state_dict.items() if key.startswith(self.prefix)
        }
        if not part:
            raise KeyError(f'{self.checkpoint} has no weights under '
                           f'{self.prefix!r} (its keys start with '
                           f'{sorted({k.split(".")[0] for k in state_dict})})')
        if rows is not None:
            for key, value in part.items():
                if rows.numel() and (rows.min() < 0
                                     or rows.max() >= value.shape[0]):
                    raise IndexError(
                        f'{self.rows} indexes rows {int(rows.min())}..'
                        f'{int(rows.max())}, but {self.prefix}{key} of '
                        f'{self.checkpoint} has {value.shape[0]}')
                part[key] = value[rows]
        module.load_state_dict(part, strict=True)
        print_log(
            f'{self.prefix} loaded from {self.checkpoint}' +
            (f', rows {self.rows}' if rows is not None else ''),
            logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        rows = f', rows of {self.rows}' if self.rows else ''
        return (f'{self.__class__.__name__}: {self.prefix} of '
                f'{self.checkpoint}{rows}')

# Copyright (c) mmhornet contributors. All rights reserved.
"""Read a checkpoint from wherever it is, and load it into a model.

These replace mmengine's private ``_load_checkpoint`` and
``_load_checkpoint_to_model``, and change no global state: they need no
:func:`~mmhornet.checkpoint.patch_checkpoint_loading`.
"""
import re
from collections import OrderedDict
from typing import Any, Dict, Union
from urllib.parse import urlparse

import torch
import torch.nn as nn
from mmengine.runner import CheckpointLoader
from mmengine.runner import load_state_dict as mmengine_load_state_dict

from .convert import convert_checkpoint
from .download import load_url
from .safe_load import allow_checkpoint_globals, load_checkpoint_file

__all__ = ['load_checkpoint', 'load_weights']


def load_checkpoint(
        filename: str,
        map_location: Union[str, torch.device, None] = None) -> Any:
    """Read a checkpoint safely (``weights_only=True``).

    A local file is read by
    :func:`~mmhornet.checkpoint.load_checkpoint_file`, an ``http(s)://``
    URL downloaded and verified by :func:`~mmhornet.checkpoint.load_url`;
    mmengine's other schemes (``open-mmlab://``, ``torchvision://``,
    ``s3://``, ...) by its ``CheckpointLoader`` with
    :data:`~mmhornet.checkpoint.CHECKPOINT_SAFE_GLOBALS` allowed for this
    call.

    Args:
        filename (str): A path, a URL or an mmengine scheme address.
        map_location (str | torch.device, optional): Same as
            :func:`torch.load`. Defaults to None.

    Returns:
        The loaded object (usually a dict).
    """
    scheme = urlparse(filename).scheme
    if scheme in ('http', 'https'):
        return load_url(filename, map_location)
    if '://' not in filename:
        return load_checkpoint_file(filename, map_location)
    with allow_checkpoint_globals():
        return CheckpointLoader.load_checkpoint(filename, map_location)


def load_weights(model: nn.Module,
                 filename: str,
                 map_location: Union[str, torch.device, None] = 'cpu',
                 strict: bool = True) -> Dict[str, Any]:
    """Load a checkpoint of any origin into ``model``.

    The checkpoint is read by :func:`load_checkpoint` and converted by
    :func:`~mmhornet.checkpoint.convert_checkpoint` (official HorNet and
    mmcv 1.x checkpoints included); a ``module.`` prefix (DataParallel) is
    dropped.

    Args:
        model (nn.Module): The model (a DataParallel / DDP wrapper is
            unwrapped by mmengine's ``load_state_dict``).
        filename (str): A path, a URL or an mmengine scheme address.
        map_location (str | torch.device, optional): Same as
            :func:`torch.load`. Defaults to ``'cpu'``.
        strict (bool): A missing, unexpected or misshapen tensor is an
            error, not a warning. Defaults to True.

    Returns:
        dict: The checkpoint's ``meta`` as
        :func:`~mmhornet.checkpoint.convert_checkpoint` gives it (with
        ``dataset_meta`` when the checkpoint names its classes).
    """
    checkpoint = convert_checkpoint(load_checkpoint(filename, map_location))
    state_dict = OrderedDict(
        (re.sub(r'^module\.', '', key), value)
        for key, value in checkpoint['state_dict'].items())
    mmengine_load_state_dict(model, state_dict, strict=strict)
    return checkpoint['meta']

# Copyright (c) mmhornet contributors. All rights reserved.
"""Make mmengine's own checkpoint loading safe on torch >= 2.6."""
import torch
from mmengine.runner import CheckpointLoader

from .download import load_url
from .safe_load import CHECKPOINT_SAFE_GLOBALS, load_checkpoint_file

__all__ = ['patch_checkpoint_loading']


def _load_from_local(filename: str, map_location=None) -> object:
    """mmengine's scheme for local files: :func:`load_checkpoint_file`."""
    return load_checkpoint_file(filename, map_location)


def _load_from_http(filename: str,
                    map_location=None,
                    model_dir=None) -> object:
    """mmengine's scheme for ``http(s)://``: :func:`load_url`."""
    return load_url(filename, map_location, model_dir)


_patched = False


def patch_checkpoint_loading() -> None:
    """Make mmengine load checkpoints safely on torch >= 2.6.

    mmengine's ``CheckpointLoader`` schemes for local files and
    ``http(s)://`` URLs become :func:`load_checkpoint_file` and
    :func:`load_url`, and :data:`CHECKPOINT_SAFE_GLOBALS` are allowlisted
    for ``torch.load`` (for mmengine's other schemes, such as
    ``open-mmlab://``). Calling it again does nothing.

    It changes global state, so nothing in mmhornet calls it on import or
    when a module is built; the entry points that run mmengine's
    ``Runner`` (``load_from``, ``--resume``,
    ``init_cfg=dict(type='Pretrained')``) call it first:
    ``tools/train.py`` and ``tools/test.py``. Other code that makes mmengine
    load checkpoints (e.g. mmpretrain's, mmdet's or mmseg's own tools on a
    config that uses mmhornet) calls it itself. mmhornet's own loaders
    (:func:`~mmhornet.checkpoint.load_checkpoint`,
    :func:`~mmhornet.checkpoint.load_weights`, used by ``get_model`` and
    ``mmhornet.HorNetPretrained``) need no patch.
    """
    global _patched
    if _patched:
        return
    torch.serialization.add_safe_globals(CHECKPOINT_SAFE_GLOBALS)
    CheckpointLoader.register_scheme('', _load_from_local, force=True)
    CheckpointLoader.register_scheme(('http://', 'https://'),
                                     _load_from_http,
                                     force=True)
    _patched = True

# Copyright (c) mmhornet contributors. All rights reserved.
"""Fixes that let the 2023-2024 OpenMMLab releases run on modern torch.

Importing :mod:`mmhornet` applies them once:

* **Safe checkpoint loading.** Since torch 2.6, ``torch.load`` defaults to
  ``weights_only=True`` and refuses the extra objects that mmengine stores in
  its checkpoints (the message hub's ``HistoryBuffer``, numpy arrays), so
  testing, ``load_from`` and ``--resume`` fail. Instead of turning
  ``weights_only`` off (which lets a malicious file run code), the few types
  such checkpoints hold are allowlisted, and mmengine's local and HTTP
  checkpoint loaders are replaced by ones that always load with
  ``weights_only=True`` and explain a refusal, a corrupt file, or a failed
  download.
"""
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, List, Optional, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'load_checkpoint_file', 'load_url']


def _numpy_globals() -> List[Any]:
    """The numpy objects a pickled array or scalar refers to, under the
    names numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) use."""
    multiarray = np._core.multiarray if hasattr(
        np, '_core') else np.core.multiarray
    entries: List[Any] = [np.ndarray, np.dtype]
    for name in ('_reconstruct', 'scalar'):
        func = getattr(multiarray, name)
        entries += [(func, f'numpy.core.multiarray.{name}'),
                    (func, f'numpy._core.multiarray.{name}')]
    # numpy >= 1.25 pickles a dtype through its concrete class
    # (``numpy.dtypes.Float64DType``...): allow those of plain numbers only.
    for char in '?bBhHiIlLqQefdgFDG':
        entries.append(type(np.dtype(char)))
    return entries


#: Everything other than tensors and plain containers that checkpoints saved
#: by mmengine runners (and OpenMMLab model zoos) hold. ``getattr`` is there
#: because a ``HistoryBuffer`` pickles its statistics methods as
#: ``getattr(HistoryBuffer, 'mean')``; torch's weights-only unpickler still
#: refuses to *call* anything that is not itself in this list, so attribute
#: chains cannot reach code execution.
CHECKPOINT_SAFE_GLOBALS: List[Any] = [
    HistoryBuffer, ConfigDict, getattr, *_numpy_globals()
]
torch.serialization.add_safe_globals(CHECKPOINT_SAFE_GLOBALS)


def load_checkpoint_file(
        filename: str,
        map_location: Union[str, torch.device, None] = None) -> Any:
    """Load a checkpoint file with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint.
        map_location (str | torch.device, optional): Same as
            :func:`torch.load`. Defaults to None.

    Returns:
        The loaded object (usually a dict).

    Raises:
        FileNotFoundError: The file does not exist.
        pickle.UnpicklingError: The file holds an object that is not a
            tensor, a plain container or an allowlisted type; it was not
            executed.
        RuntimeError: The file is truncated or is not a torch checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint file not found: {osp.abspath(filename)}')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()
        detail = next(
            (line
             for line in reason if 'GLOBAL' in line or 'Unsupported' in line),
            reason[0] if reason else '')
        raise pickle.UnpicklingError(
            f'Refused to load the checkpoint {filename}: it holds an object '
            'that is neither a tensor nor one of the types OpenMMLab '
            'checkpoints contain, and unpickling it could run code. Nothing '
            f'in it was executed. ({detail.strip()}) If you trust the file, '
            'extract its weights yourself, e.g. `torch.save(torch.load(src, '
            "weights_only=False)['state_dict'], dst)`, and load `dst`."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise RuntimeError(
            f'Cannot read the checkpoint {filename}: the file is truncated '
            f'or not a torch checkpoint ({type(error).__name__}: {error}).'
        ) from None


def _cache_name(url: str) -> str:
    """The cache file name of ``url``: its last path segment, with ``.pth``
    added when it has no extension (e.g. ``https://host/f/<id>/?dl=1``)."""
    name = osp.basename(urlparse(url).path.rstrip('/'))
    if not name:
        raise ValueError(f'Cannot name a cache file after the URL {url}')
    return name if osp.splitext(name)[1] else name + '.pth'


def load_url(url: str,
             map_location: Union[str, torch.device, None] = None,
             model_dir: Optional[str] = None,
             progress: bool = False) -> Any:
    """Download a checkpoint into the torch hub cache and load it safely.

    The cache is ``<torch hub dir>/checkpoints``, as for mmengine's own
    loader, so a file placed there by hand is used without any download. In
    a distributed run, rank 0 downloads first.

    Args:
        url (str): The ``http(s)://`` address.
        map_location (str | torch.device, optional): Same as
            :func:`torch.load`. Defaults to None.
        model_dir (str, optional): Cache folder. Defaults to
            ``<torch hub dir>/checkpoints``.
        progress (bool): Show a progress bar. Defaults to False.
    """
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached_file = osp.join(model_dir, _cache_name(url))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached_file):
        os.makedirs(model_dir, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, cached_file, progress=progress)
        except Exception as error:  # any network or HTTP failure
            raise RuntimeError(
                f'Could not download the checkpoint {url} '
                f'({type(error).__name__}: {error}). Download it where the '
                'address is reachable, then pass the local file instead of '
                'the URL (e.g. `pretrained=/path/to/file.pth` or the '
                f'checkpoint argument of the tools), or put it at '
                f'{cached_file}, where it is found without downloading.'
            ) from None
    if world_size > 1:
        barrier()
    return load_checkpoint_file(cached_file, map_location)


def load_from_local(filename: str, map_location=None) -> Any:
    return load_checkpoint_file(filename, map_location)


def load_from_http(filename: str, map_location=None, model_dir=None) -> Any:
    return load_url(filename, map_location, model_dir)


CheckpointLoader.register_scheme('', load_from_local, force=True)
CheckpointLoader.register_scheme(('http://', 'https://'),
                                 load_from_http,
                                 force=True)

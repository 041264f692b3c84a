# Copyright (c) mmhornet contributors. All rights reserved.
"""Read checkpoint files with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
the extra objects that mmengine stores in its checkpoints (the message hub's
``HistoryBuffer``, numpy arrays). Instead of turning ``weights_only`` off
(which lets a malicious file run code), the few types such checkpoints hold
are allowlisted (:data:`CHECKPOINT_SAFE_GLOBALS`) for the duration of a load
(:func:`allow_checkpoint_globals`); a refusal or a corrupt file is
explained.
"""
import contextlib
import os.path as osp
import pickle
import zipfile
from typing import Any, Iterator, List, Union

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'load_checkpoint_file']


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


@contextlib.contextmanager
def allow_checkpoint_globals() -> Iterator[None]:
    """Allow :data:`CHECKPOINT_SAFE_GLOBALS` in weights-only loads inside the
    ``with`` block; the allow-list is as before afterwards (entries added
    before are kept)."""
    allowed = torch.serialization.get_safe_globals()
    # only what is not allowed yet: ``safe_globals`` removes what it was
    # given when the block ends, also entries that were there before
    missing = [g for g in CHECKPOINT_SAFE_GLOBALS if g not in allowed]
    with torch.serialization.safe_globals(missing):
        yield


def load_checkpoint_file(
        filename: str,
        map_location: Union[str, torch.device, None] = None) -> Any:
    """Load a checkpoint file with ``weights_only=True``, allowing
    :data:`CHECKPOINT_SAFE_GLOBALS` for this call only.

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
        with allow_checkpoint_globals():
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if not zipfile.is_zipfile(filename) and 'Unsupported operand' in str(
                error):
            # Neither torch's zip format nor a pickle: e.g. an HTML page.
            raise RuntimeError(
                f'Cannot read the checkpoint {filename}: the file is '
                'truncated or not a torch checkpoint (it is not a zip '
                'archive and not a pickle).') from None
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

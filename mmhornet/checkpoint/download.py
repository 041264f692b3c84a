# Copyright (c) mmhornet contributors. All rights reserved.
"""Download checkpoints into the torch hub cache, verified.

A checkpoint downloaded from a URL whose file name carries OpenMMLab's
sha256 prefix is checked against it, and an incomplete, corrupt or
unreadable download never enters the cache (:func:`load_url`).
"""
import hashlib
import logging
import os
import os.path as osp
import pickle
import re
import tempfile
from typing import Any, Optional, Union
from urllib.parse import urlparse
from urllib.request import Request, urlopen

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from .safe_load import load_checkpoint_file

__all__ = ['hash_prefix_of', 'load_url']


def _cache_name(url: str) -> str:
    """The cache file name of ``url``: its last path segment, with ``.pth``
    added when it has no extension (e.g. ``https://host/f/<id>/?dl=1``)."""
    name = osp.basename(urlparse(url).path.rstrip('/'))
    if not name:
        raise ValueError(f'Cannot name a cache file after the URL {url}')
    return name if osp.splitext(name)[1] else name + '.pth'


def hash_prefix_of(filename: str) -> Optional[str]:
    """The sha256 prefix an OpenMMLab file name carries, if any.

    OpenMMLab publishes checkpoints as ``<name>-<first 8 hex digits of the
    file's sha256>.pth`` (e.g. ``..._20220915-0e8eedff.pth``), as
    ``torch.hub`` does.

    Args:
        filename (str): A file name or URL.

    Returns:
        str | None: The 8 lower-case hex digits, or None.
    """
    stem = osp.splitext(osp.basename(urlparse(filename).path))[0]
    match = re.search(r'-([0-9a-f]{8})$', stem)
    return match.group(1) if match else None


def _sha256(filename: str) -> str:
    digest = hashlib.sha256()
    with open(filename, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dst: str, progress: bool) -> str:
    """Download ``url`` to ``dst`` (a new file) and return its sha256.

    Raises:
        RuntimeError: The body is shorter than its ``Content-Length``.
        Exception: Whatever ``urllib`` raises for network and HTTP errors.
    """
    request = Request(url, headers={'User-Agent': 'mmhornet'})
    digest = hashlib.sha256()
    received = 0
    with urlopen(request, timeout=60) as response, open(dst, 'wb') as f:
        length = response.headers.get('Content-Length')
        expected = int(length) if length and length.isdigit() else None
        bar = ProgressBar(expected) if progress and expected else None
        for chunk in iter(lambda: response.read(1 << 20), b''):
            f.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if expected is not None and received != expected:
        raise RuntimeError(f'the download is truncated: received {received} '
                           f'of the {expected} bytes the server announced')
    return digest.hexdigest()


def _load_verified_download(url: str, cached_file: str, map_location: Any,
                            progress: bool) -> Any:
    """Download ``url`` next to ``cached_file``, check it and load it; only
    a file that passes every check is moved to ``cached_file``."""
    expected = hash_prefix_of(url)
    fd, partial = tempfile.mkstemp(
        prefix=f'.{osp.basename(cached_file)}.',
        suffix='.partial',
        dir=osp.dirname(cached_file))
    os.close(fd)
    try:
        try:
            sha = _download(url, partial, progress)
        except Exception as error:  # any network, HTTP or length failure
            raise RuntimeError(
                f'Could not download the checkpoint {url} '
                f'({type(error).__name__}: {error}). Download it where the '
                'address is reachable, then pass the local file instead of '
                'the URL (e.g. `pretrained=/path/to/file.pth` or the '
                f'checkpoint argument of the tools), or put it at '
                f'{cached_file}, where it is found without downloading.'
            ) from None
        if expected is not None and not sha.startswith(expected):
            raise RuntimeError(
                f'The checkpoint downloaded from {url} is corrupt or not the '
                f'published file: its sha256 is {sha}, but the file name '
                f'says it starts with {expected}. It was not kept; try '
                'again, or download it yourself and compare its sha256.')
        try:
            checkpoint = load_checkpoint_file(partial, map_location)
        except pickle.UnpicklingError:
            # Complete and as published, but it holds objects that are not
            # loaded unsafely: keep it, and raise the refusal naming it.
            os.replace(partial, cached_file)
            return load_checkpoint_file(cached_file, map_location)
        except RuntimeError as error:
            raise RuntimeError(
                f'The checkpoint downloaded from {url} (sha256 {sha}) cannot '
                f'be read and was not kept: {error}') from None
        os.replace(partial, cached_file)
        return checkpoint
    finally:
        if osp.exists(partial):
            os.remove(partial)


def _load_cached(url: str, cached_file: str,
                 map_location: Union[str, torch.device, None]) -> Any:
    """Load a file of the cache; it is never deleted here (it may be a file
    the user put there): an unreadable one is an error that names the file
    to delete, one whose sha256 does not match the hash in its name is used
    with a warning that names it."""
    remedy = (f'Delete {cached_file} to download {url} again, or replace '
              'it with a good copy.')
    try:
        checkpoint = load_checkpoint_file(cached_file, map_location)
    except RuntimeError as error:
        raise RuntimeError(f'{error} {remedy}') from None
    expected = hash_prefix_of(url)
    if expected is not None:
        sha = _sha256(cached_file)
        if not sha.startswith(expected):
            print_log(
                f'The cached checkpoint {cached_file} is not the published '
                f'file of {url}: its sha256 is {sha}, the name says '
                f'{expected}... It was placed there by hand or damaged '
                f'after its download (which was verified); using it. '
                f'{remedy}',
                logger='current',
                level=logging.WARNING)
    return checkpoint


def load_url(url: str,
             map_location: Union[str, torch.device, None] = None,
             model_dir: Optional[str] = None,
             progress: bool = False) -> Any:
    """Download a checkpoint into the torch hub cache and load it safely.

    The cache is ``<torch hub dir>/checkpoints``, as for mmengine's own
    loader, so a file placed there by hand is used without any download. In
    a distributed run, rank 0 downloads while the others wait.

    A download is written to a temporary file beside the cache entry and
    kept only when it is complete (as long as its ``Content-Length``), its
    sha256 starts with the hash in its name (OpenMMLab's
    ``<name>-<8 hex digits>.pth``; names without one are not checked) and
    it loads; otherwise nothing is cached, the error names the URL (and the
    expected and actual hashes) and the next call downloads again. A file
    already in the cache is never deleted: one that cannot be read is an
    error saying which file to delete; one whose sha256 does not match its
    name (placed by hand, or damaged since) is used with a warning naming
    it.

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
    checkpoint, error = None, None
    if rank == 0 and not osp.isfile(cached_file):
        os.makedirs(model_dir, exist_ok=True)
        try:
            checkpoint = _load_verified_download(url, cached_file,
                                                 map_location, progress)
        except RuntimeError as download_error:
            error = download_error
    if world_size > 1:
        barrier()  # also when rank 0 failed, so that no rank waits forever
    if error is not None:
        raise error
    if checkpoint is not None:
        return checkpoint
    if not osp.isfile(cached_file):
        raise RuntimeError(
            f'Rank 0 could not download the checkpoint {url} (see its log); '
            f'{cached_file} does not exist.')
    return _load_cached(url, cached_file, map_location)

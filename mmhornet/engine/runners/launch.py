# Copyright (c) mmhornet contributors. All rights reserved.
"""A run's launch and teardown, the same for ``tools/train.py`` and
``tools/test.py``: :func:`launch_runner` builds the config's runner and
ends the distributed run after it, whether it completed or failed.

Distributed runs (torchrun or Slurm) also work on CPUs, with gloo: mmengine
0.10.7 defaults to the nccl backend, calls ``torch.cuda.set_device`` while
initialising the process group, wraps the model in DDP with
``device_ids=[LOCAL_RANK]`` and keeps SyncBN, none of which runs on a CPU
(:func:`setup_launcher`). On a GPU (or any accelerator mmengine knows)
nothing is changed.
"""
import contextlib
import logging
import os
from typing import Any, Iterator

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import init_dist, is_distributed
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from mmengine.utils.dl_utils import set_multi_processing
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    'cpu_threads_per_process', 'launch_runner', 'replace_sync_bn',
    'setup_launcher', 'teardown_launcher'
]

SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN')


def replace_sync_bn(cfg: Any) -> int:
    """Replace, in place, every SyncBN norm config by a plain BN config.

    SyncBN layers (torch's and mmcv's) only run on GPUs. BN keeps the same
    parameters and buffers, so checkpoints load either way.

    Args:
        cfg (Any): A model config: dicts and lists, walked recursively.

    Returns:
        int: How many norm configs were replaced.
    """
    replaced = 0
    if isinstance(cfg, dict):
        if cfg.get('type') in SYNC_BN_TYPES:
            cfg['type'] = 'BN'
            replaced += 1
        for value in cfg.values():
            replaced += replace_sync_bn(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            replaced += replace_sync_bn(value)
    return replaced


def cpu_threads_per_process() -> int:
    """The number of intra-op threads a CPU process should use.

    ``OMP_NUM_THREADS`` is respected when it is set to more than 1. torchrun
    sets it to 1 for every worker when the user did not set it, which leaves
    all but a few cores idle; as a worker cannot tell that default from an
    explicit 1, a value of 1 (or none) gives each of the node's processes an
    even share of the cores this process may run on. A Slurm task (not
    started by torchrun) gets its ``--cpus-per-task`` (``SLURM_CPUS_PER_TASK``)
    instead: Slurm need not bind tasks to their CPUs, and each task seeing
    every core of the node oversubscribes them.
    """
    omp_threads = os.environ.get('OMP_NUM_THREADS', '')
    if omp_threads.isdigit() and int(omp_threads) > 1:
        return int(omp_threads)
    if hasattr(os, 'sched_getaffinity'):
        cpus = len(os.sched_getaffinity(0))
    else:
        cpus = os.cpu_count() or 1
    slurm_cpus = os.environ.get('SLURM_CPUS_PER_TASK', '')
    if ('LOCAL_WORLD_SIZE' not in os.environ and 'SLURM_PROCID' in os.environ
            and slurm_cpus.isdigit()):
        return max(1, min(cpus, int(slurm_cpus)))
    local_world_size = int(os.environ.get('LOCAL_WORLD_SIZE', 1))
    return max(1, cpus // local_world_size)


@contextlib.contextmanager
def _without_cuda_set_device() -> Iterator[None]:
    """Make ``torch.cuda.set_device`` a no-op inside the block.

    mmengine's ``init_dist`` calls it unconditionally before creating the
    process group, which raises on a machine without a CUDA device.
    """
    set_device = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device


def _use_cpu_ddp(cfg: Config) -> None:
    """Let DDP wrap a CPU model: ``device_ids`` must be None there."""
    wrapper_cfg = cfg.get('model_wrapper_cfg')
    if wrapper_cfg is None:
        # The arguments Runner.wrap_model uses when there is no wrapper cfg.
        cfg.model_wrapper_cfg = dict(
            type=MMDistributedDataParallel.__name__,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
            device_ids=None)
        return
    wrapper_type = wrapper_cfg.get('type', MMDistributedDataParallel)
    if isinstance(wrapper_type, str):
        wrapper_type = MODEL_WRAPPERS.get(wrapper_type)
    if isinstance(wrapper_type, type) and issubclass(wrapper_type,
                                                     DistributedDataParallel):
        wrapper_cfg['device_ids'] = None


def setup_launcher(cfg: Config) -> None:
    """Prepare a distributed run on CPUs; call it before ``Runner.from_cfg``.

    Nothing is done when ``cfg.launcher`` is ``'none'`` or when mmengine
    runs on a GPU or another accelerator. On CPUs it:

    - uses the gloo backend (``env_cfg.dist_cfg.backend``) and initialises
      the process group here, without mmengine's ``torch.cuda.set_device``
      call; the Runner then finds it initialised and uses it;
    - wraps the model in DDP with ``device_ids=None``;
    - replaces SyncBN by BN in ``cfg.model`` and drops ``cfg.sync_bn``;
    - sets the intra-op thread count (see :func:`cpu_threads_per_process`).

    :func:`launch_runner` calls it, and :func:`teardown_launcher` when the
    run ends.

    Args:
        cfg (Config): The full config, with ``launcher`` already merged.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or get_device() != 'cpu':
        return
    env_cfg = cfg.setdefault('env_cfg', dict())
    dist_cfg = env_cfg.setdefault('dist_cfg', dict())
    dist_cfg['backend'] = 'gloo'
    if not is_distributed():
        # Runner.setup_env's order: start method, then the process group.
        set_multi_processing(**env_cfg.get('mp_cfg', {}), distributed=True)
        with _without_cuda_set_device():
            init_dist(launcher, **dist_cfg)

    _use_cpu_ddp(cfg)
    replaced = replace_sync_bn(cfg.get('model'))
    if replaced or cfg.get('sync_bn') is not None:
        cfg.sync_bn = None
        print_log(
            'SyncBN needs GPUs: using BN instead for this CPU run.',
            logger='current',
            level=logging.WARNING)
    torch.set_num_threads(cpu_threads_per_process())


def teardown_launcher(failed: bool = False) -> None:
    """Destroy the default process group, if any, at the end of a run; the
    tools call it in a ``finally`` clause.

    After a run that completed, with gloo, a barrier comes first: gloo's
    worker threads release the last collectives' tensors, which needs the
    GIL, shortly after the caller sees them complete. If the interpreter is
    already shutting down by then, the process aborts ("terminate called
    without an active exception"); waiting in a barrier hands them the GIL
    in time.

    After a failure there is no barrier: the other ranks may be waiting in
    another collective, and a barrier would hang every rank until the
    process group's timeout. Destroying the group makes their collectives
    fail at once, so that the launcher ends the job.

    Args:
        failed (bool): Whether the run raised. Defaults to False.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    if not failed and torch_dist.get_backend() == torch_dist.Backend.GLOO:
        torch_dist.barrier()
    torch_dist.destroy_process_group()


@contextlib.contextmanager
def launch_runner(cfg: Config) -> Iterator[Runner]:
    """Launch the run of ``cfg`` and build its runner (``runner_type`` or
    mmengine's ``Runner``); the distributed run ends with the block.

    Example:
        >>> with launch_runner(cfg) as runner:
        ...     runner.train()

    Args:
        cfg (Config): The full config, with ``launcher`` already merged.

    Yields:
        Runner: The runner built from ``cfg``.
    """
    setup_launcher(cfg)
    failed = True
    try:
        if 'runner_type' in cfg:
            yield RUNNERS.build(cfg)
        else:
            yield Runner.from_cfg(cfg)
        failed = False
    finally:
        teardown_launcher(failed)

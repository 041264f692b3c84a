# Copyright (c) mmhornet contributors. All rights reserved.
"""The total batch of a run and the learning rate that goes with it.

A recipe is defined by its total batch, ``GPUs x batch x accumulation``
(``world size x train_dataloader.batch_size x
optim_wrapper.accumulative_counts``), and the lr tuned for it, which a
config states as ``auto_scale_lr.base_batch_size`` and
``optim_wrapper.optimizer.lr``. mmengine's ``Runner.scale_lr`` (behind the
toolboxes' ``--auto-scale-lr``) counts ``world size x batch`` only: under
gradient accumulation it scales the lr by the wrong ratio (a quarter of it
for the 8 x 128 x 4 ImageNet recipes). ``tools/train.py`` calls
:func:`apply_total_batch` before building the runner and
:func:`log_total_batch` after it:

* ``--auto-scale-lr`` scales the lr by ``total batch / base_batch_size``
  here, in the config (mmengine's own scaling is turned off), and sets
  ``base_batch_size`` to the run's total batch, so that the config the run
  dumps states the lr it used and the batch it is for;
* ``--total-batch [N]`` keeps a total batch (the config's
  ``base_batch_size`` without ``N``) on any number of processes by choosing
  ``accumulative_counts``; the settings that count iterations (iteration
  loops, iteration-based schedulers, ``EMAHook``'s interval, iteration
  checkpoints) are stretched in the same ratio, so that the recipe keeps
  its length and schedule in optimizer steps.
"""
import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, List, Optional, Union

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

__all__ = [
    'TotalBatch', 'accumulation_for', 'apply_total_batch',
    'launcher_world_size', 'log_total_batch', 'stretch_iteration_counts'
]

# --total-batch without a number: the config's auto_scale_lr.base_batch_size
BASE_BATCH = 'base'
# Where each launcher's world size is, before the process group exists
# (the variables mmengine's init_dist reads).
_WORLD_SIZE_VARIABLES = dict(
    pytorch='WORLD_SIZE', slurm='SLURM_NTASKS', mpi='OMPI_COMM_WORLD_SIZE')
# Keys of iteration-based (by_epoch=False) param schedulers that count
# iterations; per-iteration factors (ExponentialLR's gamma) cannot be
# stretched and are refused.
_SCHEDULER_STEP_KEYS = ('begin', 'end', 'T_max', 'milestones', 'step_size',
                        'total_steps', 'periods')
_UNSTRETCHABLE_SCHEDULERS = ('Exponential', 'ReduceOnPlateau')


@dataclass
class TotalBatch:
    """What a run's total batch and lr are (see :func:`apply_total_batch`).

    Args:
        world_size (int): Number of processes (GPUs).
        batch_size (int): ``train_dataloader.batch_size``, per process.
        accumulative_counts (int): Iterations per optimizer step.
        base_batch_size (int, optional): The total batch the config's lr is
            for (``auto_scale_lr.base_batch_size``).
        config_lr (float, optional): The config's
            ``optim_wrapper.optimizer.lr``.
        lr (float, optional): The lr the run uses.
        changes (list[str]): What ``--total-batch`` changed, one line each.
    """
    world_size: int
    batch_size: int
    accumulative_counts: int
    base_batch_size: Optional[int] = None
    config_lr: Optional[float] = None
    lr: Optional[float] = None
    changes: List[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """``world_size x batch_size x accumulative_counts``."""
        return self.world_size * self.batch_size * self.accumulative_counts

    def describe(self) -> str:
        """The product as the log states it."""
        device = 'GPUs' if torch.cuda.is_available() else 'processes'
        return (f'{self.world_size} {device} x batch {self.batch_size} x '
                f'accumulation {self.accumulative_counts} = {self.total}')


def launcher_world_size(launcher: str) -> int:
    """The number of processes of a run, before or after the process group
    is initialised.

    Args:
        launcher (str): ``cfg.launcher``: none, pytorch, slurm or mpi.

    Returns:
        int: The world size (1 for ``'none'``).
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_world_size()
    if launcher == 'none':
        return 1
    variable = _WORLD_SIZE_VARIABLES.get(launcher)
    value = os.environ.get(variable or '', '')
    if not value.isdigit():
        raise RuntimeError(
            f'Cannot tell the world size of a {launcher!r} launch: '
            f'{variable or "no variable known for this launcher"} is '
            f'{value or "unset"}. Start the run with its launcher '
            '(tools/dist_train.sh, tools/slurm_train.sh).')
    return int(value)


def accumulation_for(total_batch: int, world_size: int,
                     batch_size: int) -> int:
    """The ``accumulative_counts`` that makes ``world_size x batch_size x
    accumulative_counts`` equal ``total_batch``.

    Raises:
        ValueError: If ``world_size x batch_size`` does not divide
            ``total_batch``; the message names the numbers and a per-process
            batch that would.
    """
    if min(total_batch, world_size, batch_size) < 1:
        raise ValueError('The total batch, world size and batch size must be '
                         f'positive, got {total_batch}, {world_size} and '
                         f'{batch_size}.')
    per_iteration = world_size * batch_size
    if total_batch % per_iteration == 0:
        return total_batch // per_iteration
    fits = [
        b for b in range(batch_size, 0, -1)
        if total_batch % (world_size * b) == 0
    ]
    hint = (f'set train_dataloader.batch_size={fits[0]} (--cfg-options) '
            'or use another number of GPUs' if fits else
            f'{world_size} processes cannot share it evenly: use a number of '
            f'GPUs that divides {total_batch}')
    processes = f'{world_size} process' + ('es' if world_size > 1 else '')
    raise ValueError(
        f'Total batch {total_batch} cannot be kept on {processes} x batch '
        f'{batch_size} = {per_iteration} samples per iteration: '
        f'{total_batch} is not a multiple of {per_iteration}; {hint}.')


def _scaled(value: Any, factor: Fraction, name: str) -> Any:
    """``value x factor`` for an int or a list of ints; non-integral
    results are refused."""
    if isinstance(value, (list, tuple)):
        return type(value)(_scaled(v, factor, name) for v in value)
    if isinstance(value, float) and value == float('inf'):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f'{name}={value!r}: expected a number of iterations.')
    result = value * factor
    if result.denominator != 1:
        raise ValueError(
            f'{name}={value} counts iterations; with the accumulation '
            f'changed by {factor} it would be {float(result):g}, not a '
            'whole number. Choose another number of GPUs or set it with '
            '--cfg-options.')
    return int(result)


def _stretch(node: dict, keys: tuple, factor: Fraction, where: str,
             changes: List[str]) -> None:
    """Scale ``node[key]`` for each of ``keys`` present, recording it."""
    for key in keys:
        if node.get(key) is None:
            continue
        old = node[key]
        node[key] = _scaled(old, factor, f'{where}.{key}')
        if node[key] != old:
            changes.append(f'{where}.{key}: {old} -> {node[key]}')


def stretch_iteration_counts(cfg: Config, factor: Fraction) -> List[str]:
    """Scale, in place, every setting of ``cfg`` that counts iterations by
    ``factor`` (the new accumulation over the old), so that it counts the
    same optimizer steps: an iteration loop's ``max_iters``,
    ``val_interval``, ``val_begin`` and ``dynamic_intervals``, the steps of
    iteration-based param schedulers, an iteration checkpoint's
    ``interval`` and ``save_begin``, and ``EMAHook``'s ``interval`` and
    ``begin_iter``. Epoch counts and logging intervals are left alone.

    Returns:
        list[str]: One ``name: old -> new`` line per changed value.
    """
    changes: List[str] = []
    if factor == 1:
        return changes
    train_cfg = cfg.get('train_cfg') or {}
    if 'max_iters' in train_cfg:
        _stretch(
            train_cfg,
            ('max_iters', 'val_interval', 'val_begin', 'dynamic_intervals'),
            factor, 'train_cfg', changes)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for i, scheduler in enumerate(schedulers):
        if scheduler.get('by_epoch', True):
            continue
        if any(
                name in str(scheduler.get('type'))
                for name in _UNSTRETCHABLE_SCHEDULERS):
            raise ValueError(
                f"param_scheduler[{i}] ({scheduler['type']}, by_epoch=False) "
                'changes the lr by a factor per iteration, which a changed '
                'accumulation cannot stretch; keep the accumulation (no '
                '--total-batch) or make it epoch-based.')
        _stretch(scheduler, _SCHEDULER_STEP_KEYS, factor,
                 f'param_scheduler[{i}]', changes)
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('by_epoch') is False:
        _stretch(checkpoint, ('interval', 'save_begin'), factor,
                 'default_hooks.checkpoint', changes)
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if str(hook.get('type', '')).split('.')[-1] == 'EMAHook':
            _stretch(hook, ('interval', 'begin_iter'), factor,
                     f'custom_hooks[{i}]', changes)
    return changes


def _optimizer_cfg(cfg: Config, needed_by: str) -> dict:
    """``cfg.optim_wrapper.optimizer``, or an error naming the option."""
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer')
    if optimizer is None or optimizer.get('lr') is None:
        raise ValueError(
            f'{needed_by} needs one optimizer with its lr in the config '
            '(optim_wrapper.optimizer.lr); this config has none.')
    return optimizer


def _base_batch_size(cfg: Config, needed_by: str) -> int:
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    if base is None:
        raise ValueError(
            f'{needed_by} needs the total batch the config\'s lr is for: add '
            'auto_scale_lr = dict(base_batch_size=N) to the config, N being '
            'GPUs x batch x accumulation of the recipe.')
    return int(base)


def _keep_total_batch(cfg: Config, batch: TotalBatch,
                      total_batch: Union[int, str]) -> None:
    """Set the accumulation that makes up ``total_batch`` and stretch what
    counts iterations in the same ratio."""
    if total_batch == BASE_BATCH:
        total_batch = _base_batch_size(cfg, '--total-batch without N')
    accumulation = accumulation_for(
        int(total_batch), batch.world_size, batch.batch_size)
    factor = Fraction(accumulation, batch.accumulative_counts)
    batch.changes = stretch_iteration_counts(cfg, factor)
    if factor != 1:
        batch.changes.insert(
            0, 'optim_wrapper.accumulative_counts: '
            f'{batch.accumulative_counts} -> {accumulation}')
    cfg.optim_wrapper.accumulative_counts = accumulation
    batch.accumulative_counts = accumulation


def _scale_lr(cfg: Config, batch: TotalBatch) -> None:
    """lr x total batch / base batch, in the config."""
    optimizer = _optimizer_cfg(cfg, '--auto-scale-lr')
    base = _base_batch_size(cfg, '--auto-scale-lr')
    batch.lr = optimizer['lr'] * batch.total / base
    optimizer['lr'] = batch.lr
    # The dumped config then states the lr and the total batch it is for;
    # mmengine's Runner.scale_lr (world size x batch only) stays off.
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=batch.total)


def apply_total_batch(cfg: Config,
                      total_batch: Union[None, int, str] = None,
                      auto_scale_lr: bool = False,
                      world_size: Optional[int] = None) -> TotalBatch:
    """Set, in place, the accumulation and the lr of a run; call it before
    building the runner.

    Args:
        cfg (Config): The full config, command-line options merged.
        total_batch (int | str, optional): Keep this total batch by choosing
            ``optim_wrapper.accumulative_counts`` (``'base'``: the config's
            ``auto_scale_lr.base_batch_size``); settings that count
            iterations are stretched in the same ratio (see
            :func:`stretch_iteration_counts`). Defaults to None: the
            config's accumulation.
        auto_scale_lr (bool): Scale the lr by ``total batch /
            auto_scale_lr.base_batch_size``; a config with
            ``auto_scale_lr.enable=True`` is scaled too. Defaults to False.
        world_size (int, optional): Defaults to
            ``launcher_world_size(cfg.launcher)``.

    Returns:
        TotalBatch: The run's numbers, for :func:`log_total_batch`.
    """
    if world_size is None:
        world_size = launcher_world_size(cfg.get('launcher', 'none'))
    optim_wrapper = cfg.get('optim_wrapper') or {}
    scale_cfg = cfg.get('auto_scale_lr') or {}
    batch = TotalBatch(
        world_size=world_size,
        batch_size=int(cfg.train_dataloader.batch_size),
        accumulative_counts=int(optim_wrapper.get('accumulative_counts', 1)),
        base_batch_size=scale_cfg.get('base_batch_size'),
        config_lr=(optim_wrapper.get('optimizer') or {}).get('lr'))
    batch.lr = batch.config_lr
    if total_batch is not None:
        _keep_total_batch(cfg, batch, total_batch)
    if auto_scale_lr or scale_cfg.get('enable', False):
        _scale_lr(cfg, batch)
    return batch


def log_total_batch(batch: TotalBatch, runner: Any = None) -> None:
    """Log the total batch and the lr at the start of a run; warn when the
    lr is not the one for this total batch.

    Args:
        batch (TotalBatch): What :func:`apply_total_batch` returned.
        runner (Runner, optional): The built runner, whose world size must
            be ``batch.world_size``. Defaults to None.
    """
    world_size = getattr(runner, 'world_size', batch.world_size)
    if world_size != batch.world_size:
        raise RuntimeError(
            f'The total batch was set for {batch.world_size} processes, but '
            f'the runner has {world_size}.')
    for change in batch.changes:
        print_log(f'--total-batch: {change}', logger='current')
    print_log(f'Total batch: {batch.describe()}', logger='current')
    if batch.lr is None:
        return
    scaled = batch.lr != batch.config_lr
    print_log(
        f'lr: {batch.lr:g}' +
        (f' (the config\'s {batch.config_lr:g} x {batch.total} / '
         f'{batch.base_batch_size}, --auto-scale-lr)' if scaled else ''),
        logger='current')
    if (not scaled and batch.base_batch_size is not None
            and batch.total != batch.base_batch_size):
        print_log(
            f'The config\'s lr {batch.lr:g} is for a total batch of '
            f'{batch.base_batch_size} (auto_scale_lr.base_batch_size), this '
            f'run\'s is {batch.total}: pass --auto-scale-lr to scale the lr, '
            f'or --total-batch to keep {batch.base_batch_size}.',
            logger='current',
            level=logging.WARNING)

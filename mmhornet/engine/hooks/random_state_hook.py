# Copyright (c) mmhornet contributors. All rights reserved.
"""Random states in checkpoints, so that a resumed run continues the
interrupted one exactly."""
import logging
import random
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmhornet.registry import HOOKS

__all__ = ['RandomStateHook', 'get_random_states', 'set_random_states']


def get_random_states() -> Dict[str, Any]:
    """The states of Python's, NumPy's and torch's global generators (and
    CUDA's, where there is a GPU), as objects ``torch.load`` reads with
    ``weights_only=True``."""
    states = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: Dict[str, Any]) -> None:
    """Restore states returned by :func:`get_random_states`."""
    version, internal, gauss = states['python']
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class _RestoreBeforeNext:
    """Iterates ``iterator``, calling ``restore`` once before the batch that
    follows the first ``skip`` ones (IterBasedTrainLoop skips the batches
    that were trained before the checkpoint by drawing them again)."""

    def __init__(self, iterator: Iterator, skip: int,
                 restore: Callable[[], None]) -> None:
        self._iterator = iterator
        self._skip = skip
        self._restore: Optional[Callable[[], None]] = restore

    def __iter__(self) -> '_RestoreBeforeNext':
        return self

    def __next__(self) -> Any:
        if self._restore is not None:
            if self._skip == 0:
                self._restore()
                self._restore = None
            else:
                self._skip -= 1
        return next(self._iterator)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the random states with every checkpoint and restore them on
    resume.

    With it, a run that is interrupted and resumed (``--resume``) draws the
    same random numbers as an uninterrupted one: data augmentation (in the
    main process), stochastic depth, dropout. It also makes validation leave
    the training streams untouched (their states are restored after each
    validation), so that where a run stops and resumes does not matter.

    What is saved (``checkpoint['meta']['random_states']``): the global
    generators of Python, NumPy and torch (and CUDA) of rank 0, and the
    train sampler's seed. Where they are restored:

    - epoch-based loops: before the first epoch after resuming (mmengine
      resumes at epoch boundaries; a checkpoint saved mid-epoch restarts
      its epoch, so that run cannot be continued exactly: a warning says
      so);
    - iteration-based loops: after mmengine has skipped the batches that
      were already trained, before the next one is drawn.

    Not restored: the streams of dataloader worker processes
    (``num_workers > 0``); mmengine re-seeds them from the seed for every
    epoch, so they repeat identically unless ``persistent_workers=True``.
    In distributed runs all ranks get rank 0's states, which is exact when
    ranks share a seed (``randomness.diff_rank_seed=False``, the default).
    """

    priority = 'HIGHEST'  # restore before other hooks draw numbers

    def __init__(self) -> None:
        self._resumed: Optional[Dict[str, Any]] = None
        self._before_val: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # A checkpoint saved while validating (the best one) records the
        # states that training continues with.
        states = self._before_val or get_random_states()
        loop = getattr(runner, '_train_loop', None)  # may be unbuilt (dict)
        sampler = getattr(getattr(loop, 'dataloader', None), 'sampler', None)
        states = dict(states, sampler_seed=getattr(sampler, 'seed', None))
        checkpoint.setdefault('meta', {})['random_states'] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from: fine-tuning starts its own streams
        states = (checkpoint.get('meta') or {}).get('random_states')
        if states is None:
            print_log(
                'The checkpoint has no random states (it was not saved with '
                'RandomStateHook): the resumed run draws new random numbers '
                'and will not reproduce an uninterrupted run.',
                logger='current',
                level=logging.WARNING)
        self._resumed = states

    def before_train(self, runner) -> None:
        if self._resumed is None:
            return
        if get_world_size() > 1 and runner._randomness_cfg.get(
                'diff_rank_seed', False):
            print_log(
                'diff_rank_seed=True: the random states of ranks other than '
                '0 are not in the checkpoint; each rank keeps its own seeded '
                'streams, so the resumed run is not exact.',
                logger='current',
                level=logging.WARNING)
            self._resumed = None
            return
        sampler = getattr(runner.train_dataloader, 'sampler', None)
        seed = self._resumed.get('sampler_seed')
        if seed is not None and getattr(sampler, 'seed', seed) != seed:
            sampler.seed = seed  # a run without a fixed seed drew another
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop
            states, self._resumed = self._resumed, None
            loop.dataloader_iterator = _RestoreBeforeNext(
                loop.dataloader_iterator, loop.iter,
                lambda: set_random_states(states))
        elif loop.iter != loop.epoch * len(loop.dataloader):
            print_log(
                f'Resumed at iteration {loop.iter}, inside epoch '
                f'{loop.epoch + 1}: mmengine restarts that epoch from its '
                'first batch, so this run does not continue the interrupted '
                'one exactly (save checkpoints by epoch for that).',
                logger='current',
                level=logging.WARNING)

    def before_train_epoch(self, runner) -> None:
        if self._resumed is not None:
            set_random_states(self._resumed)
            self._resumed = None

    def before_val(self, runner) -> None:
        self._before_val = get_random_states()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_random_states(self._before_val)
            self._before_val = None

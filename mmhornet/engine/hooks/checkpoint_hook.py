# Copyright (c) mmhornet contributors. All rights reserved.
"""Checkpoints that a crash cannot leave half-written, and auto-resume that
skips unreadable ones.

mmengine 0.10.7 writes ``epoch_N.pth`` in place and then rewrites
``last_checkpoint`` in place; with ``max_keep_ckpts`` it even deletes the
oldest checkpoint before writing the new one. A process killed in between
leaves a truncated checkpoint, an empty ``last_checkpoint`` (the next
``--resume`` starts from scratch) or no checkpoint at all.
:class:`AtomicCheckpointHook` writes every checkpoint and
``last_checkpoint`` to a temporary file in the same folder, flushes it to
disk and renames it over the target (an atomic step on POSIX file
systems), and deletes old checkpoints only once the new one is committed.
"""
import glob
import logging
import os
import os.path as osp
import re
import zipfile
from typing import Callable, List, Optional

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmhornet.registry import HOOKS

__all__ = [
    'AtomicCheckpointHook', 'atomic_write', 'enable_safe_checkpoints',
    'find_resumable_checkpoint', 'is_readable_checkpoint'
]

_TEMP_SUFFIX = '.tmp'
_TEMP_PATTERN = re.compile(r'^\..+\.\d+\.tmp$')


def _fsync(path: str) -> None:
    """Flush a file's or a folder's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(path: str) -> str:
    """A hidden name beside ``path``, unique to this process."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}.{os.getpid()}{_TEMP_SUFFIX}')


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Write a file so that ``path`` holds either its old or its new
    content, whenever the process dies.

    Args:
        path (str): The file to write.
        write (callable): Writes the new content to the file name it is
            given (a temporary file in the same folder).
    """
    temp = _temp_name(path)
    try:
        write(temp)
        _fsync(temp)
        os.replace(temp, path)  # atomic on POSIX file systems
        _fsync(osp.dirname(osp.abspath(path)))
    finally:
        if osp.exists(temp):
            os.remove(temp)


def _write_text(text: str) -> Callable[[str], None]:

    def write(filename: str) -> None:
        with open(filename, 'w') as f:
            f.write(text)

    return write


def is_readable_checkpoint(filename: str) -> bool:
    """Whether ``filename`` is a complete torch zip checkpoint: its archive
    directory is there and every record matches its CRC-32. Reads the
    file once; unpickles nothing."""
    try:
        with zipfile.ZipFile(filename) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (auto) should resume from.

    The one ``last_checkpoint`` names, when it is readable; otherwise the
    newest readable ``*.pth`` (by modification time; ``best_*.pth``, which
    hold no optimizer state, excluded) of ``work_dir`` and of the folder
    ``last_checkpoint`` points to, with a warning naming the unreadable
    ones skipped.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The checkpoint, or None when the work dir has none.

    Raises:
        RuntimeError: The work dir has checkpoints but none is readable.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    candidates: List[str] = []
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
        if named:
            candidates.append(named)
    folders = {work_dir, *(osp.dirname(path) for path in candidates)}
    # ``best_*.pth`` have no optimizer state: resuming from one is wrong.
    found = sorted(
        (path for folder in folders
         for path in glob.glob(osp.join(glob.escape(folder), '*.pth'))
         if not osp.basename(path).startswith('best_')),
        key=lambda path: (osp.getmtime(path), path),
        reverse=True)
    candidates += [path for path in found if path not in candidates]
    skipped = []
    for path in candidates:
        if is_readable_checkpoint(path):
            if skipped:
                print_log(
                    f'Resuming from {path}: skipped the newer but unreadable '
                    f'(missing or truncated) {skipped}.',
                    logger='current',
                    level=logging.WARNING)
            return path
        skipped.append(path)
    if found:
        raise RuntimeError(
            f'Cannot resume: no checkpoint in {work_dir} is readable '
            f'({skipped}). Pass a good one with --resume PATH, or another '
            '--work-dir to start afresh.')
    return None


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` whose files survive a crash.

    Takes the same arguments. On a local file system:

    - each checkpoint (periodic and best) is written to a hidden temporary
      file in the same folder, flushed to disk and renamed to its name;
    - then ``last_checkpoint`` is replaced in the same way;
    - only then are checkpoints beyond ``max_keep_ckpts`` deleted.

    A process killed at any moment thus leaves the previous or the new
    state, never a truncated checkpoint or an empty ``last_checkpoint``;
    temporary files of a killed run are removed when training starts again.
    Other storage backends (e.g. ``petrel``) are written as mmengine does.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._atomic = isinstance(self.file_backend, LocalBackend)
        if not self._atomic:
            return
        if is_main_process() and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):
                if _TEMP_PATTERN.match(name):
                    os.remove(osp.join(self.out_dir, name))
        if not getattr(runner, '_atomic_checkpoints', False):
            runner.save_checkpoint = _atomic_save(runner.save_checkpoint)
            runner._atomic_checkpoints = True

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not getattr(self, '_atomic', False):
            return super()._save_checkpoint_with_step(runner, step, meta)
        # As mmengine's, except that outdated checkpoints are deleted after
        # the new one and last_checkpoint are committed, not before.
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write(
            osp.join(runner.work_dir, 'last_checkpoint'),
            _write_text(self.last_ckpt))
        for old_step in outdated:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if osp.isfile(path):
                os.remove(path)


def _atomic_save(save: Callable) -> Callable:
    """Wrap ``Runner.save_checkpoint`` (a bound method) to write through
    :func:`atomic_write`."""

    def save_checkpoint(out_dir: str, filename: str, *args, **kwargs):
        if not is_main_process():  # Runner.save_checkpoint is master-only
            return save(out_dir, filename, *args, **kwargs)
        atomic_write(
            osp.join(out_dir, filename), lambda temp: save(
                osp.dirname(temp), osp.basename(temp), *args, **kwargs))

    return save_checkpoint


_CHECKPOINT_HOOKS = ('CheckpointHook', 'mmengine.CheckpointHook',
                     CheckpointHook)
_RANDOM_STATE_HOOKS = ('RandomStateHook', 'mmhornet.RandomStateHook')


def enable_safe_checkpoints(cfg: Config) -> None:
    """Make a training config save crash-safe checkpoints with random
    states; ``tools/train.py`` calls it for every config.

    mmengine's ``CheckpointHook`` in ``default_hooks.checkpoint`` becomes
    :class:`AtomicCheckpointHook` (same arguments), and a
    :class:`RandomStateHook` is added to ``custom_hooks`` unless there is
    one. A checkpoint hook of another type is kept, with a
    warning that its files are not written atomically.

    Args:
        cfg (Config): The full config, changed in place.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook is not None:
        hook_type = hook.get('type')
        if hook_type in _CHECKPOINT_HOOKS:
            hook['type'] = 'mmhornet.AtomicCheckpointHook'
        elif hook_type not in ('mmhornet.AtomicCheckpointHook',
                               AtomicCheckpointHook):
            print_log(
                f'default_hooks.checkpoint is {hook_type}, not mmengine\'s '
                'CheckpointHook: its checkpoints are written as it writes '
                'them (not atomically).',
                logger='current',
                level=logging.WARNING)
    custom_hooks = list(cfg.get('custom_hooks') or [])
    if not any(
            hook.get('type') in _RANDOM_STATE_HOOKS
            or isinstance(hook.get('type'), type)
            and hook['type'].__name__ == 'RandomStateHook'
            for hook in custom_hooks):
        custom_hooks.append(dict(type='mmhornet.RandomStateHook'))
    cfg.custom_hooks = custom_hooks

# Copyright (c) mmhornet contributors. All rights reserved.
"""Crash-safe checkpoints and exact resume: real tools/train.py processes
killed with SIGKILL, then resumed with ``--resume``."""
import copy
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmhornet.checkpoint import load_checkpoint_file, patch_checkpoint_loading
from mmhornet.engine import (enable_safe_checkpoints,
                             find_resumable_checkpoint, is_readable_checkpoint)
from ..conftest import REPO_ROOT, TEST_CONFIG, data_options, run_tool

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow

EPOCHS = 3  # 24 images, batch 8: 3 iterations per epoch
# The test config with random augmentation (NumPy), stochastic depth
# (torch), validation every epoch, and the SIGKILL hook importable.
CONFIG = f"""
_base_ = {TEST_CONFIG!r}
custom_imports = dict(
    imports=['tests.test_engine.sigkill_hook'], allow_failed_imports=False)
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.3, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]))
train_cfg = dict(max_epochs={EPOCHS})
randomness = dict(seed=0, deterministic=True)
"""


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    folder = tmp_path_factory.mktemp('resume-configs')
    paths = {}
    for name, extra in [('plain', ''), ('kill_iter', 'after_iter=5'),
                        ('kill_save', f'while_saving_epoch={EPOCHS}')]:
        text = CONFIG
        if extra:
            text += f'custom_hooks = [dict(type="SigkillHook", {extra})]\n'
        paths[name] = str(folder / f'{name}.py')
        with open(paths[name], 'w') as f:
            f.write(textwrap.dedent(text))
    return paths


def train(config: str,
          work_dir: str,
          dataset: str,
          *extra: str,
          check: bool = True) -> subprocess.CompletedProcess:
    return run_tool([
        'tools/train.py', config, '--work-dir', work_dir, *extra,
        '--cfg-options', *data_options(dataset)
    ],
                    check=check,
                    env={'PYTHONPATH': REPO_ROOT})


@pytest.fixture(scope='module')
def uninterrupted(configs, tiny_folder_dataset, tmp_path_factory) -> dict:
    work_dir = str(tmp_path_factory.mktemp('uninterrupted'))
    train(configs['plain'], work_dir, tiny_folder_dataset)
    return load_checkpoint_file(osp.join(work_dir, f'epoch_{EPOCHS}.pth'))


def test_killed_runs_resume_exactly(configs, tiny_folder_dataset,
                                    uninterrupted, tmp_path):
    """Killed in the middle of epoch 2, resumed and killed again while
    saving epoch 3, resumed past an unreadable newest checkpoint: the
    weights and optimizer state are those of the uninterrupted run, to the
    last bit."""
    work_dir = str(tmp_path)
    killed = train(
        configs['kill_iter'], work_dir, tiny_folder_dataset, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert 'Epoch(train) [2][2/3]' in killed.stdout + killed.stderr
    assert {'epoch_1.pth', 'last_checkpoint'} <= set(os.listdir(work_dir))
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))
    meta = load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))['meta']
    assert set(meta['random_states']) >= {'python', 'numpy', 'torch'}

    killed = train(
        configs['kill_save'],
        work_dir,
        tiny_folder_dataset,
        '--resume',
        check=False)
    assert killed.returncode == -signal.SIGKILL
    assert 'resumed epoch: 1, iter: 3' in killed.stdout + killed.stderr
    # Whatever instant the kill hit: every visible checkpoint is complete
    # and last_checkpoint names one of them.
    visible = glob.glob(osp.join(work_dir, '*.pth'))
    assert osp.join(work_dir, 'epoch_2.pth') in visible
    for path in visible:
        assert is_readable_checkpoint(path), path
        load_checkpoint_file(path)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() in visible

    # An unreadable newest checkpoint (as mmengine leaves one when killed
    # while writing) is skipped by --resume, with a warning.
    newest = osp.join(work_dir, f'epoch_{EPOCHS}.pth')
    with open(osp.join(work_dir, 'epoch_2.pth'), 'rb') as f:
        data = f.read()
    with open(newest, 'wb') as f:
        f.write(data[:len(data) // 2])
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(newest)
    resumed = train(configs['plain'], work_dir, tiny_folder_dataset,
                    '--resume')
    log = resumed.stdout + resumed.stderr
    assert 'skipped the newer but unreadable' in log and newest in log
    assert 'resumed epoch: 2, iter: 6' in log
    assert not glob.glob(osp.join(work_dir, '.*.tmp'))  # debris removed
    final = load_checkpoint_file(newest)
    assert final['meta']['iter'] == uninterrupted['meta']['iter'] == 9
    for key, value in uninterrupted['state_dict'].items():
        assert torch.equal(final['state_dict'][key], value), key
    for index, state in uninterrupted['optimizer']['state'].items():
        for name, value in state.items():
            assert torch.equal(final['optimizer']['state'][index][name],
                               value), (index, name)


def test_iteration_based_resume_is_exact(configs, tiny_folder_dataset,
                                         tmp_path):
    """IterBasedTrainLoop (the segmentation configs): resumed in the middle
    of the data's first pass, where mmengine skips the batches already
    trained before the random states are restored; in one process."""
    cfg = Config.fromfile(configs['plain'])
    cfg.merge_from_dict(
        dict(
            train_dataloader=dict(batch_size=4),
            train_cfg=dict(
                _delete_=True,
                type='IterBasedTrainLoop',
                max_iters=8,
                val_interval=4),
            default_hooks=dict(
                checkpoint=dict(interval=4, by_epoch=False),
                logger=dict(log_metric_by_epoch=False))))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = tiny_folder_dataset
    # as tools/train.py: mmengine's Runner reads its resume checkpoint (with
    # the message hub's objects) only once the checkpoint loading is patched
    patch_checkpoint_loading()
    enable_safe_checkpoints(cfg)
    runs = {}
    for name, resume_from in [('whole', None), ('resumed', 'iter_4.pth')]:
        run_cfg = copy.deepcopy(cfg)
        run_cfg.work_dir = str(tmp_path / name)
        if resume_from:
            run_cfg.resume = True
            run_cfg.load_from = str(tmp_path / 'whole' / resume_from)
        # The scope the Runner registers is dropped afterwards, so that the
        # tests that follow in this process see none.
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            Runner.from_cfg(run_cfg).train()
        runs[name] = load_checkpoint_file(
            osp.join(run_cfg.work_dir, 'iter_8.pth'))
    assert runs['resumed']['meta']['iter'] == 8
    for key, value in runs['whole']['state_dict'].items():
        assert torch.equal(runs['resumed']['state_dict'][key], value), key


def test_kill_inside_atomic_write_keeps_the_old_file(tmp_path):
    """A real SIGKILL in the middle of writing the new content."""
    target = tmp_path / 'last_checkpoint'
    target.write_text('old content')
    code = textwrap.dedent(f"""
        import os, signal
        from mmhornet.engine import atomic_write
        def write(name):
            with open(name, 'w') as f:
                f.write('new con')
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        atomic_write({str(target)!r}, write)
    """)
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT)
    assert result.returncode == -signal.SIGKILL
    assert target.read_text() == 'old content'
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != target.name]
    assert len(leftovers) == 1 and leftovers[0].endswith('.tmp')


def test_find_resumable_checkpoint(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    good, newer = tmp_path / 'epoch_1.pth', tmp_path / 'epoch_2.pth'
    torch.save({'w': torch.ones(100)}, good)
    data = good.read_bytes()
    newer.write_bytes(data[:-200])  # truncated: no archive directory
    os.utime(newer, (good.stat().st_mtime + 5, ) * 2)
    torch.save({'w': torch.ones(100)}, tmp_path / 'best_acc_epoch_2.pth')
    (tmp_path / 'last_checkpoint').write_text('')  # emptied by a crash
    assert find_resumable_checkpoint(str(tmp_path)) == str(good)
    # One flipped byte in a tensor record fails its CRC-32.
    index = data.index(torch.ones(100).numpy().tobytes()) + 7
    newer.write_bytes(data[:index] + bytes([data[index] ^ 1]) +
                      data[index + 1:])
    assert not is_readable_checkpoint(str(newer))
    (tmp_path / 'last_checkpoint').write_text(str(newer))
    assert find_resumable_checkpoint(str(tmp_path)) == str(good)
    good.write_bytes(b'')
    with pytest.raises(RuntimeError, match='no checkpoint in .* readable'):
        find_resumable_checkpoint(str(tmp_path))


def test_enable_safe_checkpoints_keeps_the_hook_arguments():
    cfg = Config.fromfile(TEST_CONFIG)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 2
    enable_safe_checkpoints(cfg)
    hook = dict(cfg.default_hooks.checkpoint)
    hook.pop('_scope_', None)  # the base config's scope, kept
    assert hook == dict(
        type='mmhornet.AtomicCheckpointHook', interval=1, max_keep_ckpts=2)
    assert cfg.custom_hooks == [dict(type='mmhornet.RandomStateHook')]
    enable_safe_checkpoints(cfg)  # idempotent
    assert len(cfg.custom_hooks) == 1

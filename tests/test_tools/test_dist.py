# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/dist_train.sh and tools/dist_test.sh with two real CPU processes
(torchrun + gloo), and the config changes that make them run there."""
import os
import os.path as osp
import pickle
import re
import socket
import subprocess
import sys
import time
from typing import List

import pytest
from mmengine.config import Config

from mmhornet.checkpoint import load_checkpoint_file
from mmhornet.engine import (cpu_threads_per_process, replace_sync_bn,
                             setup_launcher)
from ..conftest import REPO_ROOT, TEST_CONFIG, data_options

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow

NUM_PROCS = 2
# 24 training images, batch size 4 per process, split over two processes.
ITERS_PER_EPOCH = 24 // (4 * NUM_PROCS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_dist(script: str,
             args: List[str],
             check: bool = True,
             timeout: int = 600,
             **env: str) -> subprocess.CompletedProcess:
    """Run a tools/dist_*.sh script with this interpreter on a free port,
    with ``env`` added to the environment."""
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        PYTHONUNBUFFERED='1',
        **env)
    env.pop('OMP_NUM_THREADS', None)  # as a user would: torchrun sets it
    result = subprocess.run(['bash', osp.join('tools', script), *args],
                            cwd=REPO_ROOT,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{script} {args} failed ({result.returncode})'
                             f':\n{result.stdout[-4000:]}\n'
                             f'{result.stderr[-4000:]}')
    return result


@pytest.fixture(scope='module')
def dist_train_run(tiny_folder_dataset, tmp_path_factory):
    """One epoch of two-process training: (work dir, console output)."""
    work_dir = str(tmp_path_factory.mktemp('dist-train'))
    result = run_dist('dist_train.sh', [
        TEST_CONFIG,
        str(NUM_PROCS), '--work-dir', work_dir, '--cfg-options',
        'train_cfg.max_epochs=1', *data_options(tiny_folder_dataset)
    ])
    return work_dir, result.stdout + result.stderr


def test_dist_train_on_cpu_splits_the_data(dist_train_run):
    work_dir, log = dist_train_run
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log
    assert f'GPU number: {NUM_PROCS}' in log  # mmengine's world size
    assert "dist_cfg: {'backend': 'gloo'}" in log
    assert f'Epoch(train) [1][{ITERS_PER_EPOCH}/{ITERS_PER_EPOCH}]' in log
    checkpoint = load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))
    assert checkpoint['meta']['epoch'] == 1
    assert checkpoint['meta']['iter'] == ITERS_PER_EPOCH
    # The DDP wrapper is not saved: keys are the bare model's.
    assert all(not k.startswith('module.') for k in checkpoint['state_dict'])
    steps = {
        float(s['step'])
        for s in checkpoint['optimizer']['state'].values()
    }
    assert steps == {float(ITERS_PER_EPOCH)}


def test_dist_test_on_cpu_gathers_every_prediction(dist_train_run,
                                                   tiny_folder_dataset,
                                                   tmp_path):
    work_dir, _ = dist_train_run
    out_file = tmp_path / 'preds.pkl'
    result = run_dist('dist_test.sh', [
        TEST_CONFIG,
        osp.join(work_dir, 'epoch_1.pth'),
        str(NUM_PROCS), '--work-dir',
        str(tmp_path), '--out',
        str(out_file), '--cfg-options', *data_options(tiny_folder_dataset)
    ])
    # Rank 0 prints the metrics gathered from both ranks, once.
    values = re.findall(r'^accuracy/top1: ([\d.]+)$', result.stdout, re.M)
    assert len(values) == 1, result.stdout[-2000:]
    with open(out_file, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 12  # both halves of the validation set
    correct = sum(
        int(p['pred_label'].item() == p['gt_label'].item())
        for p in predictions)
    assert float(values[0]) == pytest.approx(100 * correct / 12, abs=1e-3)


FAILING_CONFIG = """
_base_ = {base!r}
runner_type = 'FailingRunner'
custom_imports = dict(
    imports=['tests.test_tools.runners'], allow_failed_imports=False)
"""


@pytest.mark.slow
def test_a_failing_rank_ends_the_run(tiny_folder_dataset, tmp_path):
    """One rank raises while the other trains: the tools' teardown (in
    ``finally``) must not wait for the other ranks, or the job would hang
    until the process group's timeout; the run fails at once with the
    rank's error."""
    config = tmp_path / 'failing.py'
    config.write_text(FAILING_CONFIG.format(base=TEST_CONFIG))
    start = time.monotonic()
    result = run_dist(
        'dist_train.sh', [
            str(config),
            str(NUM_PROCS), '--work-dir',
            str(tmp_path), '--cfg-options', *data_options(tiny_folder_dataset)
        ],
        check=False,
        timeout=300,
        PYTHONPATH=REPO_ROOT)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'RuntimeError: FailingRunner: rank 1 fails' in log
    assert 'terminate called' not in log
    assert time.monotonic() - start < 120
    assert not list(tmp_path.glob('epoch_*.pth'))


def test_replace_sync_bn_walks_nested_configs():
    cfg = Config(
        dict(
            model=dict(
                type='EncoderDecoder',
                backbone=dict(
                    type='mmhornet.HorNet',
                    norm_cfg=dict(type='SyncBN', requires_grad=True)),
                decode_head=dict(
                    type='UPerHead',
                    norm_cfg=dict(type='SyncBN', requires_grad=True)),
                auxiliary_head=[
                    dict(type='FCNHead', norm_cfg=dict(type='MMSyncBN')),
                    dict(type='FCNHead', norm_cfg=dict(type='BN')),
                ],
                neck=dict(type='HorFPN', norm_cfg=dict(type='LN2d')))))
    assert replace_sync_bn(cfg.model) == 3
    model = cfg.model
    assert model.backbone.norm_cfg == dict(type='BN', requires_grad=True)
    assert model.decode_head.norm_cfg == dict(type='BN', requires_grad=True)
    assert [h.norm_cfg.type for h in model.auxiliary_head] == ['BN', 'BN']
    assert model.neck.norm_cfg.type == 'LN2d'
    assert model.type == 'EncoderDecoder'
    assert replace_sync_bn(cfg.model) == 0


def test_setup_launcher_leaves_non_distributed_runs_alone():
    cfg = Config(
        dict(launcher='none', model=dict(norm_cfg=dict(type='SyncBN'))))
    setup_launcher(cfg)
    assert cfg.model.norm_cfg.type == 'SyncBN'
    assert 'env_cfg' not in cfg and 'model_wrapper_cfg' not in cfg


def test_cpu_threads_per_process(monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert cpu_threads_per_process() == 3
    cpus = len(os.sched_getaffinity(0))
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # torchrun's default
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    assert cpu_threads_per_process() == max(1, cpus // 2)
    monkeypatch.delenv('OMP_NUM_THREADS')
    monkeypatch.setenv('LOCAL_WORLD_SIZE', str(4 * cpus))
    assert cpu_threads_per_process() == 1

# Copyright (c) mmhornet contributors. All rights reserved.
"""Distributed training is right, not only running: two gloo processes
(one machine, or two "nodes" of one process each on localhost) end with the
weights of one process that sees the same global batches."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmhornet.checkpoint import load_checkpoint_file
from ..conftest import REPO_ROOT, TEST_CONFIG, run_tool
from .test_dist import free_port

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow

# 24 images; the global batch is 8 in every run: 3 optimizer steps.
GLOBAL_BATCH = 8
# No stochastic depth, no augmentation (the test config's pipeline is only
# a resize), no validation: the runs differ only in how the batch is split.
OPTIONS = ['model.backbone.drop_path_rate=0', 'train_cfg.max_epochs=1']


def _options(dataset: str, batch_size: int) -> list:
    return [
        '--no-validate', '--cfg-options', *OPTIONS,
        f'train_dataloader.batch_size={batch_size}',
        f'train_dataloader.dataset.data_root={dataset}'
    ]


def _dist_env(**extra) -> dict:
    env = dict(
        os.environ, PYTHON=sys.executable, PYTHONUNBUFFERED='1', **extra)
    env.pop('OMP_NUM_THREADS', None)
    return env


def _weights(work_dir: str, epoch: int = 1) -> dict:
    checkpoint = load_checkpoint_file(osp.join(work_dir, f'epoch_{epoch}.pth'))
    assert checkpoint['meta']['iter'] == epoch * 24 // GLOBAL_BATCH
    return checkpoint['state_dict']


@pytest.fixture(scope='module')
def single_process(tiny_folder_dataset, tmp_path_factory) -> dict:
    """Weights after the first epoch of one process, and the largest change
    the second epoch makes (how far 3 steps move the weights)."""
    work_dir = str(tmp_path_factory.mktemp('one-process'))
    run_tool([
        'tools/train.py', TEST_CONFIG, '--work-dir', work_dir,
        *_options(tiny_folder_dataset, GLOBAL_BATCH), 'train_cfg.max_epochs=2'
    ])
    first, second = _weights(work_dir, 1), _weights(work_dir, 2)
    step = max((second[k] - v).abs().max().item() for k, v in first.items()
               if v.is_floating_point())
    return first, step


# Measured: at most 2e-7 apart (one or two float32 ulps); an epoch moves the
# weights by about 6e-3.
ATOL, RTOL = 2e-6, 1e-5


def _assert_same_training(weights: dict, reference: dict,
                          epoch_change: float) -> None:
    """Equal up to float32 rounding: the runs sum the same per-sample
    gradients in another order (two half-batch means averaged by DDP's
    all-reduce, against one mean), and AdamW's normalised steps carry that
    rounding into the weights. An epoch of training moves them by far more
    than the tolerance, so a wrong split or a missing average shows."""
    assert epoch_change > 100 * ATOL
    for key, value in reference.items():
        if value.is_floating_point():
            torch.testing.assert_close(
                weights[key], value, rtol=RTOL, atol=ATOL, msg=key)
        else:
            assert torch.equal(weights[key], value), key


def _run_node(work_dir: str, dataset: str, nnodes: int, node_rank: int,
              nproc: int, port: int) -> subprocess.Popen:
    return subprocess.Popen([
        'bash', 'tools/dist_train.sh', TEST_CONFIG,
        str(nproc), '--work-dir', work_dir,
        *_options(dataset, GLOBAL_BATCH // (nnodes * nproc))
    ],
                            cwd=REPO_ROOT,
                            env=_dist_env(
                                NNODES=str(nnodes),
                                NODE_RANK=str(node_rank),
                                MASTER_ADDR='127.0.0.1',
                                PORT=str(port)),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True)


def _wait(processes) -> str:
    logs = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        logs.append(out)
        assert process.returncode == 0, out[-4000:]
    return '\n'.join(logs)


@pytest.mark.parametrize('layout', ['one-node', 'two-nodes'])
def test_two_processes_train_as_one(layout, single_process,
                                    tiny_folder_dataset, tmp_path):
    work_dir = str(tmp_path)
    port = free_port()
    if layout == 'one-node':
        nodes = [_run_node(work_dir, tiny_folder_dataset, 1, 0, 2, port)]
    else:
        nodes = [
            _run_node(work_dir, tiny_folder_dataset, 2, rank, 1, port)
            for rank in (0, 1)
        ]
    log = _wait(nodes)
    assert 'Distributed training: True' in log
    assert f'Epoch(train) [1][{24 // GLOBAL_BATCH}/{24 // GLOBAL_BATCH}]' in (
        log)
    _assert_same_training(_weights(work_dir), *single_process)

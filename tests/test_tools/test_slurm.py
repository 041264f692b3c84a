# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/slurm_train.sh and tools/slurm_test.sh on a real single-node Slurm
cluster without GPUs (started by tools/misc/start_slurm.sh through the
``slurm_partition`` fixture): two Slurm tasks train the tiny classifier to
the weights of tools/dist_train.sh's two processes, and test it."""
import os
import os.path as osp
import pickle
import re
import subprocess

import pytest
import torch

from mmhornet.apis import get_model, inference_model
from mmhornet.engine import cpu_threads_per_process
from ..conftest import REPO_ROOT, TEST_CONFIG, data_options
from .test_dist import free_port
from .test_dist_equivalence import (ATOL, GLOBAL_BATCH, RTOL, _dist_env,
                                    _options, _run_node, _wait, _weights)

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow

TASKS = 2


def run_slurm(script: str, partition: str, args: list,
              **env) -> subprocess.CompletedProcess:
    """Run tools/``script`` with two one-CPU tasks on ``partition``."""
    env = _dist_env(
        GPUS=str(TASKS),
        CPUS_PER_TASK='1',
        MASTER_PORT=str(free_port()),
        **env)
    return subprocess.run(
        ['bash',
         osp.join('tools', script), partition, 'mmhornet-test', *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)


def _check(result: subprocess.CompletedProcess) -> str:
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


@pytest.fixture(scope='module')
def slurm_train_run(slurm_partition, tiny_folder_dataset,
                    tmp_path_factory) -> tuple:
    """One epoch of slurm_train.sh with two tasks: (work dir, output)."""
    work_dir = str(tmp_path_factory.mktemp('slurm-train'))
    result = run_slurm('slurm_train.sh', slurm_partition, [
        TEST_CONFIG, work_dir,
        *_options(tiny_folder_dataset, GLOBAL_BATCH // TASKS)
    ])
    return work_dir, _check(result)


@pytest.mark.slow
def test_slurm_train_equals_dist_train(slurm_train_run, tiny_folder_dataset,
                                       tmp_path):
    work_dir, log = slurm_train_run
    # No GPU request on a partition without GPUs (srun would refuse it).
    srun_line = next(line for line in log.splitlines() if '+ srun' in line)
    assert '--gres' not in srun_line and f'--ntasks={TASKS}' in srun_line
    assert 'Distributed launcher: slurm' in log
    assert f'GPU number: {TASKS}' in log  # mmengine's world size
    assert "dist_cfg: {'backend': 'gloo'}" in log
    steps = 24 // GLOBAL_BATCH
    assert f'Epoch(train) [1][{steps}/{steps}]' in log

    # The same split with torchrun: same global batch, same per-process
    # batches. An epoch of AdamW at lr 2e-3 moves the weights by about
    # 6e-3 (test_dist_equivalence); another split of the data or a missing
    # gradient average would differ by far more than the tolerance.
    reference_dir = str(tmp_path)
    _wait([
        _run_node(reference_dir, tiny_folder_dataset, 1, 0, TASKS, free_port())
    ])
    weights, reference = _weights(work_dir), _weights(reference_dir)
    assert weights.keys() == reference.keys()
    for key, value in reference.items():
        torch.testing.assert_close(
            weights[key], value, rtol=RTOL, atol=ATOL, msg=key)


@pytest.mark.slow
def test_slurm_test_gathers_every_prediction(slurm_train_run, slurm_partition,
                                             tiny_folder_dataset, tmp_path):
    work_dir, _ = slurm_train_run
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    out_file = str(tmp_path / 'preds.pkl')
    log = _check(
        run_slurm('slurm_test.sh', slurm_partition, [
            TEST_CONFIG, checkpoint, '--work-dir',
            str(tmp_path), '--out', out_file, '--cfg-options',
            *data_options(tiny_folder_dataset)
        ]))
    assert 'Distributed launcher: slurm' in log
    # Rank 0 prints the metric of both ranks' predictions, once.
    values = re.findall(r'accuracy/top1: ([\d.]+)$', log, re.M)
    assert len(values) == 1, log[-2000:]
    with open(out_file, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 12  # both halves of the validation set
    correct = sum(
        int(p['pred_label'].item() == p['gt_label'].item())
        for p in predictions)
    assert float(values[0]) == pytest.approx(100 * correct / 12, abs=1e-3)
    # Each prediction is the trained model's for its image.
    model = get_model(TEST_CONFIG, pretrained=checkpoint)
    for prediction in predictions:
        expected = inference_model(model, prediction['img_path'])
        torch.testing.assert_close(
            prediction['pred_score'],
            torch.as_tensor(expected['pred_scores']),
            rtol=1e-4,
            atol=1e-5)


@pytest.mark.slow
def test_slurm_passes_a_gres_request_through(slurm_partition,
                                             tiny_folder_dataset):
    """GRES overrides the choice; this partition has no GPUs, so Slurm
    itself refuses the request (the error the scripts used to hit)."""
    result = run_slurm(
        'slurm_train.sh',
        slurm_partition, [TEST_CONFIG, 'unused-work-dir'],
        GRES='gpu:1')
    assert result.returncode != 0
    assert '--gres=gpu:1' in result.stderr
    assert 'Invalid generic resource' in result.stderr


def test_cpu_threads_per_slurm_task(monkeypatch):
    """A Slurm task uses its --cpus-per-task, not every core it can see
    (Slurm without task binding shows each task the whole node)."""
    for name in ('OMP_NUM_THREADS', 'LOCAL_WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('SLURM_PROCID', '1')
    monkeypatch.setenv('SLURM_CPUS_PER_TASK', '1')
    assert cpu_threads_per_process() == 1
    monkeypatch.setenv('SLURM_CPUS_PER_TASK', '100000')
    assert cpu_threads_per_process() == len(os.sched_getaffinity(0))
    monkeypatch.setenv('OMP_NUM_THREADS', '3')  # the user's choice wins
    assert cpu_threads_per_process() == 3
    # torchrun inside a Slurm allocation: torchrun's local world decides.
    monkeypatch.delenv('OMP_NUM_THREADS')
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '1')
    assert cpu_threads_per_process() == len(os.sched_getaffinity(0))

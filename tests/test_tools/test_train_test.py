# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/train.py and tools/test.py end to end on a generated dataset."""
import os
import os.path as osp
import pickle
import re

import pytest
import torch

from mmhornet.checkpoint import load_checkpoint_file
from mmhornet.utils import cpu_has_native_bfloat16
from ..conftest import REPO_ROOT, TEST_CONFIG, data_options, run_tool

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow

ITERS_PER_EPOCH = 6  # 24 training images, batch size 4


def test_checkpoint_of_a_training_run_tests(trained_run, tiny_folder_dataset,
                                            tmp_path):
    checkpoint = osp.join(trained_run, 'epoch_1.pth')
    assert osp.isfile(checkpoint)
    out_file = tmp_path / 'preds.pkl'
    show_dir = tmp_path / 'vis'
    result = run_tool([
        'tools/test.py', TEST_CONFIG, checkpoint, '--work-dir',
        str(tmp_path), '--out',
        str(out_file), '--show-dir',
        str(show_dir), '--cfg-options', *data_options(tiny_folder_dataset)
    ])
    assert len(list(show_dir.glob('*.png'))) == 12  # one per image
    match = re.search(r'accuracy/top1: ([\d.]+)', result.stdout)
    assert match, result.stdout[-2000:]
    accuracy = float(match.group(1))
    assert 0 <= accuracy <= 100
    with open(out_file, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 12  # every validation image
    correct = sum(
        int(p['pred_label'].item() == p['gt_label'].item())
        for p in predictions)
    assert accuracy == pytest.approx(100 * correct / 12, abs=1e-3)


def test_resume_continues_epoch_iteration_and_optimizer(
        trained_run, tiny_folder_dataset):
    first = load_checkpoint_file(osp.join(trained_run, 'epoch_1.pth'))
    assert (first['meta']['epoch'], first['meta']['iter']) == (1,
                                                               ITERS_PER_EPOCH)
    result = run_tool([
        'tools/train.py', TEST_CONFIG, '--work-dir', trained_run, '--resume',
        '--cfg-options', 'train_cfg.max_epochs=2',
        *data_options(tiny_folder_dataset)
    ])
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in (result.stdout +
                                                            result.stderr)
    second = load_checkpoint_file(osp.join(trained_run, 'epoch_2.pth'))
    assert (second['meta']['epoch'],
            second['meta']['iter']) == (2, 2 * ITERS_PER_EPOCH)
    # AdamW counts its steps per parameter: a fresh optimizer would be at
    # one epoch of steps, a resumed one continues from the saved state.
    steps = [s['step'] for s in first['optimizer']['state'].values()]
    assert {float(s) for s in steps} == {float(ITERS_PER_EPOCH)}
    steps = [s['step'] for s in second['optimizer']['state'].values()]
    assert {float(s) for s in steps} == {float(2 * ITERS_PER_EPOCH)}


@pytest.mark.cpu_isa
def test_amp_training_and_testing_on_cpu(tiny_folder_dataset, tmp_path):
    result = run_tool([
        'tools/train.py', TEST_CONFIG, '--amp', '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=5', *data_options(tiny_folder_dataset)
    ])
    log = result.stdout + result.stderr
    assert 'AmpOptimWrapper' in log
    # said at the start where bfloat16 is emulated (the capped run: always)
    emulated = 'so bfloat16 is emulated' in log
    assert emulated == (not cpu_has_native_bfloat16()), log
    checkpoint = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))
    assert checkpoint['meta']['iter'] == ITERS_PER_EPOCH
    assert 'loss_scaler' not in checkpoint['optimizer']
    for value in checkpoint['state_dict'].values():
        assert value.dtype == torch.float32 or not value.is_floating_point()
    result = run_tool([
        'tools/test.py', TEST_CONFIG,
        str(tmp_path / 'epoch_1.pth'), '--amp', '--work-dir',
        str(tmp_path), '--cfg-options', *data_options(tiny_folder_dataset)
    ])
    assert re.search(r'accuracy/top1: [\d.]+', result.stdout)
    log = result.stdout + result.stderr
    assert ('so bfloat16 is emulated' in log) == emulated


def test_test_tool_refuses_unsafe_checkpoint(tmp_path, tiny_folder_dataset):
    path = tmp_path / 'unsafe.pth'
    torch.save({'state_dict': {}, 'hook': print}, path)
    result = run_tool([
        'tools/test.py', TEST_CONFIG,
        str(path), '--work-dir',
        str(tmp_path), '--cfg-options', *data_options(tiny_folder_dataset)
    ],
                      check=False)
    assert result.returncode != 0
    assert 'Refused to load the checkpoint' in result.stderr


def test_compile_true_in_a_config_trains_as_eager(tiny_folder_dataset,
                                                  tmp_path):
    """mmengine's ``compile=True`` (default ``torch.compile`` settings) on a
    HorNet with a global-filter stage: the same losses, iteration by
    iteration, as eager training (stochastic depth off: inductor draws its
    own random numbers)."""
    losses = {}
    for compile in (False, True):
        result = run_tool([
            'tools/train.py', TEST_CONFIG, '--work-dir',
            str(tmp_path / str(compile)), '--cfg-options',
            f'compile={compile}', 'train_cfg.max_epochs=1',
            'train_cfg.val_interval=5', 'model.backbone.drop_path_rate=0.0',
            *data_options(tiny_folder_dataset)
        ])
        log = result.stdout + result.stderr
        losses[compile] = [
            float(loss) for loss in re.findall(
                r'Epoch\(train\) +\[1\]\[\d+/\d+\].*loss: ([\d.]+)', log)
        ]
    assert 'Model has been "compiled"' in log
    assert len(losses[True]) == ITERS_PER_EPOCH
    assert losses[True] == pytest.approx(losses[False], rel=1e-3)


REPORTING_CONFIG = """
_base_ = {base!r}
runner_type = 'ReportingRunner'
custom_imports = dict(
    imports=['tests.test_tools.runners'], allow_failed_imports=False)
"""


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_runner_type_and_local_rank(tool, tmp_path, tiny_folder_dataset):
    """As mmpretrain's tools: a config's ``runner_type`` is built from
    mmengine's RUNNERS, and ``--local-rank`` becomes ``LOCAL_RANK`` when the
    launcher did not set it."""
    assert 'LOCAL_RANK' not in os.environ
    config = tmp_path / 'reporting.py'
    config.write_text(REPORTING_CONFIG.format(base=TEST_CONFIG))
    checkpoint = [str(tmp_path / 'unused.pth')] if tool == 'test' else []
    result = run_tool([
        f'tools/{tool}.py',
        str(config), *checkpoint, '--work-dir',
        str(tmp_path), '--local-rank', '3', '--cfg-options',
        *data_options(tiny_folder_dataset)
    ],
                      env={'PYTHONPATH': REPO_ROOT})
    assert f'ReportingRunner.{tool}: LOCAL_RANK=3' in result.stdout
    if tool == 'test':
        assert 'reported: 0.5000' in result.stdout

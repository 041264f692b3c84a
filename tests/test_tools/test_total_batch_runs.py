# Copyright (c) mmhornet contributors. All rights reserved.
"""``tools/dist_train.sh ... --total-batch N --auto-scale-lr`` with two real
gloo processes, for a classifier, a detector and a segmentor: the
accumulation that makes up the total batch and the lr scaled by it are read
back from the saved checkpoint and the dumped config.

In each run, 2 processes x batch b x accumulation 2 = the total batch, half
the config's ``auto_scale_lr.base_batch_size`` or less: the lr must be the
config's times total / base. mmengine's own ``--auto-scale-lr``
(``Runner.scale_lr``: world size x batch, without the accumulation) would
give half of it."""
import os.path as osp
import re

import pytest
from mmengine.config import Config

from mmhornet.checkpoint import load_checkpoint_file
from ..conftest import TEST_CONFIG, data_options, run_tool
from ..test_det.conftest import tiny_coco  # noqa: F401 (fixture)
from ..test_det.tiny_config import tiny_config
from ..test_seg.conftest import tiny_ade  # noqa: F401 (fixture)
from ..test_seg.conftest import SEG_CONFIG
from .test_dist import run_dist

pytestmark = pytest.mark.slow


def run_two_processes(config: str, work_dir: str, options: list) -> str:
    """Train ``config`` with tools/dist_train.sh on 2 gloo processes; return
    the log."""
    result = run_dist('dist_train.sh',
                      [config, '2', '--work-dir', work_dir, *options])
    return result.stdout + result.stderr


def base_lrs(checkpoint: dict) -> list:
    """Each param group's lr before any scheduler, over its layer-decay
    scale (1 without layer decay)."""
    return [
        group.get('initial_lr', group['lr']) / group.get('lr_scale', 1.0)
        for group in checkpoint['optimizer']['param_groups']
    ]


def optimizer_steps(checkpoint: dict) -> set:
    return {
        float(state['step'])
        for state in checkpoint['optimizer']['state'].values()
    }


def check_run(work_dir: str, log: str, config_name: str, lr: float,
              iterations: int, steps: int) -> Config:
    """Accumulation 2 and ``lr`` in the dumped config (returned) and the
    log; in the last checkpoint, after ``iterations``, every param group's
    lr and ``steps`` optimizer steps."""
    dumped = Config.fromfile(osp.join(work_dir, config_name))
    assert dumped.optim_wrapper.accumulative_counts == 2
    assert dumped.optim_wrapper.optimizer.lr == pytest.approx(lr, rel=1e-9)
    total = dumped.auto_scale_lr.base_batch_size
    assert re.search(
        rf'Total batch: 2 processes x batch \d+ x accumulation 2 = {total}',
        log)
    checkpoint = load_checkpoint_file(
        osp.join(work_dir,
                 open(osp.join(work_dir, 'last_checkpoint')).read().strip()))
    assert checkpoint['meta']['iter'] == iterations
    assert base_lrs(checkpoint) == pytest.approx(
        [lr] * len(base_lrs(checkpoint)), rel=1e-6)
    assert optimizer_steps(checkpoint) == {float(steps)}
    return dumped


def test_classifier(tiny_folder_dataset, tmp_path):
    """24 images, 2 x 4 per iteration: 3 iterations, 2 optimizer steps (the
    last, short one included); lr 2e-3 for 64 -> 5e-4 for 16."""
    log = run_two_processes(TEST_CONFIG, str(tmp_path), [
        '--total-batch', '16', '--auto-scale-lr', '--no-validate',
        '--cfg-options', 'train_cfg.max_epochs=1',
        'auto_scale_lr.base_batch_size=64',
        f'train_dataloader.dataset.data_root={tiny_folder_dataset}'
    ])
    assert ("lr: 0.0005 (the config's 0.002 x 16 / 64, --auto-scale-lr)"
            in log)
    dumped = check_run(
        str(tmp_path), log, osp.basename(TEST_CONFIG), 5e-4, 3, steps=2)
    assert dumped.auto_scale_lr == dict(enable=False, base_batch_size=16)


def test_detector(tiny_coco, tmp_path):  # noqa: F811
    """Mask R-CNN 1x (lr 1e-4 for 16): 8 images, 2 x 2 per iteration, total
    8 -> lr 5e-5, and the 500-iteration warm-up lasts 1000 iterations."""
    config = tiny_config('configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py',
                         tiny_coco, str(tmp_path))
    work_dir = str(tmp_path / 'work')
    log = run_two_processes(
        config, work_dir,
        ['--total-batch', '8', '--auto-scale-lr', '--no-validate'])
    assert '--total-batch: param_scheduler[0].end: 500 -> 1000' in log
    dumped = check_run(work_dir, log, osp.basename(config), 5e-5, 2, steps=1)
    assert dumped.param_scheduler[0].end == 1000


def test_segmentor(tiny_ade, tmp_path):  # noqa: F811
    """UPerNet (lr 2e-3 in the tiny config, base 16): 2 x 2 per iteration,
    total 8 -> lr 1e-3; a 1-iteration run becomes 2 iterations, one
    optimizer step."""
    work_dir = str(tmp_path)
    log = run_two_processes(SEG_CONFIG, work_dir, [
        '--total-batch', '8', '--auto-scale-lr', '--no-validate',
        '--cfg-options', 'train_dataloader.batch_size=2',
        'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
        'default_hooks.checkpoint.interval=1',
        f'train_dataloader.dataset.data_root={tiny_ade}'
    ])
    assert '--total-batch: train_cfg.max_iters: 1 -> 2' in log
    dumped = check_run(
        work_dir, log, osp.basename(SEG_CONFIG), 1e-3, 2, steps=1)
    assert dumped.train_cfg.max_iters == 2


def test_a_total_batch_that_does_not_divide(tiny_folder_dataset, tmp_path):
    """The error names the numbers before anything is built."""
    result = run_tool([
        'tools/train.py', TEST_CONFIG, '--work-dir',
        str(tmp_path), '--total-batch', '6', '--cfg-options',
        *data_options(tiny_folder_dataset)
    ],
                      check=False)
    assert result.returncode != 0
    assert ('Total batch 6 cannot be kept on 1 process x batch 4 = 4 '
            'samples per iteration' in result.stderr)
    assert 'train_dataloader.batch_size=3' in result.stderr

# Copyright (c) mmhornet contributors. All rights reserved.
"""The total batch (GPUs x batch x accumulation) and its lr: the arithmetic
of ``--auto-scale-lr`` and ``--total-batch`` on the shipped configs, and the
errors; real runs are in tests/test_tools/test_total_batch_runs.py."""
import copy
import functools
import glob
import os.path as osp
from fractions import Fraction

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmhornet.engine import (TotalBatch, accumulation_for, apply_total_batch,
                             launcher_world_size, log_total_batch,
                             stretch_iteration_counts)
from ..conftest import REPO_ROOT

CLS = 'configs/hornet/hornet-tiny_8xb128_in1k.py'
DET = 'configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py'
SEG = 'configs/upernet/upernet_hornet-t_8xb2-160k_ade20k-512x512.py'


@functools.lru_cache(maxsize=None)
def _load(config: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, config))


def load(config: str) -> Config:
    """A fresh copy of a shipped config (each file is read once)."""
    return copy.deepcopy(_load(config))


# Every shipped HorNet recipe and its published total batch: the official
# TRAINING.md (ImageNet) and the official detection (8 GPUs x 2 images) and
# segmentation (8 GPUs x 2 images) configs.
IMAGENET_4096 = ('tiny_8xb128_in1k', 'tiny-gf_8xb128_in1k', 'small_8xb64_in1k',
                 'small-gf_8xb64_in1k', 'base_8xb64_in1k',
                 'base-gf_8xb64_in1k', 'large_8xb32_in21k',
                 'large-gf_8xb32_in21k', 'large-gf384_8xb32_in21k-384px')
IMAGENET_512 = ('large_in21k-pre_8xb16_in1k-384px',
                'large-gf384_in21k-pre_8xb16_in1k-384px')
DENSE_FAMILIES = ('mask_rcnn', 'cascade_mask_rcnn', 'upernet')
PUBLISHED_TOTAL_BATCH = {
    **{
        f'configs/hornet/hornet-{name}.py': 4096
        for name in IMAGENET_4096
    },
    **{
        f'configs/hornet/hornet-{name}.py': 512
        for name in IMAGENET_512
    },
    **{
        path: 16
        for family in DENSE_FAMILIES
        for path in glob.glob(f'configs/{family}/*.py', root_dir=REPO_ROOT)
    },
}


@pytest.mark.slow  # reads 26 configs (2-3 s each)
@pytest.mark.parametrize('config', sorted(PUBLISHED_TOTAL_BATCH))
def test_shipped_configs_state_their_published_total_batch(config):
    """``auto_scale_lr.base_batch_size`` is the published total batch, which
    the config's 8 GPUs give with its batch and accumulation."""
    cfg = load(config)
    total = PUBLISHED_TOTAL_BATCH[config]
    assert cfg.auto_scale_lr.base_batch_size == total
    assert not cfg.auto_scale_lr.get('enable', False)
    batch = apply_total_batch(cfg, world_size=8)
    assert batch.total == total
    assert batch.lr == cfg.optim_wrapper.optimizer.lr  # nothing changed


def test_accumulation_for():
    assert accumulation_for(4096, 8, 128) == 4
    assert accumulation_for(4096, 1, 128) == 32
    assert accumulation_for(4096, 16, 128) == 2
    assert accumulation_for(16, 16, 1) == 1
    with pytest.raises(ValueError) as error:
        accumulation_for(16, 16, 2)  # 2 machines x 8 GPUs x 2 images
    message = str(error.value)
    assert 'Total batch 16' in message
    assert '16 processes x batch 2 = 32 samples per iteration' in message
    assert 'train_dataloader.batch_size=1' in message
    with pytest.raises(ValueError, match='batch 128 = 8192.*batch_size=64'):
        accumulation_for(4096, 64, 128)
    with pytest.raises(ValueError, match='3 processes cannot share it'):
        accumulation_for(4096, 3, 128)
    with pytest.raises(ValueError, match='batch_size=96'):
        accumulation_for(576, 3, 128)  # 3 x 96 x 2
    with pytest.raises(ValueError, match='must be positive'):
        accumulation_for(4096, 0, 128)


@pytest.mark.parametrize('world_size,accumulation', [(1, 32), (2, 16), (8, 4),
                                                     (16, 2), (32, 1)])
def test_keep_the_imagenet_total_batch(world_size, accumulation):
    """``--total-batch`` on the HorNet-T recipe: the accumulation makes up
    4096 and the EMA, updated once per optimizer step, follows it; the lr
    (for 4096) and the epoch schedule stay."""
    cfg = load(CLS)
    batch = apply_total_batch(cfg, 'base', world_size=world_size)
    assert batch.total == 4096
    assert cfg.optim_wrapper.accumulative_counts == accumulation
    assert cfg.custom_hooks[0].type == 'EMAHook'
    assert cfg.custom_hooks[0].interval == accumulation
    assert cfg.optim_wrapper.optimizer.lr == batch.lr == 4e-3
    assert cfg.param_scheduler == load(CLS).param_scheduler  # in epochs
    assert cfg.train_cfg == load(CLS).train_cfg
    if world_size != 8:
        assert batch.changes[0] == ('optim_wrapper.accumulative_counts: '
                                    f'4 -> {accumulation}')
    else:
        assert batch.changes == []


@pytest.mark.parametrize('world_size,lr', [(1, 5e-4), (2, 1e-3), (8, 4e-3),
                                           (16, 8e-3)])
def test_auto_scale_lr_counts_the_accumulation(world_size, lr):
    """The configs' accumulation (4) is part of the total batch: on 8 GPUs
    the lr stays 4e-3 (mmengine's ``Runner.scale_lr``, which counts
    ``world size x batch``, would make it 1e-3)."""
    cfg = load(CLS)
    batch = apply_total_batch(cfg, auto_scale_lr=True, world_size=world_size)
    assert batch.total == world_size * 128 * 4
    assert batch.lr == pytest.approx(lr, rel=1e-12)
    assert cfg.optim_wrapper.optimizer.lr == batch.lr
    # the dumped config states the lr and the batch it is for, and
    # mmengine does not scale again
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=batch.total)
    assert cfg.optim_wrapper.accumulative_counts == 4
    again = apply_total_batch(cfg, auto_scale_lr=True, world_size=world_size)
    assert again.lr == batch.lr


def test_a_config_that_enables_auto_scale_lr_itself():
    cfg = load(CLS)
    cfg.auto_scale_lr.enable = True
    assert apply_total_batch(cfg, world_size=2).lr == pytest.approx(1e-3)


def test_total_batch_and_auto_scale_lr_together():
    """Another total batch, with the lr scaled to it."""
    cfg = load(CLS)
    batch = apply_total_batch(
        cfg, total_batch=1024, auto_scale_lr=True, world_size=2)
    assert cfg.optim_wrapper.accumulative_counts == 4
    assert batch.lr == pytest.approx(1e-3)
    cfg = load(CLS)
    batch = apply_total_batch(
        cfg, total_batch=1024, auto_scale_lr=True, world_size=4)
    assert cfg.optim_wrapper.accumulative_counts == 2
    assert cfg.custom_hooks[0].interval == 2
    assert batch.lr == pytest.approx(1e-3)


def test_the_384px_fine_tuning_on_one_gpu():
    cfg = load('configs/hornet/hornet-large_in21k-pre_8xb16_in1k-384px.py')
    batch = apply_total_batch(cfg, 'base', auto_scale_lr=True, world_size=1)
    assert batch.describe().endswith('x batch 16 x accumulation 32 = 512')
    assert cfg.custom_hooks[0].interval == 32
    assert batch.lr == cfg.optim_wrapper.optimizer.lr == 5e-5


def test_keep_the_detection_total_batch_on_four_gpus():
    """Mask R-CNN 1x (8 x 2): on 4 GPUs the accumulation is 2 and the
    500-iteration warm-up (mmengine schedulers count iterations) lasts 1000
    iterations, the same 500 optimizer steps; the epoch milestones stay."""
    cfg = load(DET)
    batch = apply_total_batch(cfg, 'base', world_size=4)
    assert batch.total == 16 and batch.accumulative_counts == 2
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.by_epoch) == ('LinearLR', False)
    assert (warmup.begin, warmup.end) == (0, 1000)
    assert steps == load(DET).param_scheduler[1]
    assert cfg.train_cfg == load(DET).train_cfg
    assert batch.changes == [
        'optim_wrapper.accumulative_counts: 1 -> 2',
        'param_scheduler[0].end: 500 -> 1000'
    ]
    with pytest.raises(ValueError, match='batch_size=1'):
        apply_total_batch(load(DET), 'base', world_size=16)


def test_keep_the_segmentation_total_batch_on_two_gpus():
    """UPerNet 160k (8 x 2): on 2 GPUs, 4 iterations make an optimizer
    step, and every count of iterations is 4 times as long."""
    cfg = load(SEG)
    batch = apply_total_batch(cfg, 'base', auto_scale_lr=True, world_size=2)
    assert batch.accumulative_counts == 4 and batch.total == 16
    assert batch.lr == cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.train_cfg.max_iters == 640000
    assert cfg.train_cfg.val_interval == 64000
    assert [(s.type, s.begin, s.end)
            for s in cfg.param_scheduler] == [('LinearLR', 0, 6004),
                                              ('PolyLR', 0, 640004)]
    assert cfg.default_hooks.checkpoint.interval == 64000
    assert cfg.default_hooks.logger.interval == load(
        SEG).default_hooks.logger.interval


def test_stretch_refuses_what_it_cannot_stretch():
    cfg = Config(
        dict(
            train_cfg=dict(max_iters=10, val_interval=3),
            param_scheduler=[dict(type='LinearLR', by_epoch=False, end=5)]))
    assert stretch_iteration_counts(cfg, Fraction(1)) == []
    with pytest.raises(ValueError, match=r'train_cfg.val_interval=3.*1.5'):
        stretch_iteration_counts(cfg, Fraction(1, 2))
    cfg = Config(
        dict(
            param_scheduler=dict(
                type='ExponentialLR', by_epoch=False, gamma=0.99)))
    with pytest.raises(ValueError, match='factor per iteration'):
        stretch_iteration_counts(cfg, Fraction(2))


def test_errors_name_what_is_missing():
    cfg = load(CLS)
    cfg.pop('auto_scale_lr')
    with pytest.raises(ValueError, match=r'add\s+auto_scale_lr'):
        apply_total_batch(cfg, auto_scale_lr=True, world_size=1)
    with pytest.raises(ValueError, match='--total-batch without N'):
        apply_total_batch(cfg, 'base', world_size=1)
    cfg = load(CLS)
    cfg.optim_wrapper.optimizer.pop('lr')
    with pytest.raises(ValueError, match='optim_wrapper.optimizer.lr'):
        apply_total_batch(cfg, auto_scale_lr=True, world_size=1)


def test_launcher_world_size(monkeypatch):
    assert launcher_world_size('none') == 1
    monkeypatch.setenv('WORLD_SIZE', '16')
    assert launcher_world_size('pytorch') == 16
    monkeypatch.setenv('SLURM_NTASKS', '32')
    assert launcher_world_size('slurm') == 32
    monkeypatch.delenv('OMPI_COMM_WORLD_SIZE', raising=False)
    with pytest.raises(RuntimeError, match='OMPI_COMM_WORLD_SIZE is unset'):
        launcher_world_size('mpi')


def logged(capsys, batch: TotalBatch, name: str) -> str:
    # a fresh logger writes to the captured stdout
    MMLogger.get_instance(name, log_level='INFO')
    capsys.readouterr()
    log_total_batch(batch)
    return capsys.readouterr().out


def test_the_log_states_the_total_batch_and_lr(capsys):
    cfg = load(CLS)
    out = logged(capsys, apply_total_batch(cfg, 'base', world_size=2),
                 'total-batch-1')
    assert '--total-batch: optim_wrapper.accumulative_counts: 4 -> 16' in out
    assert 'x batch 128 x accumulation 16 = 4096' in out
    assert 'lr: 0.004\n' in out
    out = logged(
        capsys, apply_total_batch(load(CLS), auto_scale_lr=True, world_size=2),
        'total-batch-2')
    assert 'x batch 128 x accumulation 4 = 1024' in out
    assert "lr: 0.001 (the config's 0.004 x 1024 / 4096, --auto-scale-lr)" \
        in out
    out = logged(capsys, apply_total_batch(load(CLS), world_size=2),
                 'total-batch-3')
    assert ("The config's lr 0.004 is for a total batch of 4096 "
            "(auto_scale_lr.base_batch_size), this run's is 1024") in out
    assert 'WARNING' in out


def test_log_refuses_a_runner_of_another_world_size(tmp_path):
    # the Runner's default scope is dropped afterwards (see test_stack.py)
    with DefaultScope.overwrite_default_scope('mmengine'):
        runner = Runner(model=torch.nn.Linear(2, 2), work_dir=str(tmp_path))
    assert runner.world_size == 1
    log_total_batch(
        TotalBatch(world_size=1, batch_size=1, accumulative_counts=1), runner)
    with pytest.raises(RuntimeError, match='set for 2 processes'):
        log_total_batch(
            TotalBatch(world_size=2, batch_size=1, accumulative_counts=1),
            runner)


@pytest.mark.parametrize('config,world_size,options,accumulation,lr', [
    (CLS, 8, {}, 4, 4e-3),
    (CLS, 1, {}, 32, 4e-3),
    (CLS, 16, {}, 2, 4e-3),
    ('configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-t_fpn_3x_coco.py', 8,
     {}, 1, 2e-4),
    ('configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-t_fpn_3x_coco.py', 1,
     {}, 8, 2e-4),
    ('configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-t_fpn_3x_coco.py', 16,
     {
         'train_dataloader.batch_size': 1
     }, 1, 2e-4),
    ('configs/mask_rcnn/mask-rcnn_hornet-s_horfpn_1x_coco.py', 1, {}, 8, 1e-4),
    (SEG, 1, {}, 8, 1e-4),
    (SEG, 16, {
        'train_dataloader.batch_size': 1
    }, 1, 1e-4),
])
def test_the_documented_examples(config, world_size, options, accumulation,
                                 lr):
    """The 1-GPU, 8-GPU and 2 x 8-GPU commands of docs/train_test.md and
    the configs' READMEs (``--total-batch``, with their ``--cfg-options``)
    give the published total batch and lr."""
    cfg = load(config)
    cfg.merge_from_dict(options)
    batch = apply_total_batch(cfg, 'base', world_size=world_size)
    assert batch.total == cfg.auto_scale_lr.base_batch_size
    assert batch.accumulative_counts == accumulation
    assert batch.lr == lr
    if config == SEG and world_size == 1:
        assert cfg.train_cfg.max_iters == 1280000
    if 'cascade' in config and world_size == 1:
        assert cfg.param_scheduler[0].end == 4000

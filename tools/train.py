# Copyright (c) mmhornet contributors. All rights reserved.
"""Train a model from a config of any OpenMMLab 2.0 toolbox.

The toolbox (mmpretrain, mmdet, mmseg) is the config's ``default_scope``;
mmhornet's modules are found through their ``mmhornet.`` type prefix.

Every run saves crash-safe checkpoints with their random states (mmengine's
``CheckpointHook`` becomes ``mmhornet.AtomicCheckpointHook`` and a
``mmhornet.RandomStateHook`` is added), so that ``--resume`` continues an
interrupted run exactly; ``--resume`` without a path skips unreadable
checkpoints. Checkpoints load with ``weights_only=True``
(:func:`mmhornet.checkpoint.patch_checkpoint_loading`), and distributed runs
and ``--amp`` work on CPUs too (:func:`mmhornet.engine.launch_runner`,
:class:`mmhornet.engine.AmpOptimWrapper`). The total batch (GPUs x batch x
accumulation) and the lr are logged as training starts; ``--total-batch``
keeps a total batch on any number of GPUs and ``--auto-scale-lr`` counts the
accumulation (:mod:`mmhornet.engine.runners.total_batch`).
"""
import argparse
import logging
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.logging import print_log

from mmhornet.checkpoint import patch_checkpoint_loading
from mmhornet.engine import (apply_total_batch, enable_safe_checkpoints,
                             find_resumable_checkpoint, launch_runner,
                             log_total_batch)
from mmhornet.utils import (check_data_roots, load_config,
                            warn_if_bfloat16_emulated)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or from the latest readable '
        'checkpoint in the work dir if no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: float16 on GPU, bfloat16 on CPU')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the total batch (GPUs x batch x '
        'accumulation) over the config\'s auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--total-batch',
        nargs='?',
        type=int,
        const='base',
        metavar='N',
        help='keep the total batch at N (default: the config\'s '
        'auto_scale_lr.base_batch_size) on any number of GPUs by choosing '
        'optim_wrapper.accumulative_counts')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. key=value or a.b=1')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torchrun passes --local-rank (or --local_rank in older versions)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command-line options into the config."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'mmhornet.AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def resolve_auto_resume(cfg: Config) -> None:
    """``--resume`` without a path: the latest readable checkpoint of the
    work dir (unreadable newer ones are skipped with a warning), or a fresh
    start when there is none."""
    if not cfg.get('resume') or cfg.get('load_from') is not None:
        return
    cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
    if cfg.load_from is None:
        cfg.resume = False
        print_log(
            f'--resume: no checkpoint in {cfg.work_dir}; training starts '
            'from the beginning.',
            logger='current',
            level=logging.WARNING)


def main() -> None:
    args = parse_args()
    patch_checkpoint_loading()
    cfg = merge_args(load_config(args.config, args.config), args)
    if args.amp:
        warn_if_bfloat16_emulated(get_device())
    enable_safe_checkpoints(cfg)
    resolve_auto_resume(cfg)
    check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))
    total_batch = apply_total_batch(cfg, args.total_batch, args.auto_scale_lr)
    with launch_runner(cfg) as runner:
        log_total_batch(total_batch, runner)
        runner.train()


if __name__ == '__main__':
    main()

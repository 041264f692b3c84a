# Copyright (c) mmhornet contributors. All rights reserved.
"""Test (evaluate) a checkpoint with a config of any OpenMMLab toolbox.

The checkpoint may be a local path or an ``http(s)://`` URL (downloaded to
the torch hub cache and loaded with ``weights_only=True``), or an ``.onnx``
file exported by tools/deployment/pytorch2onnx.py, run by onnxruntime
(or OpenVINO: ``--backend openvino``).
Checkpoints load with ``weights_only=True``
(:func:`mmhornet.checkpoint.patch_checkpoint_loading`), and distributed runs
and ``--amp`` work on CPUs too (:func:`mmhornet.engine.launch_runner`,
:class:`mmhornet.engine.AmpOptimWrapper`).
"""
import argparse
import numbers
import os
import os.path as osp

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.device import get_device
from mmengine.dist import is_main_process
from mmengine.evaluator import DumpResults

from mmhornet.checkpoint import patch_checkpoint_loading
from mmhornet.engine import launch_runner
from mmhornet.utils import (check_data_roots, load_config,
                            warn_if_bfloat16_emulated)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', help='checkpoint file path or URL, or an .onnx file')
    parser.add_argument(
        '--backend',
        choices=['onnxruntime', 'openvino'],
        help='the runtime of an .onnx checkpoint (default: onnxruntime)')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out', help='save the predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='save visualised predictions to this directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: float16 on GPU, bfloat16 on CPU')
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
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation: the config's tta_model and "
        'tta_pipeline (e.g. multi-scale and flip)')
    # torchrun passes --local-rank (or --local_rank in older versions)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """Turn on the toolbox's visualization hook, saving to ``show_dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise KeyError('--show-dir needs a `visualization` hook in '
                       'default_hooks; this config has none.')
    hook_type = hook['type'].split('.')[-1]
    if hook_type == 'VisualizationHook':  # mmpretrain
        hook.update(enable=True, out_dir=show_dir, interval=1)
    elif hook_type == 'DetVisualizationHook':  # mmdet
        hook.update(draw=True, test_out_dir=show_dir)
    elif hook_type == 'SegVisualizationHook':  # mmseg
        hook.update(draw=True, interval=1)
        cfg.visualizer['save_dir'] = show_dir
    else:
        raise ValueError(f'--show-dir does not know the hook {hook_type}')


def format_metric(value) -> str:
    """Four decimals for real numbers (Python or numpy), else as is."""
    if isinstance(value,
                  numbers.Real) and not isinstance(value, numbers.Integral):
        return f'{value:.4f}'
    return str(value)


def enable_tta(cfg: Config) -> None:
    """Wrap the model in the config's ``tta_model`` and test with its
    ``tta_pipeline``, as the toolboxes' own test scripts do."""
    missing = [key for key in ('tta_model', 'tta_pipeline') if key not in cfg]
    if missing:
        raise KeyError(f'--tta needs {missing} in the config')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def use_onnx_file(cfg: Config, args: argparse.Namespace) -> None:
    """Evaluate an exported ONNX file (onnxruntime or OpenVINO) instead of a
    checkpoint: the config's model supplies preprocessing and
    post-processing."""
    if args.amp or args.tta:
        raise SystemExit('--amp and --tta apply to PyTorch checkpoints; an '
                         'ONNX file runs as exported (float32, one pass)')
    cfg.model = ConfigDict(
        type='mmhornet.OnnxRuntimeModel',
        onnx_file=args.checkpoint,
        backend=args.backend or 'onnxruntime',
        model=cfg.model)
    cfg.load_from = None


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command-line options into the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.checkpoint.endswith('.onnx'):
        use_onnx_file(cfg, args)
    elif args.backend:
        raise SystemExit(f'--backend {args.backend} runs .onnx files; '
                         f'{args.checkpoint} is a PyTorch checkpoint')
    if args.amp:
        cfg.test_cfg = ConfigDict(cfg.get('test_cfg') or {}, fp16=True)
    if args.tta:
        enable_tta(cfg)
    if args.show_dir is not None:
        enable_visualization(cfg, args.show_dir)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main() -> None:
    args = parse_args()
    patch_checkpoint_loading()
    cfg = merge_args(load_config(args.config, args.config), args)
    if args.amp:
        warn_if_bfloat16_emulated(get_device())
    check_data_roots(cfg, ('test_dataloader', ))
    with launch_runner(cfg) as runner:
        if args.out is not None:
            runner.test_evaluator.metrics.append(
                DumpResults(out_file_path=args.out))
        metrics = runner.test()
        if is_main_process():
            print(' '.join(f'{key}: {format_metric(value)}'
                           for key, value in metrics.items()))


if __name__ == '__main__':
    main()

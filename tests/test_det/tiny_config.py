# Copyright (c) mmhornet contributors. All rights reserved.
"""Shrink a real detection config to CPU-test size, keeping its recipe."""
import os.path as osp
from typing import Any

from mmengine.config import Config

from ..conftest import REPO_ROOT, tiny_hornet_arch
from .conftest import CLASSES

CHANNELS = 32
TINY_ARCH = tiny_hornet_arch((4, 3), (2, 2))


def _scale_sizes(node: Any) -> Any:
    """Divide the image scales and crop sizes of a pipeline by 8."""
    if isinstance(node, dict):
        for key in ('scale', 'scales', 'crop_size'):
            if key in node:
                node[key] = _scale_sizes_value(node[key])
        for value in node.values():
            _scale_sizes(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _scale_sizes(value)
    return node


def _scale_sizes_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and value and isinstance(
            value[0], (list, tuple)):
        return [tuple(v // 8 for v in size) for size in value]
    return tuple(v // 8 for v in value)


def _as_list(node: Any) -> list:
    return list(node) if isinstance(node, (list, tuple)) else [node]


def tiny_config(config: str, data_root: str, work_dir: str) -> str:
    """Write a copy of ``config`` (relative to the repo root) with a tiny
    HorNet (GF stages included), 32-channel neck and heads, 1/8-size
    pipelines, few proposals and the generated dataset; everything else
    (detector, losses, SyncBN heads, augmentation policies, optimizer
    constructor, schedule) stays as configured.

    Returns:
        str: The path of the written config.
    """
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    model = cfg.model
    model.backbone.pop('init_cfg')
    model.backbone.update(arch=TINY_ARCH)
    model.neck.update(in_channels=[8, 16, 32, 64], out_channels=CHANNELS)
    model.rpn_head.update(in_channels=CHANNELS, feat_channels=CHANNELS)
    roi_head = model.roi_head
    roi_head.bbox_roi_extractor.out_channels = CHANNELS
    roi_head.mask_roi_extractor.out_channels = CHANNELS
    for head in _as_list(roi_head.bbox_head):
        head.update(in_channels=CHANNELS, fc_out_channels=64, num_classes=3)
        if 'conv_out_channels' in head:
            head.conv_out_channels = CHANNELS
    roi_head.mask_head.update(
        in_channels=CHANNELS, conv_out_channels=CHANNELS, num_classes=3)
    model.train_cfg.rpn.sampler.num = 64
    for rcnn in _as_list(model.train_cfg.rcnn):
        rcnn.sampler.num = 32
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rcnn.max_per_img = 20

    metainfo = dict(classes=CLASSES)
    for split, loader in (('train', cfg.train_dataloader),
                          ('val', cfg.val_dataloader), ('val',
                                                        cfg.test_dataloader)):
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.update(
            data_root=data_root,
            metainfo=metainfo,
            ann_file=f'annotations/{split}.json',
            data_prefix=dict(img=f'{split}/'))
        _scale_sizes(loader.dataset.pipeline)
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        evaluator.ann_file = osp.join(data_root, 'annotations/val.json')
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    path = osp.join(work_dir, osp.basename(config))
    cfg.dump(path)
    return path


def learnable_config(config: str, data_root: str, work_dir: str,
                     epochs: int) -> str:
    """Write ``tiny_config(config, ...)`` set to learn the generated shapes
    in a CPU minute: images at their own size with random flips (the
    recipe's multi-scale and crop policies need more data and time than a
    test has), lr 2e-3 with a 20-iteration warm-up and x0.1 for the last
    quarter of the ``epochs``, no stochastic depth, fewer RPN proposals in
    training. The detector, its losses, AdamW with layer-wise decay and the
    evaluator stay as configured.

    Returns:
        str: The path of the written config.
    """
    path = tiny_config(config, data_root, work_dir)
    cfg = Config.fromfile(path)
    cfg.model.backbone.drop_path_rate = 0.
    cfg.model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    native_size = dict(type='Resize', scale=(80, 64), keep_ratio=True)
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        native_size,
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]
    cfg.train_dataloader.batch_size = 4
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        for transform in loader.dataset.pipeline:
            if transform.type == 'Resize':
                transform.update(native_size)
    cfg.optim_wrapper.optimizer.lr = 2e-3
    cfg.param_scheduler = [
        dict(
            type='LinearLR',
            start_factor=0.01,
            by_epoch=False,
            begin=0,
            end=20),
        dict(
            type='MultiStepLR',
            by_epoch=True,
            begin=0,
            end=epochs,
            milestones=[epochs * 3 // 4],
            gamma=0.1)
    ]
    cfg.train_cfg.update(max_epochs=epochs, val_interval=epochs)
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.logger.interval = 8
    cfg.dump(path)
    return path

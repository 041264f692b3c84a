# Copyright (c) mmhornet contributors. All rights reserved.
"""The configs of configs/gnconv/, shrunk to CPU-test size, trained and
tested with tools/train.py and tools/test.py on generated datasets; the
ResNet-50 classifier learns the digits."""
import os.path as osp
import re

import pytest
from mmengine.config import Config

from mmhornet.checkpoint import load_checkpoint_file
from ..conftest import REPO_ROOT, TEST_CONFIG, make_image_folder
from ..test_det.tiny_config import tiny_config
from ..test_seg.conftest import SEG_CONFIG, run_seg_tool, seg_data_options

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow

GNCONV = 'configs/gnconv/'
DIGITS_EPOCHS = 4
DIGITS_BAR = 90.0


def count_gnconv(state_dict: dict, prefix: str) -> int:
    """The gnConv2d layers under ``prefix`` in a checkpoint."""
    return sum(
        key.startswith(prefix) and key.endswith('gnconv.proj_in.weight')
        for key in state_dict)


def last_metric(output: str, name: str) -> float:
    matches = re.findall(rf'{re.escape(name)}: (-?[\d.]+)', output)
    assert matches, output[-3000:]
    return float(matches[-1])


def train_and_test(config: str,
                   work_dir: str,
                   *options: str,
                   test: bool = True) -> tuple:
    """Train ``config`` (which validates at its end), then test its last
    checkpoint if ``test``; return the checkpoint's state dict and the
    outputs of tools/train.py and tools/test.py (None without ``test``).

    One OpenMP thread (see ``run_seg_tool``; measured here: a ResNet-50
    training step on 64 digits took 0.1 s with one thread, 0.4-1 s with two
    on a busy machine).
    """
    cfg_options = ['--cfg-options', *options] if options else []
    trained = run_seg_tool(
        ['tools/train.py', config, '--work-dir', work_dir, *cfg_options])
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    tested = None
    if test:
        tested = run_seg_tool([
            'tools/test.py', config, checkpoint, '--work-dir',
            osp.join(work_dir, 'test'), *cfg_options
        ]).stdout
    state = load_checkpoint_file(checkpoint)['state_dict']
    return state, trained.stdout + trained.stderr, tested


def test_mask_rcnn_r50_gnconv_c3_c5(tiny_coco, tmp_path):
    """ResNet-50 (stages at a 1/32 width: 8-64 channels) with gnConvs in the
    dcn slot of stages 3-5, tiny Mask R-CNN heads."""
    path = tiny_config(GNCONV + 'mask-rcnn_r50-gnconv-c3-c5_fpn_1x_coco.py',
                       tiny_coco, str(tmp_path))
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    backbone.pop('arch')
    backbone.update(base_channels=2, stem_channels=8)
    assert backbone.dcn.type == 'mmhornet.gnConv2d'
    cfg.dump(path)
    state, trained, tested = train_and_test(path, str(tmp_path / 'work'))
    assert count_gnconv(state, 'backbone.layer1') == 0
    assert count_gnconv(state, 'backbone.') == 4 + 6 + 3
    for iou_type in ('bbox', 'segm'):
        name = f'coco/{iou_type}_mAP_50'
        # the checkpoint reloaded scores what the model scored in training
        assert 0 <= last_metric(tested, name) <= 1
        assert last_metric(tested, name) == last_metric(trained, name)


def test_mask_rcnn_hornet_fpn_gnconv(tiny_coco, tmp_path):
    path = tiny_config(GNCONV + 'mask-rcnn_hornet-s_fpn-gnconv_1x_coco.py',
                       tiny_coco, str(tmp_path))
    # validated at the end of training (tools/test.py runs in the test
    # above, on the same detector)
    state, trained, _ = train_and_test(
        path, str(tmp_path / 'work'), test=False)
    # 4 lateral and 4 output convolutions of the FPN
    assert count_gnconv(state, 'neck.') == 8
    assert 'neck.fpn_convs.0.conv.gnconv.dwconv.weight' in state
    for iou_type in ('bbox', 'segm'):
        assert 0 <= last_metric(trained, f'coco/{iou_type}_mAP_50') <= 1


def test_upernet_gnconv_head(tiny_ade, tmp_path):
    """The R-50 UPerNet with a 1/32-width ResNetV1c, its gnConv head trained
    on the tiny ADE20K data with the pipelines of the tiny HorNet UPerNet
    test config."""
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, GNCONV,
                 'upernet_r50_head-gnconv_4xb4-160k_ade20k-512x512.py'))
    tiny = Config.fromfile(SEG_CONFIG)
    cfg.model.pretrained = None
    cfg.model.backbone.update(stem_channels=8, base_channels=2)
    cfg.model.decode_head.update(in_channels=[8, 16, 32, 64], channels=16)
    cfg.model.auxiliary_head.update(in_channels=32, channels=8)
    cfg.model.data_preprocessor.size = tiny.crop_size
    cfg.model.test_cfg = tiny.model.test_cfg
    iters = 8
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'env_cfg', 'randomness'):
        cfg[key] = tiny[key]
    cfg.param_scheduler = [dict(type='PolyLR', by_epoch=False, end=iters)]
    cfg.train_cfg.update(max_iters=iters, val_interval=iters)
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 4
    path = str(tmp_path / 'upernet-gnconv.py')
    cfg.dump(path)
    state, trained, tested = train_and_test(path, str(tmp_path / 'work'),
                                            *seg_data_options(tiny_ade))
    # PPM (4), bottleneck, 3 laterals, 3 FPN and the fusion convolution
    assert count_gnconv(state, 'decode_head.') == 12
    assert count_gnconv(state, 'auxiliary_head.') == 0
    assert 0 <= last_metric(tested, 'mIoU') <= 100
    assert last_metric(tested, 'mIoU') == last_metric(trained, 'mIoU')


def test_resnet50_gnconv_in1k_config(tmp_path):
    """The ImageNet config, 1/8 width, one epoch on the tiny colour
    folders of tests/conftest.py (three classes, 32x32)."""
    root = str(tmp_path / 'data')
    make_image_folder(osp.join(root, 'train'), per_class=8, seed=0)
    make_image_folder(osp.join(root, 'val'), per_class=4, seed=1)
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, GNCONV, 'resnet50-gnconv-c3-c5_8xb32_in1k.py'))
    tiny = Config.fromfile(TEST_CONFIG)
    cfg.model.backbone.update(base_channels=8)
    cfg.model.head.update(num_classes=3, in_channels=256, topk=(1, ))
    cfg.data_preprocessor.num_classes = 3
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator', 'randomness'):
        cfg[key] = tiny[key]
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = root
    cfg.train_cfg.update(max_epochs=1)
    path = str(tmp_path / 'resnet50-gnconv.py')
    cfg.dump(path)
    state, trained, tested = train_and_test(path, str(tmp_path / 'work'))
    assert count_gnconv(state, 'backbone.') == 13
    # mmpretrain's ResNet-50 keys, plus the layers in the slot
    assert 'backbone.layer4.2.conv2.gnconv.proj_out.weight' in state
    assert 'backbone.layer1.0.conv2.weight' in state
    accuracy = last_metric(tested, 'accuracy/top1')
    assert 0 <= accuracy <= 100
    assert accuracy == last_metric(trained, 'accuracy/top1')


def test_resnet50_gnconv_learns_digits(digits, tmp_path):
    """The shipped digits config, 4 epochs instead of 20 (warm-up 1 epoch,
    cosine over 3), data loaded in the main process; the accuracy of the
    validation at the end of training (tools/test.py runs in the test
    above)."""
    config = osp.join(REPO_ROOT, GNCONV,
                      'resnet50-gnconv-c3-c5_1xb64_digits.py')
    epochs = DIGITS_EPOCHS
    options = [
        f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        f'param_scheduler.1.end={epochs}',
        f'default_hooks.checkpoint.interval={epochs}'
    ]
    for split in ('train', 'val', 'test'):
        options += [
            f'{split}_dataloader.dataset.data_root={digits}',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False'
        ]
    state, trained, _ = train_and_test(
        config, str(tmp_path), *options, test=False)
    assert count_gnconv(state, 'backbone.') == 13
    mixer = state['backbone.layer2.0.conv2.gnconv.dwconv.weight']
    assert mixer.shape == (8 + 16 + 32, 1, 3, 3)  # order 3, 32 channels
    assert last_metric(trained, 'accuracy/top1') > DIGITS_BAR

# Copyright (c) mmhornet contributors. All rights reserved.
"""Mask R-CNN, Cascade Mask R-CNN and HorFPN trained and tested with
tools/train.py and tools/test.py on a generated COCO-format dataset."""
import os.path as osp
import pickle
import re
from typing import Dict, List

import numpy as np
import pycocotools.mask as mask_util
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmhornet.compat import load_checkpoint_file
from ..conftest import run_tool
from .conftest import CLASSES
from .tiny_config import tiny_config

CONFIGS = {
    'mask-rcnn': 'configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py',
    'cascade-mask-rcnn-gf':
    'configs/cascade_mask_rcnn/cascade-mask-rcnn_hornet-t-gf_fpn_3x_coco.py',
    'horfpn-gf': 'configs/mask_rcnn/mask-rcnn_hornet-s_horfpn-gf_1x_coco.py',
}
STATS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def coco_stats(predictions: List[dict], ann_file: str) -> Dict[str, float]:
    """Box and mask AP of dumped predictions, evaluated here with
    pycocotools as mmdet's CocoMetric is configured (max 100/300/1000
    detections), rounded to 3 decimals as it reports them."""
    gt = COCO(ann_file)
    cat_ids = gt.getCatIds(catNms=list(CLASSES))
    results = {'bbox': [], 'segm': []}
    for pred in predictions:
        instances = pred['pred_instances']
        for box, score, label, mask in zip(instances['bboxes'].tolist(),
                                           instances['scores'].tolist(),
                                           instances['labels'].tolist(),
                                           instances['masks'].numpy()):
            common = dict(
                image_id=pred['img_id'],
                category_id=cat_ids[label],
                score=score)
            x1, y1, x2, y2 = box
            results['bbox'].append(
                dict(common, bbox=[x1, y1, x2 - x1, y2 - y1]))
            rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
            rle['counts'] = rle['counts'].decode()
            results['segm'].append(dict(common, segmentation=rle))
    stats = {}
    for iou_type, dets in results.items():
        assert dets, 'the model predicted nothing'
        evaluator = COCOeval(gt, gt.loadRes(dets), iou_type)
        evaluator.params.catIds = cat_ids
        evaluator.params.maxDets = [100, 300, 1000]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        for name, value in zip(STATS, evaluator.stats[:6]):
            stats[f'coco/{iou_type}_{name}'] = round(float(value), 3)
    return stats


@pytest.mark.parametrize('name', list(CONFIGS))
def test_train_then_test_with_coco_metrics(name, tiny_coco, tmp_path):
    config = tiny_config(CONFIGS[name], tiny_coco, str(tmp_path))
    work_dir = tmp_path / 'work'
    run_tool(['tools/train.py', config, '--work-dir', str(work_dir)])
    checkpoint = load_checkpoint_file(str(work_dir / 'epoch_1.pth'))
    # 8 training images, 2 per batch
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (1, 4)
    assert checkpoint['meta']['dataset_meta']['classes'] == CLASSES

    out_file, show_dir = tmp_path / 'preds.pkl', tmp_path / 'vis'
    result = run_tool([
        'tools/test.py', config,
        str(work_dir / 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(out_file), '--show-dir',
        str(show_dir)
    ])
    last_line = result.stdout.strip().splitlines()[-1]
    metrics = {
        key: float(value)
        for key, value in re.findall(r'(coco/\w+): (-?[\d.]+)', last_line)
    }
    assert set(metrics) == {
        f'coco/{t}_{s}'
        for t in ('bbox', 'segm')
        for s in STATS
    }, last_line
    assert all(-1 <= value <= 1 for value in metrics.values())

    with open(out_file, 'rb') as f:
        predictions = pickle.load(f)
    assert sorted(p['img_id'] for p in predictions) == [1, 2, 3, 4]
    for pred in predictions:
        instances = pred['pred_instances']
        assert instances['masks'].shape[1:] == (64, 80)  # original size
        assert len(instances['bboxes']) <= 20  # test_cfg.rcnn.max_per_img
    ann_file = osp.join(tiny_coco, 'annotations/val.json')
    assert metrics == coco_stats(predictions, ann_file)
    assert len(list(show_dir.glob('*.jpg'))) == 4  # boxes and masks drawn


def test_dist_train_with_syncbn_heads_on_cpu(tiny_coco, tmp_path):
    """Cascade Mask R-CNN (SyncBN in its bbox heads) trains in two gloo
    processes: SyncBN becomes BN and each process sees half the data."""
    from ..test_tools.test_dist import run_dist
    config = tiny_config(CONFIGS['cascade-mask-rcnn-gf'], tiny_coco,
                         str(tmp_path))
    work_dir = tmp_path / 'work'
    result = run_dist(
        'dist_train.sh',
        [config, '2', '--work-dir', str(work_dir)])
    log = result.stdout + result.stderr
    assert 'SyncBN needs GPUs: using BN instead' in log
    assert 'Epoch(train) [1][2/2]' in log  # 8 images, 2 per batch, 2 procs
    checkpoint = load_checkpoint_file(str(work_dir / 'epoch_1.pth'))
    assert checkpoint['meta']['iter'] == 2
    assert 'roi_head.bbox_head.0.shared_convs.0.bn.running_mean' in (
        checkpoint['state_dict'])

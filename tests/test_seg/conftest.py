# Copyright (c) mmhornet contributors. All rights reserved.
"""A tiny ADE20K-format dataset and one real training run on it."""
import os
import os.path as osp
import subprocess
from typing import List

import numpy as np
import pytest
from PIL import Image

from ..conftest import REPO_ROOT, run_tool

SEG_CONFIG = osp.join(REPO_ROOT, 'tests', 'data',
                      'upernet_hornet-nano_tiny-ade.py')
HORFPN_CONFIG = osp.join(REPO_ROOT, 'tests', 'data',
                         'upernet-horfpn-gf_hornet-nano_tiny-ade.py')
TRAIN_ITERS = 40
# ADE20K label values of the tiny dataset (0 is "other", ignored as ADE20K
# does): the background is "wall" (1, class 0 after ADE20KDataset's
# reduce_zero_label), rectangles are "building" (2), "sky" (3) and "floor"
# (4), each drawn in its own colour.
COLOURS = {
    1: (128, 128, 128),
    2: (200, 40, 40),
    3: (40, 200, 40),
    4: (40, 40, 200)
}
HEIGHT, WIDTH = 64, 96


def make_ade_split(root: str, split: str, count: int, seed: int) -> None:
    """Write ``count`` noisy 96x64 images (jpg) with coloured rectangles and
    their ADE20K-style label maps (png), under ``images/<split>`` and
    ``annotations/<split>``."""
    rng = np.random.default_rng(seed)
    image_dir = osp.join(root, 'images', split)
    label_dir = osp.join(root, 'annotations', split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(label_dir, exist_ok=True)
    for i in range(count):
        label = np.ones((HEIGHT, WIDTH), dtype=np.uint8)
        for value in (2, 3, 4):
            h, w = rng.integers(16, 40), rng.integers(16, 48)
            y, x = rng.integers(0, HEIGHT - h), rng.integers(0, WIDTH - w)
            label[y:y + h, x:x + w] = value
        label[:2] = 0  # a strip of "other": ignored by training and metric
        image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.int16)
        for value, colour in COLOURS.items():
            image[label == value] = colour
        image += rng.integers(-25, 26, size=image.shape, dtype=np.int16)
        name = f'ADE_{split}_{i:08d}'
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(
            osp.join(image_dir, name + '.jpg'), quality=95)
        Image.fromarray(label).save(osp.join(label_dir, name + '.png'))


@pytest.fixture(scope='session')
def tiny_ade(tmp_path_factory) -> str:
    """An ADEChallengeData2016-style folder: 8 training and 4 validation
    images."""
    root = str(tmp_path_factory.mktemp('tiny-ade'))
    make_ade_split(root, 'training', 8, seed=0)
    make_ade_split(root, 'validation', 4, seed=1)
    return root


def run_seg_tool(args: List[str]) -> subprocess.CompletedProcess:
    """``run_tool`` with one OpenMP thread: these models are too small to
    gain from a second thread, and on a shared 2-core machine a busy
    neighbour process makes two-thread OpenMP runs stall (measured: the
    tiny training takes 13 s with one thread, 37 s with two)."""
    return run_tool(args, env={'OMP_NUM_THREADS': '1'})


def seg_data_options(root: str) -> List[str]:
    """``--cfg-options`` pointing the dataloaders at ``root``."""
    return [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ]


@pytest.fixture(scope='session')
def seg_trained_run(tiny_ade, tmp_path_factory) -> str:
    """A work dir with the checkpoint of a real tools/train.py run of the
    tiny segmentation config."""
    work_dir = str(tmp_path_factory.mktemp('seg-train'))
    result = run_seg_tool([
        'tools/train.py', SEG_CONFIG, '--work-dir', work_dir, '--cfg-options',
        *seg_data_options(tiny_ade)
    ])
    with open(osp.join(work_dir, 'train_stdout.txt'), 'w') as f:
        f.write(result.stdout + result.stderr)
    return work_dir

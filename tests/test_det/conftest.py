# Copyright (c) mmhornet contributors. All rights reserved.
import json
import os
import os.path as osp
from typing import List

import numpy as np
import pytest
from PIL import Image, ImageDraw

CLASSES = ('square', 'disc', 'triangle')
COLOURS = ((230, 40, 40), (40, 230, 40), (40, 40, 230))


def _shape_polygon(kind: int, x: float, y: float, size: float) -> List[float]:
    """A flat [x1, y1, x2, y2, ...] outline of a square, disc or triangle
    of ``size`` pixels with its top-left corner at (x, y)."""
    if kind == 0:
        points = [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
    elif kind == 1:
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        radius = size / 2
        points = [(x + radius + radius * np.cos(a),
                   y + radius + radius * np.sin(a)) for a in angles]
    else:
        points = [(x + size / 2, y), (x + size, y + size), (x, y + size)]
    return [float(round(c, 2)) for point in points for c in point]


def make_coco_split(root: str, split: str, num_images: int, seed: int) -> str:
    """Write ``num_images`` 80x64 images of one to three coloured shapes on
    noise, with their COCO instance annotations (polygon masks).

    Returns:
        str: The annotation file, relative to ``root``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        width, height = 80, 64
        canvas = Image.fromarray(
            rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8))
        draw = ImageDraw.Draw(canvas)
        for slot in range(int(rng.integers(1, 4))):
            kind = int(rng.integers(0, 3))
            size = float(rng.integers(16, 28))
            x = slot * 26 + float(rng.integers(0, 26 - 16 + 1))
            x = min(x, width - size - 1)
            y = float(rng.integers(0, int(height - size)))
            polygon = _shape_polygon(kind, x, y, size)
            draw.polygon(polygon, fill=COLOURS[kind])
            xs, ys = polygon[0::2], polygon[1::2]
            box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=kind + 1,
                    segmentation=[polygon],
                    bbox=box,
                    area=box[2] * box[3],
                    iscrowd=0))
        file_name = f'{split}_{image_id}.jpg'
        canvas.save(osp.join(root, split, file_name), quality=95)
        images.append(
            dict(id=image_id, file_name=file_name, width=width, height=height))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    ann_file = f'annotations/{split}.json'
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, ann_file), 'w') as f:
        json.dump(
            dict(
                images=images, annotations=annotations, categories=categories),
            f)
    return ann_file


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory) -> str:
    """A three-class COCO-format dataset: train (8 images) and val (4)."""
    root = str(tmp_path_factory.mktemp('tiny-coco'))
    make_coco_split(root, 'train', num_images=8, seed=0)
    make_coco_split(root, 'val', num_images=4, seed=1)
    return root


@pytest.fixture(scope='session')
def shapes_coco(tmp_path_factory) -> str:
    """The shapes of ``tiny_coco`` in numbers a detector can learn from:
    train (64 images) and val (16 images, 28 objects)."""
    root = str(tmp_path_factory.mktemp('shapes-coco'))
    make_coco_split(root, 'train', num_images=64, seed=0)
    make_coco_split(root, 'val', num_images=16, seed=1)
    return root

# Copyright (c) mmhornet contributors. All rights reserved.
"""Export scikit-learn's "digits" dataset as ImageNet-style folders.

The 1,797 8x8 scans of handwritten digits (shipped inside scikit-learn, so
nothing is downloaded) are upscaled to 32x32 grayscale PNGs and split with a
fixed, class-stratified rule: every fifth image of each class goes to val.

    OUT/train/<digit>/<index>.png   (1,442 images)
    OUT/val/<digit>/<index>.png     (355 images)

Example:
    python tools/dataset_converters/export_digits.py data/digits
"""
import argparse
import os
import os.path as osp

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def export_digits(out_dir: str, size: int = 32, val_every: int = 5) -> dict:
    """Write the dataset under ``out_dir``; return the image count per
    split."""
    digits = load_digits()
    counts = {'train': 0, 'val': 0}
    seen = np.zeros(10, dtype=int)
    for index, (image, label) in enumerate(zip(digits.images, digits.target)):
        split = 'val' if seen[label] % val_every == val_every - 1 else 'train'
        seen[label] += 1
        folder = osp.join(out_dir, split, str(label))
        os.makedirs(folder, exist_ok=True)
        pixels = (image * (255 / 16)).round().astype(np.uint8)
        Image.fromarray(
            pixels, mode='L').resize(
                (size, size),
                Image.BICUBIC).save(osp.join(folder, f'{index:04d}.png'))
        counts[split] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='output folder, e.g. data/digits')
    args = parser.parse_args()
    counts = export_digits(args.out_dir)
    print(f"Exported {counts['train']} training and {counts['val']} "
          f'validation images to {args.out_dir}')


if __name__ == '__main__':
    main()

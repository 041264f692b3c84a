# Copyright (c) mmhornet contributors. All rights reserved.
"""Convert an official HorNet checkpoint (raoyongming/HorNet) to mmhornet.

Classification checkpoints (``model`` / ``model_ema``) get mmpretrain's
keys; detection (mmdet 2.x) and segmentation (mmseg 0.x) checkpoints
(``state_dict``) get the keys of mmdet 3.x / mmseg 1.x with an mmhornet
backbone.

The source is a local file or an ``http(s)://`` URL; a URL is downloaded
into the torch hub cache (``<torch hub dir>/checkpoints``) and checked as
``load_from`` URLs are (:func:`mmhornet.compat.load_url`): a truncated or
unreadable download is not kept, and a file name carrying a sha256 prefix
(``name-<8 hex digits>.pth``) must match it.

Example:
    python tools/model_converters/hornet2mmhornet.py \
        hornet_tiny_7x7.pth hornet-tiny_converted.pth [--ema]
    python tools/model_converters/hornet2mmhornet.py \
        cascade_mask_rcnn_hornet_tiny_7x7_3x.pth converted.pth
    python tools/model_converters/hornet2mmhornet.py \
        https://example.org/hornet_tiny_7x7.pth converted.pth
"""
import argparse
import os
import os.path as osp
from typing import Any
from urllib.parse import urlparse

import torch

from mmhornet.compat import load_checkpoint_file, load_url
from mmhornet.models.utils import convert_official_hornet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official HorNet checkpoint (classification, '
        'detection or segmentation) to the keys of mmhornet.')
    parser.add_argument(
        'src',
        help='official checkpoint: a file, or an http(s):// URL (downloaded '
        'into the torch hub cache; a sha256 prefix in its file name, '
        'name-<8 hex digits>.pth, is checked)')
    parser.add_argument('dst', help='where to save the converted one')
    parser.add_argument(
        '--ema',
        action='store_true',
        help="convert the EMA weights ('model_ema') instead of 'model'")
    return parser.parse_args()


def is_url(src: str) -> bool:
    return urlparse(src).scheme in ('http', 'https')


def load_source(src: str) -> Any:
    """The checkpoint at ``src``, a file path or an http(s) URL."""
    if is_url(src):
        return load_url(src, map_location='cpu')
    return load_checkpoint_file(src, map_location='cpu')


def main() -> None:
    args = parse_args()
    checkpoint = load_source(args.src)
    source_key = 'model_ema' if args.ema else 'model'
    if source_key in checkpoint:
        state_dict = checkpoint[source_key]
    elif 'state_dict' in checkpoint and not args.ema:  # mmdet / mmseg
        source_key, state_dict = 'state_dict', checkpoint['state_dict']
    elif args.ema:
        raise KeyError(f"{args.src} has no 'model_ema' entry (it has "
                       f'{sorted(checkpoint)}); drop --ema to convert '
                       "'model'.")
    else:  # a bare state dict
        source_key, state_dict = None, checkpoint
    converted, unknown = convert_official_hornet(state_dict)
    if unknown:
        print(f'{len(unknown)} keys matched no rule and were kept unchanged: '
              f'{unknown}')
    source_name = osp.basename(
        urlparse(args.src).path if is_url(args.src) else args.src)
    meta = dict(converted_from=source_name, source_key=source_key)
    # mmcv 1.x kept the class names (and mmseg the palette) in meta; the
    # 2.0 toolboxes read them from meta['dataset_meta'].
    old_meta = checkpoint.get('meta') or {}
    dataset_meta = {
        new: list(old_meta[old])
        for old, new in (('CLASSES', 'classes'), ('PALETTE', 'palette'))
        if old_meta.get(old) is not None
    }
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=converted, meta=meta), args.dst)
    print(f'Converted {len(converted)} tensors from {args.src} '
          f"({source_key or 'state dict'}) to {args.dst}")


if __name__ == '__main__':
    main()

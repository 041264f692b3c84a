# Copyright (c) mmhornet contributors. All rights reserved.
"""Convert an official HorNet checkpoint (raoyongming/HorNet) to mmhornet.

Classification checkpoints (``model`` / ``model_ema``) get mmpretrain's
keys; detection (mmdet 2.x) and segmentation (mmseg 0.x) checkpoints
(``state_dict``) get the keys of mmdet 3.x / mmseg 1.x with an mmhornet
backbone.

The source is a local file or an ``http(s)://`` URL; a URL is downloaded
into the torch hub cache (``<torch hub dir>/checkpoints``) and checked as
``load_from`` URLs are (:func:`mmhornet.checkpoint.load_url`): a truncated or
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
from urllib.parse import urlparse

import torch

from mmhornet.checkpoint import convert_checkpoint, load_checkpoint


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


def main() -> None:
    args = parse_args()
    checkpoint = load_checkpoint(args.src, map_location='cpu')
    converted = convert_checkpoint(checkpoint,
                                   'model_ema' if args.ema else None)
    path = urlparse(args.src).path if '://' in args.src else args.src
    meta = dict(converted_from=osp.basename(path), **converted['meta'])
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=converted['state_dict'], meta=meta), args.dst)
    print(f"Converted {len(converted['state_dict'])} tensors from "
          f"{args.src} ({meta['source_key'] or 'state dict'}) to {args.dst}")


if __name__ == '__main__':
    main()

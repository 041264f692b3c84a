# Copyright (c) mmhornet contributors. All rights reserved.
"""Convert an official HorNet checkpoint (raoyongming/HorNet) to mmhornet.

Classification checkpoints (``model`` / ``model_ema``) get mmpretrain's
keys; detection (mmdet 2.x) and segmentation (mmseg 0.x) checkpoints
(``state_dict``) get the keys of mmdet 3.x / mmseg 1.x with an mmhornet
backbone.

Example:
    python tools/model_converters/hornet2mmhornet.py \
        hornet_tiny_7x7.pth hornet-tiny_converted.pth [--ema]
    python tools/model_converters/hornet2mmhornet.py \
        cascade_mask_rcnn_hornet_tiny_7x7_3x.pth converted.pth
"""
import argparse
import os
import os.path as osp

import torch

from mmhornet.compat import load_checkpoint_file
from mmhornet.models.utils import convert_official_hornet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official HorNet checkpoint (classification, '
        'detection or segmentation) to the keys of mmhornet.')
    parser.add_argument('src', help='official checkpoint (path or URL)')
    parser.add_argument('dst', help='where to save the converted one')
    parser.add_argument(
        '--ema',
        action='store_true',
        help="convert the EMA weights ('model_ema') instead of 'model'")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    checkpoint = load_checkpoint_file(args.src, map_location='cpu')
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
    meta = dict(converted_from=osp.basename(args.src), source_key=source_key)
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

# Copyright (c) mmhornet contributors. All rights reserved.
"""Convert an official HorNet checkpoint (raoyongming/HorNet) to mmhornet.

Example:
    python tools/model_converters/hornet2mmhornet.py \
        hornet_tiny_7x7.pth hornet-tiny_converted.pth [--ema]
"""
import argparse
import os
import os.path as osp

import torch

from mmhornet.compat import load_checkpoint_file
from mmhornet.models.utils import convert_official_hornet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official HorNet classification checkpoint '
        'to the keys of mmhornet / mmpretrain.')
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
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(
                converted_from=osp.basename(args.src), source_key=source_key)),
        args.dst)
    print(f'Converted {len(converted)} tensors from {args.src} '
          f"({source_key or 'state dict'}) to {args.dst}")


if __name__ == '__main__':
    main()

# Copyright (c) mmhornet contributors. All rights reserved.
"""Export a classifier or segmentor (or a detector's backbone and neck) to
ONNX, optionally verified in onnxruntime.

The graph takes a preprocessed ``(N, 3, H, W)`` float batch and returns
logits: ``(N, num_classes)`` for classifiers, ``(N, num_classes, H, W)`` for
segmentors, for the input size given by ``--shape`` (the batch may vary).
For detectors it returns the neck's feature maps (docs/deployment.md).
Global-filter (GF) models are exported with the filter as real matrix
products (no DFT op).

Example:
    python tools/deployment/pytorch2onnx.py hornet-tiny-gf_3rdparty_in1k \
        --output-file hornet-tiny-gf.onnx --dynamic-batch --verify
    python tools/deployment/pytorch2onnx.py CONFIG --checkpoint CKPT \
        --output-file upernet.onnx --shape 512 512 --verify
"""
import argparse
import os
import os.path as osp
import sys

import torch

from mmhornet.apis import get_model


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a classifier, segmentor or detector backbone '
        'and neck to ONNX')
    parser.add_argument('model', help='config file or model name')
    parser.add_argument(
        '--checkpoint',
        help="checkpoint path or URL; default: the model name's published "
        "weights or the config's load_from")
    parser.add_argument(
        '--output-file', required=True, help='the .onnx file to write')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width (default: the size the config tests '
        "at: a segmentor's crop size, the test pipeline's CenterCrop or "
        'fixed Resize; required for detectors)')
    parser.add_argument(
        '--dynamic-batch',
        action='store_true',
        help='let the batch size vary (any model)')
    parser.add_argument(
        '--opset', type=int, help="ONNX opset (torch's default)")
    parser.add_argument(
        '--verify',
        action='store_true',
        help='run the file in onnxruntime on a random input and fail above '
        '1e-5 (classifiers) or 1e-4 (segmentors, detector features) '
        'relative difference')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmhornet.deploy import export_onnx, verify_onnx
    from mmhornet.deploy.export import eval_input_shape
    model = get_model(args.model, pretrained=args.checkpoint or True)
    shape = tuple(args.shape) if args.shape else eval_input_shape(model.cfg)
    os.makedirs(osp.dirname(osp.abspath(args.output_file)), exist_ok=True)
    export_onnx(
        model,
        args.output_file,
        shape=shape,
        dynamic_batch=args.dynamic_batch,
        opset=args.opset)
    print(f'Exported {args.model} at {shape[0]}x{shape[1]} to '
          f'{args.output_file}')
    if args.verify:
        batch = 2 if args.dynamic_batch else 1
        try:
            error = verify_onnx(model, args.output_file, shape, batch)
        except AssertionError as failure:
            sys.exit(f'Verification failed: {failure}')
        print(f'Verified in onnxruntime: max relative difference {error:.3g}')


if __name__ == '__main__':
    torch.manual_seed(0)
    main()

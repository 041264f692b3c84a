# Copyright (c) mmhornet contributors. All rights reserved.
"""Export configs with random weights and check onnxruntime against
PyTorch: the parity table of docs/deployment.md.

Layer scales are drawn from U(0.5, 1) instead of their 1e-6 initial value,
so that every block changes the output (with 1e-6 an error inside a block
would not show). Each graph is exported with a dynamic batch and checked
at batch 2.

Example:
    python tools/deployment/verify_archs.py                      # all eleven
    python tools/deployment/verify_archs.py \
        configs/upernet/upernet_hornet-t-gf_8xb2-160k_ade20k-512x512.py
"""
import argparse
import glob
import os.path as osp
import tempfile
import time

import onnx
import torch

from mmhornet.apis import get_model
from mmhornet.deploy import export_onnx, verify_onnx
from mmhornet.deploy.export import (VERIFY_TOLERANCE, eval_input_shape,
                                    model_task)
from mmhornet.models.layers import LayerScale

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'configs',
        nargs='*',
        help='configs to check (default: the eleven ImageNet classifiers)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    configs = args.configs or sorted(
        c for c in glob.glob(osp.join(REPO_ROOT, 'configs/hornet/*.py'))
        if 'digits' not in c)
    print('| config | input | max relative difference | DFT nodes | '
          'export (s) |\n| --- | --- | --- | --- | --- |')
    for config in configs:
        torch.manual_seed(0)
        model = get_model(config)
        for module in model.modules():
            if isinstance(module, LayerScale):
                torch.nn.init.uniform_(module.weight, 0.5, 1.0)
        shape = eval_input_shape(model.cfg)
        with tempfile.TemporaryDirectory() as folder:
            path = osp.join(folder, 'model.onnx')
            start = time.perf_counter()
            export_onnx(model, path, shape, dynamic_batch=True)
            seconds = time.perf_counter() - start
            dft = sum(node.op_type == 'DFT'
                      for node in onnx.load(path).graph.node)
            error = verify_onnx(
                model, path, shape, batch_size=2, tolerance=float('inf'))
        verdict = ('ok' if error <= VERIFY_TOLERANCE[model_task(model)] else
                   'FAILED')
        print(
            f'| {osp.basename(config)} | {shape[0]}x{shape[1]} | '
            f'{error:.2g} ({verdict}) | {dft} | {seconds:.0f} |',
            flush=True)


if __name__ == '__main__':
    main()

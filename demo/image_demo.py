# Copyright (c) mmhornet contributors. All rights reserved.
"""Run a model on one image and print (and optionally draw) the result.

Classification prints the top class; detection draws boxes and masks;
segmentation paints the label map.

Example:
    python demo/image_demo.py demo/cat.jpg hornet-tiny_3rdparty_in1k
    python demo/image_demo.py demo/cat.jpg CONFIG --checkpoint CKPT \
        --show-dir out/
    python demo/image_demo.py demo/cat.jpg CONFIG --checkpoint model.onnx
"""
import argparse
from pprint import pformat
from typing import Any, Sequence

import numpy as np

from mmhornet.apis import get_model, inference_model


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Image demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('model', help='model name (see list_models) or config')
    parser.add_argument(
        '--checkpoint',
        help='checkpoint path or URL, or an .onnx file exported from the '
        'model (run by onnxruntime); default: the published weights of a '
        "model name, or the config's load_from")
    parser.add_argument(
        '--show-dir', help='save the visualised prediction in this folder')
    parser.add_argument('--device', default=None, help='e.g. cpu or cuda:0')
    return parser.parse_args()


def summarize(result: Any, classes: Sequence[str]) -> Any:
    """A printable summary of a classification, detection or segmentation
    result."""
    if isinstance(result, dict):  # classification
        return {
            k: v
            for k, v in result.items() if not isinstance(v, np.ndarray)
        }
    if 'pred_instances' in result:  # detection
        instances = result.pred_instances.cpu()
        return [
            dict(
                label=classes[int(label)] if classes else int(label),
                score=round(float(score), 4),
                bbox=[round(float(x), 1)
                      for x in bbox]) for label, score, bbox in zip(
                          instances.labels, instances.scores, instances.bboxes)
        ]
    # segmentation: the share of pixels of each predicted class
    labels, counts = np.unique(
        result.pred_sem_seg.data.cpu().numpy(), return_counts=True)
    return {
        (classes[int(label)] if classes else int(label)):
        round(float(count) / float(counts.sum()), 4)
        for label, count in zip(labels, counts)
    }


def main() -> None:
    args = parse_args()
    model = get_model(
        args.model, pretrained=args.checkpoint or True, device=args.device)
    kwargs = {} if args.show_dir is None else dict(show_dir=args.show_dir)
    result = inference_model(model, args.img, **kwargs)
    classes = model.dataset_meta.get('classes', ())
    print(pformat(summarize(result, classes)))


if __name__ == '__main__':
    main()

# Copyright (c) mmhornet contributors. All rights reserved.
"""The job behind ``make demo`` (a smoke run until the digits demo lands):
build a HorNet-T classifier with ``mmhornet.HorNet`` through mmpretrain's
registry and classify one synthetic image with it."""
import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def main() -> None:
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(type='mmhornet.HorNet', arch='tiny'),
                head=dict(
                    type='LinearClsHead', num_classes=1000, in_channels=512),
                data_preprocessor=dict(
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375],
                    to_rgb=True)))
    model.init_weights()
    model.eval()
    ramp = np.linspace(0, 255, 224, dtype=np.float32)
    image = np.stack([np.add.outer(ramp, ramp) / 2] * 3).astype(np.uint8)
    data = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(image)], data_samples=[DataSample()]))
    with torch.no_grad():
        sample = model(**data, mode='predict')[0]
    params = sum(p.numel() for p in model.parameters())
    print(f'HorNet-T classifier ({params:,} parameters, random weights): '
          f'class {sample.pred_label.item()} with score '
          f'{sample.pred_score.max().item():.4f}')


if __name__ == '__main__':
    main()

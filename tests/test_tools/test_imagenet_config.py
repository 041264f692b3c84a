# Copyright (c) mmhornet contributors. All rights reserved.
"""`python tools/test.py configs/hornet/hornet-tiny_8xb128_in1k.py CKPT`
as users run it, on a small ImageNet-format dataset."""
import os
import pickle
import re

import numpy as np
import pytest
import torch
from PIL import Image

from mmhornet.apis import ModelHub, get_model
from ..conftest import data_options, run_tool

CONFIG = 'configs/hornet/hornet-tiny_8xb128_in1k.py'
NAME = 'hornet-tiny_3rdparty_in1k'


@pytest.fixture(scope='module')
def imagenet_val(tmp_path_factory):
    """data_root with val/*.JPEG and meta/val.txt (labels 0..5)."""
    root = tmp_path_factory.mktemp('imagenet')
    (root / 'val').mkdir()
    (root / 'meta').mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):
        name = f'ILSVRC2012_val_{i:08d}.JPEG'
        image = rng.integers(0, 255, size=(80, 96, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / 'val' / name)
        lines.append(f'{name} {i}')
    (root / 'meta' / 'val.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = get_model(NAME)
    path = tmp_path_factory.mktemp('ckpt') / 'hornet-tiny.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


def imagenet_options(root):
    return data_options(root) + [
        'test_dataloader.batch_size=3', 'test_dataloader.num_workers=0'
    ]


@pytest.mark.slow
def test_imagenet_config_with_local_checkpoint(imagenet_val, checkpoint,
                                               tmp_path):
    out = tmp_path / 'preds.pkl'
    result = run_tool([
        'tools/test.py', CONFIG, checkpoint, '--work-dir',
        str(tmp_path), '--out',
        str(out), '--cfg-options', *imagenet_options(imagenet_val)
    ])
    top1 = float(re.search(r'accuracy/top1: ([\d.]+)', result.stdout)[1])
    top5 = float(re.search(r'accuracy/top5: ([\d.]+)', result.stdout)[1])
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 6
    hits1 = sum(p['pred_label'].item() == p['gt_label'].item()
                for p in predictions)
    hits5 = sum(
        p['gt_label'].item() in p['pred_score'].topk(5).indices.tolist()
        for p in predictions)
    assert top1 == pytest.approx(100 * hits1 / 6, abs=1e-3)
    assert top5 == pytest.approx(100 * hits5 / 6, abs=1e-3)
    # The test pipeline is the published one: resize 256, crop 224.
    assert predictions[0]['img_shape'] == (224, 224)
    assert predictions[0]['ori_shape'] == (80, 96)


@pytest.mark.slow
def test_imagenet_config_with_the_published_url(imagenet_val, checkpoint,
                                                tmp_path):
    """The URL form of the command, served from the torch hub cache."""
    url = ModelHub.get(NAME).weights
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    os.symlink(checkpoint, cache / url.rsplit('/', 1)[1])
    result = run_tool([
        'tools/test.py', CONFIG, url, '--work-dir',
        str(tmp_path), '--cfg-options', *imagenet_options(imagenet_val)
    ],
                      env={'TORCH_HOME': str(tmp_path / 'torch')})
    assert re.search(r'accuracy/top1: [\d.]+', result.stdout)


def test_config_whose_data_root_is_missing(tmp_path, checkpoint):
    result = run_tool([
        'tools/test.py', CONFIG, checkpoint, '--work-dir',
        str(tmp_path), '--cfg-options',
        f'test_dataloader.dataset.data_root={tmp_path}/no-imagenet'
    ],
                      check=False)
    assert result.returncode != 0
    assert f'{tmp_path}/no-imagenet' in result.stderr
    assert 'test_dataloader.dataset.data_root' in result.stderr


@pytest.mark.parametrize('config,total_batch', [
    ('hornet-tiny_8xb128_in1k.py', 4096),
    ('hornet-tiny-gf_8xb128_in1k.py', 4096),
    ('hornet-small_8xb64_in1k.py', 4096),
    ('hornet-small-gf_8xb64_in1k.py', 4096),
    ('hornet-base_8xb64_in1k.py', 4096),
    ('hornet-base-gf_8xb64_in1k.py', 4096),
    ('hornet-large_8xb32_in21k.py', 4096),
    ('hornet-large-gf_8xb32_in21k.py', 4096),
    ('hornet-large_in21k-pre_8xb16_in1k-384px.py', 512),
    ('hornet-large-gf384_in21k-pre_8xb16_in1k-384px.py', 512),
])
def test_training_recipes_use_whole_batches_of_the_official_size(
        config, total_batch):
    """Eight GPUs times the batch times the accumulated steps give the
    official total batch (TRAINING.md), and, as the official loader, the
    last incomplete batch of an epoch is dropped (which also keeps every
    batch one shape for ``compile=True``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(f'configs/hornet/{config}')
    loader = cfg.train_dataloader
    assert loader.drop_last is True
    steps = cfg.optim_wrapper.get('accumulative_counts', 1)
    assert 8 * loader.batch_size * steps == total_batch

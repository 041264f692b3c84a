# Copyright (c) mmhornet contributors. All rights reserved.
"""``mmhornet.HorNetPretrained``: the 384-px fine-tuning configs start from
an official ImageNet-22k checkpoint, the 1k head from the 22k head's rows
that a row map names (as the official ``in1k_to_21k_map.pth``).

The checkpoints are made here: the official key layout (``model``,
``gnconv.pws``, bare ``gamma1``) with random weights, on a narrow HorNet of
the configs' stage layout (the real 21,841-class head)."""
import re
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from mmhornet.checkpoint import convert_official_hornet
from mmhornet.models import HorNet
from mmhornet.ops import resize_complex_weight
from ..conftest import REPO_ROOT

FINETUNE = {
    'large': 'hornet-large_in21k-pre_8xb16_in1k-384px.py',
    'large-gf384': 'hornet-large-gf384_in21k-pre_8xb16_in1k-384px.py',
}
BASE_DIM = 16  # the configs' stages and mixers, 1/12 of HorNet-L's width


def narrow(arch: str) -> dict:
    return dict(HorNet.arch_zoo[arch], base_dim=BASE_DIM, depths=[1, 1, 2, 1])


def official_22k_checkpoint(path, arch: str) -> 'OrderedDict':
    """Save an official-layout 22k classifier of ``arch`` at ``path``;
    return its weights with mmhornet's keys."""
    torch.manual_seed(0)
    backbone = HorNet(arch=narrow(arch))
    weights = OrderedDict(
        (f'backbone.{k}', v.clone()) for k, v in backbone.state_dict().items())
    weights['head.fc.weight'] = torch.randn(21841, BASE_DIM * 8)
    weights['head.fc.bias'] = torch.randn(21841)
    for key, value in weights.items():  # every tensor distinct from init
        if value.is_floating_point():
            value.uniform_(-1, 1)
    official = OrderedDict()
    for key, value in weights.items():
        key = key.replace('gnconv.projs.', 'gnconv.pws.')
        key = re.sub(r'\.gamma([12])\.weight$', r'.gamma\1', key)
        key = key.replace('backbone.norm3.', 'norm.')
        key = key.replace('head.fc.', 'head.')
        official[key.replace('backbone.', '')] = value
    converted, unknown = convert_official_hornet(official)
    assert unknown == [] and list(converted) == list(weights)
    torch.save({'model': official, 'epoch': 89}, path)
    return weights


def finetune_model(arch: str, checkpoint: str, rows: str,
                   **head_init) -> torch.nn.Module:
    """The fine-tuning config's classifier, narrowed, from ``checkpoint``."""
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/hornet/{FINETUNE[arch]}')
    model = cfg.model
    assert model.backbone.init_cfg.type == 'mmhornet.HorNetPretrained'
    assert model.head.init_cfg.rows == 'data/imagenet/in1k_to_21k_map.pth'
    model.backbone.arch = narrow(model.backbone.arch)
    model.head.in_channels = BASE_DIM * 8
    model.backbone.init_cfg.checkpoint = checkpoint
    model.head.init_cfg.update(checkpoint=checkpoint, rows=rows, **head_init)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(model)


@pytest.fixture(scope='module')
def official_7x7(tmp_path_factory):
    path = tmp_path_factory.mktemp('in21k') / 'hornet_large_7x7_22k.pth'
    return str(path), official_22k_checkpoint(path, 'large')


@pytest.fixture
def rows(tmp_path):
    path = tmp_path / 'in1k_to_21k_map.pth'
    index = torch.randperm(21841, generator=torch.Generator().manual_seed(1))
    torch.save(index[:1000], path)
    return str(path), index[:1000]


def test_finetuning_starts_from_22k_backbone_and_head_rows(official_7x7, rows):
    path, weights = official_7x7
    model = finetune_model('large', path, rows[0])
    model.init_weights()
    loaded = model.state_dict()
    assert set(loaded) == set(weights)
    for key, value in loaded.items():
        if key.startswith('backbone.'):
            assert torch.equal(value, weights[key]), key
    assert torch.equal(model.head.fc.weight,
                       weights['head.fc.weight'][rows[1]])
    assert torch.equal(model.head.fc.bias, weights['head.fc.bias'][rows[1]])
    # a list of indices works as well, and row 7 of the 1k head is class 7
    # of the map
    torch.save(rows[1].tolist(), rows[0])
    model = finetune_model('large', path, rows[0])
    model.head.init_weights()
    assert torch.equal(model.head.fc.weight[7],
                       weights['head.fc.weight'][rows[1][7]])


def test_gf384_finetuning_resizes_the_224_px_global_filters(tmp_path, rows):
    """As the official recipe, HorNet-L (GF) at 384 px starts from the 224-px
    22k HorNet-L (GF): its 14x8 / 7x4 filters become 24x13 / 12x7."""
    path = str(tmp_path / 'hornet_large_gf_22k.pth')
    weights = official_22k_checkpoint(path, 'large-gf')
    model = finetune_model('large-gf384', path, rows[0])
    model.init_weights()
    key = 'backbone.stages.3.0.gnconv.dwconv.complex_weight'
    source, loaded = weights[key], model.state_dict()[key]
    assert tuple(source.shape[1:3]) == (7, 4)
    assert tuple(loaded.shape[1:3]) == (12, 7)
    torch.testing.assert_close(loaded, resize_complex_weight(source, 12, 7))
    assert torch.equal(model.head.fc.bias, weights['head.fc.bias'][rows[1]])


def test_missing_row_map_is_a_clear_error(official_7x7, tmp_path):
    missing = tmp_path / 'data' / 'in1k_to_21k_map.pth'
    model = finetune_model('large', official_7x7[0], str(missing))
    with pytest.raises(FileNotFoundError) as error:
        model.init_weights()
    message = str(error.value)
    assert str(missing) in message
    assert 'in1k_to_21k_map.pth' in message and '21,841' in message
    assert 'github.com/raoyongming/HorNet' in message


def test_bad_rows_and_checkpoints_are_errors(official_7x7, rows, tmp_path):
    path, weights = official_7x7
    torch.save(torch.tensor([0, 21841]), tmp_path / 'out_of_range.pth')
    with pytest.raises(IndexError, match='rows 0..21841'):
        finetune_model('large', path,
                       str(tmp_path / 'out_of_range.pth')).head.init_weights()
    torch.save(rows[1][:999], tmp_path / 'short.pth')
    with pytest.raises(RuntimeError, match=r'size mismatch for fc.weight'):
        finetune_model('large', path,
                       str(tmp_path / 'short.pth')).head.init_weights()
    torch.save(torch.rand(1000), tmp_path / 'float.pth')
    with pytest.raises(ValueError, match='class indices'):
        finetune_model('large', path,
                       str(tmp_path / 'float.pth')).head.init_weights()
    # strict keys: a checkpoint without one backbone tensor does not load
    checkpoint = torch.load(path)
    del checkpoint['model']['stages.2.1.gamma2']
    torch.save(checkpoint, tmp_path / 'incomplete.pth')
    model = finetune_model('large', str(tmp_path / 'incomplete.pth'), rows[0])
    with pytest.raises(RuntimeError, match='stages.2.1.gamma2.weight'):
        model.backbone.init_weights()
    with pytest.raises(KeyError, match="no weights under 'neck.'"):
        finetune_model(
            'large', path, rows[0], prefix='neck.').head.init_weights()


def test_a_runner_trains_from_the_22k_weights(official_7x7, rows, tmp_path,
                                              tiny_folder_dataset):
    """mmengine's Runner (as tools/train.py) initialises the fine-tuning
    config from the 22k checkpoint and the row map, and nothing after that
    (load_from, EMA) overwrites them: with lr 0, the weights after a real
    training iteration are the checkpoint's."""
    from mmengine.runner import Runner
    path, weights = official_7x7
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/hornet/{FINETUNE["large"]}')
    cfg.model.backbone.arch = narrow('large')
    cfg.model.head.in_channels = BASE_DIM * 8
    cfg.model.backbone.init_cfg.checkpoint = path
    cfg.model.head.init_cfg.update(checkpoint=path, rows=rows[0])
    cfg.train_dataloader = dict(
        batch_size=24,
        num_workers=0,
        dataset=dict(
            type='CustomDataset',
            data_root=tiny_folder_dataset,
            data_prefix='train',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(32, 32)),
                dict(type='PackInputs')
            ]),
        sampler=dict(type='DefaultSampler', shuffle=False))
    cfg.merge_from_dict(
        dict(
            work_dir=str(tmp_path),
            param_scheduler=None,
            val_dataloader=None,
            val_cfg=None,
            val_evaluator=None,
            test_dataloader=None,
            test_cfg=None,
            test_evaluator=None,
            train_cfg=dict(max_epochs=1),
            optim_wrapper=dict(optimizer=dict(lr=0.))))
    # the Runner's default scope is dropped afterwards, so that later tests
    # that build unscoped types do not look them up in mmpretrain's
    # registries
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        runner = Runner.from_cfg(cfg)
        runner.train()
    assert runner.iter == 1
    model = runner.model
    assert torch.equal(model.backbone.stages[2][1].gamma2.weight,
                       weights['backbone.stages.2.1.gamma2.weight'])
    for key, value in model.state_dict().items():
        if key.startswith('backbone.'):
            assert torch.equal(value, weights[key]), key
    assert torch.equal(model.head.fc.bias, weights['head.fc.bias'][rows[1]])

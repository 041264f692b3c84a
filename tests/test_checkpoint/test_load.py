# Copyright (c) mmhornet contributors. All rights reserved.
"""One conversion for every checkpoint (official, mmcv 1.x, OpenMMLab 2.0,
bare) and one loader into a model."""
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from mmhornet.checkpoint import (convert_checkpoint, load_checkpoint,
                                 load_weights)


def official_dense() -> 'OrderedDict[str, torch.Tensor]':
    """Keys of an official (mmdet 2.x / mmseg 0.x) HorNet checkpoint."""
    return OrderedDict([
        ('backbone.stages.0.0.gamma1', torch.arange(4.)),
        ('backbone.stages.0.0.gnconv.pws.0.weight', torch.ones(4, 2, 1, 1)),
        ('decode_head.conv_seg.bias', torch.zeros(2)),
    ])


CONVERTED_KEYS = [
    'backbone.stages.0.0.gamma1.weight',
    'backbone.stages.0.0.gnconv.projs.0.weight', 'decode_head.conv_seg.bias'
]


def test_mmcv1_checkpoint_gets_the_keys_and_dataset_meta_of_2_0():
    checkpoint = dict(
        state_dict=official_dense(),
        meta=dict(
            CLASSES=('wall', 'sky'),
            PALETTE=[(120, 120, 120), (6, 230, 230)],
            mmseg_version='0.30.0'))
    converted = convert_checkpoint(checkpoint)
    assert list(converted['state_dict']) == CONVERTED_KEYS
    assert torch.equal(
        converted['state_dict']['backbone.stages.0.0.gamma1.weight'],
        torch.arange(4.))
    assert converted['meta'] == dict(
        source_key='state_dict',
        dataset_meta=dict(
            classes=['wall', 'sky'], palette=[[120, 120, 120], [6, 230, 230]]))


def test_openmmlab_2_0_and_bare_checkpoints_are_kept():
    state_dict = OrderedDict(w=torch.ones(2))
    meta = dict(dataset_meta=dict(classes=['a']), epoch=3)
    converted = convert_checkpoint(dict(state_dict=state_dict, meta=meta))
    assert converted['state_dict'] is state_dict
    assert converted['meta'] == dict(
        source_key='state_dict', dataset_meta=dict(classes=['a']))
    assert convert_checkpoint(state_dict) == dict(
        state_dict=state_dict, meta=dict(source_key=None))


def test_official_classification_weights_and_a_chosen_entry():
    official = dict(
        model={
            'head.bias': torch.zeros(3),
            'stages.0.0.gamma2': torch.ones(2)
        },
        model_ema={'head.bias': torch.ones(3)},
        epoch=299)
    converted = convert_checkpoint(official)
    assert list(converted['state_dict']) == [
        'head.fc.bias', 'backbone.stages.0.0.gamma2.weight'
    ]
    assert converted['meta'] == dict(source_key='model')
    # model_ema has no official-only key: nothing to convert
    ema = convert_checkpoint(official, 'model_ema')
    assert list(ema['state_dict']) == ['head.bias']
    with pytest.raises(KeyError, match="no 'model_ema' entry"):
        convert_checkpoint(dict(model=official['model']), 'model_ema')


def model_with(keys: dict) -> nn.Module:
    """A module whose parameters are ``keys`` (name -> shape), zeros."""
    root = nn.Module()
    for key, shape in keys.items():
        *path, name = key.split('.')
        module = root
        for part in path:
            if not hasattr(module, part):
                module.add_module(part, nn.Module())
            module = getattr(module, part)
        module.register_parameter(name, nn.Parameter(torch.zeros(shape)))
    return root


def net() -> nn.Module:
    return model_with({
        key: value.shape
        for key, value in zip(CONVERTED_KEYS,
                              official_dense().values())
    })


def test_load_weights_converts_and_is_strict(tmp_path):
    path = str(tmp_path / 'official.pth')
    buffer = HistoryBuffer()
    buffer.update(1.0)
    torch.save(
        dict(
            state_dict=official_dense(),
            meta=dict(CLASSES=('wall', 'sky')),
            message_hub=dict(log_scalars=dict(loss=buffer))), path)
    model = net()
    meta = load_weights(model, path)
    assert meta['dataset_meta'] == dict(classes=['wall', 'sky'])
    assert torch.equal(model.state_dict()[CONVERTED_KEYS[0]], torch.arange(4.))
    # a DataParallel prefix is dropped; a missing tensor is an error
    torch.save(
        dict(
            state_dict={
                f'module.{k}': v
                for k, v in zip(CONVERTED_KEYS[:2],
                                official_dense().values())
            }), path)
    with pytest.raises(RuntimeError, match='missing keys.*conv_seg.bias'):
        load_weights(net(), path)
    model = net()
    load_weights(model, path, strict=False)
    assert torch.equal(model.state_dict()[CONVERTED_KEYS[0]], torch.arange(4.))


def test_other_schemes_read_safely_and_change_nothing(tmp_path):
    """An mmengine scheme other than files and http(s) (here one
    registered for the test) reads an mmengine checkpoint with the
    allow-list, which is as before afterwards."""
    path = tmp_path / 'hub.pth'
    buffer = HistoryBuffer()
    buffer.update(2.0)
    torch.save(dict(message_hub=dict(loss=buffer)), path)

    def load_from_test_scheme(filename, map_location=None):
        return torch.load(
            str(tmp_path / filename[len('mmhornet-test://'):]), map_location)

    CheckpointLoader.register_scheme(
        'mmhornet-test://', load_from_test_scheme, force=True)
    # compared as sets: torch keeps the allow-list in a set, whose listed
    # order may change when entries are added and removed
    before = set(torch.serialization.get_safe_globals())
    loaded = load_checkpoint('mmhornet-test://hub.pth')
    assert loaded['message_hub']['loss'].current() == 2.0
    assert set(torch.serialization.get_safe_globals()) == before

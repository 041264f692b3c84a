# Copyright (c) mmhornet contributors. All rights reserved.
"""get_model / list_models / inference_model and the official converter."""
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmpretrain import get_model as pretrain_get_model
from mmpretrain.apis import ModelHub as PretrainModelHub

import mmhornet
from mmhornet.apis import get_model, inference_model, list_models
from mmhornet.checkpoint import convert_official_hornet, load_checkpoint_file
from mmhornet.models import HorNet
from ..conftest import run_tool

NAME = 'hornet-tiny_3rdparty_in1k'
PUBLISHED = [
    'hornet-base-gf_3rdparty_in1k', 'hornet-base_3rdparty_in1k',
    'hornet-small-gf_3rdparty_in1k', 'hornet-small_3rdparty_in1k',
    'hornet-tiny-gf_3rdparty_in1k', 'hornet-tiny_3rdparty_in1k'
]


def to_official(state_dict: dict) -> 'OrderedDict':
    """The inverse of the conversion, written from the official key list:
    what a checkpoint of raoyongming/HorNet holds under 'model'."""
    official = OrderedDict()
    for key, value in state_dict.items():
        key = key.replace('gnconv.projs.', 'gnconv.pws.')
        key = re.sub(r'\.gamma([12])\.weight$', r'.gamma\1', key)
        key = key.replace('backbone.norm3.', 'norm.')
        key = key.replace('head.fc.', 'head.')
        official[key.replace('backbone.', '')] = value
    return official


@pytest.fixture(scope='module')
def mmpretrain_checkpoint(tmp_path_factory):
    """A HorNet-T classifier checkpoint in mmpretrain's format (as released)
    with non-trivial random weights."""
    torch.manual_seed(0)
    model = pretrain_get_model(NAME)
    for name, param in model.named_parameters():
        if 'gamma' in name:
            param.data.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp('ckpt') / 'hornet-tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


def test_list_models():
    assert list_models('hornet-*_in1k') == PUBLISHED
    assert list_models('*tiny') == PUBLISHED[4:]
    assert list_models(task='Image Classification') == PUBLISHED
    detectors = [
        f'cascade-mask-rcnn_hornet-{size}_3rdparty_fpn_3x_coco'
        for size in ('b-gf', 'b', 'l-gf', 'l', 's-gf', 's', 't-gf', 't')
    ]
    assert list_models(task='Object Detection') == detectors
    assert list_models(task='Instance Segmentation') == detectors
    assert set(PUBLISHED + detectors) < set(list_models())
    assert mmhornet.list_models is list_models


def test_get_model_matches_mmpretrain_for_the_same_checkpoint(
        mmpretrain_checkpoint):
    ours = get_model(NAME, pretrained=mmpretrain_checkpoint)
    theirs = pretrain_get_model(NAME, pretrained=mmpretrain_checkpoint)
    assert isinstance(ours.backbone, HorNet)
    assert type(theirs.backbone).__module__.startswith('mmpretrain')
    assert not ours.training
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        expected = theirs(x)
        out = ours(x)
        feats = ours.extract_feat(x)
    assert out.shape == (1, 1000)
    assert ((out - expected).abs().max() / expected.abs().max()) < 1e-5
    assert feats[0].shape == (1, 512)
    assert len(ours._dataset_meta['classes']) == 1000
    # mmpretrain's own index still answers with its own model.
    assert PretrainModelHub.get(NAME).config.model.backbone.type == 'HorNet'


def test_overrides_and_device():
    model = get_model(
        NAME, device='cpu', backbone=dict(out_indices=(1, 3)), head=None)
    assert model.backbone.out_indices == [1, 3]
    feats = model.extract_feat(torch.rand(1, 3, 64, 64))
    assert [f.shape for f in feats] == [(1, 128), (1, 512)]


@pytest.mark.slow
def test_converted_official_checkpoint(mmpretrain_checkpoint, tmp_path):
    state_dict = load_checkpoint_file(mmpretrain_checkpoint)['state_dict']
    official = to_official(state_dict)
    assert 'stages.3.1.gnconv.pws.3.bias' in official
    ema = OrderedDict((k, v + 1) for k, v in official.items())
    ema['extra.counter'] = torch.tensor(1)
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save({'model': official, 'model_ema': ema, 'epoch': 299}, src)

    result = run_tool(
        ['tools/model_converters/hornet2mmhornet.py',
         str(src),
         str(dst)])
    assert 'matched no rule' not in result.stdout
    converted = load_checkpoint_file(str(dst))['state_dict']
    assert list(converted) == list(state_dict)
    model = get_model(NAME, pretrained=str(dst))
    reference = get_model(NAME, pretrained=mmpretrain_checkpoint)
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))

    # --ema converts 'model_ema'; the unknown key is reported and kept.
    result = run_tool([
        'tools/model_converters/hornet2mmhornet.py',
        str(src),
        str(dst), '--ema'
    ])
    assert "matched no rule and were kept unchanged: ['extra.counter']" in (
        result.stdout)
    converted = load_checkpoint_file(str(dst))['state_dict']
    assert torch.equal(converted['head.fc.bias'],
                       state_dict['head.fc.bias'] + 1)
    assert converted['extra.counter'].item() == 1


@pytest.mark.parametrize('arch', [
    'tiny', 'tiny-gf', 'small', 'small-gf', 'base', 'base-gf', 'base-gf384',
    'large', 'large-gf', 'large-gf384'
])
def test_official_layout_converts_and_loads_strictly(arch):
    """Every arch, the 384-px ones included (on the meta device)."""
    with torch.device('meta'):
        model = HorNet(arch=arch)
        head = torch.nn.Linear(model.dims[-1], 1000)
    full = OrderedDict(
        (f'backbone.{k}', v) for k, v in model.state_dict().items())
    full.update({f'head.fc.{k}': v for k, v in head.state_dict().items()})
    converted, unknown = convert_official_hornet(to_official(full))
    assert unknown == []
    assert list(converted) == list(full)
    backbone = {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }
    model.load_state_dict(backbone, strict=True, assign=True)


def test_inference_model_with_local_checkpoint(mmpretrain_checkpoint,
                                               tmp_path):
    image = tmp_path / 'image.png'
    from PIL import Image
    Image.fromarray(
        (np.random.rand(50, 70, 3) * 255).astype(np.uint8)).save(image)
    result = inference_model(
        NAME, str(image), pretrained=mmpretrain_checkpoint)
    assert set(result) >= {
        'pred_label', 'pred_score', 'pred_class', 'pred_scores'
    }
    assert result['pred_scores'].shape == (1000, )
    assert result['pred_score'] == pytest.approx(result['pred_scores'].max())
    assert result['pred_class'] == get_model(NAME)._dataset_meta['classes'][
        result['pred_label']]


def test_published_weights_come_from_the_hub_cache(mmpretrain_checkpoint,
                                                   tmp_path, monkeypatch):
    """pretrained=True uses the metafile URL through the torch hub cache,
    so a file placed there loads without any network."""
    url = mmhornet.apis.ModelHub.get(NAME).weights
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    (cache / url.rsplit('/', 1)[1]).write_bytes(
        open(mmpretrain_checkpoint, 'rb').read())
    model = get_model(NAME, pretrained=True)
    reference = get_model(NAME, pretrained=mmpretrain_checkpoint)
    assert torch.equal(model.head.fc.weight, reference.head.fc.weight)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Did you mean \['hornet-tiny_3rd"):
        get_model('hornet-tiny_3rdparty')
    with pytest.raises(FileNotFoundError, match='Checkpoint file not found'):
        get_model(NAME, pretrained=str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='Input image not found'):
        inference_model(get_model(NAME), str(tmp_path / 'missing.jpg'))
    with pytest.raises(FileNotFoundError, match='Config file not found'):
        get_model(str(tmp_path / 'missing.py'))
    # A checkpoint that does not fit the model is an error, not a warning.
    torch.save({'state_dict': {
        'backbone.stem.weight': torch.ones(1)
    }}, tmp_path / 'other.pth')
    with pytest.raises(RuntimeError, match='do not match exactly'):
        get_model(NAME, pretrained=str(tmp_path / 'other.pth'))

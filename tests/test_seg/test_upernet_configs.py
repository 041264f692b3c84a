# Copyright (c) mmhornet contributors. All rights reserved.
"""The ADE20K configs of configs/upernet: they load, their models build
with the published sizes, and they carry the official recipe."""
import glob
import os.path as osp

import mmengine.optim  # noqa: F401  (registers mmengine's schedulers)
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, DefaultScope
from mmseg.registry import MODELS
from modelindex.load_model_index import load as load_model_index

from mmhornet.apis import list_models
from mmhornet.models.layers import GlobalLocalFilter
from ..conftest import REPO_ROOT

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'upernet')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
T_CONFIG = osp.join(CONFIG_DIR, 'upernet_hornet-t_8xb2-160k_ade20k-512x512.py')
L_CONFIG = osp.join(CONFIG_DIR, 'upernet_hornet-l_8xb2-160k_ade20k-640x640.py')


def load(config: str) -> Config:
    cfg = Config.fromfile(config)
    assert 'custom_imports' not in cfg  # mmhornet.GNUPerHead is found
    return cfg


def build(cfg: Config) -> torch.nn.Module:
    """The model, without init_weights: nothing is downloaded."""
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def published() -> dict:
    """Config file name -> metafile model of configs/upernet/metafile.yml."""
    index = load_model_index(osp.join(REPO_ROOT, 'model-index.yml'))
    index.build_models_with_collections()
    return {
        osp.basename(m.config): m
        for m in index.models if m.in_collection == 'UPerNet-HorNet'
    }


def test_ten_configs_and_eight_published_models():
    names = [osp.basename(c) for c in CONFIGS]
    assert len(names) == 10
    models = published()
    assert sorted(models) == sorted(n for n in names if 'horfpn' not in n)
    for name, model in models.items():
        assert osp.isfile(osp.join(CONFIG_DIR, name))
        assert model.results[0].task == 'Semantic Segmentation'
        assert model.results[0].dataset == 'ADE20K'
        assert set(model.results[0].metrics) == {'mIoU', 'mIoU(ms+flip)'}
        crop = model.metadata.data['Crop Size']
        assert name.endswith(f'_ade20k-{crop}.py')
        # B and B-GF: no fine-tuned weights were published
        assert (model.weights is None) == ('hornet-b' in name)
    assert sorted(list_models(task='Semantic Segmentation')) == sorted(
        m.name for m in models.values())


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_builds_with_the_published_size(config):
    cfg = load(config)
    assert cfg.default_scope == 'mmseg'
    model = build(cfg)
    backbone = model.backbone
    assert type(backbone).__name__ == 'HorNet'
    assert backbone.out_indices == [0, 1, 2, 3]
    assert not backbone.gap_before_final_norm
    dims = backbone.dims
    assert list(cfg.model.decode_head.in_channels) == dims
    assert cfg.model.auxiliary_head.in_channels == dims[2]
    assert model.decode_head.num_classes == 150
    assert model.auxiliary_head.num_classes == 150
    assert cfg.train_dataloader.batch_size == 2  # 8 GPUs x 2 images
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    assert cfg.test_evaluator.type == 'IoUMetric'
    assert cfg.train_cfg.max_iters == 160000

    crop = 640 if config.endswith('640x640.py') else 512
    stride = 426 if crop == 640 else 341
    assert cfg.crop_size == (crop, crop)
    assert cfg.model.data_preprocessor.size == (crop, crop)
    assert dict(cfg.model.test_cfg) == dict(
        mode='slide', crop_size=(crop, crop), stride=(stride, stride))
    test_resize = cfg.test_pipeline[1]
    assert test_resize.scale == (4 * crop, crop)
    # the ratios 0.5-1.75 of the test scale, each with and without a flip
    scales, flips = cfg.tta_pipeline[1].transforms[:2]
    assert [t.scale
            for t in scales] == [(int(4 * crop * r), int(crop * r))
                                 for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)]
    assert [t.prob for t in flips] == [0., 1.]
    assert cfg.tta_model.type == 'SegTTAModel'

    gf = [m for m in backbone.modules() if isinstance(m, GlobalLocalFilter)]
    if osp.basename(config).split('_')[1].endswith('-gf'):  # GF backbone
        # stages 2 and 3 of every block: the official 24x13 / 12x7 filters
        assert len(gf) == backbone.depths[2] + backbone.depths[3]
        shapes = {tuple(m.complex_weight.shape[1:3]) for m in gf}
        assert shapes == {(24, 13), (12, 7)}
    else:
        assert gf == []
    assert backbone.with_cp == ('hornet-l-gf' in config)

    checkpoint = cfg.model.backbone.init_cfg
    assert checkpoint.type == 'Pretrained'
    assert checkpoint.prefix == 'backbone.'
    if '_hornet-l' in config:  # converted from the official 22k weights
        assert checkpoint.checkpoint.startswith('pretrained/hornet-large')
    else:
        arch = osp.basename(config).split('_')[1]
        size = dict(t='tiny', s='small', b='base')[arch.split('-')[1]]
        gf_name = '-gf' if '-gf' in arch else ''
        assert osp.basename(checkpoint.checkpoint).startswith(
            f'hornet-{size}{gf_name}_3rdparty_in1k_')

    models = published()
    if osp.basename(config) in models:
        # the official figures are rounded to millions
        params = sum(p.numel() for p in model.parameters())
        expected = models[osp.basename(config)].metadata.parameters
        assert round(params / 1e6) == expected / 1e6


@pytest.mark.parametrize('config,decay_rate,num_layers,clip', [
    ('upernet_hornet-t_8xb2-160k_ade20k-512x512.py', 0.9, 6, None),
    ('upernet_hornet-t-gf_8xb2-160k_ade20k-512x512.py', 0.9, 6, 1.0),
    ('upernet_hornet-s_8xb2-160k_ade20k-512x512.py', 0.9, 12, None),
    ('upernet_hornet-s-gf_8xb2-160k_ade20k-512x512.py', 0.9, 12, 1.0),
    ('upernet_hornet-b_8xb2-160k_ade20k-512x512.py', 0.9, 12, None),
    ('upernet_hornet-b-gf_8xb2-160k_ade20k-512x512.py', 0.9, 12, 1.0),
    ('upernet_hornet-l_8xb2-160k_ade20k-640x640.py', 0.8, 12, None),
    ('upernet_hornet-l-gf_8xb2-160k_ade20k-640x640.py', 0.8, 12, 0.1),
    ('upernet_hornet-s_horfpn_8xb2-160k_ade20k-512x512.py', 0.9, 12, None),
    ('upernet_hornet-s_horfpn-gf_8xb2-160k_ade20k-512x512.py', 0.9, 12, 0.1),
])
def test_optimizer_recipe_of_each_config(config, decay_rate, num_layers, clip):
    """The reference's per-config table (section 5)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    wrapper = cfg.optim_wrapper
    assert wrapper.constructor == 'mmhornet.LayerDecayOptimWrapperConstructor'
    assert dict(wrapper.optimizer) == dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05)
    assert dict(wrapper.paramwise_cfg) == dict(
        decay_rate=decay_rate, decay_type='stage_wise', num_layers=num_layers)
    if clip is None:
        assert wrapper.get('clip_grad') is None
    else:
        assert dict(wrapper.clip_grad) == dict(max_norm=clip, norm_type=2)
    drop_path = {
        't': 0.4,
        's': 0.3,
        'b': 0.4,
        'l': 0.4
    }[config.split('_hornet-')[1][0]]
    if 'hornet-b-gf' in config:
        drop_path = 0.5
    assert cfg.model.backbone.drop_path_rate == drop_path


@pytest.mark.parametrize('config,scales', [
    (T_CONFIG, [0.4783, 0.5314, 0.5905, 0.6561, 0.7290, 1.0]),
    (L_CONFIG, [0.0550, 0.0687, 0.0859, 0.1074, 0.1342, 1.0]),
])
def test_stage_wise_lr_of_a_built_model(config, scales):
    """The param groups of a real model: the scales the reference computed
    by executing the official constructor (downsampling layers, stages 0-3,
    then output norms and heads)."""
    cfg = load(config)
    model = build(cfg)
    with DefaultScope.overwrite_default_scope('mmseg'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    by_name = {}
    for group in wrapper.optimizer.param_groups:
        assert group['lr'] == pytest.approx(1e-4 * group['lr_scale'])
        no_decay = group['group_name'].endswith('no_decay')
        assert group['weight_decay'] == (0. if no_decay else 0.05)
        for name in group['param_names']:
            by_name[name] = group['lr_scale']
    assert len(by_name) == sum(1 for _ in model.parameters())

    def scale_of(prefix):
        found = {s for n, s in by_name.items() if n.startswith(prefix)}
        assert len(found) == 1, (prefix, found)
        return found.pop()

    got = [scale_of('backbone.downsample_layers.')]
    got += [scale_of(f'backbone.stages.{i}.') for i in range(4)]
    got += [scale_of('decode_head.')]
    assert got == pytest.approx(scales, abs=5e-5)
    for prefix in ('auxiliary_head.', 'backbone.norm0.', 'backbone.norm3.'):
        assert scale_of(prefix) == 1.0


def test_schedule_is_the_official_warmup_times_poly():
    """mmcv 1.x's `policy='poly', warmup='linear'` at every iteration: the
    lr of iteration i is 1e-4 * (1 - i / 160000), times the warmup factor
    1e-6 + (1 - 1e-6) * i / 1500 while i < 1500."""
    cfg = Config.fromfile(T_CONFIG)
    assert [s.type for s in cfg.param_scheduler] == ['LinearLR', 'PolyLR']
    assert all(s.by_epoch is False for s in cfg.param_scheduler)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))],
                                  lr=1e-4)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer))
        for s in cfg.param_scheduler
    ]
    worst = 0.
    checked = {}
    for i in range(cfg.train_cfg.max_iters):
        lr = optimizer.param_groups[0]['lr']
        expected = 1e-4 * (1 - i / 160000)
        if i < 1500:
            expected *= 1 - (1 - i / 1500) * (1 - 1e-6)
        worst = max(worst, abs(lr - expected) / expected)
        if i in (0, 750, 1500, 80000, 159999):
            checked[i] = lr
        for scheduler in schedulers:
            scheduler.step()
    assert worst < 1e-9
    assert checked[0] == pytest.approx(1e-10)
    assert checked[750] == pytest.approx(1e-4 * 0.5000005 * (1 - 750 / 160000))
    assert checked[1500] == pytest.approx(1e-4 * (1 - 1500 / 160000))
    assert checked[80000] == pytest.approx(0.5e-4)
    assert checked[159999] == pytest.approx(1e-4 / 160000)


def test_horfpn_heads():
    from mmhornet.models import gnConv
    from mmhornet.models.heads.gn_uper_head import GNUPerHead
    for name, gf in (('horfpn', False), ('horfpn-gf', True)):
        cfg = load(
            osp.join(CONFIG_DIR,
                     f'upernet_hornet-s_{name}_8xb2-160k_ade20k-512x512.py'))
        head = build(cfg).decode_head
        assert isinstance(head, GNUPerHead)
        gn = head.fpn_bottleneck[0]
        assert isinstance(gn, gnConv)
        assert gn.scale == 1.0 and gn.dims == [256, 512]  # order 2
        assert gn.proj_in.in_channels == 4 * 512
        assert isinstance(gn.dwconv, GlobalLocalFilter) == gf
        if gf:
            assert gn.dwconv.complex_weight.shape == (384, 32, 17, 2)
        else:  # 7x7 depth-wise over the 256 + 512 channels
            assert isinstance(gn.dwconv, torch.nn.Conv2d)
            assert gn.dwconv.kernel_size == (7, 7)
            assert gn.dwconv.groups == gn.dwconv.in_channels == 768


def test_imagenet_weights_load_into_the_backbone(tmp_path):
    """The configs' `Pretrained` init with prefix 'backbone.': an ImageNet
    HorNet-T (GF) classifier checkpoint (mmpretrain's keys, 14x8 / 7x4
    filters) fills the backbone; the filters are resized to 24x13 / 12x7."""
    from mmhornet.models import HorNet
    from mmhornet.ops import resize_complex_weight
    torch.manual_seed(0)
    imagenet = HorNet(arch='tiny-gf')
    state = {f'backbone.{k}': v for k, v in imagenet.state_dict().items()}
    state['head.fc.weight'] = torch.randn(1000, 512)
    checkpoint = str(tmp_path / 'hornet-tiny-gf_in1k.pth')
    torch.save(dict(state_dict=state, meta=dict()), checkpoint)

    cfg = load(
        osp.join(CONFIG_DIR,
                 'upernet_hornet-t-gf_8xb2-160k_ade20k-512x512.py'))
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    model = build(cfg)
    model.init_weights()
    ours = model.backbone.state_dict()
    for key, value in imagenet.state_dict().items():
        if key.endswith('complex_weight'):
            assert value.shape[1:3] in ((14, 8), (7, 4))
            size = (24, 13) if value.shape[1] == 14 else (12, 7)
            assert torch.allclose(ours[key],
                                  resize_complex_weight(value, *size))
        else:
            assert torch.equal(ours[key], value), key

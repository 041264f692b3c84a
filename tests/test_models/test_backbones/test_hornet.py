# Copyright (c) mmhornet contributors. All rights reserved.
import pytest
import torch
from mmcv.cnn.bricks import DropPath
from mmpretrain.models.backbones import HorNet as RefHorNet
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

from mmhornet.models import HorNet
from mmhornet.models.layers import GlobalLocalFilter

# A small arch with both mixers, for the tests that need no real size.
NANO = dict(
    base_dim=16,
    depths=[1, 1, 3, 1],
    orders=[2, 3, 4, 5],
    dw_cfg=[
        dict(type='DW', kernel_size=7),
        dict(type='DW', kernel_size=7),
        dict(type='GF', h=4, w=3),
        dict(type='GF', h=2, w=2)
    ])


def relative_error(actual, expected):
    return ((actual - expected).abs().max() /
            expected.abs().max().clamp_min(1e-12)).item()


def paired_models(arch, **kwargs):
    """mmpretrain's HorNet and ours with the same (random) weights."""
    torch.manual_seed(0)
    ref = RefHorNet(arch=arch, **kwargs)
    ref.init_weights()
    for name, param in ref.named_parameters():
        if 'gamma' in name:  # make the residual branches matter
            param.data.uniform_(0.5, 1.5)
    ours = HorNet(arch=arch, **kwargs)
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.eval()  # mmpretrain's HorNet.train() returns None, so no chaining
    return ref, ours.eval()


@pytest.mark.parametrize('arch,size', [
    ('tiny', (224, 224)),
    ('tiny-gf', (224, 224)),
    ('small-gf', (224, 224)),
    ('base', (224, 224)),
    ('tiny', (160, 256)),
    ('tiny-gf', (192, 288)),
])
def test_outputs_match_mmpretrain(arch, size):
    ref, ours = paired_models(
        arch, out_indices=(0, 1, 2, 3), drop_path_rate=0.2)
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        expected, actual = ref(x), ours(x)
    assert len(actual) == 4
    for a, e in zip(actual, expected):
        assert a.shape == e.shape
        assert relative_error(a, e) < 1e-5


def test_dense_outputs_match_mmpretrain():
    ref, ours = paired_models(
        'tiny-gf', out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        expected, actual = ref(x), ours(x)
    for i, (a, e) in enumerate(zip(actual, expected)):
        stride = 4 * 2**i
        assert a.shape == (1, 64 * 2**i, 96 // stride, 128 // stride)
        assert relative_error(a, e) < 1e-5


def test_classifier_state_dict_loads_strictly_and_matches():
    """An mmpretrain-format classifier (as released) loads into a classifier
    with ``mmhornet.HorNet`` and gives the same logits."""
    head = dict(type='LinearClsHead', num_classes=10, in_channels=128)
    torch.manual_seed(0)
    ref = PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='HorNet', arch=NANO, out_indices=-1),
            neck=None,
            head=head)).eval()
    ours = PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmhornet.HorNet', arch=NANO),
            neck=None,
            head=head)).eval()
    assert isinstance(ours.backbone, HorNet)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert relative_error(ours(x), ref(x)) < 1e-5


PUBLISHED_PARAMS = {
    'tiny': 22409512,
    'tiny-gf': 22991848,
    'small': 49528264,
    'small-gf': 50401768,
    'base': 87256680,
    'base-gf': 88421352,
    'large': 194542504,
    'large-gf': 196289512,
    'base-gf384': 92099560,
    'large-gf384': 201806824,
}


@pytest.mark.parametrize('arch', sorted(PUBLISHED_PARAMS))
def test_parameter_count_with_1k_head(arch):
    with torch.device('meta'):
        model = HorNet(arch=arch)
    head_params = model.dims[-1] * 1000 + 1000
    count = sum(p.numel() for p in model.parameters()) + head_params
    assert count == PUBLISHED_PARAMS[arch]


def test_official_global_filter_shapes():
    with torch.device('meta'):
        model = HorNet(arch='base-gf384')
    assert model.stages[2][0].gnconv.dwconv.complex_weight.shape == (480, 24,
                                                                     13, 2)
    assert model.stages[3][0].gnconv.dwconv.complex_weight.shape == (992, 12,
                                                                     7, 2)
    assert HorNet.arch_zoo['l-gf384'] is HorNet.arch_zoo['large-gf384']
    # T and S with the same filters (the ADE20K GF configs use them); the
    # parameter counts with a 1k head, as docs/backbone.md lists them
    for name, width, params in [('tiny-gf384', 64, 24830952),
                                ('s-gf384', 96, 53160424)]:
        arch = HorNet.arch_zoo[name]
        assert arch['base_dim'] == width
        assert arch['dw_cfg'] == HorNet.arch_zoo['large-gf384']['dw_cfg']
        with torch.device('meta'):
            model = HorNet(arch=name)
        head_params = model.dims[-1] * 1000 + 1000
        assert sum(p.numel()
                   for p in model.parameters()) + head_params == params


def test_global_filter_at_other_sizes_and_from_224_weights():
    """GF filters are resized at run time for other inputs, and at load
    time when 224-px weights go into a 384-px arch."""
    ref, ours = paired_models('tiny-gf')
    for size in [(256, 256), (320, 192)]:
        x = torch.randn(1, 3, *size)
        with torch.no_grad():
            assert relative_error(ours(x)[0], ref(x)[0]) < 1e-5
    torch.manual_seed(0)
    big = HorNet(
        arch=dict(
            HorNet.arch_zoo['t'],
            dw_cfg=[
                dict(type='DW', kernel_size=7),
                dict(type='DW', kernel_size=7),
                dict(type='GF', h=24, w=13),
                dict(type='GF', h=12, w=7)
            ]))
    big.load_state_dict(ref.state_dict(), strict=True)
    gf = big.stages[2][0].gnconv.dwconv
    assert isinstance(gf, GlobalLocalFilter)
    assert gf.complex_weight.shape == (240, 24, 13, 2)
    x = torch.randn(1, 3, 384, 384)
    with torch.no_grad():
        assert relative_error(big.eval()(x)[0], ref(x)[0]) < 1e-5


def test_out_indices_shapes_and_errors():
    model = HorNet(arch=NANO, out_indices=(0, -3, 3))
    assert model.out_indices == [0, 1, 3]
    outs = model(torch.randn(2, 3, 64, 64))
    assert [o.shape for o in outs] == [(2, 16), (2, 32), (2, 128)]
    assert [hasattr(model, f'norm{i}')
            for i in range(4)] == [True, True, False, True]
    dense = HorNet(
        arch=NANO, out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    outs = dense(torch.randn(1, 3, 64, 96))
    assert [o.shape for o in outs] == [(1, 16, 16, 24), (1, 32, 8, 12),
                                       (1, 64, 4, 6), (1, 128, 2, 3)]
    for bad in (4, -5):
        with pytest.raises(IndexError, match='out of range'):
            HorNet(arch=NANO, out_indices=(bad, ))


def test_arch_errors_are_clear():
    with pytest.raises(KeyError, match=r"Did you mean \['tiny'"):
        HorNet(arch='tinny')
    with pytest.raises(ValueError, match='exactly the keys'):
        HorNet(arch=dict(NANO, mlp_ratio=4))
    with pytest.raises(ValueError, match='one entry per stage'):
        HorNet(arch=dict(NANO, depths=[1, 1, 1]))
    with pytest.raises(ValueError, match='frozen_stages'):
        HorNet(arch=NANO, frozen_stages=5)


@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 2, 3, 4])
def test_frozen_stages(frozen_stages):
    model = HorNet(
        arch=NANO, out_indices=(0, 1, 2, 3), frozen_stages=frozen_stages)
    assert model.train() is model
    # What each value must freeze: the stem from 0 on, then stage i with
    # its downsampling layer and its output norm for every i < value.
    expected_frozen = set()
    if frozen_stages >= 0:
        expected_frozen.add('downsample_layers.0')
    for i in range(max(frozen_stages, 0)):
        expected_frozen |= {f'stages.{i}', f'norm{i}'}
        if i > 0:
            expected_frozen.add(f'downsample_layers.{i}')
    for name, param in model.named_parameters():
        owner = '.'.join(name.split('.')[:2]) if name.startswith(
            ('stages', 'downsample')) else name.split('.')[0]
        assert param.requires_grad == (owner not in expected_frozen), name
    for name, module in model.named_modules():
        owner = '.'.join(name.split('.')[:2]) if name.startswith(
            ('stages', 'downsample')) else name.split('.')[0]
        if owner in expected_frozen:
            assert not module.training, name
        elif name:
            assert module.training, name


@pytest.mark.parametrize('arch,size,use_layer_scale', [
    ('tiny', (64, 96), True),
    ('tiny-gf', (96, 64), True),
    (NANO, (64, 64), False),
])
def test_training_outputs_and_gradients_match_mmpretrain(
        arch, size, use_layer_scale):
    """Training mode, stochastic depth included (both draw the same masks
    from the same seed): outputs and every parameter's gradient agree."""
    ref, ours = paired_models(
        arch,
        out_indices=(1, 3),
        drop_path_rate=0.3,
        use_layer_scale=use_layer_scale)
    x = torch.randn(2, 3, *size)
    projections = None
    results = []
    for model in (ref, ours):
        model.train()
        torch.manual_seed(7)
        outs = model(x)
        if projections is None:
            projections = [torch.randn_like(o) for o in outs]
        sum((o * p).sum() for o, p in zip(outs, projections)).backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        results.append(([o.detach() for o in outs], grads))
    (ref_outs, ref_grads), (our_outs, our_grads) = results
    for a, e in zip(our_outs, ref_outs):
        assert relative_error(a, e) < 1e-5
    assert our_grads.keys() == ref_grads.keys()
    for name, grad in ref_grads.items():
        assert relative_error(our_grads[name], grad) < 1e-4, name


def test_channels_last_input_and_contiguous_dense_outputs():
    torch.manual_seed(0)
    model = HorNet(
        arch=NANO, out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = model(x)
        outs_cl = model(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(outs, outs_cl):
        assert a.is_contiguous() and b.is_contiguous()
        assert relative_error(b, a) < 1e-6


def test_with_cp_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = HorNet(arch=NANO, out_indices=(1, 3), drop_path_rate=0.2)
    checkpointed = HorNet(
        arch=NANO, out_indices=(1, 3), drop_path_rate=0.2, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    # A random projection: the outputs are normalised, so e.g. their sum of
    # squares would be constant and its gradients mere rounding noise.
    projections = [torch.randn(2, 32), torch.randn(2, 128)]
    results = []
    for model in (plain, checkpointed):
        model.train()
        torch.manual_seed(42)  # same drop-path masks
        loss = sum((o * p).sum() for o, p in zip(model(x), projections))
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        results.append((loss.detach(), grads))
    assert torch.allclose(results[0][0], results[1][0], rtol=1e-6)
    for name, grad in results[0][1].items():
        assert torch.allclose(
            grad, results[1][1][name], rtol=1e-5, atol=1e-7), name


def test_drop_path_and_layer_scale_settings():
    model = HorNet(arch=NANO, drop_path_rate=0.3, layer_scale_init_value=0.5)
    # stochastic depth is a DropPath module per block, as in mmpretrain
    rates = [
        block.drop_path.drop_prob for stage in model.stages for block in stage
        if isinstance(block.drop_path, DropPath)
    ]
    assert rates == pytest.approx(torch.linspace(0, 0.3, 6)[1:].tolist())
    assert isinstance(model.stages[0][0].drop_path, torch.nn.Identity)
    gamma = model.stages[0][0].gamma1.weight
    assert torch.all(gamma == 0.5)
    model.init_weights()  # the default init keeps the layer scales
    assert torch.all(model.stages[0][0].gamma1.weight == 0.5)
    plain = HorNet(arch=NANO, use_layer_scale=False)
    assert not any('gamma' in k for k in plain.state_dict())


def test_default_init_is_official():
    torch.manual_seed(0)
    model = HorNet(arch=NANO)
    model.init_weights()
    stem = model.downsample_layers[0][0]
    assert stem.bias.abs().max() == 0
    assert 0.015 < stem.weight.std() < 0.025  # trunc_normal(std=0.02)
    fc = model.stages[0][0].pwconv1
    assert 0.015 < fc.weight.std() < 0.025 and fc.bias.abs().max() == 0
    assert torch.all(model.stages[1][0].norm1.weight == 1)


def test_pretrained_init_with_prefix(tmp_path):
    torch.manual_seed(0)
    source = HorNet(arch=NANO)
    checkpoint = {
        'state_dict': {
            f'backbone.{k}': v
            for k, v in source.state_dict().items()
        },
        'meta': {}
    }
    checkpoint['state_dict']['head.fc.weight'] = torch.zeros(10, 128)
    path = tmp_path / 'classifier.pth'
    torch.save(checkpoint, path)
    model = HorNet(
        arch=NANO,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def official_layer_id(name: str) -> int:
    """``get_num_layer_layer_wise`` of the official code, num_layers=12."""
    if name.startswith('backbone.downsample_layers'):
        stage_id = int(name.split('.')[2])
        return {0: 0, 1: 2, 2: 3, 3: 12}[stage_id]
    if name.startswith('backbone.stages'):
        stage_id, block_id = map(int, name.split('.')[2:4])
        if stage_id in (0, 1):
            return stage_id + 1
        if stage_id == 2:
            return min(3 + block_id // 2, 11)
        return 12
    return 13


def test_layer_depth_follows_official_numbering():
    with torch.device('meta'):
        model = HorNet(arch='tiny', out_indices=(0, 1, 2, 3))
    seen = set()
    for name, _ in model.named_parameters():
        full = f'backbone.{name}'
        layer_id, num_layers = model.get_layer_depth(full, 'backbone.')
        assert num_layers == 14
        assert layer_id == official_layer_id(full), name
        seen.add(layer_id)
    assert seen == set(range(14))
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (13, 14)


@pytest.mark.parametrize('depths,ids', [
    ([1, 1, 5, 1], [0, 1, 2, 3, 3, 4, 4, 5, 6, 7]),
    ([2, 2, 2, 2], [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]),
])
def test_layer_depth_of_a_custom_arch_follows_its_depths(depths, ids):
    """The numbering is derived from the depths (deep-stage blocks paired),
    with no unused ids: stem, stages 0-3 block by block, then the head."""
    model = HorNet(
        arch=dict(
            base_dim=8,
            depths=depths,
            orders=[2, 2, 2, 2],
            dw_cfg=[dict(type='DW', kernel_size=7)] * 4))
    names = ['downsample_layers.0.0.weight'] + [
        f'stages.{i}.{b}.gnconv.proj_in.weight'
        for i, depth in enumerate(depths) for b in range(depth)
    ] + ['norm3.weight']
    num_ids = ids[-1] + 1
    assert [model.get_layer_depth(name) for name in names] == [(i, num_ids)
                                                               for i in ids]


@pytest.mark.slow
def test_torch_compile_matches_eager_with_global_filters():
    torch.manual_seed(0)
    model = HorNet(arch=NANO, out_indices=(0, 1, 2, 3)).eval()
    for name, param in model.named_parameters():
        if 'gamma' in name:
            param.data.fill_(1.0)
    x = torch.rand(2, 3, 64, 64)
    projections = [torch.randn(2, 16 * 2**i) for i in range(4)]

    def outputs_and_grads(forward):
        model.zero_grad()
        outs = forward(x)
        sum((o * p).sum() for o, p in zip(outs, projections)).backward()
        return outs, {n: p.grad.clone() for n, p in model.named_parameters()}

    eager_outs, eager_grads = outputs_and_grads(model)
    # Default settings, as mmengine's ``compile=True`` uses them.
    compiled = torch.compile(model)
    compiled_outs, compiled_grads = outputs_and_grads(compiled)
    for a, e in zip(compiled_outs, eager_outs):
        assert relative_error(a.detach(), e.detach()) < 1e-5
    with torch.no_grad():  # the inference graph (eager: fused Linear+GELU)
        for a, e in zip(compiled(x), model(x)):
            assert relative_error(a, e) < 1e-5
    for name, grad in eager_grads.items():
        assert relative_error(compiled_grads[name], grad) < 1e-4, name


def small_arch(mixers: str) -> dict:
    """HorNet-T's layout (orders 2-5, 7x7 or 7x7 + global filters) at a
    quarter of its width and depth."""
    dw, gf = dict(type='DW', kernel_size=7), dict(type='GF', h=4, w=3)
    return dict(
        base_dim=16,
        depths=[1, 1, 4, 1],
        orders=[2, 3, 4, 5],
        dw_cfg=[dw, dw, dw, dw] if mixers == '7x7' else [dw, dw, gf, gf])


@pytest.mark.cpu_isa
@pytest.mark.parametrize('mixers', ['7x7', 'gf'])
def test_bfloat16_autocast_error_is_no_larger_than_mmpretrains(mixers):
    """Under bfloat16 autocast the fast path stays as close to the float32
    result as mmpretrain's HorNet does on this CPU, whose bfloat16 arithmetic
    may be native or emulated (folding the layer scales into low-precision
    weights would double the error, so it is not done). A small model:
    emulated bfloat16 convolutions are slow."""
    ref, ours = paired_models(
        small_arch(mixers), out_indices=(3, ), drop_path_rate=0.1)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        exact = ref(x)[0]
        with torch.autocast('cpu', dtype=torch.bfloat16):
            ours_error = relative_error(ours(x)[0].float(), exact)
            ref_error = relative_error(ref(x)[0].float(), exact)
    assert 0 < ours_error <= 1.2 * ref_error

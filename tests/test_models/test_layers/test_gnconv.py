# Copyright (c) mmhornet contributors. All rights reserved.
import pytest
import torch
from mmpretrain.models.backbones.hornet import GlobalLocalFilter as RefGF
from mmpretrain.models.backbones.hornet import HorNetLayerNorm
from mmpretrain.models.backbones.hornet import gnConv as RefGnConv

from mmhornet.models.layers import GlobalLocalFilter, LayerNorm2d, gnConv
from mmhornet.ops import resize_complex_weight, spectral_filter
from mmhornet.registry import MODELS

DW = dict(type='DW', kernel_size=7)
GF = dict(type='GF', h=14, w=8)


def assert_close(actual, expected, rtol=1e-5):
    scale = expected.abs().max().clamp_min(1e-12)
    assert ((actual - expected).abs().max() / scale).item() < rtol


def test_layer_norm_2d_matches_reference_formula():
    torch.manual_seed(0)
    norm = LayerNorm2d(6)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, 6, 5, 7) * 3 + 1
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-6)
    expected = norm.weight[:, None, None] * expected + norm.bias[:, None, None]
    assert_close(norm(x), expected)
    ref = HorNetLayerNorm(6, eps=1e-6, data_format='channels_first')
    ref.load_state_dict(norm.state_dict())
    assert_close(norm(x), ref(x))


@pytest.mark.parametrize('order', [1, 2, 3, 4, 5])
@pytest.mark.parametrize('dw_cfg', [DW, GF], ids=['DW', 'GF'])
def test_gnconv_matches_mmpretrain(order, dw_cfg):
    torch.manual_seed(order)
    dim = 64
    ref = RefGnConv(dim, order=order, dw_cfg=dw_cfg, scale=1 / 3)
    ours = gnConv(dim, order=order, dw_cfg=dw_cfg, scale=1 / 3)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert ours.dims == [dim // 2**i for i in range(order)][::-1]
    # 28x28 -> spectrum 28x15: the GF filter is resized at run time.
    for size in [(14, 14), (28, 28), (12, 20)]:
        x = torch.randn(2, dim, *size)
        out = ours(x)
        assert out.shape == x.shape
        assert_close(out, ref(x))


def test_gnconv_changes_width_and_builds_from_registry():
    layer = MODELS.build(
        dict(type='gnConv', in_channels=48, out_channels=32, order=3))
    assert isinstance(layer, gnConv)
    out = layer(torch.randn(1, 48, 10, 10))
    assert out.shape == (1, 32, 10, 10)
    assert layer.proj_in.in_channels == 48
    assert layer.proj_in.out_channels == 64  # 2 * out_channels
    wide = gnConv(16, out_channels=8, order=2, mid_channels=32)
    assert wide(torch.randn(1, 16, 6, 6)).shape == (1, 8, 6, 6)
    assert wide.dims == [16, 32]


def test_gnconv_rejects_bad_settings():
    with pytest.raises(ValueError, match='order must be >= 1'):
        gnConv(8, order=0)
    with pytest.raises(ValueError, match='divisible by 8'):
        gnConv(20, order=4)
    with pytest.raises(ValueError, match="'DW'.*'GF'"):
        gnConv(8, order=2, dw_cfg=dict(type='Dilated'))
    with pytest.raises(ValueError, match='Unknown keys'):
        gnConv(8, order=2, dw_cfg=dict(type='DW', kernel=3))


def test_gnconv_scale_multiplies_mixer_output():
    torch.manual_seed(1)
    x = torch.randn(1, 16, 8, 8)
    base = gnConv(16, order=1, scale=1.0)
    half = gnConv(16, order=1, scale=0.5)
    half.load_state_dict(base.state_dict())
    # order 1: out = proj_out(p0 * s * dw(q)), linear in s up to the bias.
    bias = base.proj_out.bias[None, :, None, None]
    assert_close(half(x) - bias, 0.5 * (base(x) - bias))


def test_global_local_filter_matches_mmpretrain_and_resizes_on_load():
    torch.manual_seed(2)
    ref = RefGF(32, h=14, w=8)
    ours = GlobalLocalFilter(32, h=14, w=8)
    ours.load_state_dict(ref.state_dict())
    for size in [(14, 14), (20, 30)]:
        x = torch.randn(2, 32, *size)
        assert_close(ours(x), ref(x))

    # 224-px weights into a filter stored for 384 px (official loaders).
    big = GlobalLocalFilter(32, h=24, w=13)
    big.load_state_dict(ref.state_dict(), strict=True)
    expected = resize_complex_weight(ref.complex_weight.detach(), 24, 13)
    assert torch.equal(big.complex_weight.detach(), expected)
    x = torch.randn(1, 32, 24, 24)
    # At its own size the resized filter equals the run-time resize.
    assert_close(big(x), ref(x))


def test_global_local_filter_channel_interleave():
    layer = GlobalLocalFilter(4, h=3, w=2)
    with torch.no_grad():
        layer.complex_weight.zero_()  # global branch outputs zeros
    x = torch.randn(1, 4, 3, 3)
    out = layer.pre_norm(x)  # what the branches see
    local = layer.dw(out[:, :2])
    mixed = torch.stack([local, torch.zeros_like(local)],
                        2).reshape(1, 4, 3, 3)
    assert_close(layer(x), layer.post_norm(mixed))
    with pytest.raises(ValueError, match='even channel count'):
        GlobalLocalFilter(5)


@pytest.mark.parametrize('filter_size', [(4, 3), (3, 2)])
def test_spectral_filter_gradients_are_exact(filter_size):
    """Against finite differences in float64, also through the run-time
    resize of the filter (a 3x2 filter on a 4x3 spectrum)."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(
        3, *filter_size, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(spectral_filter, (x, weight))
    assert spectral_filter(x, weight).dtype == torch.float64
    half = spectral_filter(x.detach().bfloat16(), weight.detach().float())
    assert half.dtype == torch.float32


@pytest.mark.parametrize('size', [(14, 14), (30, 27)])
@pytest.mark.slow
def test_compiled_spectral_filter_is_the_fft_one(size, monkeypatch):
    """Compiled, the filter is the matrix form (2-D DFT matrices at 14x14,
    products along H and W at 30x27, with a resized filter): the values
    and gradients of eager ``torch.fft`` in float64; its DFT matrices are
    built once, as constants of the graph, not on every call."""
    from mmhornet.ops import global_filter as filter_module
    torch.manual_seed(0)
    x = torch.randn(2, 4, *size, dtype=torch.float64)
    weight = torch.randn(4, 14, 8, 2, dtype=torch.float64)
    results = []
    for fn in (spectral_filter, torch.compile(spectral_filter)):
        inputs = [t.clone().requires_grad_() for t in (x, weight)]
        out = fn(*inputs)
        out.pow(2).sum().backward()
        results.append((out.detach(), *(t.grad for t in inputs)))
    for eager, compiled in zip(*results):
        assert (compiled - eager).abs().max() < 1e-12 * eager.abs().max()

    built = []
    for name in ('_dft2_bases', '_dft_bases'):
        real = getattr(filter_module, name)
        monkeypatch.setattr(
            filter_module,
            name,
            lambda *args, real=real: built.append(args) or real(*args))
    compiled = torch.compile(lambda t: spectral_filter(t, weight))
    for _ in range(3):
        compiled(x)
    assert built == [size]

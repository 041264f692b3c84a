# Copyright (c) mmhornet contributors. All rights reserved.
"""The fused forward (mmhornet/models/layers/fused.py) computes what the
plain, paper-shaped forward computes: outputs and gradients of gnConv and
of HorNet blocks, 7x7 and global filter, with and without layer scale,
stochastic depth (same seed, same masks) and bfloat16 autocast."""
import pytest
import torch

from mmhornet.models.layers import HorNetBlock, gnConv, plain_forward
from mmhornet.ops import fast_paths_enabled

pytestmark = pytest.mark.cpu_isa

DW = dict(type='DW', kernel_size=7)
GF = dict(type='GF', h=6, w=4)  # a 6x6 spectrum, resized at run time


def run(module: torch.nn.Module, x: torch.Tensor, seed: int = 0) -> tuple:
    """Output and input/parameter gradients of ``module`` on ``x``."""
    module.zero_grad()
    x = x.clone().requires_grad_()
    torch.manual_seed(seed)
    out = module(x)
    (out.float() *
     torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters()}
    return out.detach().float(), x.grad.clone(), grads


def assert_same(fused: tuple, plain: tuple, tol: float) -> None:

    def close(a, b, name):
        error = (a - b).abs().max() / b.abs().max().clamp_min(1e-12)
        assert error < tol, f'{name}: relative error {error:.2e}'

    close(fused[0], plain[0], 'output')
    close(fused[1], plain[1], 'input grad')
    for name, grad in plain[2].items():
        close(fused[2][name], grad, name)


def test_fused_is_the_default_and_plain_forward_restores_it():
    assert fast_paths_enabled()
    with plain_forward():
        assert not fast_paths_enabled()
    assert fast_paths_enabled()


@pytest.mark.parametrize('dw_cfg', [DW, GF], ids=['7x7', 'gf'])
@pytest.mark.parametrize('scale', [1.0, 1 / 3])
def test_gnconv(dw_cfg, scale):
    torch.manual_seed(0)
    module = gnConv(16, 24, order=3, dw_cfg=dw_cfg, scale=scale)
    x = torch.randn(2, 16, 9, 10).contiguous(memory_format=torch.channels_last)
    fused = run(module, x)
    with plain_forward():
        plain = run(module, x)
    assert_same(fused, plain, 1e-5)


@pytest.mark.parametrize('dw_cfg', [DW, GF], ids=['7x7', 'gf'])
@pytest.mark.parametrize('layer_scale', [True, False])
def test_block_in_training_with_drop_path(dw_cfg, layer_scale):
    torch.manual_seed(0)
    block = HorNetBlock(
        16,
        order=3,
        dw_cfg=dw_cfg,
        drop_path_rate=0.5,
        use_layer_scale=layer_scale,
        layer_scale_init_value=0.7).train()
    x = torch.randn(8, 16, 9, 10).contiguous(memory_format=torch.channels_last)
    fused = run(block, x, seed=3)
    with plain_forward():
        plain = run(block, x, seed=3)
    assert_same(fused, plain, 1e-5)
    # the masks dropped some samples' branches and kept others
    kept = (fused[0] - x).flatten(1).abs().amax(1) > 0
    assert 0 < kept.sum() < len(kept)


@pytest.mark.parametrize('dw_cfg', [DW, GF], ids=['7x7', 'gf'])
def test_block_under_bfloat16_autocast(dw_cfg):
    """Under autocast the layer scales multiply the branches in float32
    (not folded into bfloat16 weights): the fused block is as close to the
    float32 result as the plain one."""
    torch.manual_seed(0)
    block = HorNetBlock(
        32, order=3, dw_cfg=dw_cfg, layer_scale_init_value=0.7).eval()
    x = torch.randn(2, 32, 12,
                    12).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        with plain_forward():
            exact = block(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            fused = block(x)
            with plain_forward():
                plain = block(x)
    assert fused.dtype == plain.dtype
    branches = (exact - x).abs().max()
    fused_error = (fused.float() - exact).abs().max() / branches
    plain_error = (plain.float() - exact).abs().max() / branches
    assert plain_error < 2e-2  # bfloat16: 8 bits of mantissa
    assert fused_error < 1.5 * plain_error

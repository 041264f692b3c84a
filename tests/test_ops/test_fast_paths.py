# Copyright (c) mmhornet contributors. All rights reserved.
"""The one switch of the fast paths, and the probes that keep each fast path
to the CPUs that have it (mmhornet/ops/fast_paths.py, linear_gelu.py)."""
import os

import pytest
import torch
import torch.nn.functional as F

from mmhornet.models import HorNet
from mmhornet.ops import (depthwise_conv2d, fast_paths_enabled, linear_gelu,
                          onednn_linear_gelu_supported, ops_available,
                          plain_forward)

pytestmark = pytest.mark.cpu_isa

AVX2_CAPPED = os.environ.get('ONEDNN_MAX_CPU_ISA', '').upper() == 'AVX2'


def test_plain_forward_switches_every_fast_path_off():
    """Inside plain_forward() no custom operator runs: the depth-wise 7x7
    backward is PyTorch's, Linear + GELU the two plain ops (bitwise)."""
    assert ops_available()
    x = torch.randn(2, 8, 9, 9, requires_grad=True)
    weight = torch.randn(8, 1, 7, 7, requires_grad=True)
    linear = torch.nn.Linear(8, 32)
    hidden = torch.randn(2, 3, 4, 8)
    assert type(depthwise_conv2d(
        x, weight, None, 3).grad_fn).__name__ == ('_DepthwiseConv7x7Backward')
    with plain_forward():
        assert not fast_paths_enabled()
        out = depthwise_conv2d(x, weight, None, 3)
        assert type(out.grad_fn).__name__ == 'ConvolutionBackward0'
        with torch.no_grad():
            assert torch.equal(
                linear_gelu(hidden, linear), F.gelu(linear(hidden)))
    assert fast_paths_enabled()


def test_plain_forward_restores_the_switch_after_an_error():
    with pytest.raises(KeyError):
        with plain_forward():
            raise KeyError('inside')
    assert fast_paths_enabled()


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_linear_gelu_runs_on_this_cpu_and_equals_the_plain_ops(dtype):
    """Whatever the CPU offers, linear_gelu runs (the fused kernel where the
    probe found it, else the plain ops) and equals GELU(linear(x))."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(32, 96)
    x = torch.randn(2, 5, 7, 32)
    with torch.no_grad(), torch.autocast(
            'cpu', dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        ours = linear_gelu(x, linear)
        plain = F.gelu(linear(x))
    assert ours.dtype == plain.dtype == dtype
    if onednn_linear_gelu_supported(dtype):
        tolerance = 1e-5 if dtype == torch.float32 else 2e-2
        torch.testing.assert_close(
            ours.float(), plain.float(), rtol=tolerance, atol=tolerance)
    else:  # the plain operators, bitwise
        assert torch.equal(ours, plain)


def test_linear_gelu_with_autograd_is_the_plain_ops():
    torch.manual_seed(0)
    linear = torch.nn.Linear(8, 16)
    x = torch.randn(2, 3, 8, requires_grad=True)
    linear_gelu(x, linear).sum().backward()
    expected, = torch.autograd.grad(F.gelu(linear(x)).sum(), x)
    assert torch.equal(x.grad, expected)


def test_the_probe_is_run_once_per_dtype():
    onednn_linear_gelu_supported(torch.float32)
    hits = onednn_linear_gelu_supported.cache_info().hits
    onednn_linear_gelu_supported(torch.float32)
    assert onednn_linear_gelu_supported.cache_info().hits == hits + 1


def test_float32_fused_linear_gelu_is_found_on_x86():
    """oneDNN has a float32 fused inner product on every x86-64 CPU: a probe
    that found none there would be broken (other architectures may lack
    it, and then the plain ops run)."""
    if os.uname().machine not in ('x86_64', 'AMD64'):
        pytest.skip('oneDNN float32 kernels checked on x86-64 only')
    assert onednn_linear_gelu_supported(torch.float32)


@pytest.mark.skipif(
    not AVX2_CAPPED, reason='runs under ONEDNN_MAX_CPU_ISA=AVX2')
def test_the_avx2_caps_take_effect():
    """In the capped run (make test-avx2) oneDNN and ATen act as on an
    AVX2-only CPU: no bfloat16 inner product, AVX2 kernels."""
    assert torch.backends.cpu.get_cpu_capability() == 'AVX2'
    assert not onednn_linear_gelu_supported(torch.bfloat16)


def test_hornet_bfloat16_inference_and_training_run_on_this_cpu():
    """HorNet (7x7 and GF, fast paths on) infers and takes a training step
    under bfloat16 autocast on this CPU: the fused Linear + GELU crashed on
    AVX2-only CPUs before it was probed."""
    dw, gf = dict(type='DW', kernel_size=7), dict(type='GF', h=4, w=3)
    for dw_cfg in ([dw] * 4, [dw, dw, gf, gf]):
        torch.manual_seed(0)
        model = HorNet(
            arch=dict(
                base_dim=16,
                depths=[1, 1, 1, 1],
                orders=[2, 3, 4, 5],
                dw_cfg=dw_cfg),
            out_indices=(3, ))
        x = torch.rand(2, 3, 64, 64)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            with torch.no_grad():
                inferred = model.eval()(x)[-1]
            trained = model.train()(x)[-1]
        trained.float().sum().backward()
        assert torch.isfinite(inferred.float()).all()
        assert all(
            torch.isfinite(p.grad).all() for p in model.parameters()
            if p.grad is not None)

# Copyright (c) mmhornet contributors. All rights reserved.
"""The C++ depth-wise weight gradient and the convolution that uses it."""
import pytest
import torch
import torch.nn.functional as F

from mmhornet.ops import depthwise_conv2d, ops_available

pytestmark = pytest.mark.cpu_isa

SHAPES = [
    (2, 48, 9, 10),  # whole 16-channel blocks
    (3, 40, 14, 14),  # a partial last block
    (1, 7, 5, 3),  # fewer channels than a block, maps smaller than 7x7
    (2, 992, 2, 2),  # HorNet-T stage 4 at 64x64 input
]


def reference_grads(x, weight, bias, grad):
    """Gradients of F.conv2d computed in float64."""
    leaves = [
        t.detach().double().requires_grad_() for t in (x, weight, bias)
        if t is not None
    ]
    out = F.conv2d(
        leaves[0],
        leaves[1],
        leaves[2] if bias is not None else None,
        padding=3,
        groups=x.shape[1])
    return out, torch.autograd.grad(out, leaves, grad.double())


def relative_error(value, reference):
    return ((value.double() - reference).abs().max() /
            reference.abs().max()).item()


def test_ops_are_built():
    assert ops_available(), (
        'mmhornet.ops._ext is missing: reinstall with `pip install '
        '--no-build-isolation -e .` (make install does)')


def cpu_runs(isa: str) -> bool:
    """Whether this CPU runs the operator's version for ``isa``."""
    try:
        torch.ops.mmhornet.depthwise_conv7x7_weight_grad(
            torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1), isa)
    except RuntimeError as error:
        assert 'this CPU lacks' in str(error)
        return False
    return True


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('channels_last', [True, False])
@pytest.mark.parametrize('isa', ['auto', 'avx512', 'avx2', 'default'])
def test_weight_grad_matches_float64(shape, channels_last, isa):
    if not cpu_runs(isa):
        pytest.skip(f'this CPU does not run the {isa} version')
    torch.manual_seed(0)
    memory_format = (
        torch.channels_last if channels_last else torch.contiguous_format)
    x = torch.randn(shape).contiguous(memory_format=memory_format)
    grad = torch.randn(shape).contiguous(memory_format=memory_format)
    weight = torch.randn(shape[1], 1, 7, 7)
    _, (_, reference) = reference_grads(x, weight, None, grad)
    result = torch.ops.mmhornet.depthwise_conv7x7_weight_grad(x, grad, isa)
    assert result.shape == weight.shape and result.dtype == torch.float32
    assert relative_error(result, reference) < 1e-6


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('with_bias', [True, False])
def test_depthwise_conv2d_gradients(shape, with_bias):
    torch.manual_seed(0)
    x = torch.randn(shape).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    weight = torch.randn(shape[1], 1, 7, 7, requires_grad=True)
    bias = torch.randn(shape[1], requires_grad=True) if with_bias else None
    out = depthwise_conv2d(x, weight, bias, padding=3)
    assert type(out.grad_fn).__name__ == '_DepthwiseConv7x7Backward'
    grad = torch.randn(shape)
    leaves = [t for t in (x, weight, bias) if t is not None]
    grads = torch.autograd.grad(out, leaves, grad)
    reference_out, reference = reference_grads(x, weight, bias, grad)
    assert relative_error(out, reference_out) < 1e-6
    for value, expected in zip(grads, reference):
        assert relative_error(value, expected) < 1e-6


# One bfloat16 rounding step, relative (8 significant bits): the error an
# exactly computed result has once rounded to bfloat16.
BFLOAT16_STEP = 2.**-8


def assert_no_less_accurate(ours, pytorchs, exact) -> None:
    """Each of our values is as close to the float64 result as PyTorch's
    own on this CPU (whose bfloat16 kernels differ between CPUs: native,
    emulated), or within one bfloat16 rounding step of it."""
    for name, value, reference, expected in zip(
        ('output', 'input grad', 'weight grad', 'bias grad'), ours, pytorchs,
            exact):
        assert value.dtype == reference.dtype, name
        error = relative_error(value, expected)
        bound = max(1.5 * relative_error(reference, expected), BFLOAT16_STEP)
        assert error <= bound, f'{name}: {error:.2e} > {bound:.2e}'


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('input_dtype', [torch.bfloat16, torch.float32])
def test_depthwise_conv2d_under_bfloat16_autocast(shape, input_dtype):
    """Under autocast the convolution runs in bfloat16 as F.conv2d would,
    and the float32 parameters get gradients rounded as autocast's casts
    round them: as accurate as PyTorch's, measured against float64 sums of
    the same bfloat16 inputs."""
    torch.manual_seed(0)
    x0 = torch.randn(shape).contiguous(memory_format=torch.channels_last)
    weight0 = torch.randn(shape[1], 1, 7, 7) * 0.1
    bias0 = torch.randn(shape[1])
    grad = torch.randn(shape, dtype=torch.bfloat16)
    results = []
    for conv in (depthwise_conv2d, F.conv2d):
        x, weight, bias = (
            t.clone().requires_grad_() for t in (x0, weight0, bias0))
        with torch.autocast('cpu', torch.bfloat16):
            kwargs = dict(padding=3)
            if conv is F.conv2d:
                kwargs['groups'] = shape[1]
            out = conv(x.to(input_dtype), weight, bias, **kwargs)
        results.append(
            [out, *torch.autograd.grad(out, (x, weight, bias), grad)])
    ours, pytorchs = results
    assert type(ours[0].grad_fn).__name__ == '_DepthwiseConv7x7Backward'
    assert ours[0].dtype == torch.bfloat16
    out, grads = reference_grads(*(t.bfloat16() for t in (x0, weight0, bias0)),
                                 grad)
    assert_no_less_accurate(ours, pytorchs, [out, *grads])


def test_depthwise_conv2d_weight_only_gradient():
    x = torch.randn(2, 16, 8, 8)
    weight = torch.randn(16, 1, 7, 7, requires_grad=True)
    out = depthwise_conv2d(x, weight, None, padding=3)
    (grad_weight, ) = torch.autograd.grad(out.sum(), weight)
    _, (_, reference) = reference_grads(x, weight, None, torch.ones_like(out))
    assert relative_error(grad_weight, reference) < 1e-6


def test_mixed_dtypes_without_autocast_are_refused_as_by_conv2d():
    x = torch.randn(1, 16, 6, 6, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(16, 1, 7, 7, requires_grad=True)
    with pytest.raises(RuntimeError) as ours:
        depthwise_conv2d(x, weight, None, padding=3)
    with pytest.raises(RuntimeError) as expected:
        F.conv2d(x, weight, padding=3, groups=16)
    assert str(ours.value) == str(expected.value)


@pytest.mark.parametrize('case', ['no_grad', 'float64', '3x3'])
def test_depthwise_conv2d_falls_back_to_conv2d(case):
    dtype = torch.float64 if case == 'float64' else torch.float32
    size = 3 if case == '3x3' else 7
    x = torch.randn(1, 16, 6, 6, dtype=dtype, requires_grad=True)
    weight = torch.randn(16, 1, size, size, dtype=dtype, requires_grad=True)
    padding = (size - 1) // 2
    with torch.set_grad_enabled(case != 'no_grad'):
        out = depthwise_conv2d(x, weight, None, padding)
        expected = F.conv2d(x, weight, None, padding=padding, groups=16)
    assert out.grad_fn is None or 'Depthwise' not in type(out.grad_fn).__name__
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_weight_grad_rejects_bad_input():
    x = torch.randn(1, 16, 6, 6)
    with pytest.raises(RuntimeError, match='float32 tensors expected'):
        torch.ops.mmhornet.depthwise_conv7x7_weight_grad(x.double(), x)
    with pytest.raises(RuntimeError, match='of one shape'):
        torch.ops.mmhornet.depthwise_conv7x7_weight_grad(x, x[:, :8])
    with pytest.raises(RuntimeError, match="isa must be 'auto'"):
        torch.ops.mmhornet.depthwise_conv7x7_weight_grad(x, x, 'sse9')


def test_without_the_operator_it_is_conv2d(monkeypatch):
    """An install without the C++ operators (MMHORNET_WITH_OPS=0) runs
    PyTorch's convolution and its backward."""
    from mmhornet.ops import depthwise_conv
    monkeypatch.setattr(depthwise_conv, '_ext', None)
    assert not ops_available()
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    weight = torch.randn(16, 1, 7, 7, requires_grad=True)
    out = depthwise_conv2d(x, weight, None, padding=3)
    assert 'Convolution' in type(out.grad_fn).__name__
    torch.testing.assert_close(
        out, F.conv2d(x, weight, padding=3, groups=16), rtol=0, atol=0)


def test_traced_depthwise_conv_is_a_convolution():
    """FLOP counters and ONNX export trace the model: they must see the
    convolution, not an opaque autograd function."""
    from mmhornet.models.layers import DepthwiseConv2d
    module = DepthwiseConv2d(16)
    traced = torch.jit.trace(module, torch.randn(1, 16, 6, 6))
    kinds = {node.kind() for node in traced.graph.nodes()}
    assert 'aten::_convolution' in kinds
    assert 'prim::PythonOp' not in kinds


def test_a_broken_build_warns(monkeypatch):
    """An extension built for another torch fails to load: that is said,
    and HorNet runs without it."""
    import importlib
    import sys

    import mmhornet.ops
    from mmhornet.ops import depthwise_conv

    class BrokenBuild:

        def find_spec(self, name, path=None, target=None):
            if name == 'mmhornet.ops._ext':
                raise ImportError('undefined symbol: _ZN3c10...')
            return None

    monkeypatch.delattr(mmhornet.ops, '_ext')
    monkeypatch.delitem(sys.modules, 'mmhornet.ops._ext')
    monkeypatch.setattr(sys, 'meta_path', [BrokenBuild()] + sys.meta_path)
    try:
        with pytest.warns(UserWarning, match='failed to load.*undefined'):
            reloaded = importlib.reload(depthwise_conv)
        assert not reloaded.ops_available()
    finally:
        monkeypatch.undo()
        importlib.reload(depthwise_conv)
    assert depthwise_conv.ops_available()


def test_depthwise_conv2d_of_a_bfloat16_model():
    """A model converted to bfloat16 (no autocast) gets outputs and
    gradients as accurate as F.conv2d's."""
    torch.manual_seed(0)
    shape = (2, 40, 9, 10)
    tensors = [
        t.to(torch.bfloat16) for t in (torch.randn(shape).contiguous(
            memory_format=torch.channels_last), torch.randn(40, 1, 7, 7) * 0.1,
                                       torch.randn(40))
    ]
    grad = torch.randn(shape, dtype=torch.bfloat16)
    results = []
    for ours in (True, False):
        x, weight, bias = (t.clone().requires_grad_() for t in tensors)
        if ours:
            out = depthwise_conv2d(x, weight, bias, padding=3)
            assert type(out.grad_fn).__name__ == '_DepthwiseConv7x7Backward'
        else:
            out = F.conv2d(x, weight, bias, padding=3, groups=40)
        results.append(
            [out, *torch.autograd.grad(out, (x, weight, bias), grad)])
    assert results[0][0].dtype == torch.bfloat16
    out, grads = reference_grads(*tensors, grad)
    assert_no_less_accurate(*results, [out, *grads])

# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/misc/gpu_check.py (``make gpu-check``): its pieces on the CPU, and
its parts on a CUDA GPU (marked ``gpu``, skipped without one)."""
import onnx
import pytest
import torch

from ..conftest import TEST_CONFIG, run_tool, tiny_hornet_arch
from .conftest import gpu_check

CUDA = torch.cuda.is_available()
#: The tiny arch of the CPU tests: 7x7 stages, then a global filter on the
#: stage-3 map (32 px input: 2x2 map, 2x2 spectrum).
TINY_GF = tiny_hornet_arch((2, 2), (1, 1))


def fake_results():
    R = gpu_check.PartResult
    return [
        R('mmcv CUDA ops', 'PASS', 'compiled with CUDA 13.0', 1.2),
        R('DDP SyncBN 2 GPUs', 'SKIP', 'needs 2 GPUs, this machine has 1', 0.),
        R('TensorRT HorNet-T', 'FAIL', 'x' * 130, 61.),
    ]


def test_table_has_every_part_and_the_counts():
    table = gpu_check.format_table(fake_results(), 'GPU 0: NVIDIA H100')
    lines = table.splitlines()
    assert lines[0] == 'GPU 0: NVIDIA H100'
    assert any(line.startswith('mmcv CUDA ops      PASS') for line in lines)
    assert any('SKIP' in line and 'needs 2 GPUs' in line for line in lines)
    # a long detail wraps under the detail column
    fail = next(i for i, line in enumerate(lines) if 'FAIL' in line)
    assert lines[fail + 1].strip() == 'x' * 30
    assert lines[-1] == '3 parts: 1 passed, 1 failed, 1 skipped'


def test_a_failing_part_is_reported_and_the_others_run(capsys):

    def broken():
        raise ValueError('bad\nthing')

    def absent():
        raise gpu_check.SkipPart('not here')

    results = [
        gpu_check.run_part('a', broken),
        gpu_check.run_part('b', absent),
        gpu_check.run_part('c', lambda x: f'ok {x}', 3)
    ]
    assert [(r.status, r.detail)
            for r in results] == [('FAIL', 'ValueError: bad thing'),
                                  ('SKIP', 'not here'), ('PASS', 'ok 3')]
    assert 'Traceback' in capsys.readouterr().err


def test_comparisons():
    ref = torch.tensor([1., -4., 2.], dtype=torch.float64)
    assert gpu_check.relative_error(ref + 4e-6, ref) == pytest.approx(1e-6)
    assert gpu_check.relative_l2([ref * 1.01], [ref]) == pytest.approx(0.01)
    assert gpu_check.within(dict(a=1e-6), dict(a=1e-5)) == 'a 1e-06 <= 1e-05'
    with pytest.raises(AssertionError, match='a 0.001 > 1e-05'):
        gpu_check.within(dict(a=1e-3), dict(a=1e-5))
    with pytest.raises(AssertionError):  # NaN never passes
        gpu_check.within(dict(a=float('nan')), dict(a=1.))
    with pytest.raises(AssertionError, match='shape'):
        gpu_check.relative_error(ref[:2], ref)


@pytest.mark.slow
@pytest.mark.skipif(CUDA, reason='checks the message without CUDA')
def test_without_cuda_it_says_so_and_exits_2():
    result = run_tool(['tools/misc/gpu_check.py'], check=False)
    assert result.returncode == 2
    assert 'needs a CUDA GPU' in result.stderr
    assert 'nothing was checked' in result.stderr


def test_mmcv_ops_part_runs_on_cpu():
    # The CUDA comparison's code path, with the CPU as the "device".
    detail = gpu_check.check_mmcv_ops('cpu')
    assert 'nms keeps the same' in detail and 'roi_align_grad 0' in detail


@pytest.mark.slow
def test_parity_part_on_cpu_with_float16_autocast():
    """The parity code with the CPU as the device: float32 is exact, and
    float16 autocast stays within its bound with every FFT in float32."""
    detail = gpu_check.check_parity(
        TINY_GF, 'cpu', size=32, dtypes=('float16', ))
    assert detail.startswith('2x32px: float32 0 <= 1e-05, float16 ')
    assert 'FFTs/pass in float32' in detail


def test_fft_runs_in_float32_under_float16_autocast():
    """The global filter's FFTs take float32 under autocast (cuFFT's half
    precision would need power-of-two sizes: 224 px gives 14x8 spectra)."""
    from mmhornet.ops import spectral_filter
    x = torch.randn(2, 4, 14, 14).half()
    weight = torch.randn(4, 14, 8, 2)
    with torch.autocast('cpu', dtype=torch.float16), \
            gpu_check.record_fft_dtypes() as seen:
        out = spectral_filter(x, weight)
    assert seen == [torch.float32]
    expected = spectral_filter(x.float(), weight)
    assert torch.equal(out.float(), expected)


def test_layer_scales_are_set_so_that_blocks_count():
    model = gpu_check.hornet_classifier(TINY_GF, layer_scale=0.5)
    gammas = [
        m.weight for m in model.modules() if type(m).__name__ == 'LayerScale'
    ]
    assert gammas and all(bool((g == 0.5).all()) for g in gammas)
    assert not model.training


@pytest.mark.slow
def test_float16_export_keeps_layer_norms_in_float32(tmp_path):
    """The float16 graph for TensorRT: float16 convolutions and matrix
    products, every LayerNormalization on float32, float32 in and out; and
    the float16 model it is exported from matches float32 on the CPU."""
    model = gpu_check.hornet_classifier(TINY_GF)
    path = gpu_check.export_float16_onnx(
        model, str(tmp_path / 'fp16.onnx'), size=32)
    graph = onnx.shape_inference.infer_shapes(onnx.load(path)).graph
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in [*graph.value_info, *graph.input, *graph.output]
    }
    types.update({t.name: t.data_type for t in graph.initializer})
    FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    norms = [n for n in graph.node if n.op_type == 'LayerNormalization']
    convs = [n for n in graph.node if n.op_type == 'Conv']
    assert len(norms) >= 10 and convs
    assert all(types[n.input[0]] == FLOAT for n in norms)
    assert all(types[n.input[1]] == FLOAT16 for n in convs)
    assert types[graph.input[0].name] == FLOAT
    assert types[graph.output[0].name] == FLOAT

    inputs = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(inputs, mode='tensor')
        actual = gpu_check.Float16Logits(model)(inputs)
    assert actual.dtype == torch.float32
    assert gpu_check.relative_error(actual, expected) < 5e-3


def test_benchmark_output_is_summarised():
    output = ('inference   mmhornet:  2000.00 img/s   64.0 ms/batch of 128\n'
              'inference mmpretrain:  1000.00 img/s  128.0 ms/batch of 128\n'
              'training step   mmhornet:   500.50 img/s  ...\n'
              'training step mmpretrain:   250.25 img/s  ...\n')
    assert gpu_check.summarise_benchmark(output) == (
        'infer 2000/1000 img/s (2.00x), train 500/250 img/s (2.00x)')
    with pytest.raises(AssertionError, match='no training step speeds'):
        gpu_check.summarise_benchmark(output.split('training')[0])


@pytest.mark.slow
def test_benchmark_summary_reads_the_real_tool_output():
    """benchmark.py's own output (the tiny test config, CPU) parses."""
    result = run_tool([
        'tools/analysis_tools/benchmark.py', TEST_CONFIG, '--compare',
        'mmpretrain', '--batch-size', '2', '--train-batch-size', '2',
        '--shape', '32', '32', '--warmup', '1', '--repeats', '2'
    ])
    summary = gpu_check.summarise_benchmark(result.stdout)
    assert summary.startswith('infer ') and ', train ' in summary


@pytest.mark.slow
@pytest.mark.skipif(CUDA, reason='the CPU float16 path')
def test_training_steps_on_cpu_with_float16():
    """The training part's loop on the CPU: the tiny UPerNet test config,
    float16 autocast with a CPU loss scaler, two applied steps."""
    cfg = gpu_check.load_cfg('tests/data/upernet_hornet-nano_tiny-ade.py')
    data = gpu_check.task_batch(cfg, 2, 64, 64, seed=0)
    detail = gpu_check.train_steps(cfg, data, 'cpu', 'float16', steps=2)
    assert detail.startswith('float16: loss ')
    assert '2/2 steps applied, loss scale 65536, batch 2x(64, 64)' in detail


def test_ddp_part_skips_below_two_gpus():
    with pytest.raises(gpu_check.SkipPart, match='needs 2 GPUs'):
        gpu_check.check_ddp(device_count=1)


# ---- on a CUDA GPU -------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason='needs a CUDA GPU')
def test_cuda_mmcv_ops():
    detail = gpu_check.check_mmcv_ops('cuda')
    assert 'not available' not in detail


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason='needs a CUDA GPU')
@pytest.mark.parametrize('arch', ['tiny', 'tiny-gf'])
def test_cuda_parity(arch):
    detail = gpu_check.check_parity(arch, 'cuda')
    assert ('FFTs/pass in float32' in detail) == (arch == 'tiny-gf')


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason='needs a CUDA GPU')
@pytest.mark.parametrize('name', list(gpu_check.TRAIN_CONFIGS))
def test_cuda_amp_training(name):
    assert 'steps applied' in gpu_check.check_train(name, 'cuda')


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason='needs 2 CUDA GPUs')
def test_cuda_ddp_syncbn():
    assert 'SyncBN layers' in gpu_check.check_ddp()


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason='needs a CUDA GPU')
def test_cuda_compile():
    assert 'train_step_update' in gpu_check.check_compile('tiny-gf', 'cuda')


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason='needs a CUDA GPU')
@pytest.mark.parametrize('arch', ['tiny', 'tiny-gf'])
def test_cuda_tensorrt(arch):
    pytest.importorskip('tensorrt', reason='make gpu-check installs it')
    assert 'float16' in gpu_check.check_tensorrt(arch)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not CUDA, reason='needs a CUDA GPU')
def test_cuda_whole_check_prints_the_table():
    result = run_tool(['tools/misc/gpu_check.py'], check=False)
    assert torch.cuda.get_device_name(0) in result.stdout
    assert 'parts:' in result.stdout, result.stderr[-2000:]
    assert result.returncode in (0, 1)

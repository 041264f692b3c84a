# Copyright (c) mmhornet contributors. All rights reserved.
"""Measure inference and training-step throughput of a model.

Times ``model(images)`` (inference, no grad) and a training step (forward,
cross-entropy on random labels, backward, AdamW step) on random inputs.
With ``--compare mmpretrain`` the same weights are also run through
mmpretrain's HorNet, interleaving the two models repeat by repeat so that
both see the same machine state; medians and the ratio are reported.

With ``--backend onnxruntime`` (or ``openvino``) the model is exported to
ONNX (dynamic batch) and the runtime's inference is timed against
mmhornet's PyTorch eager model, same weights, interleaved, at batch 1 and
``--batch-size``; ``--amp`` then means bfloat16 in both where the runtime
supports it (OpenVINO's inference precision hint).

Example:
    python tools/analysis_tools/benchmark.py hornet-tiny_3rdparty_in1k \
        --compare mmpretrain --amp
    python tools/analysis_tools/benchmark.py hornet-tiny-gf_3rdparty_in1k \
        --backend onnxruntime
"""
import argparse
import copy
import inspect
import resource
import statistics
import tempfile
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmhornet.apis import get_model


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark a model')
    parser.add_argument('model', help='model name (see list_models) or config')
    parser.add_argument(
        '--mode',
        choices=['infer', 'train', 'both'],
        default='both',
        help='what to time (default: both)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=16,
        help='inference batch size (default: 16)')
    parser.add_argument(
        '--train-batch-size',
        type=int,
        default=8,
        help='training-step batch size (default: 8)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[224, 224],
        metavar=('H', 'W'),
        help='input size (default: 224 224)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='autocast: bfloat16 on CPU, --amp-dtype on GPU')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default='float16',
        help='autocast dtype on GPU (default: float16)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels-last memory format for model and inputs')
    parser.add_argument(
        '--compile', action='store_true', help='torch.compile the models')
    parser.add_argument(
        '--freeze',
        action='store_true',
        help='with --compile: inductor freezing for inference (weights as '
        'constants, so norms, scales and layouts are folded into them once)')
    parser.add_argument(
        '--roofline',
        action='store_true',
        help='also measure the matrix-product peak of the device and report '
        'each speed as a share of the roofline (peak / FLOPs per image)')
    parser.add_argument(
        '--breakdown',
        action='store_true',
        help='also profile one more run of each model (CPU only) and split '
        'its op time into convolutions and matrix products and the rest')
    parser.add_argument(
        '--compare',
        choices=['mmpretrain'],
        help="also time mmpretrain's HorNet with the same weights")
    parser.add_argument(
        '--backend',
        choices=['onnxruntime', 'openvino'],
        help='also time the model exported to ONNX in this runtime '
        '(inference at batch 1 and --batch-size)')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed runs (default: 3)')
    parser.add_argument(
        '--repeats', type=int, default=10, help='timed runs (default: 10)')
    parser.add_argument(
        '--threads', type=int, help='torch intra-op threads on CPU')
    return parser.parse_args()


def mmpretrain_twin(model: nn.Module) -> nn.Module:
    """mmpretrain's HorNet classifier with the weights of ``model``."""
    from mmengine.registry import DefaultScope
    from mmpretrain.models.backbones import HorNet as PretrainHorNet
    from mmpretrain.registry import MODELS

    cfg = copy.deepcopy(model._config.model)
    accepted = inspect.signature(PretrainHorNet).parameters
    backbone = {k: v for k, v in cfg.backbone.items() if k in accepted}
    backbone['type'] = 'HorNet'
    backbone['arch'] = model.backbone.arch_settings
    cfg.backbone = backbone
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        twin = MODELS.build(cfg)
    twin.load_state_dict(model.state_dict(), strict=True)
    return twin


class ExportedModel(nn.Module):
    """An ONNX export of ``model`` run by onnxruntime or OpenVINO on CPU,
    called like the PyTorch model (a batch in, logits out)."""

    def __init__(self, model: nn.Module, backend: str,
                 args: argparse.Namespace) -> None:
        super().__init__()
        from mmhornet.deploy import export_onnx
        from mmhornet.deploy.runtime import create_session
        self.folder = tempfile.TemporaryDirectory()
        onnx_file = f'{self.folder.name}/model.onnx'
        export_onnx(model, onnx_file, tuple(args.shape), dynamic_batch=True)
        if backend == 'onnxruntime':
            session = create_session(onnx_file)
            name = session.get_inputs()[0].name
            self.run = lambda x: session.run(None, {name: x})[0]
        else:
            try:
                import openvino
            except ImportError:
                raise SystemExit('--backend openvino needs OpenVINO: '
                                 'pip install openvino')
            config = {'INFERENCE_NUM_THREADS': torch.get_num_threads()}
            config['INFERENCE_PRECISION_HINT'] = ('bf16'
                                                  if args.amp else 'f32')
            compiled = openvino.Core().compile_model(onnx_file, 'CPU', config)
            self.run = lambda x: compiled(x)[0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(images.float().numpy()))


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def make_step(model: nn.Module, mode: str, images: torch.Tensor,
              autocast: Callable) -> Callable[[], None]:
    """A closure running one inference pass or one training step."""
    if mode == 'infer':
        model.eval()

        def step() -> None:
            with torch.no_grad(), autocast():
                model(images)

        return step
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    sample_ids = torch.arange(images.shape[0], device=images.device)

    def train_step() -> None:
        with autocast():
            logits = model(images)
        labels = sample_ids % logits.shape[1]
        loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return train_step


def matmul_peak_gflops(device: torch.device,
                       dtype: torch.dtype,
                       repeats: int = 10) -> float:
    """Measured GFLOP/s of square matrix products (2048 on CPU, 8192 on
    GPU) in ``dtype``: the speed no model of matrix products can beat."""
    size = 2048 if device.type == 'cpu' else 8192
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def roofline_images_per_s(model: nn.Module, args: argparse.Namespace,
                          dtype: torch.dtype) -> float:
    """Images per second at the matrix-product peak, for the published
    FLOP count of ``model`` (multiply-accumulates of convolutions and
    linear layers; a global filter's FFTs are not counted)."""
    from mmhornet.apis import get_complexity
    macs = get_complexity(copy.deepcopy(model).cpu().eval(),
                          (3, *args.shape))['flops']
    peak = matmul_peak_gflops(torch.device(args.device), dtype)
    images_per_s = peak * 1e9 / (2 * macs)
    print(f'roofline: matrix products at {peak:.0f} GFLOP/s '
          f'({str(dtype)[6:]}), {2 * macs / 1e9:.4g} GFLOP per image: '
          f'{images_per_s:.4g} img/s')
    return images_per_s


# Ops that run convolutions and matrix products on CPU (forward and
# backward); everything else a profiler reports is element-wise work,
# reductions, copies and casts.
MATRIX_OPS = frozenset({
    'aten::mkldnn_convolution', 'aten::convolution_backward', 'aten::addmm',
    'aten::mm', 'aten::bmm', 'mkldnn::_linear_pointwise',
    'mmhornet::depthwise_conv7x7_weight_grad'
})


def time_breakdown(step: Callable[[], None], runs: int = 2) -> dict:
    """Per-run CPU time of ``step``'s ops (profiler self time, ms): in
    total, in :data:`MATRIX_OPS`, and the five largest other ops."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            step()
    per_op = {
        event.key: event.self_cpu_time_total / 1000 / runs
        for event in prof.key_averages()
    }
    others = {k: v for k, v in per_op.items() if k not in MATRIX_OPS}
    return dict(
        total_ms=sum(per_op.values()),
        matrix_ms=sum(v for k, v in per_op.items() if k in MATRIX_OPS),
        top_other=sorted(others.items(), key=lambda kv: -kv[1])[:5])


def peak_memory_mb(device: torch.device) -> float:
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def autocast_dtype(args: argparse.Namespace) -> Optional[torch.dtype]:
    """The ``--amp`` dtype: bfloat16 on CPU, ``--amp-dtype`` on GPU."""
    if not args.amp:
        return None
    if torch.device(args.device).type == 'cpu':
        return torch.bfloat16
    return getattr(torch, args.amp_dtype)


def benchmark(models: Dict[str, nn.Module], mode: str, batch_size: int,
              args: argparse.Namespace) -> Dict[str, dict]:
    """Time every model, interleaved; return medians per model."""
    device = torch.device(args.device)
    images = torch.rand(batch_size, 3, *args.shape, device=device)
    if args.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    dtype = autocast_dtype(args)
    if dtype is not None:

        def autocast():
            return torch.autocast(device.type, dtype=dtype)
    else:
        autocast = nullcontext
    steps = {
        name: make_step(model, mode, images, autocast)
        for name, model in models.items()
    }
    times: Dict[str, List[float]] = {name: [] for name in models}
    memory = {}
    for name, step in steps.items():
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(args.warmup):
            step()
        synchronize(device)
        memory[name] = peak_memory_mb(device)
    for _ in range(args.repeats):
        for name, step in steps.items():
            synchronize(device)
            start = time.perf_counter()
            step()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    results = {
        name:
        dict(
            latency_ms=1000 * statistics.median(t),
            images_per_s=batch_size / statistics.median(t),
            peak_memory_mb=memory[name],
            seconds=t)
        for name, t in times.items()
    }
    if args.breakdown:
        for name, step in steps.items():
            results[name]['breakdown'] = time_breakdown(step)
    return results


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.freeze and not args.compile:
        raise SystemExit('--freeze needs --compile')
    if args.backend and (args.device != 'cpu' or args.compile or args.compare
                         or args.mode == 'train'):
        raise SystemExit('--backend times CPU inference of the exported '
                         'model against the eager one: use it without '
                         '--device, --compile, --compare and --mode train')
    if args.backend == 'onnxruntime' and args.amp:
        raise SystemExit('onnxruntime runs these graphs in float32 on CPU: '
                         'use --amp with --backend openvino')
    if args.breakdown and torch.device(args.device).type != 'cpu':
        raise SystemExit('--breakdown profiles CPU ops; on a GPU use '
                         'torch.profiler with ProfilerActivity.CUDA')
    torch.manual_seed(0)
    model = get_model(args.model)
    roofline = None
    if args.roofline:
        roofline = roofline_images_per_s(model, args,
                                         autocast_dtype(args) or torch.float32)
    if args.freeze:
        import torch._inductor.config as inductor_config
        inductor_config.freezing = True
    models = {'mmhornet': model}
    if args.compare == 'mmpretrain':
        models['mmpretrain'] = mmpretrain_twin(model)
    if args.backend:
        models[args.backend] = ExportedModel(model, args.backend, args)
    for name in models:
        models[name] = models[name].to(args.device)
        if args.channels_last:
            models[name] = models[name].to(memory_format=torch.channels_last)
        if args.compile:
            # dynamic=False: inference and training use different batch
            # sizes, and torch 2.13's inductor fails to recompile HorNet
            # (ours and mmpretrain's) with symbolic shapes.
            models[name] = torch.compile(models[name], dynamic=False)

    precision = 'float32'
    if args.amp:
        precision = f'{str(autocast_dtype(args))[6:]} autocast'
    print(f'{args.model}: input {tuple(args.shape)}, device {args.device} '
          f'({torch.get_num_threads()} threads), {precision}'
          f"{', channels-last' if args.channels_last else ''}"
          f"{', compiled' if args.compile else ''}"
          f"{' (frozen)' if args.freeze else ''}; median of "
          f'{args.repeats} runs after {args.warmup} warm-up runs')
    memory_kind = ('peak allocated'
                   if args.device.startswith('cuda') else 'process peak RSS')
    modes = ['infer', 'train'] if args.mode == 'both' else [args.mode]
    if args.backend:
        runs = [('infer', 1), ('infer', args.batch_size)]
    else:
        runs = [(mode,
                 args.batch_size if mode == 'infer' else args.train_batch_size)
                for mode in modes]
    for mode, batch in runs:
        results = benchmark(models, mode, batch, args)
        label = 'inference' if mode == 'infer' else 'training step'
        for name, r in results.items():
            share = '' if roofline is None or mode == 'train' else (
                f' ({100 * r["images_per_s"] / roofline:.3g}% of roofline)')
            print(f'{label:>13} {name:>10}: {r["images_per_s"]:8.2f} img/s  '
                  f'{r["latency_ms"]:9.1f} ms/batch of {batch}  '
                  f'{memory_kind} {r["peak_memory_mb"]:.0f} MB{share}')
        for name, r in results.items():
            if 'breakdown' in r:
                b = r['breakdown']
                top = ', '.join(f'{op} {ms:.1f}' for op, ms in b['top_other'])
                print(f'{label:>13} {name:>10}: op time {b["total_ms"]:.1f} '
                      f'ms/batch: convolutions and matrix products '
                      f'{b["matrix_ms"]:.1f}, other '
                      f'{b["total_ms"] - b["matrix_ms"]:.1f} ({top})')
        if len(results) == 2:
            # mmhornet against mmpretrain, or a runtime against mmhornet
            fast, slow = ('mmhornet',
                          'mmpretrain') if args.compare else (args.backend,
                                                              'mmhornet')
            ratio = (
                results[fast]['images_per_s'] / results[slow]['images_per_s'])
            # Each repeat times both models back to back, so the ratio
            # within a repeat is free of slow drifts of the machine.
            paired = [
                ref / ours for ours, ref in zip(results[fast]['seconds'],
                                                results[slow]['seconds'])
            ]
            print(f'{label:>13} speed-up {fast} / {slow}: '
                  f'{ratio:.3f}x (per repeat: median '
                  f'{statistics.median(paired):.3f}x, range '
                  f'{min(paired):.3f}-{max(paired):.3f}x)')


if __name__ == '__main__':
    main()

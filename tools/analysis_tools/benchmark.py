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

With ``--paths all`` every path a user can run on a CPU is timed for
mmhornet and for mmpretrain's HorNet with the same weights, in one
interleaved run at batch 1 and ``--batch-size``: PyTorch eager, compiled
(inductor with freezing), and the ONNX export in onnxruntime and in
OpenVINO. Each speed is given as a share of the matrix-product roofline,
and the best path of each side and their ratio are printed. A path that
cannot run (e.g. a model that does not export) is reported with its error.

Example:
    python tools/analysis_tools/benchmark.py hornet-tiny_3rdparty_in1k \
        --compare mmpretrain --amp
    python tools/analysis_tools/benchmark.py hornet-tiny-gf_3rdparty_in1k \
        --backend onnxruntime
    python tools/analysis_tools/benchmark.py hornet-tiny_3rdparty_in1k \
        --paths all --threads 2
"""
import argparse
import copy
import inspect
import platform
import resource
import statistics
import tempfile
import time
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmhornet.apis import get_model
from mmhornet.utils import warn_if_bfloat16_emulated

#: What ``--paths`` can time: PyTorch eager, compiled (inductor, frozen)
#: and the ONNX export in a runtime.
PATHS = ('eager', 'compiled', 'onnxruntime', 'openvino')
#: Pause before each timed CPU run: the worker threads of PyTorch, onnxruntime
#: and OpenVINO spin for a while after a run and would take the cores from
#: the next model of an interleaved run.
CPU_PAUSE_S = 0.02


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
        '--paths',
        nargs='+',
        choices=PATHS + ('all', ),
        help='time these inference paths of mmhornet and of mmpretrain\'s '
        'HorNet (same weights) in one interleaved run at batch 1 and '
        '--batch-size, and report the best of each side; all: '
        f'{", ".join(PATHS)}')
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
    """An ONNX export of ``model`` (dynamic batch) run by onnxruntime or
    OpenVINO on CPU, called like the PyTorch model (a batch in, logits
    out); with ``--amp``, OpenVINO infers in bfloat16."""

    def __init__(self, model: nn.Module, backend: str,
                 args: argparse.Namespace) -> None:
        super().__init__()
        from mmhornet.deploy import create_runner, export_onnx
        self.folder = tempfile.TemporaryDirectory()
        onnx_file = f'{self.folder.name}/model.onnx'
        export_onnx(model, onnx_file, tuple(args.shape), dynamic_batch=True)
        self.run = create_runner(
            onnx_file, backend, precision='bf16' if args.amp else 'f32')

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(images.float().numpy())[0])


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
    """Measured GFLOP/s of square matrix products in ``dtype``: the speed no
    model of matrix products can beat. 8192 on GPU; on CPU 2048, or the
    first of 256, 512, 1024 that takes 20 ms (so that bfloat16 where a CPU
    emulates it, about 1 GFLOP/s, is measured in well under a second)."""
    size = 8192 if device.type != 'cpu' else 2048
    for small in ((256, 512, 1024) if device.type == 'cpu' else ()):
        a = torch.randn(small, small, dtype=dtype)
        a @ a  # warm-up
        start = time.perf_counter()
        a @ a
        if time.perf_counter() - start > 0.02:
            size = small
            break
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
    print(f'roofline: matrix products at {peak:.4g} GFLOP/s '
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


def interleaved_seconds(steps: Dict[Any, Callable[[], None]], repeats: int,
                        device: torch.device) -> Dict[Any, List[float]]:
    """Seconds of ``repeats`` runs of each step, the steps run in turn.

    Each repeat starts one step later, so that a change of the machine's
    load during a repeat does not always hit the same step; on a CPU each
    run starts after :data:`CPU_PAUSE_S`.
    """
    order = list(steps)
    seconds: Dict[Any, List[float]] = {name: [] for name in order}
    for repeat in range(repeats):
        shift = repeat % max(len(order), 1)
        for name in order[shift:] + order[:shift]:
            synchronize(device)
            if device.type == 'cpu':
                time.sleep(CPU_PAUSE_S)
            start = time.perf_counter()
            steps[name]()
            synchronize(device)
            seconds[name].append(time.perf_counter() - start)
    return seconds


def benchmark(models: Dict[str, nn.Module],
              mode: str,
              batch_size: int,
              args: argparse.Namespace,
              failures: Optional[Dict[str, str]] = None) -> Dict[str, dict]:
    """Time every model, interleaved; return medians per model. With
    ``failures``, a model whose warm-up raises is left out and its error
    recorded there."""
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
    memory = {}
    for name, step in list(steps.items()):
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
        try:
            for _ in range(args.warmup):
                step()
        except Exception as error:
            if failures is None:
                raise
            failures[name] = error_summary(error)
            del steps[name]
            continue
        synchronize(device)
        memory[name] = peak_memory_mb(device)
    times = interleaved_seconds(steps, args.repeats, device)
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


def error_summary(error: Exception, length: int = 300) -> str:
    """``error`` on one line, its middle cut to keep ``length``
    characters (runtimes put the cause last, after their source lines)."""
    text = ' '.join(str(error).split())
    if len(text) > length:
        text = f'{text[:length // 2]} ... {text[-length // 2:]}'
    return f'{type(error).__name__}: {text}'


def cpu_description() -> str:
    """The CPU model and its vector and matrix instruction flags (Linux's
    /proc/cpuinfo; elsewhere what :mod:`platform` knows)."""
    info: Dict[str, str] = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                info.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    flags = [
        flag for flag in info.get('flags', '').split()
        if flag in ('avx2', 'fma', 'avx_vnni') or flag.startswith(('avx512',
                                                                   'amx'))
    ]
    return (f"{info.get('model name', platform.machine())} (family "
            f"{info.get('cpu family', '?')}, model {info.get('model', '?')});"
            f" flags: {' '.join(flags) or 'no AVX2/AVX-512/AMX'}")


class MatrixPeak(nn.Module):
    """A 2048x2048 matrix product, timed among the ``--paths`` so that the
    roofline is measured under the same machine load as the models."""
    NAME = 'matrix peak'
    SIZE = 2048

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer('a', torch.randn(self.SIZE, self.SIZE))
        self.register_buffer('b', torch.randn(self.SIZE, self.SIZE))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.a @ self.b

    @classmethod
    def gflops(cls, seconds: List[float]) -> float:
        """GFLOP/s of the median run."""
        return 2 * cls.SIZE**3 / statistics.median(seconds) / 1e9


def path_models(
        model: nn.Module, args: argparse.Namespace
) -> Tuple[Dict[str, nn.Module], Dict[str, str]]:
    """The ``--paths`` of mmhornet's ``model`` and of mmpretrain's HorNet
    with its weights, named ``'<side> <path>'``; and the error of each path
    that could not be built (e.g. a failed export)."""
    paths = PATHS if 'all' in args.paths else tuple(dict.fromkeys(args.paths))
    if 'compiled' in paths:
        import torch._inductor.config as inductor_config
        inductor_config.freezing = True  # inference only
    models: Dict[str, nn.Module] = {}
    failures: Dict[str, str] = {}
    for side, net in (('mmhornet', model), ('mmpretrain',
                                            mmpretrain_twin(model))):
        for path in paths:
            name = f'{side} {path}'
            try:
                if path == 'eager':
                    models[name] = net
                elif path == 'compiled':
                    models[name] = torch.compile(net, dynamic=False)
                else:
                    models[name] = ExportedModel(net, path, args)
            except Exception as error:
                failures[name] = error_summary(error)
    return models, failures


def report_paths(results: Dict[str, dict], failures: Dict[str, str],
                 names: List[str], roofline: float) -> None:
    """Print each path's speed, then the best of each side and the ratio
    (also per repeat: both timed back to back in each repeat)."""
    for name in names:
        if name not in results:
            print(f'  {name:<22} not run: {failures[name]}')
            continue
        r = results[name]
        print(f'  {name:<22} {r["images_per_s"]:8.2f} img/s '
              f'{r["latency_ms"]:9.1f} ms/batch '
              f'{100 * r["images_per_s"] / roofline:5.1f}% of roofline')
    best = {}
    for side in ('mmhornet', 'mmpretrain'):
        ran = [n for n in results if n.startswith(f'{side} ')]
        if ran:
            best[side] = max(ran, key=lambda n: results[n]['images_per_s'])
    summary = '; '.join(f'best {side}: {name.split()[1]} '
                        f'{results[name]["images_per_s"]:.2f} img/s'
                        for side, name in best.items())
    if len(best) == 2:
        ours, peer = results[best['mmhornet']], results[best['mmpretrain']]
        paired = [p / o for o, p in zip(ours['seconds'], peer['seconds'])]
        summary += (f'; mmhornet / mmpretrain: '
                    f'{ours["images_per_s"] / peer["images_per_s"]:.3f}x '
                    f'(per repeat: median {statistics.median(paired):.3f}x, '
                    f'range {min(paired):.3f}-{max(paired):.3f}x)')
    print(f'  {summary}')


def run_paths(model: nn.Module, args: argparse.Namespace) -> None:
    """``--paths``: every path of both sides, interleaved, at batch 1 and
    ``--batch-size``."""
    if (args.device != 'cpu' or args.compile or args.compare or args.backend
            or args.mode == 'train' or args.channels_last):
        raise SystemExit('--paths times CPU inference of every path itself: '
                         'use it without --device, --compile, --compare, '
                         '--backend, --channels-last and --mode train')
    if args.warmup < 1:
        raise SystemExit('--paths needs --warmup 1 or more (the first run '
                         'compiles, and a path that fails there is left out)')
    precision = f'{str(autocast_dtype(args))[6:]} autocast' if (
        args.amp) else 'float32'
    print(f'{args.model}: input {tuple(args.shape)}, CPU inference '
          f'({torch.get_num_threads()} threads), {precision}; median of '
          f'{args.repeats} interleaved runs after {args.warmup} warm-up runs')
    print(f'cpu: {cpu_description()}')
    from mmhornet.apis import get_complexity
    flops = 2 * get_complexity(copy.deepcopy(model).eval(),
                               (3, *args.shape))['flops']
    models, failures = path_models(model, args)
    models[MatrixPeak.NAME] = MatrixPeak()
    names = [
        f'{side} {path}' for side in ('mmhornet', 'mmpretrain')
        for path in (PATHS if 'all' in args.paths else args.paths)
    ]
    names = list(dict.fromkeys(names))
    for batch in (1, args.batch_size):
        batch_failures = dict(failures)
        results = benchmark(models, 'infer', batch, args, batch_failures)
        peak = MatrixPeak.gflops(results.pop(MatrixPeak.NAME)['seconds'])
        roofline = peak * 1e9 / flops
        print(f'inference, batch {batch}:\n  roofline: matrix products at '
              f'{peak:.4g} GFLOP/s ({precision}, timed among the paths), '
              f'{flops / 1e9:.4g} GFLOP per image: {roofline:.4g} img/s')
        report_paths(results, batch_failures, names, roofline)


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
    if args.amp:
        warn_if_bfloat16_emulated(args.device)
    torch.manual_seed(0)
    model = get_model(args.model)
    if args.paths:
        run_paths(model, args)
        return
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
    print(f'cpu: {cpu_description()}')
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

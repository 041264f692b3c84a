# Copyright (c) mmhornet contributors. All rights reserved.
"""One command that proves a GPU run: ``make gpu-check``.

On a machine with a CUDA GPU it runs, each part on its own (a failing part
is reported and the others still run):

- mmcv's CUDA operators (NMS, RoIAlign forward and backward) against their
  CPU results, and the CUDA version mmcv's operators were compiled with;
- HorNet-T and HorNet-T-GF on the GPU against the CPU: float32, and float16
  and bfloat16 autocast (the global filter's FFTs must run in float32:
  cuFFT's half precision takes only power-of-two sizes, and 224 px gives
  14 x 8 spectra);
- mixed-precision (float16, dynamic loss scaling) training steps of a
  classifier, Mask R-CNN and UPerNet built from the shipped configs, and,
  with 2 GPUs or more, UPerNet with SyncBN in 2 processes (torchrun, nccl);
- ``torch.compile`` of HorNet-T-GF (inference and a training step) against
  eager;
- ``tools/analysis_tools/benchmark.py --compare mmpretrain`` at batch 128;
- TensorRT engines of the exported HorNet-T and T-GF, float32 and float16
  (LayerNorms in float32), against PyTorch.

It prints one table with the GPU model and exits non-zero if a part
failed. Without CUDA it exits with status 2 and says why. docs/gpu_check.md
explains the table and every bound.

Example:
    make gpu-check                  # installs tensorrt if missing, then:
    python tools/misc/gpu_check.py [--parts parity train ...]
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Every comparison uses ``max |x - ref| / max |ref|`` over the output
#: (logits), with the float32 CPU result as ``ref``; bounds:
#: float32 on the GPU (TF32 off): 1e-5; autocast: ten units of roundoff of
#: the low precision (float16 2^-11, bfloat16 2^-8).
BOUNDS = {
    'float32': 1e-5,
    'float16': 10 * 2.**-11,
    'bfloat16': 10 * 2.**-8,
}
#: torch.compile against eager (float32, TF32 off): inductor reorders sums
#: and the compiled global filter is a DFT matrix product, not an FFT.
COMPILE_BOUND = 1e-4
#: TensorRT against PyTorch: float32 (TF32 off), and float16 (twenty units
#: of roundoff: TensorRT may also accumulate in float16).
TENSORRT_BOUNDS = {'float32': 1e-4, 'float16': 20 * 2.**-11}
#: Relative L2 distance of a compiled training step's update from the eager
#: one, both under float16 autocast.
COMPILE_STEP_BOUND = 5e-2

CLASSIFIER = 'configs/hornet/hornet-tiny_8xb128_in1k.py'
TRAIN_CONFIGS = {
    'classifier': 'configs/hornet/hornet-tiny-gf_8xb128_in1k.py',
    'mask-rcnn': 'configs/mask_rcnn/mask-rcnn_hornet-t_fpn_1x_coco.py',
    'upernet': 'configs/upernet/upernet_hornet-t_8xb2-160k_ade20k-512x512.py',
}
ARCH_LABELS = {'tiny': 'HorNet-T', 'tiny-gf': 'HorNet-T-GF'}
PARTS = ('mmcv-ops', 'parity', 'train', 'ddp', 'compile', 'benchmark',
         'tensorrt')


class SkipPart(Exception):
    """A part that does not apply to this machine (e.g. one GPU for DDP)."""


@dataclass
class PartResult:
    name: str
    status: str  # 'PASS', 'FAIL' or 'SKIP'
    detail: str
    seconds: float


def run_part(name: str, fn: Callable[..., str], *args, **kwargs) -> PartResult:
    """Run one part: its detail line, or the error that ended it (the
    traceback goes to stderr)."""
    start = time.perf_counter()
    try:
        detail, status = fn(*args, **kwargs), 'PASS'
    except SkipPart as skip:
        detail, status = str(skip), 'SKIP'
    except Exception as error:  # noqa: B902 -- every failure is reported
        traceback.print_exc()
        message = ' '.join(str(error).split())
        detail, status = f'{type(error).__name__}: {message}', 'FAIL'
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    result = PartResult(name, status, detail, time.perf_counter() - start)
    print(
        f'[gpu-check] {result.status} {name} ({result.seconds:.0f} s): '
        f'{result.detail}',
        flush=True)
    return result


def format_table(results: Sequence[PartResult],
                 header: str,
                 width: int = 100) -> str:
    """The results as one plain-text table under ``header``; details longer
    than ``width`` wrap onto continuation lines."""
    name_width = max([len('part')] + [len(r.name) for r in results])
    lines = [header, '']
    lines.append(f"{'part':<{name_width}}  result  {'time':>6}  detail")
    lines.append(f"{'-' * name_width}  ------  {'-' * 6}  {'-' * 6}")
    for r in results:
        chunks = [
            r.detail[i:i + width] for i in range(0, len(r.detail), width)
        ] or ['']
        lines.append(f'{r.name:<{name_width}}  {r.status:<6}  '
                     f'{r.seconds:5.0f}s  {chunks[0]}')
        lines += [f"{'':<{name_width + 18}}{c}" for c in chunks[1:]]
    failed = sum(r.status == 'FAIL' for r in results)
    lines += [
        '', f'{len(results)} parts: '
        f"{sum(r.status == 'PASS' for r in results)} passed, "
        f'{failed} failed, '
        f"{sum(r.status == 'SKIP' for r in results)} skipped"
    ]
    return '\n'.join(lines)


def environment_header() -> str:
    """The GPU model(s), driver-visible CUDA and the versions that matter."""
    import mmcv
    lines = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            lines.append(f'GPU {i}: {props.name}, '
                         f'{props.total_memory / 2**30:.0f} GiB, '
                         f'compute capability {props.major}.{props.minor}')
    else:
        lines.append('GPU: none')
    lines.append(f'torch {torch.__version__} (CUDA {torch.version.cuda}), '
                 f'mmcv {mmcv.__version__} (ops compiled with CUDA '
                 f'{mmcv_cuda_version()})')
    return 'mmhornet gpu-check\n' + '\n'.join(lines)


def mmcv_cuda_version() -> str:
    """What mmcv's compiled operators report: a CUDA version, or 'not
    available' for a CPU-only build."""
    try:
        from mmcv.ops import get_compiling_cuda_version
        return get_compiling_cuda_version()
    except Exception as error:  # noqa: B902 -- reported, not raised
        return f'unknown ({type(error).__name__}: {error})'


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """``max |actual - expected| / max |expected|`` in float64."""
    actual = actual.detach().double().cpu()
    expected = expected.detach().double().cpu()
    if actual.shape != expected.shape:
        raise AssertionError(f'shape {tuple(actual.shape)} != '
                             f'{tuple(expected.shape)}')
    scale = expected.abs().max().clamp_min(1e-30)
    return float((actual - expected).abs().max() / scale)


def relative_l2(actual: Sequence[torch.Tensor],
                expected: Sequence[torch.Tensor]) -> float:
    """``||a - e|| / ||e||`` over tensors taken as one vector (float64)."""
    diff = sum(
        float((a.double() - e.double()).square().sum())
        for a, e in zip(actual, expected, strict=True))
    norm = sum(float(e.double().square().sum()) for e in expected)
    return (diff / max(norm, 1e-300))**0.5


def within(errors: Dict[str, float], bounds: Dict[str, float]) -> str:
    """``'name err <= bound, ...'``; AssertionError if a bound is broken
    (or an error is NaN)."""
    text = ', '.join(f'{k} {e:.2g}' + (' <= ' if e <= bounds[k] else ' > ') +
                     f'{bounds[k]:.2g}' for k, e in errors.items())
    if not all(e <= bounds[k] for k, e in errors.items()):
        raise AssertionError(text)
    return text


@contextlib.contextmanager
def strict_float32() -> Iterator[None]:
    """Float32 matrix products and convolutions without TF32 on CUDA."""
    matmul = torch.backends.cuda.matmul.allow_tf32
    cudnn = torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn


@contextlib.contextmanager
def record_fft_dtypes() -> Iterator[List[torch.dtype]]:
    """Record the input dtype of every ``torch.fft.rfft2`` call (the global
    filter's forward transform) inside the block."""
    seen: List[torch.dtype] = []
    original = torch.fft.rfft2

    def rfft2(x, *args, **kwargs):
        seen.append(x.dtype)
        return original(x, *args, **kwargs)

    torch.fft.rfft2 = rfft2
    try:
        yield seen
    finally:
        torch.fft.rfft2 = original


# --------------------------------------------------------------------------
# Models and synthetic batches
# --------------------------------------------------------------------------


def load_cfg(config: str):
    """A shipped config (path relative to the repository) as a Config."""
    from mmhornet.utils.toolbox import load_config
    return load_config(osp.join(REPO_ROOT, config), 'gpu_check')


def hornet_classifier(arch='tiny', seed: int = 0, layer_scale: float = 1.0):
    """The HorNet classifier of the ImageNet recipe with ``arch`` (a name
    or an arch dict), randomly initialised from ``seed``, in eval mode on
    the CPU. The layer scales (1e-6 at initialisation, which would hide the
    blocks) are set to ``layer_scale`` so that every block counts."""
    from mmhornet.apis import get_model
    from mmhornet.models.layers import LayerScale
    cfg = load_cfg(CLASSIFIER)
    cfg.model.backbone.arch = arch
    cfg.model.backbone.pop('init_cfg', None)
    if isinstance(arch, dict):  # widths base_dim x (1, 2, 4, 8)
        cfg.model.head.in_channels = arch['base_dim'] * 8
    torch.manual_seed(seed)
    model = get_model(cfg)
    for module in model.modules():
        if isinstance(module, LayerScale):
            module.weight.data.fill_(layer_scale)
    return model.eval()


def image_batch(num: int, height: int, width: int,
                seed: int) -> List[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randint(0, 256, (3, height, width),
                      generator=generator).to(torch.uint8) for _ in range(num)
    ]


def classification_batch(num: int, size: int, num_classes: int,
                         seed: int) -> dict:
    """Random images and labels in mmpretrain's data format."""
    from mmpretrain.structures import DataSample
    rng = np.random.default_rng(seed)
    samples = [
        DataSample().set_gt_label(int(rng.integers(num_classes)))
        for _ in range(num)
    ]
    return dict(
        inputs=image_batch(num, size, size, seed), data_samples=samples)


def detection_batch(num: int, height: int, width: int, num_classes: int,
                    seed: int) -> dict:
    """Random images with 1-3 rectangles each (boxes, labels and masks) in
    mmdet's data format."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(num):
        count = int(rng.integers(1, 4))
        x1 = rng.uniform(0, width * 0.6, count)
        y1 = rng.uniform(0, height * 0.6, count)
        x2 = np.minimum(x1 + rng.uniform(width * .15, width * .4, count),
                        width - 1)
        y2 = np.minimum(y1 + rng.uniform(height * .15, height * .4, count),
                        height - 1)
        boxes = np.stack([x1, y1, x2, y2], 1).astype(np.float32)
        masks = np.zeros((count, height, width), dtype=np.uint8)
        for m, (a, b, c, d) in zip(masks, boxes.astype(int)):
            m[b:d + 1, a:c + 1] = 1
        instances = InstanceData(
            bboxes=torch.from_numpy(boxes),
            labels=torch.from_numpy(rng.integers(0, num_classes, count)),
            masks=BitmapMasks(masks, height, width))
        sample = DetDataSample(
            metainfo=dict(
                img_id=i,
                img_shape=(height, width),
                ori_shape=(height, width),
                scale_factor=(1., 1.),
                flip=False))
        sample.gt_instances = instances
        samples.append(sample)
    return dict(
        inputs=image_batch(num, height, width, seed), data_samples=samples)


def segmentation_batch(num: int, height: int, width: int, num_classes: int,
                       seed: int) -> dict:
    """Random images and label maps (blocks of classes) in mmseg's data
    format."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(num):
        blocks = torch.randint(
            0,
            num_classes, (1, 1, height // 16 + 1, width // 16 + 1),
            generator=generator)
        label = F.interpolate(blocks.float(), scale_factor=16.)
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(height, width),
                ori_shape=(height, width),
                pad_shape=(height, width)))
        sample.gt_sem_seg = PixelData(data=label[0, :, :height, :width].long())
        samples.append(sample)
    return dict(
        inputs=image_batch(num, height, width, seed), data_samples=samples)


def task_batch(cfg, num: int, height: int, width: int, seed: int) -> dict:
    """A synthetic batch for the model of ``cfg``."""
    model = cfg.model
    if model.type == 'ImageClassifier':
        return classification_batch(num, height, model.head.num_classes, seed)
    if model.type == 'EncoderDecoder':
        return segmentation_batch(num, height, width,
                                  model.decode_head.num_classes, seed)
    roi_head = model.roi_head
    bbox_head = roi_head.bbox_head
    if isinstance(bbox_head, (list, tuple)):
        bbox_head = bbox_head[0]
    return detection_batch(num, height, width, bbox_head.num_classes, seed)


def build_train_model(cfg, device: str):
    """The model of ``cfg`` (random initial weights, no checkpoint) in
    train mode on ``device``."""
    from mmhornet.apis import get_model
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.pop('init_cfg', None)
    return get_model(cfg).to(device).train()


def build_optim_wrapper(model: nn.Module, cfg, amp_dtype: Optional[str]):
    """The config's optimizer wrapper (optimizer, constructor, clipping),
    as mmhornet's AmpOptimWrapper when ``amp_dtype`` is given; every
    ``train_step`` is an optimizer step (no gradient accumulation)."""
    from mmengine.optim import build_optim_wrapper as build
    from mmengine.registry import DefaultScope
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.accumulative_counts = 1
    if amp_dtype is not None:
        wrapper_cfg.type = 'mmhornet.AmpOptimWrapper'
        wrapper_cfg.dtype = amp_dtype
    scope = cfg.get('default_scope', 'mmpretrain')
    with DefaultScope.overwrite_default_scope(scope):
        return build(model, wrapper_cfg)


def train_steps(cfg,
                data: dict,
                device: str,
                amp_dtype: Optional[str] = 'float16',
                steps: int = 3) -> str:
    """``steps`` training steps (the model's ``train_step`` through the
    config's optimizer wrapper, mixed precision if ``amp_dtype``) on one
    batch: every loss finite, and the weights updated by at least one step
    (a dynamic loss scaler may skip the first ones on overflow, which must
    leave the weights untouched)."""
    model = build_train_model(cfg, device)
    wrapper = build_optim_wrapper(model, cfg, amp_dtype)
    scaler = getattr(wrapper, 'loss_scaler', None)
    applied, losses = 0, []
    for step in range(steps):
        before = [p.detach().clone() for p in model.parameters()]
        scale = scaler.get_scale() if scaler is not None else None
        # a copy: data preprocessors write into the data samples
        log_vars = model.train_step(copy.deepcopy(data), wrapper)
        bad = [k for k, v in log_vars.items() if not np.isfinite(float(v))]
        if bad:
            raise AssertionError(f'step {step}: non-finite {bad}')
        losses.append(float(log_vars['loss']))
        changed = any(not torch.equal(b, p)
                      for b, p in zip(before, model.parameters()))
        skipped = scaler is not None and scaler.get_scale() < scale
        if skipped and changed:
            raise AssertionError(f'step {step} was skipped by the loss '
                                 'scaler but changed the weights')
        applied += changed
    if not applied:
        raise AssertionError(f'no step of {steps} updated the weights')
    scale_text = (f', loss scale {scaler.get_scale():g}'
                  if scaler is not None else '')
    batch = len(data['inputs'])
    shape = tuple(data['inputs'][0].shape[1:])
    return (f'{amp_dtype or "float32"}: loss {losses[0]:.3g} -> '
            f'{losses[-1]:.3g}, {applied}/{steps} steps applied'
            f'{scale_text}, batch {batch}x{shape}')


# --------------------------------------------------------------------------
# The parts
# --------------------------------------------------------------------------


def check_mmcv_ops(device: str = 'cuda') -> str:
    """NMS and RoIAlign (forward and backward) on ``device`` against the
    CPU."""
    from mmcv.ops import nms, roi_align
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(300, 2, generator=generator) * 200
    sizes = torch.rand(300, 2, generator=generator) * 60 + 4
    boxes = torch.cat([corners, corners + sizes], 1)
    scores = torch.rand(300, generator=generator)
    _, keep_cpu = nms(boxes, scores, 0.5)
    _, keep = nms(boxes.to(device), scores.to(device), 0.5)
    if not torch.equal(keep.cpu(), keep_cpu):
        raise AssertionError(f'nms keeps {keep.numel()} boxes on {device}, '
                             f'{keep_cpu.numel()} on the CPU, or others')

    feats = torch.randn(2, 16, 48, 40, generator=generator)
    rois = torch.cat([torch.randint(0, 2, (64, 1)).float(), boxes[:64] / 3], 1)

    def forward_backward(dev: str):
        x = feats.to(dev).requires_grad_()
        out = roi_align(x, rois.to(dev), (7, 7), 0.5, 2, 'avg', True)
        (out * torch.arange(out.numel(),
                            device=dev).view_as(out).sin()).sum().backward()
        return out, x.grad

    out_cpu, grad_cpu = forward_backward('cpu')
    out, grad = forward_backward(device)
    errors = dict(
        roi_align=relative_error(out, out_cpu),
        roi_align_grad=relative_error(grad, grad_cpu))
    text = within(errors, dict(roi_align=1e-5, roi_align_grad=1e-5))
    return (f'compiled with CUDA {mmcv_cuda_version()}; nms keeps the same '
            f'{keep.numel()}/300 boxes; {text}')


def check_parity(arch='tiny',
                 device: str = 'cuda',
                 size: int = 224,
                 batch: int = 2,
                 dtypes=('float16', 'bfloat16')) -> str:
    """HorNet logits on ``device`` in float32 (TF32 off) and under autocast
    against float32 on the CPU, within :data:`BOUNDS`; the global filter's
    FFTs must run in float32."""
    model = hornet_classifier(arch)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch, 3, size, size, generator=generator)
    errors, ffts = {}, set()
    with torch.no_grad():
        reference = model(inputs, mode='tensor')
        model.to(device)
        inputs = inputs.to(device)
        with strict_float32():
            errors['float32'] = relative_error(
                model(inputs, mode='tensor'), reference)
        for name in dtypes:
            dtype = getattr(torch, name)
            with torch.autocast(torch.device(device).type, dtype=dtype), \
                    record_fft_dtypes() as seen:
                logits = model(inputs, mode='tensor')
            if not torch.isfinite(logits).all():
                raise AssertionError(f'{name} autocast: non-finite logits')
            if any(d != torch.float32 for d in seen):
                raise AssertionError(f'{name} autocast: FFTs ran in {seen}')
            ffts.update(seen)
            errors[name] = relative_error(logits, reference)
    fft_text = (f'; {len(seen)} FFTs/pass in float32'
                if ffts else '; no FFT (7x7 only)')
    return (f'{batch}x{size}px: ' + within(errors, BOUNDS) + fft_text)


def check_train(name: str, device: str = 'cuda') -> str:
    """Float16 mixed-precision training steps of the shipped config
    ``TRAIN_CONFIGS[name]`` (full size) on synthetic data."""
    cfg = load_cfg(TRAIN_CONFIGS[name])
    shape = dict(classifier=(32, 224, 224), upernet=(2, 512, 512))
    num, height, width = shape.get(name, (2, 512, 640))
    data = task_batch(cfg, num, height, width, seed=0)
    # 8 steps: a dynamic loss scaler starting at 65536 may skip a few
    return train_steps(cfg, data, device, 'float16', steps=8)


def check_compile(arch='tiny-gf',
                  device: str = 'cuda',
                  size: int = 224,
                  batch: int = 2) -> str:
    """``torch.compile`` of HorNet against eager: inference in float32, and
    one SGD step under float16 autocast with a loss scaler (the update
    compared; stochastic depth off)."""
    model = hornet_classifier(arch).to(device)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch, 3, size, size, generator=generator)
    inputs = inputs.to(device)
    compiled = torch.compile(model, dynamic=False)
    with torch.no_grad(), strict_float32():
        errors = dict(
            inference=relative_error(
                compiled(inputs, mode='tensor'), model(inputs, mode='tensor')))
    text = within(errors, dict(inference=COMPILE_BOUND))

    labels = torch.arange(batch, device=device)
    start = copy.deepcopy(model.state_dict())

    def sgd_update(net: nn.Module) -> List[torch.Tensor]:
        model.load_state_dict(start)
        model.zero_grad(set_to_none=True)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        scaler = torch.amp.GradScaler(torch.device(device).type)
        with torch.autocast(torch.device(device).type, dtype=torch.float16):
            logits = net(inputs, mode='tensor')
        loss = F.cross_entropy(logits.float(), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if not torch.isfinite(loss):
            raise AssertionError(f'non-finite loss {loss}')
        return [p.detach() - start[n] for n, p in model.named_parameters()]

    eager, fused = sgd_update(model), sgd_update(compiled)
    if not any(d.any() for d in eager):
        raise AssertionError('the eager step was skipped (inf gradients at '
                             'the initial loss scale): nothing to compare')
    step_error = relative_l2(fused, eager)
    text += ', ' + within(
        dict(train_step_update=step_error),
        dict(train_step_update=COMPILE_STEP_BOUND))
    return f'{arch} {batch}x{size}px: {text}'


def check_benchmark(device: str = 'cuda',
                    batch: int = 128,
                    train_batch: int = 64) -> str:
    """``benchmark.py --compare mmpretrain``, inference at ``batch`` (the
    paper's throughput setting) and training steps at ``train_batch`` (fits
    a 24 GB GPU), float32 and float16 autocast: images per second."""
    parts = []
    for amp in (False, True):
        cmd = [
            sys.executable, 'tools/analysis_tools/benchmark.py',
            'hornet-tiny_3rdparty_in1k', '--compare', 'mmpretrain', '--device',
            device, '--batch-size',
            str(batch), '--train-batch-size',
            str(train_batch), '--warmup', '5', '--repeats', '10'
        ] + (['--amp', '--amp-dtype', 'float16'] if amp else [])
        result = subprocess.run(
            cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
        print(result.stdout, flush=True)
        if result.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd[1:])} failed: '
                               f'{result.stderr.strip()[-600:]}')
        parts.append(('fp16 ' if amp else 'fp32 ') +
                     summarise_benchmark(result.stdout))
    return (f'HorNet-T, inference batch {batch}, training {train_batch}: ' +
            '; '.join(parts))


def summarise_benchmark(output: str) -> str:
    """``'infer 1234/1100 img/s (1.12x), train ...'`` (mmhornet/mmpretrain)
    from benchmark.py's output."""
    speeds: Dict[str, Dict[str, float]] = {}
    for mode, name, value in re.findall(
            r'^\s*(inference|training step)\s+(\w+):\s+([\d.]+) img/s', output,
            re.M):
        speeds.setdefault(mode, {})[name] = float(value)
    texts = []
    for mode, short in (('inference', 'infer'), ('training step', 'train')):
        s = speeds.get(mode, {})
        if 'mmhornet' not in s or 'mmpretrain' not in s:
            raise AssertionError(f'no {mode} speeds in the output')
        texts.append(f"{short} {s['mmhornet']:.0f}/{s['mmpretrain']:.0f} "
                     f"img/s ({s['mmhornet'] / s['mmpretrain']:.2f}x)")
    return ', '.join(texts)


# --------------------------------------------------------------------------
# TensorRT
# --------------------------------------------------------------------------


class Float16Logits(nn.Module):
    """A classifier in float16 with every LayerNorm kept in float32 (the
    variance of a float16 norm overflows once activations pass about 256);
    float32 inputs and logits. Exported, it is a strongly typed float16
    graph: what TensorRT 10 and 11 build in float16."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).half()
        for module in self.model.modules():
            if isinstance(module, nn.LayerNorm):
                module.float()
                module.register_forward_pre_hook(_inputs_to_float32)
                module.register_forward_hook(_output_to_float16)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs.half(), mode='tensor').float()


def _inputs_to_float32(module, args):
    return (args[0].float(), *args[1:])


def _output_to_float16(module, args, output):
    return output.half()


def export_float16_onnx(model: nn.Module,
                        output_file: str,
                        size: int = 224,
                        batch: int = 2) -> str:
    """Export ``Float16Logits(model)`` with the dynamo exporter (global
    filters in their DFT-matrix form, as :func:`mmhornet.deploy.export_onnx`
    does)."""
    inputs = torch.rand(batch, 3, size, size)
    with torch.no_grad():
        program = torch.onnx.export(
            Float16Logits(model).eval(), (inputs, ),
            dynamo=True,
            verbose=False,
            input_names=['inputs'],
            output_names=['logits'],
            external_data=False)
    program.save(output_file)
    return output_file


def build_engine(onnx_file: str) -> tuple:
    """A TensorRT engine of ``onnx_file``: strongly typed (float16 where
    the graph is float16; required by TensorRT 11), TF32 off where the
    builder has the flag; and whether TF32 is off."""
    import tensorrt as trt
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    strongly_typed = getattr(trt.NetworkDefinitionCreationFlag,
                             'STRONGLY_TYPED', None)
    if strongly_typed is not None:
        flags |= 1 << int(strongly_typed)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(onnx_file):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f'TensorRT cannot parse {onnx_file}: {errors}')
    config = builder.create_builder_config()
    tf32_off = hasattr(trt.BuilderFlag, 'TF32')
    if tf32_off:
        config.clear_flag(trt.BuilderFlag.TF32)
    if hasattr(config, 'builder_optimization_level'):
        config.builder_optimization_level = 1  # build in seconds, not minutes
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f'TensorRT could not build an engine of '
                           f'{onnx_file} (see its log above)')
    return trt.Runtime(logger).deserialize_cuda_engine(serialized), tf32_off


def run_engine(engine, inputs: torch.Tensor) -> torch.Tensor:
    """Run a one-input, one-output engine on a CUDA tensor."""
    import tensorrt as trt
    context = engine.create_execution_context()
    output = None
    keep = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        dtype = torch.from_numpy(
            np.empty(0, dtype=trt.nptype(engine.get_tensor_dtype(name)))).dtype
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            context.set_input_shape(name, tuple(inputs.shape))
            buffer = inputs.to(dtype).contiguous()
        else:
            buffer = torch.empty(
                tuple(context.get_tensor_shape(name)),
                dtype=dtype,
                device=inputs.device)
            output = buffer
        keep.append(buffer)
        context.set_tensor_address(name, buffer.data_ptr())
    stream = torch.cuda.current_stream(inputs.device)
    if not context.execute_async_v3(stream.cuda_stream):
        raise RuntimeError('TensorRT execution failed')
    stream.synchronize()
    return output


def check_tensorrt(arch='tiny', size: int = 224, batch: int = 2) -> str:
    """TensorRT engines of HorNet exported to ONNX, float32 and float16
    (LayerNorms float32), against PyTorch float32 on the CPU."""
    try:
        import tensorrt as trt
    except ImportError as error:
        raise ImportError(
            'the TensorRT part needs the tensorrt package: make gpu-check '
            'installs it (pip install tensorrt-cu<CUDA major of torch>)'
        ) from error
    from mmhornet.deploy import export_onnx
    model = hornet_classifier(arch)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch, 3, size, size, generator=generator)
    with torch.no_grad():
        reference = model(inputs, mode='tensor')
    errors = {}
    with tempfile.TemporaryDirectory() as folder:
        files = dict(
            float32=export_onnx(model, f'{folder}/fp32.onnx', (size, size),
                                batch),
            float16=export_float16_onnx(model, f'{folder}/fp16.onnx', size,
                                        batch))
        bounds = dict(TENSORRT_BOUNDS)
        for name, onnx_file in files.items():
            engine, tf32_off = build_engine(onnx_file)
            if not tf32_off and name == 'float32':
                name = 'float32(tf32)'  # ten units of TF32's roundoff
                bounds[name] = 10 * 2.**-11
            errors[name] = relative_error(
                run_engine(engine, inputs.cuda()), reference)
    return f'TensorRT {trt.__version__}, {arch} {batch}x{size}px: ' + within(
        errors, bounds)


# --------------------------------------------------------------------------
# Two GPUs: SyncBN in two processes
# --------------------------------------------------------------------------


def check_ddp(device_count: Optional[int] = None) -> str:
    """UPerNet (SyncBN heads) trained with float16 AMP by 2 processes on 2
    GPUs (torchrun, nccl, different data per process)."""
    count = torch.cuda.device_count() if device_count is None else device_count
    if count < 2:
        raise SkipPart(f'needs 2 GPUs, this machine has {count}')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--standalone',
        '--nproc_per_node', '2',
        osp.abspath(__file__), '--ddp-worker'
    ]
    result = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    report = [
        line[len('GPU_CHECK_DDP '):] for line in result.stdout.splitlines()
        if line.startswith('GPU_CHECK_DDP ')
    ]
    if result.returncode != 0 or not report:
        raise RuntimeError(f'torchrun failed ({result.returncode}): '
                           f'{result.stderr.strip()[-800:]}')
    return json.loads(report[-1])['detail']


def ddp_worker() -> None:
    """One torchrun process of :func:`check_ddp` (rank 0 prints the
    report): after two steps on different data, the weights and the SyncBN
    running statistics must be equal on both ranks (per-process BN would
    differ)."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    local_rank = int(os.environ['LOCAL_RANK'])
    torch.cuda.set_device(local_rank)
    dist.init_process_group('nccl')
    rank = dist.get_rank()
    try:
        cfg = load_cfg(TRAIN_CONFIGS['upernet'])
        model = build_train_model(cfg, 'cuda')
        sync_bns = [
            m for m in model.modules() if isinstance(m, nn.SyncBatchNorm)
        ]
        # no buffer broadcast (as mmengine's Runner): equal running stats
        # must come from SyncBN itself
        ddp = MMDistributedDataParallel(
            model,
            device_ids=[local_rank],
            broadcast_buffers=False,
            find_unused_parameters=True)
        wrapper = build_optim_wrapper(model, cfg, 'float16')
        data = task_batch(cfg, 2, 512, 512, seed=rank)
        losses = [
            float(ddp.train_step(copy.deepcopy(data), wrapper)['loss'])
            for _ in range(2)
        ]
        if not np.isfinite(losses).all():
            raise AssertionError(f'rank {rank}: non-finite losses {losses}')
        weights = torch.cat(
            [p.detach().float().flatten() for p in model.parameters()])
        stats = torch.cat([m.running_mean.float() for m in sync_bns])
        errors = {}
        for name, local in (('weights', weights), ('syncbn_stats', stats)):
            rank0 = local.clone()
            dist.broadcast(rank0, 0)
            error = torch.tensor(relative_error(local, rank0), device='cuda')
            dist.all_reduce(error, op=dist.ReduceOp.MAX)
            errors[name] = float(error)
        text = within(errors, dict(weights=1e-6, syncbn_stats=1e-5))
        if rank == 0:
            detail = (f'2 ranks, {len(sync_bns)} SyncBN layers, losses '
                      f'{losses[0]:.3g} -> {losses[-1]:.3g}; rank '
                      f'differences: {text}')
            print(
                'GPU_CHECK_DDP ' + json.dumps(dict(detail=detail)), flush=True)
    finally:
        dist.destroy_process_group()


# --------------------------------------------------------------------------


def run_checks(parts: Sequence[str]) -> List[PartResult]:
    results = []
    if 'mmcv-ops' in parts:
        results.append(run_part('mmcv CUDA ops', check_mmcv_ops))
    if 'parity' in parts:
        for arch, label in ARCH_LABELS.items():
            results.append(run_part(f'{label} GPU vs CPU', check_parity, arch))
    if 'train' in parts:
        for name in TRAIN_CONFIGS:
            results.append(run_part(f'AMP train {name}', check_train, name))
    if 'ddp' in parts:
        results.append(run_part('DDP SyncBN 2 GPUs', check_ddp))
    if 'compile' in parts:
        results.append(run_part('torch.compile', check_compile))
    if 'benchmark' in parts:
        results.append(run_part('benchmark.py', check_benchmark))
    if 'tensorrt' in parts:
        for arch, label in ARCH_LABELS.items():
            results.append(run_part(f'TensorRT {label}', check_tensorrt, arch))
    return results


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Prove that mmhornet runs on this CUDA machine')
    parser.add_argument(
        '--parts',
        nargs='+',
        choices=PARTS,
        default=list(PARTS),
        help='which parts to run (default: all)')
    parser.add_argument(
        '--ddp-worker', action='store_true', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.ddp_worker:
        ddp_worker()
        return 0
    if not torch.cuda.is_available():
        print(
            'gpu_check needs a CUDA GPU: torch '
            f'{torch.__version__} sees none (torch.cuda.is_available() is '
            'False). Run `make gpu-check` on a machine with an NVIDIA GPU '
            'and its driver; nothing was checked.',
            file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = run_checks(args.parts)
    print()
    print(format_table(results, environment_header()))
    print(f'total {time.perf_counter() - start:.0f} s')
    return 1 if any(r.status == 'FAIL' for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())

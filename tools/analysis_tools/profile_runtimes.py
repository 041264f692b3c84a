# Copyright (c) mmhornet contributors. All rights reserved.
"""Where the time of the exported HorNet goes, in onnxruntime and OpenVINO,
for mmhornet's export and mmpretrain's export of the same weights.

Both models are exported (``export_onnx``, dynamic batch, as
``benchmark.py --paths`` does) and, at each batch size:

* timed in both runtimes, interleaved (each repeat runs the four graphs
  back to back, starting one later each time);
* profiled in onnxruntime (``SessionOptions.enable_profiling``): node time
  per op type, a convolution with one input channel per group counted as
  depth-wise; and the bound it gives: mmpretrain's best measured time over
  mmhornet's time in matrix products and convolutions alone, i.e. the ratio
  mmhornet would reach if every other op took no time, and the share of
  the matrix-product peak its dense products reach (onnxruntime is
  profiled first, before OpenVINO has run in the process);
* profiled in OpenVINO (``PERF_COUNT``): time per executed layer type and
  kernel (``exec_type``);
* the depth-wise convolutions' time set against two bounds: copying their
  input to their output (``torch`` copy of the same tensors: the memory
  traffic bound) and their multiply-adds at the float32 matrix-product peak
  measured in the same run.

Example:
    python tools/analysis_tools/profile_runtimes.py \
        hornet-tiny_3rdparty_in1k --threads 2
"""
import argparse
import collections
import functools
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Dict, Tuple

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark  # noqa: E402 (the script beside this one)

from mmhornet.apis import get_model  # noqa: E402
from mmhornet.deploy import create_runner, export_onnx  # noqa: E402
from mmhornet.deploy.runtime import OpenVINORunner, import_onnxruntime  # noqa

SIDES = ('mmhornet', 'mmpretrain')
RUNTIMES = ('onnxruntime', 'openvino')
#: onnxruntime op types that are matrix products or convolutions.
MATRIX_OPS = frozenset({
    'MatMul', 'FusedMatMul', 'Gemm', 'FusedGemm', 'Conv', 'FusedConv',
    'Conv (depth-wise)'
})
DEPTHWISE = 'Conv (depth-wise)'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', help='model name or config')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 16])
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224])
    parser.add_argument(
        '--threads', type=int, help='runtime threads (default: torch\'s)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--repeats', type=int, default=10, help='timed interleaved repeats')
    parser.add_argument(
        '--profile-runs', type=int, default=3, help='profiled runs per graph')
    parser.add_argument(
        '--onnx-dir',
        help='keep the exported files here (default: a '
        'temporary folder)')
    return parser.parse_args()


def export_sides(args: argparse.Namespace, folder: str) -> Dict[str, str]:
    """mmhornet's model and mmpretrain's twin exported to ``folder``."""
    torch.manual_seed(0)
    model = get_model(args.model).eval()
    files = {}
    for side, net in zip(SIDES,
                         (model, benchmark.mmpretrain_twin(model).eval())):
        files[side] = osp.join(folder, f'{side}.onnx')
        export_onnx(net, files[side], tuple(args.shape), dynamic_batch=True)
    return files


def time_graphs(files: Dict[str,
                            str], images: np.ndarray, args: argparse.Namespace,
                failures: Dict[tuple, str]) -> Dict[Tuple[str, str], list]:
    """Seconds per run of each (side, runtime), interleaved and rotated;
    a graph that fails to run is left out, its error kept in
    ``failures``."""
    runners = {}
    for side in SIDES:
        for runtime in RUNTIMES:
            try:
                run = create_runner(files[side], runtime, args.threads)
                for _ in range(args.warmup):
                    run(images)
                runners[(side, runtime)] = run
            except Exception as error:
                failures[(side, runtime)] = benchmark.error_summary(error)
    steps = {
        key: functools.partial(run, images)
        for key, run in runners.items()
    }
    return benchmark.interleaved_seconds(steps, args.repeats,
                                         torch.device('cpu'))


def op_type(event: dict) -> str:
    """The op type of an onnxruntime node event; depth-wise convolutions
    (weights with one input channel per group) apart."""
    name = event['args']['op_name']
    shapes = event['args'].get('input_type_shape', [])
    if name in ('Conv', 'FusedConv') and len(shapes) > 1:
        weight = list(shapes[1].values())[0]
        if len(weight) == 4 and weight[1] == 1 and weight[2] > 1:
            return DEPTHWISE
    return name


def onnxruntime_profiles(files: Dict[str, str], images: np.ndarray,
                         args: argparse.Namespace, folder: str) -> dict:
    """Both sides profiled in onnxruntime, run by run in turn: see
    :func:`summarize_events`."""
    ort = import_onnxruntime()
    sessions = {}
    for side in SIDES:
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads or torch.get_num_threads()
        options.enable_profiling = True
        options.profile_file_prefix = osp.join(folder, f'ort_{side}')
        sessions[side] = ort.InferenceSession(
            files[side], options, providers=['CPUExecutionProvider'])
    for _ in range(args.warmup + args.profile_runs):
        for session in sessions.values():
            time.sleep(benchmark.CPU_PAUSE_S)
            session.run(None, {session.get_inputs()[0].name: images})
    profiles = {}
    for side, session in sessions.items():
        with open(session.end_profiling()) as f:
            profiles[side] = summarize_events(json.load(f), args.warmup)
    return profiles


def summarize_events(events: list, warmup: int) -> dict:
    """From onnxruntime's profile: node time (ms per run) by op type, each
    node's median over the runs after ``warmup``; the median wall time of
    those runs; the depth-wise convolutions' node times by (input shape,
    taps)."""
    runs = [
        e for e in events
        if e.get('cat') == 'Session' and e['name'] == 'model_run'
    ][warmup:]
    nodes: Dict[str, list] = collections.defaultdict(list)
    kinds = {}
    for e in events:
        if (e.get('cat') == 'Node' and e['ts'] >= runs[0]['ts']
                and e['name'].endswith('_kernel_time')):
            nodes[e['name']].append(e['dur'] / 1e3)
            kinds[e['name']] = e
    by_type: Dict[str, float] = collections.defaultdict(float)
    depthwise: Dict[tuple, float] = collections.defaultdict(float)
    dense_flop = 0
    for node, durations in nodes.items():
        kind, ms = op_type(kinds[node]), statistics.median(durations)
        by_type[kind] += ms
        if kind in MATRIX_OPS and kind != DEPTHWISE:
            dense_flop += product_flop(kinds[node])
        if kind == DEPTHWISE:
            shapes = [
                list(s.values())[0]
                for s in kinds[node]['args']['input_type_shape']
            ]
            depthwise[(tuple(shapes[0]), int(np.prod(shapes[1][2:])))] += ms
    wall = statistics.median(r['dur'] for r in runs) / 1e3
    return dict(
        by_type=dict(by_type),
        wall_ms=wall,
        depthwise=depthwise,
        dense_gflop=dense_flop / 1e9)


def product_flop(event: dict) -> int:
    """2 x the multiply-adds of a MatMul, Gemm or dense Conv node event:
    each output element sums K products (the last input dim; a
    convolution's input channels per group times its kernel size)."""
    shapes = [list(s.values())[0] for s in event['args']['input_type_shape']]
    output = list(event['args']['output_type_shape'][0].values())[0]
    if event['args']['op_name'] in ('Conv', 'FusedConv'):
        depth = int(np.prod(shapes[1][1:]))
    else:
        depth = shapes[0][-1]
    return 2 * int(np.prod(output)) * depth


def openvino_profiles(files: Dict[str, str], images: np.ndarray,
                      args: argparse.Namespace, sides: list) -> dict:
    """Per side: time (ms per run; each layer's median over
    ``--profile-runs`` runs, the sides run in turn) and count of
    OpenVINO's executed layers by (layer type, kernel), from its
    performance counters."""
    requests = {
        side:
        OpenVINORunner(files[side], args.threads).compile(
            images.shape, perf_counters=True).create_infer_request()
        for side in sides
    }
    times = {side: collections.defaultdict(list) for side in sides}
    kinds = {}
    for run in range(args.warmup + args.profile_runs):
        for side, request in requests.items():
            time.sleep(benchmark.CPU_PAUSE_S)
            request.infer({0: images})
            for info in request.get_profiling_info():
                if run >= args.warmup and info.status == info.Status.EXECUTED:
                    times[side][info.node_name].append(
                        info.real_time.total_seconds() * 1e3)
                    kinds[(side, info.node_name)] = (info.node_type,
                                                     info.exec_type)
    layers = {side: {} for side in sides}
    for side in sides:
        for node, ms in times[side].items():
            entry = layers[side].setdefault(kinds[(side, node)], [0., 0])
            entry[0] += statistics.median(ms)
            entry[1] += 1
    return layers


def copy_ms(shape: Tuple[int, ...], runs: int = 20) -> float:
    """Fastest of ``runs`` copies of a float32 tensor of ``shape`` into
    another (one read and one write of each element)."""
    source, target = torch.rand(shape), torch.empty(shape)
    target.copy_(source)
    best = float('inf')
    for _ in range(runs):
        start = time.perf_counter()
        target.copy_(source)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def print_op_table(profiles: Dict[str, dict]) -> None:
    """onnxruntime node time by op type, both sides, largest first."""
    kinds = sorted({k
                    for p in profiles.values()
                    for k in p['by_type']},
                   key=lambda k: -profiles['mmhornet']['by_type'].get(k, 0))
    print('| op type | mmhornet ms | mmpretrain ms |\n| --- | --- | --- |')
    for kind in kinds:
        cells = [f"{p['by_type'].get(kind, 0):.2f}" for p in profiles.values()]
        print(f'| {kind} | {" | ".join(cells)} |')
    for label, keep in (('matrix products and convolutions',
                         lambda k: k in MATRIX_OPS),
                        ('everything else', lambda k: k not in MATRIX_OPS),
                        ('all nodes', lambda k: True)):
        cells = [
            f"{sum(v for k, v in p['by_type'].items() if keep(k)):.2f}"
            for p in profiles.values()
        ]
        print(f'| **{label}** | {" | ".join(cells)} |')
    cells = [f"{p['wall_ms']:.2f}" for p in profiles.values()]
    print(f'| wall time of the profiled runs | {" | ".join(cells)} |')


def print_timings(seconds: Dict[Tuple[str, str], list], batch: int,
                  failures: Dict[tuple, str]) -> dict:
    """Median ms and img/s of each graph and, per runtime, mmhornet /
    mmpretrain (of the medians, and per repeat); returns the medians."""
    medians = {k: 1e3 * statistics.median(v) for k, v in seconds.items()}
    for runtime in RUNTIMES:
        cells = []
        for side in SIDES:
            ms = medians.get((side, runtime))
            cells.append(
                f'{side} not run: {failures[(side, runtime)]}' if ms is
                None else f'{side} {ms:.2f} ms ({batch * 1e3 / ms:.2f} img/s)')
        line = f'  {runtime}: ' + ', '.join(cells)
        if all((side, runtime) in seconds for side in SIDES):
            ours, peer = (seconds[(side, runtime)] for side in SIDES)
            paired = sorted(p / o for o, p in zip(ours, peer))
            line += (f'; mmhornet / mmpretrain '
                     f'{statistics.median(peer) / statistics.median(ours):.3f}'
                     f'x (per repeat: median {statistics.median(paired):.3f}'
                     f'x, range {paired[0]:.3f}-{paired[-1]:.3f}x)')
        print(line)
    return medians


def print_bound(medians: dict, profiles: Dict[str, dict],
                peak_gflops: float) -> None:
    """The ratio mmhornet would reach with only its matrix products and
    convolutions left, against mmpretrain's best measured path; and with
    its dense products at the matrix-product peak."""
    best = {
        side: min(ms for (s, _), ms in medians.items() if s == side)
        for side in SIDES
    }
    ops = profiles['mmhornet']['by_type']
    matrix = sum(v for k, v in ops.items() if k in MATRIX_OPS)
    dense = matrix - ops.get(DEPTHWISE, 0)
    peer = best['mmpretrain']
    at_peak = profiles['mmhornet']['dense_gflop'] / peak_gflops * 1e3
    print(f'  best measured: mmhornet {best["mmhornet"]:.2f} ms, mmpretrain '
          f'{peer:.2f} ms: {peer / best["mmhornet"]:.3f}x\n'
          f'  bound, mmhornet with only its matrix products and '
          f'convolutions ({matrix:.2f} ms): {peer / matrix:.3f}x; '
          f'also without its depth-wise convolutions ({dense:.2f} ms): '
          f'{peer / dense:.3f}x\n'
          f'  dense products: {profiles["mmhornet"]["dense_gflop"]:.4g} '
          f'GFLOP, {100 * at_peak / dense:.1f}% of the matrix-product peak '
          f'({peak_gflops:.1f} GFLOP/s); at the peak, all else free: '
          f'{peer / at_peak:.3f}x')


def print_depthwise(depthwise: Dict[tuple, float], peak_gflops: float) -> None:
    """Depth-wise convolution time by input shape against the copy of the
    same tensors and its multiply-adds at the matrix-product peak."""
    print('| input shape | onnxruntime ms | copy ms | multiply-adds at '
          'peak ms |\n| --- | --- | --- | --- |')
    totals = [0., 0., 0.]
    for (shape, taps), ms in sorted(depthwise.items()):
        row = (ms, copy_ms(shape),
               2 * taps * int(np.prod(shape)) / peak_gflops / 1e6)
        totals = [t + r for t, r in zip(totals, row)]
        print(f'| {shape} | ' + ' | '.join(f'{v:.3f}' for v in row) + ' |')
    print('| **all** | ' + ' | '.join(f'{v:.3f}' for v in totals) + ' |')


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'{args.model}: input {tuple(args.shape)}, float32, '
          f'{args.threads or torch.get_num_threads()} threads; cpu: '
          f'{benchmark.cpu_description()}')
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.onnx_dir or scratch
        os.makedirs(folder, exist_ok=True)
        files = export_sides(args, folder)
        batches = {
            batch: np.random.rand(batch, 3, *args.shape).astype(np.float32)
            for batch in args.batch_sizes
        }
        # onnxruntime first: once OpenVINO has run in a process, its idle
        # threads slow onnxruntime's nodes there (by about 10% at batch 1)
        all_profiles = {
            batch: onnxruntime_profiles(files, images, args, scratch)
            for batch, images in batches.items()
        }
        for batch, images in batches.items():
            print(f'\nbatch {batch}: median of {args.repeats} interleaved '
                  f'runs after {args.warmup} warm-up runs')
            failures: Dict[tuple, str] = {}
            medians = print_timings(
                time_graphs(files, images, args, failures), batch, failures)
            profiles = all_profiles[batch]
            print(f'onnxruntime node time per run (batch {batch}; each '
                  f'node the median of {args.profile_runs} profiled runs):')
            print_op_table(profiles)
            gflops = benchmark.matmul_peak_gflops(
                torch.device('cpu'), torch.float32)
            print_bound(medians, profiles, gflops)
            print(f'OpenVINO layers per run (batch {batch}):')
            ran = [s for s in SIDES if (s, 'openvino') not in failures]
            layers = openvino_profiles(files, images, args, ran)
            for side in SIDES:
                if side not in ran:
                    print(f'  {side}: not run')
                    continue
                total = sum(v[0] for v in layers[side].values())
                print(f'  {side}: {total:.2f} ms in counters; ' + ', '.join(
                    f'{t}/{e} x{n} {ms:.2f}' for (t, e), (ms, n) in sorted(
                        layers[side].items(), key=lambda kv: -kv[1][0])))
            print(f'depth-wise convolutions of mmhornet (batch {batch}; '
                  f'matrix-product peak {gflops:.1f} GFLOP/s):')
            print_depthwise(profiles['mmhornet']['depthwise'], gflops)


if __name__ == '__main__':
    main()

# Copyright (c) mmhornet contributors. All rights reserved.
"""The benchmark tool in a smoke setting (speed is not asserted here)."""
import re

import pytest

from ..conftest import TEST_CONFIG, run_tool

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow


def test_benchmark_smoke_with_comparison():
    result = run_tool([
        'tools/analysis_tools/benchmark.py', TEST_CONFIG, '--compare',
        'mmpretrain', '--shape', '32', '32', '--batch-size', '2',
        '--train-batch-size', '2', '--warmup', '1', '--repeats', '2', '--amp',
        '--channels-last', '--roofline', '--breakdown'
    ])
    out = result.stdout
    assert 'bfloat16 autocast, channels-last' in out
    for label in ('inference', 'training step'):
        for name in ('mmhornet', 'mmpretrain'):
            line = re.search(rf'{label}\s+{name}: +([\d.]+) img/s', out)
            assert line and float(line.group(1)) > 0, out
        speed_up = re.search(
            rf'{label} speed-up mmhornet / mmpretrain: ([\d.]+)x \(per '
            r'repeat: median ([\d.]+)x, range ([\d.]+)-([\d.]+)x\)', out)
        assert speed_up, out
        _, median, low, high = map(float, speed_up.groups())
        assert 0 < low <= median <= high
        for name in ('mmhornet', 'mmpretrain'):
            split = re.search(
                rf'{label}\s+{name}: op time ([\d.]+) ms/batch: convolutions '
                r'and matrix products ([\d.]+), other ([\d.]+) \((.+)\)', out)
            assert split, out
            total, matrix, other = map(float, split.groups()[:3])
            assert 0 < matrix < total
            assert matrix + other == pytest.approx(total, abs=0.15)
            assert 'aten::' in split.group(4)
    roofline = re.search(
        r'roofline: matrix products at ([\d.]+) GFLOP/s \(bfloat16\), '
        r'([\d.e+-]+) GFLOP per image: ([\d.e+-]+) img/s', out)
    assert roofline, out
    peak, gflop, bound = map(float, roofline.groups())
    assert bound == pytest.approx(peak / gflop, rel=0.02)
    for name in ('mmhornet', 'mmpretrain'):
        line = re.search(
            rf'inference\s+{name}: +([\d.]+) img/s'
            r'.*\(([\d.e+-]+)% of roofline\)', out)
        assert line, out
        assert float(line.group(2)) == pytest.approx(
            100 * float(line.group(1)) / bound, rel=0.01)


def test_benchmark_freeze_needs_compile():
    result = run_tool(
        ['tools/analysis_tools/benchmark.py', TEST_CONFIG, '--freeze'],
        check=False)
    assert result.returncode != 0
    assert '--freeze needs --compile' in result.stderr


def test_benchmark_breakdown_is_cpu_only():
    result = run_tool([
        'tools/analysis_tools/benchmark.py', TEST_CONFIG, '--device', 'cuda',
        '--breakdown'
    ],
                      check=False)
    assert result.returncode != 0
    assert '--breakdown profiles CPU ops' in result.stderr

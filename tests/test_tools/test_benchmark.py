# Copyright (c) mmhornet contributors. All rights reserved.
"""The benchmark tool in a smoke setting (speed is not asserted here)."""
import re

from ..conftest import TEST_CONFIG, run_tool


def test_benchmark_smoke_with_comparison():
    result = run_tool([
        'tools/analysis_tools/benchmark.py', TEST_CONFIG, '--compare',
        'mmpretrain', '--shape', '32', '32', '--batch-size', '2',
        '--train-batch-size', '2', '--warmup', '1', '--repeats', '2', '--amp',
        '--channels-last'
    ])
    out = result.stdout
    assert 'bfloat16 autocast, channels-last' in out
    for label in ('inference', 'training step'):
        for name in ('mmhornet', 'mmpretrain'):
            line = re.search(rf'{label}\s+{name}: +([\d.]+) img/s', out)
            assert line and float(line.group(1)) > 0, out
        assert re.search(
            rf'{label} speed-up mmhornet / mmpretrain: '
            r'[\d.]+x', out)

# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/analysis_tools/profile_runtimes.py on a tiny model (speed is not
asserted; the tables' arithmetic is)."""
import re

import pytest

from ..conftest import TEST_CONFIG, run_tool

pytestmark = pytest.mark.slow


def table_rows(text: str) -> dict:
    """``| label | a | b |`` rows of a markdown table, label to numbers."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) >= 3 and re.fullmatch(r'[\d.]+', cells[1]):
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


def test_profile_runtimes_tables_and_bound():
    out = run_tool([
        'tools/analysis_tools/profile_runtimes.py', TEST_CONFIG, '--shape',
        '32', '32', '--batch-sizes', '2', '--warmup', '1', '--repeats', '3',
        '--profile-runs', '2', '--threads', '2'
    ]).stdout
    assert 'cpu: ' in out and 'batch 2: median of 3 interleaved runs' in out
    for runtime in ('onnxruntime', 'openvino'):
        line = re.search(rf'^  {runtime}: (.*)$', out, re.M)
        assert line, out
        for side in ('mmhornet', 'mmpretrain'):  # a time or the error
            assert re.search(rf'{side} ([\d.]+ ms|not run: \w+)',
                             line.group(1)), line.group(1)
    ort_table = out.split('onnxruntime node time per run')[1].split(
        'best measured')[0]
    rows = table_rows(ort_table)
    matrix = rows['**matrix products and convolutions**']
    other = rows['**everything else**']
    total = rows['**all nodes**']
    assert 'Conv (depth-wise)' in rows and 'MatMul' in rows
    for side in range(2):
        assert 0 < matrix[side] < total[side]
        assert matrix[side] + other[side] == pytest.approx(
            total[side], abs=0.015)
        op_sum = sum(v[side] for k, v in rows.items()
                     if '**' not in k and not k.startswith('wall'))
        assert op_sum == pytest.approx(total[side], abs=0.01 * len(rows))
    best = re.search(
        r'best measured: mmhornet ([\d.]+) ms, mmpretrain ([\d.]+) ms: '
        r'([\d.]+)x\n  bound, mmhornet with only its matrix products and '
        r'convolutions \(([\d.]+) ms\): ([\d.]+)x', out)
    assert best, out
    ours, peer, ratio, ours_matrix, bound = map(float, best.groups())
    assert ours_matrix == pytest.approx(matrix[0], abs=0.006)
    assert ratio == pytest.approx(peer / ours, rel=0.03)  # 2-decimal ms
    assert bound == pytest.approx(peer / ours_matrix, rel=0.03)
    dense = re.search(
        r'also without its depth-wise convolutions \(([\d.]+) ms\): [\d.]+x'
        r'\n  dense products: ([\d.e+-]+) GFLOP, ([\d.]+)% of the '
        r'matrix-product peak \(([\d.]+) GFLOP/s\); at the peak, all else '
        r'free: ([\d.]+)x', out)
    assert dense, out
    dense_ms, gflop, share, peak, at_peak = map(float, dense.groups())
    assert 0 < dense_ms < ours_matrix
    at_peak_ms = 1e3 * gflop / peak
    # from printed values: the share has one decimal, the times two (a
    # few 0.01 ms on this tiny model), so allow a few per cent
    assert share == pytest.approx(
        100 * at_peak_ms / dense_ms, rel=0.05, abs=0.1)
    assert at_peak == pytest.approx(peer / at_peak_ms, rel=0.05)
    assert re.search(r'  mmhornet: [\d.]+ ms in counters; FullyConnected/',
                     out), out
    dw = table_rows(out.split('depth-wise convolutions of mmhornet')[1])
    assert dw['**all**'][0] == pytest.approx(
        rows['Conv (depth-wise)'][0], abs=0.01)

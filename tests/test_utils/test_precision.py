# Copyright (c) mmhornet contributors. All rights reserved.
"""Native bfloat16 detection and the ``--amp`` warning
(mmhornet/utils/precision.py)."""
import math
import platform

import pytest

from mmhornet.utils import cpu_has_native_bfloat16, warn_if_bfloat16_emulated
from mmhornet.utils.precision import _cpu_flags, bfloat16_matmul_slowdown

pytestmark = pytest.mark.cpu_isa

X86 = platform.machine().lower() in ('x86_64', 'amd64', 'i686')


@pytest.mark.skipif(not X86 or not _cpu_flags(), reason='x86 Linux flags')
def test_native_bfloat16_is_read_from_the_cpu_flags(monkeypatch):
    monkeypatch.delenv('ONEDNN_MAX_CPU_ISA', raising=False)
    flags = _cpu_flags()
    assert cpu_has_native_bfloat16() == bool({'avx512_bf16', 'amx_bf16'}
                                             & flags)


@pytest.mark.skipif(not X86, reason='oneDNN ISA caps are x86 names')
@pytest.mark.parametrize('cap', ['AVX2', 'avx512_core', 'AVX512_CORE_VNNI'])
def test_an_isa_cap_below_bfloat16_means_emulated(monkeypatch, cap):
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', cap)
    assert not cpu_has_native_bfloat16()


def test_the_warning_says_emulated_and_how_much_slower():
    message = warn_if_bfloat16_emulated('cpu')
    if cpu_has_native_bfloat16():
        assert message is None
        return
    slowdown = bfloat16_matmul_slowdown()
    assert math.isfinite(slowdown) and slowdown > 0
    assert 'bfloat16 is emulated' in message
    assert f'{slowdown:.0f}x as long as a float32 one' in message
    assert 'Drop --amp' in message


def test_no_warning_for_an_accelerator():
    assert warn_if_bfloat16_emulated('cuda') is None

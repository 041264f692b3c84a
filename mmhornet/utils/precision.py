# Copyright (c) mmhornet contributors. All rights reserved.
"""Whether this CPU computes bfloat16 natively, and the ``--amp`` warning.

Under ``--amp`` on a CPU, PyTorch computes in bfloat16. CPUs with
AVX512-BF16 or AMX-BF16 (x86) or the BF16 extension (Arm) multiply
bfloat16 matrices natively, faster than float32. Other CPUs emulate it,
many times slower than float32 (docs/benchmark.md, "How to read the
results"), so ``--amp`` there makes a run far slower and no more accurate.
"""
import functools
import logging
import os
import platform
import time
from typing import Callable, Optional

import torch
from mmengine.logging import print_log

# ONEDNN_MAX_CPU_ISA values that keep oneDNN's bfloat16 instructions
_ONEDNN_BF16_ISAS = ('AVX512_CORE_BF16', 'AVX512_CORE_FP16', 'AVX10_1_512',
                     'AVX512_CORE_AMX', 'AVX512_CORE_AMX_FP16',
                     'AVX10_1_512_AMX', 'AVX10_1_512_AMX_FP16', 'AVX10_2_512',
                     'AVX10_2_512_AMX_2', 'ALL', 'DEFAULT')


def _cpu_flags() -> set:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith(('flags', 'Features')):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively.

    True for x86 CPUs with AVX512-BF16 or AMX-BF16 (unless
    ``ONEDNN_MAX_CPU_ISA`` caps oneDNN below them) and for Arm CPUs with the
    BF16 extension.
    """
    flags = _cpu_flags()
    if platform.machine().lower() in ('aarch64', 'arm64'):
        return 'bf16' in flags
    cap = os.environ.get('ONEDNN_MAX_CPU_ISA', 'ALL').upper()
    if cap not in _ONEDNN_BF16_ISAS:
        return False
    if 'avx512_bf16' in flags or 'amx_bf16' in flags:
        return True
    cpu = getattr(torch, 'cpu', None)  # where /proc/cpuinfo is missing
    return any(
        getattr(cpu, probe, lambda: False)()
        for probe in ('_is_avx512_bf16_supported', '_is_amx_tile_supported'))


def _fastest(step: Callable[[], None], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


@functools.lru_cache(maxsize=None)
def bfloat16_matmul_slowdown(size: int = 256) -> float:
    """How many times longer a bfloat16 matrix product (``size`` squared)
    takes than a float32 one on this CPU, measured now (tens of ms where
    bfloat16 is emulated); below 1 where bfloat16 is faster."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    a16, b16 = a.bfloat16(), b.bfloat16()
    float32 = _fastest(lambda: torch.mm(a, b))
    bfloat16 = _fastest(lambda: torch.mm(a16, b16))
    return bfloat16 / max(float32, 1e-9)


def warn_if_bfloat16_emulated(device: str = 'cpu') -> Optional[str]:
    """Warn, at the start of a ``--amp`` run on a CPU, when the CPU has no
    native bfloat16 (see :func:`cpu_has_native_bfloat16`).

    Args:
        device (str): The device the run uses; only ``'cpu'`` can warn.
            Defaults to 'cpu'.

    Returns:
        str, optional: The warning given, or None.
    """
    if torch.device(device).type != 'cpu' or cpu_has_native_bfloat16():
        return None
    message = (
        '--amp on this CPU: it has no native bfloat16 (no AVX512-BF16 or '
        'AMX on x86, no BF16 on Arm), so bfloat16 is emulated; a bfloat16 '
        f'matrix product took {bfloat16_matmul_slowdown():.0f}x as long as '
        'a float32 one here (about 60x on AVX2-only CPUs), so expect this '
        'run to be many times slower than in float32. Drop --amp to run in '
        'float32.')
    print_log(message, logger='current', level=logging.WARNING)
    return message

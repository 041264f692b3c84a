# Copyright (c) mmhornet contributors. All rights reserved.
"""How `make install` builds mmcv: with CUDA or not, for which GPU
architectures, with which CUDA toolkit, and under which wheel-cache key.

The decisions are plain functions of facts (torch's version and CUDA
version, the visible GPUs, the environment, the toolkits found), so they are
tested without building. tools/misc/install_env.sh runs the commands:

- ``plan``: prints shell assignments ``MMCV_BUILD_KEY``, ``MMCV_FORCE_CUDA``
  and ``MMCV_ARCH_LIST`` (for ``eval``);
- ``toolkit``: picks the CUDA toolkit for a CUDA build (the machine's when
  its version is torch's CUDA version, otherwise nvcc and headers from the
  package registry, installed into this environment) and prints
  ``export CUDA_HOME=... PATH=...``;
- ``check [VERSION]``: fails, naming the fix, unless the installed mmcv is
  VERSION (default: the pinned one) and its operators were compiled with
  torch's CUDA version whenever torch sees a GPU (or ``FORCE_CUDA=1``).

Environment: ``FORCE_CUDA=1`` (build CUDA operators without a visible GPU),
``TORCH_CUDA_ARCH_LIST`` (architectures, e.g. ``8.0;9.0``),
``MMCV_CUDA_TOOLKIT`` (``auto``, ``system`` or ``registry``).
"""
import argparse
import glob
import importlib.util
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

TOOLKIT_MODES = ('auto', 'system', 'registry')
ARCH_ENTRY = re.compile(r'^(\d+\.\d+[af]?(\+PTX)?|[A-Z][a-z]+(\+PTX)?)$')


class BuildError(RuntimeError):
    """A build decision that cannot be made; the message names the fix."""


@dataclass
class TorchFacts:
    """What the build depends on, as found on this machine.

    Args:
        version (str): ``torch.__version__``, e.g. ``'2.13.0+cu130'``.
        cuda (str, optional): ``torch.version.cuda`` (None: CPU-only torch).
        capabilities (list[tuple]): compute capabilities of visible GPUs.
        arch_list (list[str]): ``torch.cuda.get_arch_list()``.
        toolkit_requirement (str, optional): the ``cuda-toolkit==X``
            requirement torch's package declares (None when it has none).
    """
    version: str
    cuda: Optional[str]
    capabilities: List[Tuple[int, int]] = field(default_factory=list)
    arch_list: List[str] = field(default_factory=list)
    toolkit_requirement: Optional[str] = None


@dataclass
class Plan:
    """How mmcv is built: ``arch_list`` is empty for a CPU-only build."""
    cuda: bool
    arch_list: str
    key: str


@dataclass
class Toolkit:
    """A CUDA toolkit: ``home`` when it is on the machine, else the pip
    ``requirement`` that brings nvcc and headers from the registry."""
    home: Optional[str]
    requirement: Optional[str]
    reason: str


def wants_cuda(facts: TorchFacts, env: Mapping[str, str]) -> bool:
    """mmcv's setup.py builds CUDA operators when torch sees a GPU or
    ``FORCE_CUDA=1``; a CPU-only torch cannot do either."""
    forced = env.get('FORCE_CUDA', '0') == '1'
    if forced and facts.cuda is None:
        raise BuildError(
            f'FORCE_CUDA=1, but torch {facts.version} is a CPU-only build: '
            'install the CUDA build of torch (requirements/pins.txt pins '
            "'torch===2.13.0', the registry's CUDA 13.0 build) or unset "
            'FORCE_CUDA.')
    return forced or bool(facts.capabilities)


def default_arch_list(torch_arch_list: Sequence[str]) -> str:
    """The architectures torch itself was built for, the newest also as PTX
    (for GPUs newer than the list): ``['sm_75', 'sm_90']`` ->
    ``'7.5;9.0+PTX'``."""
    archs = []
    for name in torch_arch_list:
        match = re.fullmatch(r'sm_(\d+)(\d)([af]?)', name)
        if match:
            archs.append(f'{match[1]}.{match[2]}{match[3]}')
    if not archs:
        raise BuildError(
            f'torch reports no CUDA architectures ({list(torch_arch_list)}) '
            'and no GPU is visible: set TORCH_CUDA_ARCH_LIST, e.g. '
            "TORCH_CUDA_ARCH_LIST='8.0;9.0'.")
    archs = sorted(set(archs), key=_arch_order)
    return ';'.join(archs[:-1] + [archs[-1] + '+PTX'])


def _arch_order(arch: str) -> Tuple[int, int, str]:
    major, minor = arch.split('.')
    return int(major), int(minor[0]), minor[1:]


def arch_list(facts: TorchFacts, env: Mapping[str, str]) -> str:
    """``TORCH_CUDA_ARCH_LIST`` when set, else the visible GPUs' compute
    capabilities, else :func:`default_arch_list`."""
    given = env.get('TORCH_CUDA_ARCH_LIST', '').strip()
    if given:
        entries = given.replace(';', ' ').split()
        bad = [e for e in entries if not ARCH_ENTRY.match(e)]
        if bad:
            raise BuildError(
                f'TORCH_CUDA_ARCH_LIST={given!r}: cannot read {bad}; give '
                "compute capabilities such as '8.6;9.0' or '9.0+PTX'.")
        return ';'.join(entries)
    if facts.capabilities:
        return ';'.join(f'{major}.{minor}'
                        for major, minor in sorted(set(facts.capabilities)))
    return default_arch_list(facts.arch_list)


def cache_key(torch_version: str, cuda: Optional[str],
              archs: Optional[str]) -> str:
    """The wheel-cache folder name: ``torch-2.13.0+cu130-cpu`` or
    ``torch-2.13.0+cu130-cuda13.0-arch8.0_9.0+PTX``."""
    if archs is None:
        return f'torch-{torch_version}-cpu'
    return f"torch-{torch_version}-cuda{cuda}-arch{archs.replace(';', '_')}"


def make_plan(facts: TorchFacts, env: Mapping[str, str]) -> Plan:
    """Decide CUDA or not, the architectures and the cache key."""
    if not wants_cuda(facts, env):
        return Plan(False, '', cache_key(facts.version, None, None))
    archs = arch_list(facts, env)
    return Plan(True, archs, cache_key(facts.version, facts.cuda, archs))


def choose_toolkit(facts: TorchFacts, found: Sequence[Tuple[str,
                                                            Optional[str]]],
                   mode: str) -> Toolkit:
    """The first toolkit in ``found`` ((home, nvcc version) pairs) whose
    version is torch's CUDA version, else the registry's pinned to torch's
    ``cuda-toolkit`` requirement. ``mode`` ``'system'`` or ``'registry'``
    allows only that source."""
    if mode not in TOOLKIT_MODES:
        raise BuildError(f'MMCV_CUDA_TOOLKIT={mode!r}: use one of '
                         f'{", ".join(TOOLKIT_MODES)}.')
    seen = ', '.join(f'{home} (CUDA {version or "?"})'
                     for home, version in found) or 'none'
    if mode != 'registry':
        for home, version in found:
            if version == facts.cuda:
                return Toolkit(home, None, f'CUDA {version} at {home}')
        if mode == 'system':
            raise BuildError(
                f'MMCV_CUDA_TOOLKIT=system, but no CUDA {facts.cuda} toolkit '
                f'was found (seen: {seen}): set CUDA_HOME to a CUDA '
                f'{facts.cuda} toolkit, or leave MMCV_CUDA_TOOLKIT unset to '
                'take nvcc from the package registry.')
    requirement = registry_requirement(facts)
    return Toolkit(
        None, requirement, f'{requirement} from the package registry '
        f'(machine toolkits seen: {seen})')


def registry_requirement(facts: TorchFacts) -> str:
    """``cuda-toolkit[nvcc,cccl]==X`` with torch's own ``cuda-toolkit``
    version (nvcc, CUDA runtime headers, crt, nvvm and CCCL)."""
    match = re.match(r'cuda-toolkit(\[[^\]]*\])?\s*==\s*([0-9.]+)',
                     facts.toolkit_requirement or '')
    if not match:
        raise BuildError(
            f'no CUDA {facts.cuda} toolkit was found, and torch '
            f'{facts.version} names no cuda-toolkit package to take nvcc '
            f'from: install the CUDA {facts.cuda} toolkit and set CUDA_HOME '
            'to it.')
    version = match[2]
    if '.'.join(version.split('.')[:2]) != facts.cuda:
        raise BuildError(
            f'torch {facts.version} (CUDA {facts.cuda}) requires '
            f'cuda-toolkit=={version}: reinstall torch (make install).')
    return f'cuda-toolkit[nvcc,cccl]=={version}'


def mmcv_problem(expected: str, installed: str, compiled_cuda: str,
                 torch_cuda: Optional[str], cuda_wanted: bool,
                 fix: str) -> Optional[str]:
    """Why the installed mmcv does not fit (None when it does).

    ``compiled_cuda`` is ``mmcv.ops.get_compiling_cuda_version()``
    (``'not available'`` for a CPU-only build).
    """
    if installed != expected:
        return f'mmcv {installed} is installed, {expected} is pinned. {fix}'
    if cuda_wanted and compiled_cuda != torch_cuda:
        return (f"mmcv's operators were compiled with CUDA {compiled_cuda}, "
                f'but torch needs CUDA {torch_cuda} operators here (a GPU is '
                f'visible or FORCE_CUDA=1). {fix}')
    return None


# Facts of this machine ------------------------------------------------------


def torch_facts() -> TorchFacts:
    """Ask the installed torch."""
    from importlib.metadata import requires

    import torch
    gpus = range(torch.cuda.device_count()) if torch.cuda.is_available() \
        else []
    wanted = [
        r for r in requires('torch') or [] if r.startswith('cuda-toolkit')
    ]
    return TorchFacts(
        version=torch.__version__,
        cuda=torch.version.cuda,
        capabilities=[torch.cuda.get_device_capability(i) for i in gpus],
        arch_list=torch.cuda.get_arch_list() if torch.version.cuda else [],
        toolkit_requirement=wanted[0] if wanted else None)


def nvcc_version(home: str) -> Optional[str]:
    """``'13.0'`` from ``home/bin/nvcc --version``; None without nvcc."""
    nvcc = osp.join(home, 'bin', 'nvcc')
    if not os.access(nvcc, os.X_OK):
        return None
    out = subprocess.run([nvcc, '--version'], capture_output=True,
                         text=True).stdout
    match = re.search(r'release (\d+\.\d+)', out)
    return match[1] if match else None


def machine_toolkits(env: Mapping[str, str]) -> List[Tuple[str, str]]:
    """(home, version) of the toolkits torch would look at: CUDA_HOME,
    CUDA_PATH, the nvcc on PATH, /usr/local/cuda; a home counts when it has
    bin/nvcc and include/cuda_runtime.h (not, say, /usr/local for a
    /usr/local/bin/nvcc wrapper)."""
    nvcc = shutil.which('nvcc', path=env.get('PATH'))
    homes = [
        env.get('CUDA_HOME'),
        env.get('CUDA_PATH'),
        osp.dirname(osp.dirname(nvcc)) if nvcc else None, '/usr/local/cuda'
    ]
    found: Dict[str, Tuple[str, str]] = {}
    for home in filter(None, homes):
        version = nvcc_version(home)
        real = osp.realpath(home)
        headers = osp.exists(osp.join(home, 'include', 'cuda_runtime.h'))
        if version and headers and real not in found:
            found[real] = (home, version)
    return list(found.values())


def registry_home(cuda: str) -> str:
    """CUDA_HOME of the registry's toolkit (``site-packages/nvidia/cu13``,
    the layout of the CUDA 13 wheels), with the ``libcudart.so`` link the
    linker's ``-lcudart`` needs (the wheel ships only ``libcudart.so.13``)."""
    major = cuda.split('.')[0]
    spec = importlib.util.find_spec('nvidia')
    roots = list(spec.submodule_search_locations) if spec else []
    homes = [
        osp.join(root, f'cu{major}') for root in roots
        if osp.exists(osp.join(root, f'cu{major}', 'bin', 'nvcc'))
    ]
    if not homes:
        raise BuildError(
            f'nvcc of the registry toolkit was not found under {roots} '
            f'(expected nvidia/cu{major}/bin/nvcc): reinstall it with pip '
            "install 'cuda-toolkit[nvcc,cccl]' at torch's version.")
    home = homes[0]
    lib = osp.join(home, 'lib')
    runtime = sorted(glob.glob(osp.join(lib, 'libcudart.so.*')))
    link = osp.join(lib, 'libcudart.so')
    if runtime and not osp.exists(link):
        os.symlink(osp.basename(runtime[0]), link)
    return home


def prepare_toolkit(facts: TorchFacts, env: Mapping[str, str]) -> str:
    """CUDA_HOME for the build, installing the registry's nvcc if needed."""
    toolkit = choose_toolkit(facts, machine_toolkits(env),
                             env.get('MMCV_CUDA_TOOLKIT', 'auto'))
    print(f'[mmcv_build] CUDA toolkit: {toolkit.reason}', file=sys.stderr)
    if toolkit.home:
        return toolkit.home
    pip = [sys.executable, '-m', 'pip', 'install', '-q']
    subprocess.run(pip + [toolkit.requirement], check=True, stdout=sys.stderr)
    home = registry_home(facts.cuda)
    if nvcc_version(home) != facts.cuda:
        raise BuildError(f'{home}/bin/nvcc is CUDA {nvcc_version(home)}, '
                         f'torch needs {facts.cuda}.')
    return home


def check_installed(expected: str, env: Mapping[str, str]) -> None:
    """Fail unless mmcv ``expected`` is installed with the right ops."""
    import mmcv
    import mmcv.ops
    facts = torch_facts()
    plan = make_plan(facts, env)
    build = 'with CUDA' if plan.cuda else 'for the CPU'
    cache = env.get('MMCV_CACHE', '~/.cache/mmhornet/mmcv-wheels')
    fix = (f'Fix: run `make -B install`, which builds mmcv {build} or takes '
           f'it from the wheel cache ({cache}/{plan.key}/; delete that '
           'folder if its wheel is wrong); see docs/get_started.md, '
           '"Install on a GPU machine".')
    problem = mmcv_problem(expected, mmcv.__version__,
                           mmcv.ops.get_compiling_cuda_version(), facts.cuda,
                           plan.cuda, fix)
    if problem:
        raise BuildError(problem)
    print(f'[mmcv_build] mmcv {mmcv.__version__}: operators compiled with '
          f'CUDA {mmcv.ops.get_compiling_cuda_version()}, '
          f'{mmcv.ops.get_compiler_version()}')


def pinned_mmcv() -> str:
    """The mmcv version of requirements/pins.txt."""
    pins = osp.join(
        osp.dirname(__file__), '..', '..', 'requirements', 'pins.txt')
    with open(pins) as f:
        return re.search(r'^mmcv==(\S+)', f.read(), re.M)[1]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('command', choices=['plan', 'toolkit', 'check'])
    parser.add_argument(
        'version', nargs='?', help='mmcv version (check; default: pinned)')
    args = parser.parse_args(argv)
    env = os.environ
    try:
        if args.command == 'check':
            check_installed(args.version or pinned_mmcv(), env)
            return 0
        facts = torch_facts()
        if args.command == 'plan':
            plan = make_plan(facts, env)
            print(f'MMCV_BUILD_KEY={shlex.quote(plan.key)}\n'
                  f'MMCV_FORCE_CUDA={int(plan.cuda)}\n'
                  f'MMCV_ARCH_LIST={shlex.quote(plan.arch_list)}')
        else:
            home = prepare_toolkit(facts, env)
            path = osp.join(home, 'bin') + os.pathsep + env.get('PATH', '')
            print(f'export CUDA_HOME={shlex.quote(home)} '
                  f'PATH={shlex.quote(path)}')
    except BuildError as error:
        print(f'[mmcv_build] error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

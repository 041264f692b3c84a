# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/misc/mmcv_build.py: how `make install` builds mmcv (CUDA or not,
GPU architectures, toolkit, wheel-cache key), decided without building."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from ..conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'mmcv_build.py')
_spec = importlib.util.spec_from_file_location('mmcv_build', SCRIPT)
mb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mb)

# torch 2.13.0+cu130 as the registry ships it
TORCH_ARCHS = ['sm_75', 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120']
TOOLKIT_REQ = ('cuda-toolkit[cublas,cudart,cufft]==13.0.3; '
               'platform_system == "Linux"')


def facts(capabilities=(), cuda='13.0', requirement=TOOLKIT_REQ):
    return mb.TorchFacts(
        version='2.13.0+cu130' if cuda else '2.13.0+cpu',
        cuda=cuda,
        capabilities=list(capabilities),
        arch_list=TORCH_ARCHS if cuda else [],
        toolkit_requirement=requirement)


def test_cpu_machine_builds_cpu_only_under_the_cpu_key():
    plan = mb.make_plan(facts(), {})
    assert (plan.cuda, plan.arch_list) == (False, '')
    assert plan.key == 'torch-2.13.0+cu130-cpu'
    # FORCE_CUDA=0 is what mmcv's setup.py reads as "not forced"
    assert mb.make_plan(facts(), {'FORCE_CUDA': '0'}).cuda is False


def test_visible_gpus_give_cuda_build_for_their_architectures():
    plan = mb.make_plan(facts(capabilities=[(9, 0), (8, 0), (9, 0)]), {})
    assert plan.cuda and plan.arch_list == '8.0;9.0'
    assert plan.key == 'torch-2.13.0+cu130-cuda13.0-arch8.0_9.0'
    # mmcv builds CUDA operators whenever torch sees a GPU: FORCE_CUDA=0
    # cannot turn that off, so the plan does not pretend it does
    assert mb.make_plan(facts([(8, 6)]), {'FORCE_CUDA': '0'}).cuda


def test_force_cuda_without_gpu_takes_torchs_architectures():
    plan = mb.make_plan(facts(), {'FORCE_CUDA': '1'})
    assert plan.cuda
    assert plan.arch_list == '7.5;8.0;8.6;9.0;10.0;12.0+PTX'
    assert plan.key == ('torch-2.13.0+cu130-cuda13.0-'
                        'arch7.5_8.0_8.6_9.0_10.0_12.0+PTX')
    assert mb.default_arch_list(['sm_90a', 'sm_120', 'sm_80']) == \
        '8.0;9.0a;12.0+PTX'
    with pytest.raises(mb.BuildError, match='TORCH_CUDA_ARCH_LIST'):
        mb.default_arch_list([])


def test_arch_list_is_user_overridable():
    env = {'FORCE_CUDA': '1', 'TORCH_CUDA_ARCH_LIST': '9.0'}
    assert mb.make_plan(facts([(8, 6)]), env).key == \
        'torch-2.13.0+cu130-cuda13.0-arch9.0'
    env['TORCH_CUDA_ARCH_LIST'] = ' 8.6  9.0+PTX '
    assert mb.make_plan(facts(), env).arch_list == '8.6;9.0+PTX'
    env['TORCH_CUDA_ARCH_LIST'] = 'Hopper;10.0a'
    assert mb.make_plan(facts(), env).arch_list == 'Hopper;10.0a'
    env['TORCH_CUDA_ARCH_LIST'] = '9,0'
    with pytest.raises(mb.BuildError, match=r"TORCH_CUDA_ARCH_LIST='9,0'"):
        mb.make_plan(facts(), env)


def test_cache_keys_never_mix_cpu_and_cuda_builds():
    keys = {
        mb.make_plan(facts(), {}).key,
        mb.make_plan(facts(), {
            'FORCE_CUDA': '1'
        }).key,
        mb.make_plan(facts([(8, 0)]), {}).key,
        mb.make_plan(facts([(9, 0)]), {}).key,
        mb.make_plan(facts(cuda=None), {}).key,
    }
    assert len(keys) == 5
    assert mb.cache_key('2.13.0', '12.8', '9.0') == \
        'torch-2.13.0-cuda12.8-arch9.0'


def test_force_cuda_with_cpu_only_torch_is_refused():
    with pytest.raises(mb.BuildError, match='CPU-only build'):
        mb.make_plan(facts(cuda=None), {'FORCE_CUDA': '1'})


def test_machine_toolkit_used_when_its_version_matches():
    found = [('/opt/cuda-12.4', '12.4'), ('/usr/local/cuda', '13.0')]
    toolkit = mb.choose_toolkit(facts(), found, 'auto')
    assert (toolkit.home, toolkit.requirement) == ('/usr/local/cuda', None)


def test_registry_toolkit_pinned_to_torchs_cuda_toolkit():
    found = [('/usr/local/cuda', '12.4')]
    toolkit = mb.choose_toolkit(facts(), found, 'auto')
    assert toolkit.home is None
    assert toolkit.requirement == 'cuda-toolkit[nvcc,cccl]==13.0.3'
    assert '/usr/local/cuda (CUDA 12.4)' in toolkit.reason
    # a matching machine toolkit is skipped when the registry is asked for
    toolkit = mb.choose_toolkit(facts(), [('/usr/local/cuda', '13.0')],
                                'registry')
    assert toolkit.requirement == 'cuda-toolkit[nvcc,cccl]==13.0.3'


def test_toolkit_errors_name_the_fix():
    with pytest.raises(mb.BuildError, match='set CUDA_HOME to a CUDA 13.0'):
        mb.choose_toolkit(facts(), [('/usr/local/cuda', '12.4')], 'system')
    with pytest.raises(mb.BuildError, match='auto, system, registry'):
        mb.choose_toolkit(facts(), [], 'conda')
    # a torch that names no cuda-toolkit package (e.g. an older build)
    with pytest.raises(mb.BuildError, match='install the CUDA 13.0 toolkit'):
        mb.choose_toolkit(facts(requirement=None), [], 'auto')
    with pytest.raises(mb.BuildError, match='requires cuda-toolkit==12.8.1'):
        mb.choose_toolkit(
            facts(requirement='cuda-toolkit==12.8.1'), [], 'auto')


def test_installed_mmcv_must_have_cuda_ops_where_cuda_is_wanted():
    fix = 'Fix: run `make -B install`'
    assert mb.mmcv_problem('2.1.0', '2.1.0', 'not available', '13.0', False,
                           fix) is None
    assert mb.mmcv_problem('2.1.0', '2.1.0', '13.0', '13.0', True, fix) is None
    problem = mb.mmcv_problem('2.1.0', '2.1.0', 'not available', '13.0', True,
                              fix)
    assert 'compiled with CUDA not available' in problem
    assert problem.endswith(fix)
    assert 'compiled with CUDA 12.4' in mb.mmcv_problem(
        '2.1.0', '2.1.0', '12.4', '13.0', True, fix)
    assert '2.2.0 is installed, 2.1.0 is pinned' in mb.mmcv_problem(
        '2.1.0', '2.2.0', '13.0', '13.0', True, fix)


def _fake_toolkit(home, release):
    os.makedirs(osp.join(home, 'include'))
    open(osp.join(home, 'include', 'cuda_runtime.h'), 'w').close()
    os.makedirs(osp.join(home, 'bin'))
    nvcc = osp.join(home, 'bin', 'nvcc')
    with open(nvcc, 'w') as f:
        f.write('#!/bin/sh\necho "Cuda compilation tools, release '
                f'{release}, V{release}.99"\n')
    os.chmod(nvcc, 0o755)


def test_machine_toolkits_read_nvcc_versions(tmp_path):
    _fake_toolkit(str(tmp_path / 'cuda-12.4'), '12.4')
    _fake_toolkit(str(tmp_path / 'cuda-13.0'), '13.0')
    env = {
        'CUDA_HOME': str(tmp_path / 'cuda-12.4'),
        'PATH': str(tmp_path / 'cuda-13.0' / 'bin')
    }
    found = mb.machine_toolkits(env)
    assert found[:2] == [(str(tmp_path / 'cuda-12.4'), '12.4'),
                         (str(tmp_path / 'cuda-13.0'), '13.0')]
    assert mb.choose_toolkit(facts(), found, 'auto').home == \
        str(tmp_path / 'cuda-13.0')
    assert mb.nvcc_version(str(tmp_path)) is None
    # nvcc without the headers (a wrapper in /usr/local/bin) is no toolkit
    os.remove(tmp_path / 'cuda-12.4' / 'include' / 'cuda_runtime.h')
    assert (str(tmp_path / 'cuda-12.4'), '12.4') not in \
        mb.machine_toolkits(env)


def test_registry_home_links_libcudart(tmp_path, monkeypatch):
    home = tmp_path / 'nvidia' / 'cu13'
    _fake_toolkit(str(home), '13.0')
    (home / 'lib').mkdir()
    (home / 'lib' / 'libcudart.so.13').write_bytes(b'')
    monkeypatch.syspath_prepend(str(tmp_path))
    found = mb.registry_home('13.0')
    assert found == str(home)
    assert os.readlink(home / 'lib' / 'libcudart.so') == 'libcudart.so.13'


@pytest.mark.skipif(
    torch.version.cuda is None, reason='a CPU-only torch names no toolkit')
def test_facts_of_the_installed_torch():
    real = mb.torch_facts()
    assert real.version == torch.__version__
    requirement = mb.registry_requirement(real)
    assert requirement.startswith('cuda-toolkit[nvcc,cccl]==' +
                                  torch.version.cuda)
    assert mb.default_arch_list(real.arch_list).endswith('+PTX')


def _run(args, **env):
    return subprocess.run(
        [sys.executable, SCRIPT] + args,
        capture_output=True,
        text=True,
        env=dict(os.environ, **env))


@pytest.mark.slow
def test_cli_plan_and_check_on_this_machine():
    """`plan` prints what install_env.sh evaluates; `check` passes the
    installed mmcv here and fails it, naming the fix, where CUDA
    operators are needed but missing."""
    import mmcv
    import mmcv.ops
    result = _run(['plan'], FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST='9.0')
    if torch.version.cuda:
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            f'MMCV_BUILD_KEY=torch-{torch.__version__}-cuda'
            f'{torch.version.cuda}-arch9.0', 'MMCV_FORCE_CUDA=1',
            'MMCV_ARCH_LIST=9.0'
        ]
    compiled = mmcv.ops.get_compiling_cuda_version()
    result = _run(['check', mmcv.__version__], FORCE_CUDA='0')
    assert result.returncode == 0, result.stderr
    assert f'compiled with CUDA {compiled}' in result.stdout
    if compiled == 'not available' and torch.version.cuda:
        result = _run(['check', mmcv.__version__], FORCE_CUDA='1')
        assert result.returncode == 1
        assert 'make -B install' in result.stderr

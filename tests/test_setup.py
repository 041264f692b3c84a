# Copyright (c) mmhornet contributors. All rights reserved.
"""setup.py in a build that cannot import torch, as in pip's default
isolated build (`pip install .`): it stops with the fix, not a traceback."""
import os
import subprocess
import sys

from mmhornet.version import __version__
from .conftest import REPO_ROOT

# torch made unimportable in this process only; `--version` writes nothing
WITHOUT_TORCH = ("import runpy, sys; sys.modules['torch'] = None; "
                 "sys.argv = ['setup.py', '--version']; "
                 "runpy.run_path('setup.py', run_name='__main__')")


def run_setup_without_torch(**env) -> subprocess.CompletedProcess:
    """``setup.py --version`` with torch unimportable; ``env`` (None: unset)
    changes the environment."""
    env = {**os.environ, **env}
    env = {key: value for key, value in env.items() if value is not None}
    return subprocess.run([sys.executable, '-c', WITHOUT_TORCH],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=120)


def test_build_without_torch_says_to_use_no_build_isolation():
    result = run_setup_without_torch(MMHORNET_WITH_OPS=None)
    assert result.returncode == 1
    assert 'pip install --no-build-isolation -e .' in result.stderr
    assert 'make install' in result.stderr
    assert 'Traceback' not in result.stderr


def test_build_without_torch_and_without_ops_goes_on():
    result = run_setup_without_torch(MMHORNET_WITH_OPS='0')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == __version__

# Copyright (c) mmhornet contributors. All rights reserved.
"""`mim train mmhornet` and `mim test mmhornet` on a regular install.

mim finds tools and configs in ``<installed package>/.mim``; the wheel
carries them there (setup.py's mim extension). An editable install has no
such folder in site-packages, so the test installs the wheel into a
directory that comes first on PYTHONPATH.
"""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, TEST_CONFIG, data_options

# end-to-end runs of tools and trainings: `make test-quick` skips them
pytestmark = pytest.mark.slow


def test_mim_train_and_test(tmp_path, tiny_folder_dataset):
    # Build from a copy: building a wheel replaces the source tree's
    # mmhornet/.mim symlinks by copies.
    source = tmp_path / 'source'
    shutil.copytree(
        REPO_ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns('.git', '.venv', 'data', 'work_dirs',
                                      '*.egg-info', '__pycache__'))
    subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
        '--no-build-isolation', '-w',
        str(tmp_path / 'wheel'),
        str(source)
    ],
                   check=True,
                   capture_output=True)
    wheel = next((tmp_path / 'wheel').glob('mmhornet-*.whl'))
    site = tmp_path / 'site'
    subprocess.run([
        sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target',
        str(site),
        str(wheel)
    ],
                   check=True,
                   capture_output=True)
    assert (site / 'mmhornet' / '.mim' / 'tools' / 'train.py').is_file()

    env = dict(os.environ, PYTHONPATH=str(site))
    # the wheel carries the C++ operators as mmhornet.ops._ext, and the
    # installed package (not this checkout) loads them
    assert len(list((site / 'mmhornet' / 'ops').glob('_ext*.so'))) == 1
    assert not list((site / 'mmhornet').glob('_ext*'))
    result = subprocess.run([
        sys.executable, '-c', 'import mmhornet.ops as ops; '
        'print(ops._ext.__file__, ops.ops_available())'
    ],
                            env=env,
                            cwd=str(tmp_path),
                            capture_output=True,
                            text=True,
                            check=True)
    ext_file, available = result.stdout.split()
    assert osp.dirname(ext_file) == str(site / 'mmhornet' / 'ops')
    assert available == 'True'
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    data = data_options(tiny_folder_dataset)
    work_dir = tmp_path / 'work'
    result = subprocess.run([
        mim, 'train', 'mmhornet', TEST_CONFIG, '--gpus', '0', '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1', *data
    ],
                            env=env,
                            cwd=str(tmp_path),
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert 'Training finished successfully' in result.stdout, (
        result.stdout[-3000:] + result.stderr[-3000:])
    assert (work_dir / 'epoch_1.pth').is_file()

    result = subprocess.run([
        mim, 'test', 'mmhornet', TEST_CONFIG, '--checkpoint',
        str(work_dir / 'epoch_1.pth'), '--gpus', '0', '--work-dir',
        str(work_dir), '--cfg-options', *data
    ],
                            env=env,
                            cwd=str(tmp_path),
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert re.search(r'accuracy/top1: [\d.]+', result.stdout), (
        result.stdout[-3000:] + result.stderr[-3000:])

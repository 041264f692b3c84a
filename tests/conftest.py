# Copyright (c) mmhornet contributors. All rights reserved.
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Any, List, Optional

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEST_CONFIG = osp.join(REPO_ROOT, 'tests', 'data',
                       'hornet-nano_tiny-folder.py')
CLASSES = ('red', 'green', 'blue')


def tiny_hornet_arch(*gf_sizes) -> dict:
    """A four-stage HorNet arch for CPU tests, 8 channels wide and one block
    a stage: 7x7 depth-wise stages, then a global filter for each
    ``(h, w)`` of ``gf_sizes`` (the spectrum of the last stages' maps)."""
    mixers = [dict(type='GF', h=h, w=w) for h, w in gf_sizes]
    return dict(
        base_dim=8,
        depths=[1, 1, 1, 1],
        orders=[2, 2, 3, 3],
        dw_cfg=[
            dict(type='DW', kernel_size=7) for _ in range(4 - len(mixers))
        ] + mixers)


def make_image_folder(root: str, per_class: int, seed: int) -> None:
    """Write an ImageNet-style folder (one sub-folder per class) of noisy
    40x40 images whose dominant colour is their class."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(CLASSES):
        os.makedirs(osp.join(root, name), exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 90, size=(40, 40, 3), dtype=np.uint8)
            image[..., label] += 150
            Image.fromarray(image).save(
                osp.join(root, name, f'{name}_{i}.png'))


@pytest.fixture(scope='session')
def tiny_folder_dataset(tmp_path_factory) -> str:
    """A three-class image-folder dataset with train/ and val/ splits."""
    root = str(tmp_path_factory.mktemp('tiny-folder'))
    make_image_folder(osp.join(root, 'train'), per_class=8, seed=0)
    make_image_folder(osp.join(root, 'val'), per_class=4, seed=1)
    return root


def data_options(root: str) -> List[str]:
    """``--cfg-options`` pointing the test config's dataloaders at
    ``root``."""
    return [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ]


@pytest.fixture(scope='session')
def trained_run(tiny_folder_dataset, tmp_path_factory) -> str:
    """A work dir with epoch_1.pth from one epoch of real training of the
    test config with tools/train.py."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    run_tool([
        'tools/train.py', TEST_CONFIG, '--work-dir', work_dir, '--cfg-options',
        'train_cfg.max_epochs=1', *data_options(tiny_folder_dataset)
    ])
    return work_dir


def run_tool(args: List[str],
             cwd: str = REPO_ROOT,
             check: bool = True,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run a tools/ script (or any python module call) in a subprocess,
    with ``env`` added to the environment."""
    env = {
        **os.environ, 'PYTHONUNBUFFERED': '1',
        'OMP_NUM_THREADS': '2',
        **(env or {})
    }
    result = subprocess.run([sys.executable, *args],
                            cwd=cwd,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f'{args} failed ({result.returncode}):\n'
                             f'{result.stdout[-4000:]}\n'
                             f'{result.stderr[-4000:]}')
    return result


def python_report(code: str, *args: str) -> Any:
    """Run ``code`` with ``args`` in a fresh interpreter (as
    :func:`run_tool`); the JSON value its last output line holds."""
    result = run_tool(['-c', code, *args])
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='session')
def slurm_partition() -> str:
    """The default partition of a running Slurm cluster.

    tools/misc/start_slurm.sh installs (Debian's packages) and starts a
    single-node cluster on this machine when none is up; the tests that use
    this fixture are skipped only where Slurm cannot be installed (the
    script's exit code 3: not root, no apt-get, or the install failed).
    """
    script = osp.join(REPO_ROOT, 'tools', 'misc', 'start_slurm.sh')
    result = subprocess.run(['bash', script],
                            capture_output=True,
                            text=True,
                            timeout=900)
    if result.returncode == 3:
        pytest.skip(result.stderr.strip()[-1000:])
    assert result.returncode == 0, (
        f'tools/misc/start_slurm.sh failed:\n{result.stderr[-4000:]}')
    partitions = subprocess.run(['sinfo', '-h', '-o', '%P'],
                                capture_output=True,
                                text=True,
                                check=True).stdout.split()
    defaults = [p.rstrip('*') for p in partitions if p.endswith('*')]
    return (defaults or partitions)[0].rstrip('*')

# Copyright (c) mmhornet contributors. All rights reserved.
"""The inference snippets of the README and of the ImageNet model card run
as written, from the repository root, on the image they name (demo/cat.jpg);
the published weights they ask for come from a local file in the torch hub
cache (random weights: nothing is downloaded)."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import mmcv
import pytest
import torch

from mmhornet.apis import ModelHub, get_model, inference_model
from ..conftest import REPO_ROOT

IMAGE = 'demo/cat.jpg'


def python_snippet(path: str, marker: str = 'inference_model(') -> str:
    """The one ```python block of ``path`` that contains ``marker``."""
    with open(osp.join(REPO_ROOT, path)) as f:
        blocks = re.findall(r'^```python\n(.*?)^```', f.read(), re.M | re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f'{path}: {len(found)} blocks with {marker!r}'
    return found[0]


def documented_images() -> set:
    """Every demo/ image that the docs, model cards, demos and docstrings
    name."""
    files = ['README.md']
    for pattern in ('docs/*.md', 'configs/*/README.md', 'demo/*.py',
                    'mmhornet/**/*.py'):
        files += glob.glob(pattern, root_dir=REPO_ROOT, recursive=True)
    images = set()
    for path in files:
        with open(osp.join(REPO_ROOT, path)) as f:
            images.update(
                re.findall(r'demo/[\w.-]+\.(?:jpe?g|png)', f.read(), re.I))
    return images


def test_documented_demo_image_ships():
    assert documented_images() == {IMAGE}
    path = osp.join(REPO_ROOT, IMAGE)
    assert os.path.getsize(path) < 100 * 1024
    assert mmcv.imread(path).shape == (300, 451, 3)  # a real photo
    with open(osp.join(REPO_ROOT, 'demo', 'README.md')) as f:
        assert 'CC0' in f.read()  # its licence, recorded beside it


# The README and the ImageNet model card (configs/hornet/README.md).
SNIPPET_DOCS = ('README.md', 'configs/hornet/README.md')
# Runs each file given in a fresh namespace, in one interpreter (one start
# and one round of imports for all).
RUNNER = """import sys
for path in sys.argv[1:]:
    print('###', path, flush=True)
    with open(path) as f:
        exec(compile(f.read(), path, 'exec'), {'__name__': '__main__'})
"""


@pytest.mark.slow
def test_inference_snippets_run_as_written(tmp_path):
    snippets = {path: python_snippet(path) for path in SNIPPET_DOCS}
    names = set()
    for path, snippet in snippets.items():
        assert f"'{IMAGE}'" in snippet, path
        names.update(
            re.findall(r"(?:get_model|inference_model)\('([\w.-]+)'", snippet))
    assert names == {'hornet-tiny_3rdparty_in1k'}, names
    (name, ) = names
    # pretrained=True finds the published file in the hub cache.
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    checkpoint = str(cache / ModelHub.get(name).weights.rsplit('/', 1)[1])
    torch.manual_seed(0)
    model = get_model(name)
    for param in model.parameters():  # layer scales that count
        param.data.normal_(0, 0.1)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)

    files = []
    for path, snippet in snippets.items():
        files.append(str(tmp_path / (path.replace('/', '_') + '.py')))
        with open(files[-1], 'w') as f:
            f.write(snippet)
    result = subprocess.run([sys.executable, '-c', RUNNER, *files],
                            cwd=REPO_ROOT,
                            env=dict(
                                os.environ,
                                TORCH_HOME=str(tmp_path),
                                OMP_NUM_THREADS='2'),
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]

    # Each printed the prediction of the cached weights for the cat.
    expected = inference_model(
        get_model(name, pretrained=checkpoint), osp.join(REPO_ROOT, IMAGE))
    outputs = result.stdout.split('### ')[1:]
    assert len(outputs) == len(files)
    for output in outputs:
        line = next(line for line in output.splitlines()
                    if line.startswith(f"{expected['pred_class']} "))
        assert float(line.rsplit(' ', 1)[1]) == pytest.approx(
            expected['pred_score'], rel=1e-4)

# Copyright (c) mmhornet contributors. All rights reserved.
"""Small tools: the model-zoo tables, the image demo, the digits export."""
import os.path as osp
import re

import pytest
from PIL import Image

from ..conftest import REPO_ROOT, TEST_CONFIG, run_tool


def test_model_zoo_tables_are_up_to_date():
    result = run_tool(['tools/misc/gen_model_zoo.py', '--check'], check=False)
    assert result.returncode == 0, result.stderr
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        readme = f.read()
    row = re.search(r'\| hornet-small-gf_3rdparty_in1k \| (.*) \|', readme)
    assert row.group(1).split(' | ')[:4] == ['50.40', '8.71', '83.98', '96.77']


def test_export_digits(tmp_path):
    result = run_tool(
        ['tools/dataset_converters/export_digits.py',
         str(tmp_path)])
    assert 'Exported 1442 training and 355 validation images' in (
        result.stdout)
    classes = sorted(p.name for p in (tmp_path / 'val').iterdir())
    assert classes == [str(i) for i in range(10)]
    # class 0 has 178 scans: every fifth (35) is held out
    assert len(list((tmp_path / 'val' / '0').glob('*.png'))) == 35
    assert len(list((tmp_path / 'train' / '0').glob('*.png'))) == 143
    image = Image.open(next((tmp_path / 'val' / '7').glob('*.png')))
    assert image.size == (32, 32) and image.mode == 'L'


@pytest.mark.slow
def test_image_demo_with_checkpoint_and_show_dir(tmp_path, trained_run,
                                                 tiny_folder_dataset):
    image = osp.join(tiny_folder_dataset, 'val', 'green', 'green_0.png')
    show_dir = tmp_path / 'vis'
    result = run_tool([
        'demo/image_demo.py', image, TEST_CONFIG, '--checkpoint',
        osp.join(trained_run, 'epoch_1.pth'), '--show-dir',
        str(show_dir)
    ])
    assert re.search(r"'pred_class': '(red|green|blue)'", result.stdout)
    assert len(list(show_dir.glob('*.png'))) == 1

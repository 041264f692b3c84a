# Copyright (c) mmhornet contributors. All rights reserved.
"""mmhornet without mmpretrain, mmdet and mmseg: HorNet and gnConv work,
and every task entry point names the extra that installs its toolbox.

The environment is real: a site folder that links every package of this
interpreter's site-packages except the three toolboxes (their modules and
distribution metadata), used by a ``python -S`` subprocess, so neither
imports nor mmengine's package look-ups (``mmdet::`` bases) find them.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import sysconfig

import pytest

from mmhornet.utils.toolbox import import_toolbox
from ..conftest import REPO_ROOT

TOOLBOX_ENTRIES = ('mmpretrain', 'mmdet', 'mmseg', 'mmsegmentation')

SCRIPT = r'''
import json, site, sys
site.addsitedir(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import importlib.util
import torch

found = [name for name in ('mmpretrain', 'mmdet', 'mmseg')
         if importlib.util.find_spec(name) is not None]
import mmhornet
from mmhornet.models import gnConv
from mmhornet.registry import MODELS

report = dict(found=found)
torch.manual_seed(0)
hornet = MODELS.build(
    dict(type='mmhornet.HorNet',
         arch=dict(base_dim=16, depths=[1, 1, 1, 1], orders=[2, 3, 4, 5],
                   dw_cfg=[dict(type='DW', kernel_size=7)] * 4),
         gap_before_final_norm=False))
outs = hornet(torch.randn(1, 3, 64, 64))
report['hornet'] = [list(out.shape) for out in outs]
report['gnconv'] = list(gnConv(16, order=3)(torch.randn(1, 16, 8, 8)).shape)


def error_of(call):
    try:
        call()
    except ImportError as error:
        return str(error)
    return None


def build_hor_fpn():
    MODELS.build(dict(type='mmhornet.HorFPN', in_channels=[8, 16],
                      out_channels=8, num_outs=2))


def import_hor_fpn():
    from mmhornet.models.necks.hor_fpn import HorFPN  # noqa: F401


def import_seg():
    import mmhornet.seg  # noqa: F401


def infer_with(scope):
    from mmengine.config import Config
    from mmengine.model import BaseModel

    class Model(BaseModel):
        def forward(self, *args, **kwargs):
            return []

    model = Model()
    model.cfg = Config(dict(default_scope=scope))
    mmhornet.inference_model(model, sys.argv[3])


def run_tool(tool, *args):
    import runpy
    argv = sys.argv
    sys.argv = [tool, *args]
    try:
        runpy.run_path(f'{argv[2]}/tools/{tool}', run_name='__main__')
    finally:
        sys.argv = argv


report['errors'] = dict(
    build_hor_fpn=error_of(build_hor_fpn),
    import_hor_fpn=error_of(import_hor_fpn),
    import_seg=error_of(import_seg),
    cls_name=error_of(
        lambda: mmhornet.get_model('hornet-tiny_3rdparty_in1k')),
    cls_scope=error_of(lambda: mmhornet.get_model(
        mmhornet.apis.model.Config(dict(
            default_scope='mmpretrain',
            model=dict(type='ImageClassifier')))))
    , det_config=error_of(lambda: mmhornet.get_model(sys.argv[4])),
    seg_config=error_of(lambda: mmhornet.get_model(sys.argv[5])),
    det_inference=error_of(lambda: infer_with('mmdet')),
    seg_inference=error_of(lambda: infer_with('mmseg')),
    cls_inference=error_of(lambda: infer_with('mmpretrain')),
    det_train=error_of(lambda: run_tool('train.py', sys.argv[4])),
    seg_test=error_of(lambda: run_tool('test.py', sys.argv[5], 'x.pth')),
    det_scope_train=error_of(lambda: run_tool('train.py', sys.argv[6])))
report['imported'] = sorted(
    name for name, module in sys.modules.items()
    if module is not None and name.split('.')[0] in ('mmpretrain', 'mmdet',
                                                      'mmseg'))
print('REPORT', json.dumps(report))
'''


def site_without_toolboxes(folder: str) -> str:
    """Link every entry of this interpreter's site-packages but the
    toolboxes into ``folder``."""
    os.makedirs(folder)
    paths = sysconfig.get_paths()
    for site_packages in {paths['purelib'], paths['platlib']}:
        for entry in os.listdir(site_packages):
            name = entry.split('-')[0].lower()
            if name in TOOLBOX_ENTRIES or osp.exists(osp.join(folder, entry)):
                continue
            os.symlink(osp.join(site_packages, entry), osp.join(folder, entry))
    return folder


@pytest.fixture(scope='module')
def report(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp('no-toolboxes')
    site = site_without_toolboxes(str(tmp / 'site'))
    image = tmp / 'image.png'
    image.write_bytes(b'')  # inference stops at the missing toolbox
    configs = [
        sorted(glob.glob(f'{REPO_ROOT}/configs/{pattern}'))[0]
        for pattern in ('mask_rcnn/*horfpn*.py', 'upernet/*.py')
    ]
    scope_only = tmp / 'scope_only.py'  # no base config: the scope says
    scope_only.write_text("default_scope = 'mmdet'\n"
                          "model = dict(type='MaskRCNN')\n")
    configs.append(str(scope_only))
    args = [sys.executable, '-S', '-c', SCRIPT, site, REPO_ROOT, str(image)]
    env = {**os.environ, 'OMP_NUM_THREADS': '2'}
    result = subprocess.run(
        args + configs,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines()
                if line.startswith('REPORT '))
    return json.loads(line[len('REPORT '):])


def test_backbone_and_gnconv_need_no_toolbox(report):
    assert report['found'] == []  # the toolboxes are really absent
    assert report['hornet'] == [[1, 128, 2, 2]]
    assert report['gnconv'] == [1, 16, 8, 8]
    assert report['imported'] == []


@pytest.mark.parametrize('entry,extra,distribution', [
    ('build_hor_fpn', 'det', 'mmdet'),
    ('import_hor_fpn', 'det', 'mmdet'),
    ('det_config', 'det', 'mmdet'),
    ('det_inference', 'det', 'mmdet'),
    ('import_seg', 'seg', 'mmsegmentation'),
    ('seg_config', 'seg', 'mmsegmentation'),
    ('seg_inference', 'seg', 'mmsegmentation'),
    ('cls_name', 'cls', 'mmpretrain'),
    ('cls_scope', 'cls', 'mmpretrain'),
    ('cls_inference', 'cls', 'mmpretrain'),
    ('det_train', 'det', 'mmdet'),
    ('det_scope_train', 'det', 'mmdet'),
    ('seg_test', 'seg', 'mmsegmentation'),
])
def test_task_entry_points_name_their_extra(report, entry, extra,
                                            distribution):
    message = report['errors'][entry]
    assert message is not None, f'{entry} did not fail'
    assert f'needs {distribution} ' in message
    assert f'pip install --no-build-isolation -e ".[{extra}]"' in message


def test_import_toolbox_with_the_toolboxes_installed():
    assert import_toolbox('mmdet.models.necks',
                          'HorFPN').FPN.__name__ == ('FPN')
    with pytest.raises(ValueError, match='not one of the toolboxes'):
        import_toolbox('torchvision', 'something')

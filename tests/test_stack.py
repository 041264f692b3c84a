# Copyright (c) mmhornet contributors. All rights reserved.
"""The pinned OpenMMLab stack imports and mmhornet's scope resolves."""
import textwrap

import pytest
import torch

from .conftest import run_tool


def test_stack_imports_and_cpu_nms():
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    from mmcv.ops import nms

    assert mmengine.__version__ and mmpretrain.__version__
    assert mmdet.__version__ and mmseg.__version__
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert dets.shape == (2, 5)


@pytest.mark.slow
def test_scope_resolves_from_each_toolbox_without_imports():
    """``mmhornet.X`` builds from mmpretrain, mmdet and mmseg default
    scopes in a fresh interpreter where nothing imported mmhornet."""
    script = textwrap.dedent("""
        import sys
        from mmengine.registry import DefaultScope
        for scope in ('mmpretrain', 'mmdet', 'mmseg'):
            registry = __import__(f'{scope}.registry', fromlist=['MODELS'])
            with DefaultScope.overwrite_default_scope(scope):
                layer = registry.MODELS.build(dict(
                    type='mmhornet.gnConv', in_channels=8, order=2))
                backbone = registry.MODELS.build(dict(
                    type='mmhornet.HorNet', arch='tiny'))
            print(scope, type(layer).__module__, type(backbone).__name__,
                  type(backbone).__module__)
        """)
    out = run_tool(['-c', script]).stdout.split('\n')
    for scope, line in zip(('mmpretrain', 'mmdet', 'mmseg'), out):
        assert line.split() == [
            scope, 'mmhornet.models.layers.gnconv', 'HorNet',
            'mmhornet.models.backbones.hornet'
        ]


def test_config_with_toolbox_base_resolves():
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    from .conftest import TEST_CONFIG
    cfg = Config.fromfile(TEST_CONFIG)
    assert cfg.default_scope == 'mmpretrain'  # from the mmpretrain:: base
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    assert type(
        model.backbone).__module__ == 'mmhornet.models.backbones.hornet'

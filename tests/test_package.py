# Copyright (c) mmhornet contributors. All rights reserved.
"""How the package is organised: each subpackage imports only the layers
below it, the root imports no model code, every registry holds modules."""
import ast
import os
import os.path as osp
import subprocess
import sys
from typing import Iterator, Tuple

import pytest
from mmengine.registry import Registry

import mmhornet.registry
from .conftest import REPO_ROOT, TEST_CONFIG, python_report

# Lowest first; a subpackage (or top-level module) may import those before
# it. The root (mmhornet/__init__.py) imports version only and the APIs on
# first use. See docs/contributing.md.
# checkpoint: the ground floor (torch and mmengine only); compat and seg only
# re-export names that moved (to checkpoint, models.heads) for old code and
# configs.
LAYERS = ('version', 'checkpoint', 'compat', 'utils', 'ops', 'registry',
          'models', 'engine', 'deploy', 'seg', 'apis')
PACKAGE = osp.join(REPO_ROOT, 'mmhornet')


def imported_modules(path: str, module: str) -> Iterator[Tuple[int, str]]:
    """(line, absolute name) of every mmhornet module that ``path`` (module
    ``module``) imports, anywhere in the file."""
    package = module if path.endswith('__init__.py') else module.rsplit(
        '.', 1)[0]
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            # `from x import y` may import the module x.y
            names = [f'{base}.{alias.name}' for alias in node.names]
        else:
            continue
        for name in names:
            if name == 'mmhornet' or name.startswith('mmhornet.'):
                yield node.lineno, name


def python_files() -> Iterator[Tuple[str, str]]:
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                module = osp.relpath(path[:-3], REPO_ROOT).replace(os.sep, '.')
                yield path, module.replace('.__init__', '')


def test_every_module_imports_only_lower_layers():
    wrong = []
    for path, module in python_files():
        parts = module.split('.')
        if len(parts) == 1:  # the root: only the version, at import time
            layer, allowed = 'mmhornet', {'version'}
        else:
            layer = parts[1]
            assert layer in LAYERS, f'{module}: add {layer} to LAYERS'
            allowed = set(LAYERS[:LAYERS.index(layer)])
        for line, name in imported_modules(path, module):
            target = name.split('.')
            if len(target) < 2:
                wrong.append(f'{module}:{line} imports the root mmhornet')
            elif target[1] != layer and target[1] not in allowed:
                wrong.append(f'{module}:{line} imports {name}, which is not '
                             f'below {layer}')
    assert not wrong, '\n'.join(wrong)


@pytest.mark.slow
def test_importing_the_root_imports_no_subpackage():
    script = ('import json, sys, mmhornet; print(json.dumps(sorted('
              "m for m in sys.modules if m.startswith('mmhornet'))))")
    assert python_report(script) == ['mmhornet', 'mmhornet.version']
    # ... and the APIs are there on first use
    script = 'import mmhornet; print(mmhornet.get_model.__module__)'
    result = subprocess.run([sys.executable, '-c', script],
                            cwd=REPO_ROOT,
                            capture_output=True,
                            text=True,
                            check=True)
    assert result.stdout.strip() == 'mmhornet.apis.model'


REGISTRIES = [
    name for name, value in vars(mmhornet.registry).items()
    if isinstance(value, Registry) and value.scope == 'mmhornet'
]


def test_the_scope_has_its_registries():
    assert {
        'MODELS', 'HOOKS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
        'WEIGHT_INITIALIZERS'
    } <= set(REGISTRIES)


@pytest.mark.parametrize('name', REGISTRIES)
def test_every_registry_and_location_holds_modules(name):
    """No empty registry, and every ``locations`` entry registers into its
    registry (a location that does not is dead weight)."""
    registry = getattr(mmhornet.registry, name)
    assert registry.scope == 'mmhornet'
    registry.import_from_location()
    modules = registry.module_dict.values()
    assert modules, f'{name} is empty'
    for location in registry._locations:
        sources = {module.__module__ + '.' for module in modules}
        assert any(source.startswith(location + '.')
                   for source in sources), (f'{name}: nothing from {location}')


@pytest.mark.parametrize('name', sorted(mmhornet.registry.MODELS.on_demand))
def test_on_demand_models_come_from_their_module(name):
    """Each toolbox subclass (or runtime model) of the on-demand table is
    registered by the module the table names, when its name is looked up."""
    model = mmhornet.registry.MODELS.get(name)
    assert model is not None, name
    assert (model.__module__,
            model.__name__) == (mmhornet.registry.MODELS.on_demand[name], name)


BUILD_IN_TOOLBOXES = r'''
import json, sys
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import HistoryBuffer
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import CheckpointLoader

ON_DEMAND = ('mmdet', 'mmseg', 'onnxruntime', 'mmhornet.deploy',
             'mmhornet.models.necks.hor_fpn',
             'mmhornet.models.heads.gn_uper_head')


def state():
    allowed = torch.serialization.get_safe_globals()
    return dict(
        schemes={prefix: f'{load.__module__}.{load.__name__}'
                 for prefix, load in CheckpointLoader._schemes.items()},
        allowed=[t.__name__ for t in (HistoryBuffer, ConfigDict, np.ndarray)
                 if t in allowed],
        imported=[name for name in ON_DEMAND if name in sys.modules])


def built(registry, scope, cfg):
    with DefaultScope.overwrite_default_scope(scope):
        module = registry.build(cfg)
    return f'{type(module).__module__}.{type(module).__name__}'


report = dict(before=state(), types=[])
from mmhornet.registry import MODELS
classifier = Config.fromfile(sys.argv[1]).model
report['types'].append(built(MODELS, 'mmhornet', classifier.backbone))
report['mmhornet'] = state()
from mmpretrain.registry import MODELS as CLS_MODELS
report['types'].append(built(CLS_MODELS, 'mmpretrain',
                             dict(type='mmhornet.gnConv', in_channels=16)))
report['types'].append(built(CLS_MODELS, 'mmpretrain', classifier))
report['classification'] = state()
from mmdet.registry import MODELS as DET_MODELS
from mmseg.registry import MODELS as SEG_MODELS
report['types'].append(built(DET_MODELS, 'mmdet', dict(
    type='mmhornet.HorFPN', in_channels=[8, 16], out_channels=8, num_outs=2)))
report['types'].append(built(SEG_MODELS, 'mmseg',
                             Config.fromfile(sys.argv[2]).model.decode_head))
report['dense'] = state()
print(json.dumps(report))
'''


@pytest.mark.slow
def test_building_in_the_toolboxes_changes_nothing_global():
    """In a fresh process, mmhornet modules built from mmhornet's,
    mmpretrain's, mmdet's and mmseg's scopes (no ``custom_imports``; the
    HorFPN-GF head config has none) leave mmengine's checkpoint loading and
    torch's allow-list as they were, and import a toolbox subclass (and its
    toolbox) only when a config names it."""
    seg_config = osp.join(REPO_ROOT, 'tests', 'data',
                          'upernet-horfpn-gf_hornet-nano_tiny-ade.py')
    report = python_report(BUILD_IN_TOOLBOXES, TEST_CONFIG, seg_config)
    assert report['types'] == [
        'mmhornet.models.backbones.hornet.HorNet',
        'mmhornet.models.layers.gnconv.gnConv',
        'mmpretrain.models.classifiers.image.ImageClassifier',
        'mmhornet.models.necks.hor_fpn.HorFPN',
        'mmhornet.models.heads.gn_uper_head.GNUPerHead'
    ]
    before = report['before']
    assert before['schemes'][''] == (
        'mmengine.runner.checkpoint.load_from_local')
    assert before['allowed'] == [] and before['imported'] == []
    assert report['mmhornet'] == before
    # mmpretrain 1.2 imports mmdet itself where it is installed
    # (mmpretrain.models.utils.res_layer_extra_norm); mmhornet adds nothing
    assert report['classification'] == dict(before, imported=['mmdet'])
    assert report['dense'] == dict(
        before,
        imported=[
            'mmdet', 'mmseg', 'mmhornet.models.necks.hor_fpn',
            'mmhornet.models.heads.gn_uper_head'
        ])

# Copyright (c) mmhornet contributors. All rights reserved.
"""How the package is organised: each subpackage imports only the layers
below it, the root imports no model code, every registry holds modules."""
import ast
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Iterator, Tuple

import pytest
from mmengine.registry import Registry

import mmhornet.registry
from .conftest import REPO_ROOT

# Lowest first; a subpackage (or top-level module) may import those before
# it. The root (mmhornet/__init__.py) imports version only and the APIs on
# first use. See docs/contributing.md.
LAYERS = ('version', 'compat', 'utils', 'ops', 'registry', 'models', 'engine',
          'deploy', 'seg', 'apis')
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
    result = subprocess.run([sys.executable, '-c', script],
                            cwd=REPO_ROOT,
                            capture_output=True,
                            text=True,
                            check=True)
    assert json.loads(result.stdout) == ['mmhornet', 'mmhornet.version']
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
    if isinstance(value, mmhornet.registry.MMHornetRegistry)
]


def test_every_registry_of_the_scope_is_covered():
    """Each registry of the ``mmhornet`` scope is an MMHornetRegistry (its
    look-ups apply the checkpoint patch), and so is checked below."""
    scoped = [
        name for name, value in vars(mmhornet.registry).items()
        if isinstance(value, Registry) and value.scope == 'mmhornet'
    ]
    assert sorted(scoped) == sorted(REGISTRIES)
    assert {'MODELS', 'HOOKS', 'OPTIM_WRAPPERS'} <= set(REGISTRIES)


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

# Copyright (c) mmhornet contributors. All rights reserved.
"""Registries of the ``mmhornet`` scope.

Each is a child of the mmengine root registry, so configs of any toolbox
(``default_scope`` mmpretrain, mmdet or mmseg) name our modules with the scope
prefix, e.g. ``type='mmhornet.HorNet'``; mmengine imports the ``locations``
on first use, so no ``custom_imports`` are needed.
"""
from importlib import import_module
from typing import Optional, Type

from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import Registry


class ModelRegistry(Registry):
    """A registry that imports a module extending a toolbox class when its
    name is looked up (``mmhornet.HorFPN``), not with ``locations``.

    mmhornet then imports and builds HorNet without mmdet, and
    classification runs do not import mmdet; a name whose toolbox is
    missing fails with a message that names the extra to install.
    """
    # name -> package whose ``__getattr__`` imports and registers it
    on_demand = {'HorFPN': 'mmhornet.models.necks'}

    def get(self, key: str) -> Optional[Type]:
        scope, name = self.split_scope_key(key)
        if (scope in (None, self.scope) and name in self.on_demand
                and name not in self._module_dict):
            getattr(import_module(self.on_demand[name]), name)
        return super().get(key)


MODELS = ModelRegistry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmhornet',
    locations=['mmhornet.models', 'mmhornet.deploy'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    scope='mmhornet',
    locations=['mmhornet.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmhornet',
    locations=['mmhornet.engine'])
HOOKS = Registry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope='mmhornet',
    locations=['mmhornet.engine'])

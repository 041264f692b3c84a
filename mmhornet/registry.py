# Copyright (c) mmhornet contributors. All rights reserved.
"""Registries of the ``mmhornet`` scope.

Each is a child of the mmengine root registry, so configs of any toolbox
(``default_scope`` mmpretrain, mmdet or mmseg) name our modules with the scope
prefix, e.g. ``type='mmhornet.HorNet'``; mmengine imports the ``locations``
on first use, so no ``custom_imports`` are needed. Looking a module up or
building it changes no global state.
"""
from importlib import import_module
from typing import Optional, Type

from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry


class ModelRegistry(Registry):
    """The model registry: a module that subclasses a toolbox's class (or
    needs an optional runtime) is imported when its name is looked up,
    not with ``locations``.

    :attr:`on_demand` is the one list of such modules. mmhornet thus
    imports and builds HorNet without mmdet, mmseg or onnxruntime, and
    classification runs do not import mmdet; each of these modules imports
    its toolbox through :func:`~mmhornet.utils.import_toolbox`, so a name
    whose toolbox is missing fails with a message that names the extra to
    install. In Python, import them from their modules, e.g.
    ``from mmhornet.models.necks.hor_fpn import HorFPN``.
    """
    #: name -> module that defines and registers it
    on_demand = {
        'HorFPN': 'mmhornet.models.necks.hor_fpn',
        'GNUPerHead': 'mmhornet.models.heads.gn_uper_head',
        'OnnxRuntimeModel': 'mmhornet.deploy.runtime',
    }

    def get(self, key: str) -> Optional[Type]:
        scope, name = self.split_scope_key(key)
        if (scope in (None, self.scope) and name in self.on_demand
                and name not in self._module_dict):
            import_module(self.on_demand[name])
        return super().get(key)


MODELS = ModelRegistry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmhornet',
    locations=['mmhornet.models'])
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
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMENGINE_WEIGHT_INITIALIZERS,
    scope='mmhornet',
    locations=['mmhornet.engine.pretrained'])

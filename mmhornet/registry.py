# Copyright (c) mmhornet contributors. All rights reserved.
"""Registries of the ``mmhornet`` scope.

Each is a child of the mmengine root registry, so configs of any toolbox
(``default_scope`` mmpretrain, mmdet or mmseg) name our modules with the scope
prefix, e.g. ``type='mmhornet.HorNet'``; mmengine imports the ``locations``
on first use, so no ``custom_imports`` are needed.

Looking up a ``mmhornet.`` name applies
:func:`mmhornet.compat.patch_checkpoint_loading`, so that the checkpoints of
a config that uses mmhornet load on torch >= 2.6 whichever toolbox's tools
run it.
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

from .compat import patch_checkpoint_loading


class MMHornetRegistry(Registry):
    """A registry of the ``mmhornet`` scope: a look-up first applies
    :func:`~mmhornet.compat.patch_checkpoint_loading` (see why there)."""

    def get(self, key: str) -> Optional[Type]:
        patch_checkpoint_loading()
        return super().get(key)


class ModelRegistry(MMHornetRegistry):
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
OPTIM_WRAPPERS = MMHornetRegistry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    scope='mmhornet',
    locations=['mmhornet.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = MMHornetRegistry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmhornet',
    locations=['mmhornet.engine'])
HOOKS = MMHornetRegistry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope='mmhornet',
    locations=['mmhornet.engine'])
WEIGHT_INITIALIZERS = MMHornetRegistry(
    'weight initializer',
    parent=MMENGINE_WEIGHT_INITIALIZERS,
    scope='mmhornet',
    locations=['mmhornet.engine.pretrained'])

# Copyright (c) mmhornet contributors. All rights reserved.
"""Registries of the ``mmhornet`` scope.

Each is a child of the mmengine root registry, so configs of any toolbox
(``default_scope`` mmpretrain, mmdet or mmseg) name our modules with the scope
prefix, e.g. ``type='mmhornet.HorNet'``; mmengine imports the ``locations``
on first use, so no ``custom_imports`` are needed.
"""
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import Registry

MODELS = Registry(
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

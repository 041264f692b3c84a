# Copyright (c) mmhornet contributors. All rights reserved.
"""The OpenMMLab toolboxes are optional: import them on use.

HorNet, gnConv and everything built from them need only torch, mmcv and
mmengine. Classification, detection and segmentation run inside mmpretrain,
mmdet and mmseg, which ``pip install --no-build-isolation -e '.[cls]'``
(``[det]``, ``[seg]`` or ``[all]``) adds from the clone; code that needs
one imports it through :func:`import_toolbox` (configs through
:func:`load_config`), so that a missing toolbox is named together with the
extra that installs it.
"""
import importlib
import importlib.util
from types import ModuleType

from mmengine.config import Config

# import name -> (distribution, extra of mmhornet, task)
TOOLBOXES = {
    'mmpretrain': ('mmpretrain', 'cls', 'classification'),
    'mmdet': ('mmdet', 'det', 'detection'),
    'mmseg': ('mmsegmentation', 'seg', 'semantic segmentation'),
}


def toolbox_message(toolbox: str, user: str, reason: str = '') -> str:
    """The message that says which extra installs ``toolbox``.

    Args:
        toolbox (str): Import name of the toolbox, e.g. ``'mmdet'``.
        user (str): What needs it, e.g. ``'HorFPN'``.
        reason (str): Why it is unavailable, e.g. the import error.
            Defaults to ''.
    """
    distribution, extra, task = TOOLBOXES[toolbox]
    reason = f' ({reason})' if reason else ''
    return (f'{user} needs {distribution} for {task}, which cannot be '
            f'imported{reason}. Install it from the mmhornet clone with '
            f'`pip install --no-build-isolation -e ".[{extra}]"` (or '
            '`".[all]"` for every task; `make install` installs '
            'everything).')


def import_toolbox(module: str, user: str) -> ModuleType:
    """Import a module of an OpenMMLab toolbox, or say how to install it.

    Args:
        module (str): A toolbox or one of its modules, e.g.
            ``'mmdet.models.necks'``.
        user (str): What needs it, named in the error, e.g. ``'HorFPN'``.

    Returns:
        ModuleType: The imported module.

    Raises:
        ImportError: The toolbox (or a package it imports) is missing; the
            message names the mmhornet extra that installs it.
    """
    toolbox = module.split('.', 1)[0]
    if toolbox not in TOOLBOXES:
        raise ValueError(f'{toolbox!r} is not one of the toolboxes '
                         f'{sorted(TOOLBOXES)}')
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            toolbox_message(toolbox, user, str(error)),
            name=toolbox) from error


def load_config(filename: str, user: str) -> Config:
    """``Config.fromfile`` for a config that runs in a toolbox, or say how to
    install the toolbox.

    Args:
        filename (str): The config file.
        user (str): What needs it, named in the error, e.g. the config or
            tool.

    Returns:
        Config: The config.

    Raises:
        ImportError: The config inherits a base config of a toolbox that is
            not installed (``_base_ = 'mmdet::...'``), or its
            ``default_scope`` is such a toolbox; the message names the
            mmhornet extra that installs it.
    """
    try:
        cfg = Config.fromfile(filename)
    except ModuleNotFoundError as error:
        # mmengine's words for a `scope::` base of a missing package
        for toolbox, (distribution, _, _) in TOOLBOXES.items():
            if str(error).startswith(f'{distribution} is not installed'):
                raise ImportError(
                    toolbox_message(
                        toolbox, user,
                        'not installed; the config inherits its bases'),
                    name=toolbox) from error
        raise
    scope = cfg.get('default_scope')
    if scope in TOOLBOXES and importlib.util.find_spec(scope) is None:
        raise ImportError(
            toolbox_message(scope, user,
                            f'not installed; the default_scope of {filename}'),
            name=scope)
    return cfg

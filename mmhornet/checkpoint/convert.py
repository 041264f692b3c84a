# Copyright (c) mmhornet contributors. All rights reserved.
"""Convert checkpoints of the official HorNet repository and of mmcv 1.x
toolboxes to mmhornet's: one function, :func:`convert_checkpoint`, serves
``get_model``, ``HorNetPretrained`` and
``tools/model_converters/hornet2mmhornet.py``."""
import logging
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log

__all__ = [
    'convert_checkpoint', 'convert_official_hornet', 'is_official_layout'
]

# Official classification keys, each renamed to the key mmpretrain's
# ``ImageClassifier`` with an mmhornet ``HorNet`` backbone uses.
_OFFICIAL_RULES: List[Tuple[str, str]] = [
    (r'^(downsample_layers\.\d+\.\d+\.(weight|bias))$', r'backbone.\1'),
    (r'^(stages\.\d+\.\d+\.gnconv)\.pws\.(\d+\.(weight|bias))$',
     r'backbone.\1.projs.\2'),
    (r'^(stages\.\d+\.\d+\.gamma[12])$', r'backbone.\1.weight'),
    (r'^(stages\.\d+\.\d+\.(norm[12]|pwconv[12]|gnconv\.(proj_in|proj_out))'
     r'\.(weight|bias))$', r'backbone.\1'),
    (r'^(stages\.\d+\.\d+\.gnconv\.dwconv\.(weight|bias|complex_weight|'
     r'dw\.weight|(pre|post)_norm\.(weight|bias)))$', r'backbone.\1'),
    (r'^norm\.(weight|bias)$', r'backbone.norm3.\1'),
    (r'^head\.(weight|bias)$', r'head.fc.\1'),
]

# The official ``GNUPerHead`` (HorFPN study) fuses its levels with one
# ``GNConvModule`` holding the gnConv and its norm (mmcv's name: ``bn`` for
# BN/SyncBN, ``gn``, ``ln``, ``in``); mmhornet's ``GNUPerHead`` has
# ``fpn_bottleneck = Sequential(gnConv, norm, activation)``.
_FUSION = r'^(decode_head\.fpn_bottleneck)\.'
_OFFICIAL_GN_MODULE_RULES: List[Tuple[str, str]] = [
    (_FUSION + r'(proj_in|proj_out)\.(weight|bias)$', r'\1.0.\2.\3'),
    (_FUSION + r'pws\.(\d+\.(weight|bias))$', r'\1.0.projs.\2'),
    (_FUSION + r'dwconv\.(.+)$', r'\1.0.dwconv.\2'),
    (_FUSION + r'(?:bn|gn|ln|in)\.(.+)$', r'\1.1.\2'),
]

# Official detection (mmdet 2.x) and segmentation (mmseg 0.x) checkpoints
# already name the backbone ``backbone.`` and their necks and heads as mmdet
# 3.x / mmseg 1.x do (the gnConv necks of HorFPN included: no norm there);
# only the gnConv and layer-scale keys differ, and those of the gnConv head
# (whose fusion module has a ``proj_in``; mmseg's plain UPerHead has a
# ConvModule there, ``fpn_bottleneck.conv`` / ``.bn``, kept as it is).
_OFFICIAL_DENSE_RULES: List[Tuple[str, str]] = [
    (r'^(.+\.)pws\.(\d+\.(weight|bias))$', r'\1projs.\2'),
    (r'^(backbone\.stages\.\d+\.\d+\.gamma[12])$', r'\1.weight'),
]


def is_official_layout(state_dict: Dict[str, torch.Tensor]) -> bool:
    """Whether ``state_dict`` has the official repository's HorNet keys
    (``gnconv.pws`` and bare ``gamma1``/``gamma2``) rather than mmhornet's."""
    return any(
        re.search(r'\.pws\.\d+\.|\.gamma[12]$', key) for key in state_dict)


def _check_gn_modules(state_dict: Dict[str, torch.Tensor]) -> None:
    """Refuse an official ``GNConvModule`` built with ``proj_out=False``.

    Its output projection is an identity and holds no weights, while
    mmhornet's gnConv always has one: such a checkpoint cannot load
    strictly. (The official HorFPN configs use ``proj_out=True``.)
    """
    for key in state_dict:
        match = re.match(_FUSION + r'proj_in\.weight$', key)
        if match and f'{match.group(1)}.proj_out.weight' not in state_dict:
            raise ValueError(
                f'{match.group(1)} is an official GNConvModule without '
                'proj_out (proj_out=False, an identity); mmhornet\'s gnConv '
                'head always has an output projection, so these weights '
                'cannot be converted.')


def convert_official_hornet(
    state_dict: Dict[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an official HorNet state dict to mmhornet's keys.

    Two layouts are recognised:

    - classification (``checkpoint['model']``, no ``backbone.`` prefix):
      ``gnconv.pws`` becomes ``gnconv.projs``, ``gamma1``/``gamma2`` become
      ``gamma1.weight``/``gamma2.weight``, the final ``norm`` becomes
      ``backbone.norm3``, ``head`` becomes ``head.fc`` and every other
      backbone key gets the ``backbone.`` prefix;
    - detection and segmentation (``checkpoint['state_dict']`` of mmdet 2.x
      / mmseg 0.x, keys prefixed ``backbone.``): ``pws`` (backbone and
      gnConv necks) and ``gamma1``/``gamma2`` are renamed, and the gnConv
      fusion module of the official ``GNUPerHead`` (``fpn_bottleneck.
      {proj_in,dwconv,pws,proj_out,bn}``) becomes mmhornet's
      ``fpn_bottleneck.0.{proj_in,dwconv,projs,proj_out}`` (the gnConv) and
      ``fpn_bottleneck.1`` (its norm); other neck and head keys are those
      of mmdet 3.x / mmseg 1.x already.

    Tensors are not changed.

    Args:
        state_dict (dict): The official weights.

    Raises:
        ValueError: An official gnConv head without output projection.

    Returns:
        tuple: The converted state dict, and the keys that matched no rule
        (classification layout only). Those are kept unchanged in the
        result, never dropped.
    """
    dense = any(key.startswith('backbone.') for key in state_dict)
    if dense:
        _check_gn_modules(state_dict)
    rules = _OFFICIAL_DENSE_RULES if dense else _OFFICIAL_RULES
    if dense and any(
            re.match(_FUSION + r'proj_in\.', key) for key in state_dict):
        # A gnConv head; mmseg's UPerHead keeps ``fpn_bottleneck.conv/bn``.
        rules = _OFFICIAL_GN_MODULE_RULES + rules
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                break
        else:
            new_key = key
            if not dense:
                unknown.append(key)
        converted[new_key] = value
    return converted, unknown


def _dataset_meta(meta: dict) -> Dict[str, list]:
    """The class names (and palette) of a checkpoint's ``meta``: the 2.0
    toolboxes' ``dataset_meta``, or mmcv 1.x's ``CLASSES`` and
    ``PALETTE``."""
    if meta.get('dataset_meta'):
        return dict(meta['dataset_meta'])
    dataset_meta = {}
    if meta.get('CLASSES') is not None:
        dataset_meta['classes'] = list(meta['CLASSES'])
    if meta.get('PALETTE') is not None:
        dataset_meta['palette'] = [list(color) for color in meta['PALETTE']]
    return dataset_meta


def convert_checkpoint(checkpoint: Any,
                       weights: Optional[str] = None) -> Dict[str, Any]:
    """A loaded checkpoint of any origin as an mmhornet one.

    The weights are taken from ``checkpoint[weights]`` if ``weights`` is
    given (e.g. ``'model_ema'``), else from ``state_dict`` (OpenMMLab) or
    ``model`` (official classification), else the checkpoint is the state
    dict. Official keys are converted (:func:`convert_official_hornet`;
    keys that match no rule are kept and named in a warning); others are
    kept as they are.

    Args:
        checkpoint (dict): A loaded checkpoint or state dict.
        weights (str, optional): The entry holding the weights. Defaults to
            None (found as above).

    Raises:
        KeyError: ``checkpoint`` has no entry ``weights``.

    Returns:
        dict: ``state_dict`` (mmhornet's keys, tensors unchanged) and
        ``meta``: ``source_key`` (the entry the weights came from, None for
        a bare state dict) and, when the checkpoint names its classes,
        ``dataset_meta`` (``classes`` and ``palette``, also from mmcv 1.x's
        ``meta['CLASSES']`` / ``['PALETTE']``).
    """
    if weights is not None and weights not in checkpoint:
        raise KeyError(f'The checkpoint has no {weights!r} entry (it has '
                       f'{sorted(checkpoint)}).')
    source_key = weights or next(
        (key for key in ('state_dict', 'model')
         if isinstance(checkpoint.get(key), dict)), None)
    state_dict = checkpoint[source_key] if source_key else checkpoint
    if is_official_layout(state_dict):
        state_dict, unknown = convert_official_hornet(state_dict)
        print_log(
            'The checkpoint has the official HorNet keys: converted them to '
            "mmhornet's (gnconv.pws -> projs, gammaX -> gammaX.weight).",
            logger='current')
        if unknown:
            print_log(
                f'{len(unknown)} keys matched no rule and were kept '
                f'unchanged: {unknown}',
                logger='current',
                level=logging.WARNING)
    meta = dict(source_key=source_key)
    dataset_meta = _dataset_meta((
        checkpoint.get('meta') or {}) if source_key else {})
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    return dict(state_dict=state_dict, meta=meta)

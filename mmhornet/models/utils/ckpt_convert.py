# Copyright (c) mmhornet contributors. All rights reserved.
"""Convert checkpoints of the official HorNet repository to mmhornet keys."""
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

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

# Official detection (mmdet 2.x) and segmentation (mmseg 0.x) checkpoints
# already name the backbone ``backbone.`` and their necks and heads as mmdet
# 3.x / mmseg 1.x do; only the gnConv and layer-scale keys differ.
_OFFICIAL_DENSE_RULES: List[Tuple[str, str]] = [
    (r'^(.+\.)pws\.(\d+\.(weight|bias))$', r'\1projs.\2'),
    (r'^(backbone\.stages\.\d+\.\d+\.gamma[12])$', r'\1.weight'),
]


def is_official_layout(state_dict: Dict[str, torch.Tensor]) -> bool:
    """Whether ``state_dict`` has the official repository's HorNet keys
    (``gnconv.pws`` and bare ``gamma1``/``gamma2``) rather than mmhornet's."""
    return any(
        re.search(r'\.pws\.\d+\.|\.gamma[12]$', key) for key in state_dict)


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
      / mmseg 0.x, keys prefixed ``backbone.``): only ``pws`` (backbone and
      gnConv necks) and ``gamma1``/``gamma2`` are renamed; neck and head keys
      are those of mmdet 3.x / mmseg 1.x already.

    Tensors are not changed.

    Args:
        state_dict (dict): The official weights.

    Returns:
        tuple: The converted state dict, and the keys that matched no rule
        (classification layout only). Those are kept unchanged in the
        result, never dropped.
    """
    dense = any(key.startswith('backbone.') for key in state_dict)
    rules = _OFFICIAL_DENSE_RULES if dense else _OFFICIAL_RULES
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

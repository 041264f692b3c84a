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


def convert_official_hornet(
    state_dict: Dict[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an official HorNet classifier state dict to mmhornet's keys.

    ``gnconv.pws`` becomes ``gnconv.projs``, ``gamma1``/``gamma2`` become
    ``gamma1.weight``/``gamma2.weight``, the final ``norm`` becomes
    ``backbone.norm3``, ``head`` becomes ``head.fc`` and every other
    backbone key gets the ``backbone.`` prefix. Tensors are not changed.

    Args:
        state_dict (dict): The official weights (``checkpoint['model']`` or
            ``checkpoint['model_ema']``).

    Returns:
        tuple: The converted state dict, and the keys that matched no rule.
        Those are kept unchanged in the result, never dropped.
    """
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        for pattern, replacement in _OFFICIAL_RULES:
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                break
        else:
            new_key = key
            unknown.append(key)
        converted[new_key] = value
    return converted, unknown

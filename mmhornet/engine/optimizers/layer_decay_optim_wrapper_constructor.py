# Copyright (c) mmhornet contributors. All rights reserved.
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from mmhornet.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['LayerDecayOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Layer-wise or stage-wise learning-rate decay of HorNet's recipes: the
    one constructor of the classification, detection and segmentation
    configs.

    Each parameter of ``model.backbone`` gets a layer id from the backbone's
    ``get_layer_depth`` (``'layer_wise'``) or ``get_stage_depth``
    (``'stage_wise'``); every other parameter (backbone output norms, neck,
    heads) gets ``num_layers + 1``. The learning rate is scaled by
    ``decay_rate ** (num_layers + 1 - layer_id)``. As in the official code,
    1-D parameters and biases get no weight decay, and a ``num_layers``
    below the backbone's deepest id (12 layer-wise for the published archs)
    gives the deepest backbone layers a scale above 1 (the official HorFPN
    recipe, ``num_layers=6``).

    For an mmpretrain ``ImageClassifier`` with the defaults (``'layer_wise'``,
    ``num_layers`` the deepest id) the lr scales and weight decays are those of
    mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` with
    ``layer_decay_rate=decay_rate`` and ``norm_decay_mult``,
    ``bias_decay_mult`` and ``flat_decay_mult`` at 0 (HorNet's norm
    parameters are all 1-D): the official fine-tuning rule.

    ``paramwise_cfg`` keys (any other key raises a ``KeyError``):

    - ``decay_rate`` (float): Defaults to 1 (no decay).
    - ``decay_type`` (str): ``'layer_wise'`` or ``'stage_wise'``. Defaults to
      'layer_wise'.
    - ``num_layers`` (int): Defaults to the backbone's deepest id
      (``num_ids - 2`` of its ``get_layer_depth``/``get_stage_depth``: 12
      layer-wise and 4 stage-wise for the published archs).

    Adapted from https://github.com/raoyongming/HorNet.
    """

    KEYS = ('decay_rate', 'decay_type', 'num_layers')

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        unknown = set(paramwise_cfg or {}) - set(self.KEYS)
        if unknown:
            raise KeyError(
                f'LayerDecayOptimWrapperConstructor takes the paramwise_cfg '
                f'keys {list(self.KEYS)}, got {sorted(unknown)} (1-D '
                'parameters and biases never get weight decay)')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   **kwargs) -> None:
        decay_rate = self.paramwise_cfg.get('decay_rate', 1.0)
        decay_type = self.paramwise_cfg.get('decay_type', 'layer_wise')
        num_layers = self.paramwise_cfg.get('num_layers')
        methods = dict(
            layer_wise='get_layer_depth', stage_wise='get_stage_depth')
        if decay_type not in methods:
            raise ValueError(f'decay_type must be one of {list(methods)}, '
                             f'got {decay_type!r}')
        backbone = getattr(module, 'backbone', None)
        if not hasattr(backbone, methods[decay_type]):
            raise TypeError(f'{decay_type} decay needs a model with a '
                            f'backbone that has {methods[decay_type]}()')
        depth = getattr(backbone, methods[decay_type])
        if num_layers is None:
            num_layers = depth('', 'backbone.')[1] - 2

        groups: Dict[str, dict] = {}
        for name, param in module.named_parameters(prefix=prefix[:-1]):
            if not param.requires_grad:
                continue
            layer_id, num_ids = depth(name, 'backbone.')
            if layer_id == num_ids - 1:  # not in a decayed backbone layer
                layer_id = num_layers + 1
            no_decay = param.ndim == 1 or name.endswith('.bias')
            group_name = (f'layer_{layer_id}_'
                          f"{'no_decay' if no_decay else 'decay'}")
            if group_name not in groups:
                scale = decay_rate**(num_layers + 1 - layer_id)
                groups[group_name] = dict(
                    params=[],
                    param_names=[],
                    group_name=group_name,
                    lr_scale=scale,
                    lr=scale * self.base_lr)
                if self.base_wd is not None:
                    groups[group_name]['weight_decay'] = (0. if no_decay else
                                                          self.base_wd)
            groups[group_name]['params'].append(param)
            groups[group_name]['param_names'].append(name)
        params.extend(groups.values())
        summary = ', '.join(f"{name}: {group['lr_scale']:.4f}"
                            for name, group in sorted(groups.items()))
        print_log(
            f'{decay_type} lr decay (rate {decay_rate}, num_layers '
            f'{num_layers}), lr scales: {summary}',
            logger='current')

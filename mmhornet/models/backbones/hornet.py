# Copyright (c) mmhornet contributors. All rights reserved.
"""HorNet backbone.

Adapted from https://github.com/raoyongming/HorNet. Paper: `HorNet:
Efficient High-Order Spatial Interactions with Recursive Gated Convolutions
<https://arxiv.org/abs/2207.14284>`_.
"""
import difflib
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch.utils.checkpoint import checkpoint_sequential

from mmhornet.registry import MODELS
from ..layers import HorNetBlock, LayerNorm2d


def _dw(kernel_size: int = 7) -> dict:
    return dict(type='DW', kernel_size=kernel_size)


def _gf(h: int, w: int) -> dict:
    return dict(type='GF', h=h, w=w)


# Global-filter sizes are rFFT spectra of the stage-2/3 maps: 14x14 -> 14x8
# and 7x7 -> 7x4 at 224 px; 24x24 -> 24x13 and 12x12 -> 12x7 at 384 px.
_DW_STAGES = [_dw()] * 4
_GF_STAGES = [_dw(), _dw(), _gf(14, 8), _gf(7, 4)]
_GF384_STAGES = [_dw(), _dw(), _gf(24, 13), _gf(12, 7)]


def _arch(base_dim: int, dw_cfg: List[dict]) -> dict:
    return dict(
        base_dim=base_dim,
        depths=[2, 3, 18, 2],
        orders=[2, 3, 4, 5],
        dw_cfg=dw_cfg)


@MODELS.register_module()
class HorNet(BaseModule):
    """HorNet backbone, for classification (mmpretrain) and dense prediction
    (mmdet, mmseg).

    State-dict keys equal those of mmpretrain's ``HorNet``, so its released
    ``hornet-*_3rdparty_in1k`` checkpoints load as they are. Unlike it,
    ``frozen_stages`` freezes the matching output norms, ``out_indices`` is
    bounds-checked and the 384-px global filters have the official shapes.
    It computes in channels-last memory (faster, same results); dense
    outputs are contiguous (N, C, H, W) tensors.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` (``'tiny'``, ``'t'``,
            ``'tiny-gf'``, ...) or a dict with the keys ``base_dim`` (int),
            ``depths``, ``orders`` and ``dw_cfg`` (one entry per stage).
            Defaults to 'tiny'.
        in_channels (int): Input image channels. Defaults to 3.
        drop_path_rate (float): Stochastic depth rate, increased linearly
            over all blocks. Defaults to 0.
        scale (float): gnConv's scale ``s`` in every block. Defaults to 1/3.
        use_layer_scale (bool): Use layer scale in the blocks. Defaults to
            True.
        layer_scale_init_value (float): Initial layer scale. Defaults to
            1e-6.
        out_indices (Sequence[int] | int): Stages whose outputs are returned
            (negative counts from the end). Defaults to -1 (the last).
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the stem, ``k``
            the stem and the first ``k`` stages with their output norms
            (frozen parts stay in eval mode). Defaults to -1.
        with_cp (bool): Gradient checkpointing of each block while training,
            to save memory. Defaults to False.
        gap_before_final_norm (bool): Average-pool each output before its
            norm and return (N, C) vectors, as classifiers want; otherwise
            return normalised (N, C, H, W) maps. Defaults to True.
        init_cfg (dict | list[dict], optional): Initialisation. Defaults to
            the official scheme: truncated normal (std 0.02) for every
            convolution and linear weight, zero biases, unit LayerNorms.
    """
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['t', 'tiny'], _arch(64, _DW_STAGES)),
        **dict.fromkeys(['t-gf', 'tiny-gf'], _arch(64, _GF_STAGES)),
        **dict.fromkeys(['t-gf384', 'tiny-gf384'], _arch(64, _GF384_STAGES)),
        **dict.fromkeys(['s', 'small'], _arch(96, _DW_STAGES)),
        **dict.fromkeys(['s-gf', 'small-gf'], _arch(96, _GF_STAGES)),
        **dict.fromkeys(['s-gf384', 'small-gf384'], _arch(96, _GF384_STAGES)),
        **dict.fromkeys(['b', 'base'], _arch(128, _DW_STAGES)),
        **dict.fromkeys(['b-gf', 'base-gf'], _arch(128, _GF_STAGES)),
        **dict.fromkeys(['b-gf384', 'base-gf384'], _arch(128, _GF384_STAGES)),
        **dict.fromkeys(['l', 'large'], _arch(192, _DW_STAGES)),
        **dict.fromkeys(['l-gf', 'large-gf'], _arch(192, _GF_STAGES)),
        **dict.fromkeys(['l-gf384', 'large-gf384'], _arch(192, _GF384_STAGES)),
    }
    arch_keys = ('base_dim', 'depths', 'orders', 'dw_cfg')

    def __init__(
        self,
        arch: Union[str, dict] = 'tiny',
        in_channels: int = 3,
        drop_path_rate: float = 0.,
        scale: float = 1 / 3,
        use_layer_scale: bool = True,
        layer_scale_init_value: float = 1e-6,
        out_indices: Union[Sequence[int], int] = -1,
        frozen_stages: int = -1,
        with_cp: bool = False,
        gap_before_final_norm: bool = True,
        init_cfg: Optional[Union[dict, List[dict]]] = [
            dict(
                type='TruncNormal',
                layer=['Conv2d', 'Linear'],
                std=.02,
                bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self._parse_arch(arch)
        base_dim = self.arch_settings['base_dim']
        self.depths = list(self.arch_settings['depths'])
        self.orders = list(self.arch_settings['orders'])
        self.num_stages = len(self.depths)
        self.dims = [base_dim * 2**i for i in range(self.num_stages)]

        self.out_indices = self._parse_out_indices(out_indices)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in -1..{self.num_stages},'
                             f' got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.gap_before_final_norm = gap_before_final_norm

        self.downsample_layers = self._build_downsample_layers(in_channels)
        self.stages = self._build_stages(drop_path_rate, scale,
                                         use_layer_scale,
                                         layer_scale_init_value)
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(self.dims[i]))
        self._freeze_stages()

    def _parse_out_indices(
            self, out_indices: Union[Sequence[int], int]) -> List[int]:
        """``out_indices`` as non-negative stage indices, checked."""
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        parsed = []
        for index in out_indices:
            normalised = index + self.num_stages if index < 0 else index
            if not 0 <= normalised < self.num_stages:
                raise IndexError(
                    f'out_indices entry {index} is out of range for '
                    f'{self.num_stages} stages (valid: '
                    f'{-self.num_stages}..{self.num_stages - 1})')
            parsed.append(normalised)
        return parsed

    def _build_downsample_layers(self, in_channels: int) -> nn.ModuleList:
        """The stem (4x4 patches) and the 2x2 downsampling before each later
        stage."""
        layers = nn.ModuleList([
            nn.Sequential(
                nn.Conv2d(in_channels, self.dims[0], 4, stride=4),
                LayerNorm2d(self.dims[0]))
        ])
        for i in range(1, self.num_stages):
            layers.append(
                nn.Sequential(
                    LayerNorm2d(self.dims[i - 1]),
                    nn.Conv2d(self.dims[i - 1], self.dims[i], 2, stride=2)))
        return layers

    def _build_stages(self, drop_path_rate: float, scale: float,
                      use_layer_scale: bool,
                      layer_scale_init_value: float) -> nn.ModuleList:
        """The stages of HorNet blocks, with stochastic depth rising
        linearly from 0 to ``drop_path_rate`` over all blocks."""
        rates = iter(
            torch.linspace(0, drop_path_rate, sum(self.depths),
                           device='cpu').tolist())
        return nn.ModuleList(
            nn.Sequential(*[
                HorNetBlock(
                    self.dims[i],
                    order=self.orders[i],
                    dw_cfg=self.arch_settings['dw_cfg'][i],
                    scale=scale,
                    drop_path_rate=next(rates),
                    use_layer_scale=use_layer_scale,
                    layer_scale_init_value=layer_scale_init_value)
                for _ in range(depth)
            ]) for i, depth in enumerate(self.depths))

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in cls.arch_zoo:
                close = difflib.get_close_matches(arch, cls.arch_zoo, n=3)
                hint = f' Did you mean {close}?' if close else ''
                raise KeyError(f'Unknown HorNet arch {arch!r}.{hint} '
                               f'Valid archs: {sorted(cls.arch_zoo)}')
            return cls.arch_zoo[arch.lower()]
        if not isinstance(arch, dict) or set(arch) != set(cls.arch_keys):
            got = sorted(arch) if isinstance(arch, dict) else type(arch)
            raise ValueError(f'A custom HorNet arch must be a dict with '
                             f'exactly the keys {list(cls.arch_keys)}, got '
                             f'{got}')
        lengths = {len(arch[key]) for key in ('depths', 'orders', 'dw_cfg')}
        if len(lengths) != 1:
            raise ValueError('depths, orders and dw_cfg of a custom HorNet '
                             'arch need one entry per stage, got '
                             f"{arch['depths']}, {arch['orders']}, "
                             f"{arch['dw_cfg']}")
        return arch

    def _frozen_modules(self) -> List[nn.Module]:
        """The stem for ``frozen_stages >= 0``, then for each frozen stage
        its downsampling layer, its blocks and its output norm."""
        if self.frozen_stages < 0:
            return []
        modules = [self.downsample_layers[0]]
        for i in range(self.frozen_stages):
            if i > 0:
                modules.append(self.downsample_layers[i])
            modules.append(self.stages[i])
            if i in self.out_indices:
                modules.append(getattr(self, f'norm{i}'))
        return modules

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'HorNet':
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # Channels-last memory makes every 1x1 convolution of gnConv a
        # plain matrix product and lets the MLP and the norms work on
        # contiguous (N, H, W, C) views; results are layout-independent.
        outs = []
        x = x.contiguous(memory_format=torch.channels_last)
        for i in range(self.num_stages):
            x = self.downsample_layers[i](x)
            stage = self.stages[i]
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint_sequential(
                    stage, len(stage), x, use_reentrant=False)
            else:
                x = stage(x)
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if self.gap_before_final_norm:
                    gap = x.mean([-2, -1], keepdim=True)
                    outs.append(norm(gap).flatten(1))
                else:
                    outs.append(norm(x).contiguous())
        return tuple(outs)

    def get_layer_depth(self,
                        param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter for layer-wise learning-rate decay.

        The official numbering, derived from the depths: the stem is 0,
        each early stage ``i`` (with its downsampling) ``i + 1``; the
        downsampling before the second-to-last (deep) stage follows, then
        its blocks two per id; the last stage and its downsampling take the
        next id and everything else (output norms, neck, head) the one after.
        For the 2/3/18/2 depths of the published archs: stem 0, stage 0 1,
        stage 1 2, the deep stage's blocks ``3 + b // 2`` (3-11), the last
        stage 12, the rest 13.

        Args:
            param_name (str): The parameter's name.
            prefix (str): The prefix of backbone parameters, e.g.
                ``'backbone.'``. Defaults to ''.

        Returns:
            Tuple[int, int]: The layer id and the number of layer ids.
        """
        deep = self.num_stages - 2  # the stage whose blocks are paired
        max_layer_id = deep + 1 + math.ceil(self.depths[deep] / 2)
        if not param_name.startswith(prefix):
            return max_layer_id + 1, max_layer_id + 2
        parts = param_name[len(prefix):].split('.')
        if parts[0] not in ('downsample_layers', 'stages'):
            return max_layer_id + 1, max_layer_id + 2
        stage_id = int(parts[1])
        if stage_id == self.num_stages - 1:
            layer_id = max_layer_id
        elif parts[0] == 'downsample_layers':  # the stem is 0
            layer_id = stage_id + 1 if stage_id else 0
        elif stage_id < deep:
            layer_id = stage_id + 1
        else:
            layer_id = deep + 1 + int(parts[2]) // 2
        return layer_id, max_layer_id + 2

    def get_stage_depth(self,
                        param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Stage id of a parameter for stage-wise learning-rate decay.

        All downsampling layers (the stem included) are 0, stage ``i`` is
        ``i + 1``, everything else (output norms, neck, head) is the last
        id, as in the official stage-wise rule.

        Returns:
            Tuple[int, int]: The stage id and the number of ids.
        """
        num_ids = self.num_stages + 2
        if not param_name.startswith(prefix):
            return num_ids - 1, num_ids
        parts = param_name[len(prefix):].split('.')
        if parts[0] == 'downsample_layers':
            return 0, num_ids
        if parts[0] == 'stages':
            return int(parts[1]) + 1, num_ids
        return num_ids - 1, num_ids

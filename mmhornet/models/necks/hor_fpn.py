# Copyright (c) mmhornet contributors. All rights reserved.
from typing import List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmhornet.registry import MODELS
from ..layers import gnConv


@MODELS.register_module()
class HorFPN(BaseModule):
    """FPN whose output convolutions are gnConv modules (the paper's HorFPN).

    The lateral 1x1 convolutions and the top-down pathway are those of
    mmdet's ``FPN``; each level's 3x3 output convolution is replaced by a
    gnConv (order 2, scale 1, with a 7x7 depth-wise convolution or a global
    filter that is resized to every level). Extra levels work as in
    ``FPN``: max pooling, or (``add_extra_convs``) a stride-2 3x3
    ``ConvModule`` followed by a gnConv, on the input, lateral or output of
    the last level. Usable by any mmdet config (no mmdet import).

    Adapted from https://github.com/raoyongming/HorNet (``GNFPN``).

    Args:
        in_channels (list[int]): Input channels per scale.
        out_channels (int): Output channels of every level.
        num_outs (int): Number of output levels.
        start_level (int): First input level used. Defaults to 0.
        end_level (int): Last input level used (inclusive); -1 for the last.
            Defaults to -1.
        add_extra_convs (bool | str): False for max-pooled extra levels,
            else their source: ``'on_input'`` (also True), ``'on_lateral'``
            or ``'on_output'``. Defaults to False.
        relu_before_extra_convs (bool): ReLU before every extra level but
            the first. Defaults to False.
        no_norm_on_lateral (bool): No norm on the lateral convs. Defaults to
            False.
        conv_cfg, norm_cfg, act_cfg (dict, optional): Of the lateral and
            extra-level ``ConvModule``s. Default to None.
        gnconv_cfg (dict): Arguments of the output gnConvs. Defaults to
            order 2, a 7x7 depth-wise convolution and scale 1.
        upsample_cfg (dict): Arguments of ``F.interpolate`` on the top-down
            pathway. Defaults to nearest.
        init_cfg (dict | list[dict], optional): Defaults to Xavier-uniform
            convolutions, as the official neck.
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: int,
                 num_outs: int,
                 start_level: int = 0,
                 end_level: int = -1,
                 add_extra_convs: Union[bool, str] = False,
                 relu_before_extra_convs: bool = False,
                 no_norm_on_lateral: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 gnconv_cfg: dict = dict(
                     order=2, dw_cfg=dict(type='DW', kernel_size=7),
                     scale=1.0),
                 upsample_cfg: dict = dict(mode='nearest'),
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Xavier', layer='Conv2d', distribution='uniform')):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.upsample_cfg = upsample_cfg.copy()
        if end_level in (-1, self.num_ins - 1):
            self.backbone_end_level = self.num_ins
            if num_outs < self.num_ins - start_level:
                raise ValueError(f'num_outs ({num_outs}) must be at least the '
                                 f'number of used inputs '
                                 f'({self.num_ins - start_level})')
        else:
            self.backbone_end_level = end_level + 1
            if not end_level < self.num_ins or (num_outs != end_level -
                                                start_level + 1):
                raise ValueError('with end_level set, num_outs must be '
                                 'end_level - start_level + 1')
        self.start_level = start_level
        if add_extra_convs is True:
            add_extra_convs = 'on_input'
        if add_extra_convs not in (False, 'on_input', 'on_lateral',
                                   'on_output'):
            raise ValueError('add_extra_convs must be False, True, '
                             "'on_input', 'on_lateral' or 'on_output', got "
                             f'{add_extra_convs!r}')
        self.add_extra_convs = add_extra_convs

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, self.backbone_end_level):
            self.lateral_convs.append(
                ConvModule(
                    in_channels[i],
                    out_channels,
                    1,
                    conv_cfg=conv_cfg,
                    norm_cfg=None if no_norm_on_lateral else norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False))
            self.fpn_convs.append(gnConv(out_channels, **gnconv_cfg))

        extra_levels = num_outs - self.backbone_end_level + start_level
        if add_extra_convs:
            for i in range(extra_levels):
                extra_in = out_channels
                if i == 0 and add_extra_convs == 'on_input':
                    extra_in = in_channels[self.backbone_end_level - 1]
                self.fpn_convs.append(
                    nn.Sequential(
                        ConvModule(
                            extra_in,
                            out_channels,
                            3,
                            stride=2,
                            padding=1,
                            conv_cfg=conv_cfg,
                            norm_cfg=norm_cfg,
                            act_cfg=act_cfg,
                            inplace=False), gnConv(out_channels,
                                                   **gnconv_cfg)))

    def forward(self, inputs: tuple) -> tuple:
        assert len(inputs) == self.num_ins
        laterals = [
            lateral_conv(inputs[i + self.start_level])
            for i, lateral_conv in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                upsampled = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                upsampled = F.interpolate(
                    laterals[i],
                    size=laterals[i - 1].shape[2:],
                    **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + upsampled

        used = len(laterals)
        outs = [self.fpn_convs[i](laterals[i]) for i in range(used)]
        if self.num_outs > used:
            if not self.add_extra_convs:
                for _ in range(self.num_outs - used):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                source: torch.Tensor = dict(
                    on_input=inputs[self.backbone_end_level - 1],
                    on_lateral=laterals[-1],
                    on_output=outs[-1])[self.add_extra_convs]
                outs.append(self.fpn_convs[used](source))
                for i in range(used + 1, self.num_outs):
                    last = outs[-1]
                    if self.relu_before_extra_convs:
                        last = F.relu(last)
                    outs.append(self.fpn_convs[i](last))
        return tuple(outs)

# Copyright (c) mmhornet contributors. All rights reserved.
from typing import List, Union

import torch.nn as nn

from mmhornet.registry import MODELS
from mmhornet.utils import import_toolbox
from ..layers import gnConv

# a missing mmdet is named together with the extra that installs it
FPN = import_toolbox('mmdet.models.necks', 'HorFPN').FPN

_EXTRA_SOURCES = (False, True, 'on_input', 'on_lateral', 'on_output')


@MODELS.register_module()
class HorFPN(FPN):
    """FPN whose output convolutions are gnConv modules (the paper's HorFPN).

    Everything is mmdet's ``FPN`` (lateral 1x1 convolutions, top-down
    pathway, extra levels, forward) except the convolutions after the
    pathway: each level's 3x3 output convolution becomes a gnConv (order 2,
    scale 1, with a 7x7 depth-wise convolution or a global filter that is
    resized to every level), and each extra level's stride-2 3x3
    ``ConvModule`` (``add_extra_convs``) is followed by one. No norm or
    activation follows a gnConv, as in the official neck's configs.

    Adapted from https://github.com/raoyongming/HorNet (``GNFPN``).

    Args:
        in_channels (list[int]): Input channels per scale.
        out_channels (int): Output channels of every level.
        num_outs (int): Number of output levels.
        gnconv_cfg (dict): Arguments of the output gnConvs. Defaults to
            order 2, a 7x7 depth-wise convolution and scale 1.
        **kwargs: The other arguments of ``FPN`` (``start_level``,
            ``end_level``, ``add_extra_convs``, ``relu_before_extra_convs``,
            ``no_norm_on_lateral``, ``conv_cfg``, ``norm_cfg``, ``act_cfg``
            of the lateral and extra-level convolutions, ``upsample_cfg``,
            ``init_cfg``). FPN's default ``init_cfg``, Xavier-uniform
            ``Conv2d``, reaches the gnConvs' convolutions too, as in the
            official neck.
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: int,
                 num_outs: int,
                 *,
                 gnconv_cfg: dict = dict(
                     order=2, dw_cfg=dict(type='DW', kernel_size=7),
                     scale=1.0),
                 **kwargs) -> None:
        _check_levels(in_channels, num_outs, kwargs.get('start_level', 0),
                      kwargs.get('end_level', -1),
                      kwargs.get('add_extra_convs', False))
        super().__init__(in_channels, out_channels, num_outs, **kwargs)
        used = len(self.lateral_convs)
        for i, conv in enumerate(self.fpn_convs):
            output_gnconv = gnConv(out_channels, **gnconv_cfg)
            # pyramid levels: gnConv instead of the 3x3 ConvModule; extra
            # levels: FPN's stride-2 ConvModule, then a gnConv
            self.fpn_convs[i] = output_gnconv if i < used else nn.Sequential(
                conv, output_gnconv)


def _check_levels(in_channels: List[int], num_outs: int, start_level: int,
                  end_level: int, add_extra_convs: Union[bool, str]) -> None:
    """Raise a clear error for settings that ``FPN`` only asserts."""
    if not isinstance(in_channels, list):
        raise TypeError('in_channels must be a list, got '
                        f'{type(in_channels).__name__}')
    num_ins = len(in_channels)
    if end_level in (-1, num_ins - 1):
        if num_outs < num_ins - start_level:
            raise ValueError(
                f'num_outs ({num_outs}) must be at least the number of '
                f'used inputs ({num_ins - start_level})')
    elif not end_level < num_ins or num_outs != end_level - start_level + 1:
        raise ValueError('with end_level set, num_outs must be '
                         'end_level - start_level + 1')
    if add_extra_convs not in _EXTRA_SOURCES:
        raise ValueError("add_extra_convs must be False, True, 'on_input', "
                         f"'on_lateral' or 'on_output', got "
                         f'{add_extra_convs!r}')

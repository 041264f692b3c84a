# Copyright (c) mmhornet contributors. All rights reserved.
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer

from mmhornet.registry import MODELS
from mmhornet.utils import import_toolbox
from ..layers import gnConv

# a missing mmseg is named together with the extra that installs it
UPerHead = import_toolbox('mmseg.models.decode_heads', 'GNUPerHead').UPerHead


@MODELS.register_module()
class GNUPerHead(UPerHead):
    """UPerNet head whose fusion convolution is a gnConv (the paper's gnConv
    decoder for segmentation).

    Everything is mmseg's ``UPerHead`` except ``fpn_bottleneck``, the
    convolution that fuses the concatenated levels: here a gnConv (order 2,
    scale 1, 7x7 depth-wise convolution or a global filter resized to the
    stride-4 map) from ``len(in_channels) * channels`` to ``channels``
    channels, followed by the head's norm and activation.

    Adapted from https://github.com/raoyongming/HorNet (``GNUPerHead``).

    Args:
        gnconv_cfg (dict): Arguments of the gnConv. Defaults to order 2, a
            7x7 depth-wise convolution and scale 1.
        **kwargs: Arguments of ``UPerHead``.
    """

    def __init__(self,
                 gnconv_cfg: dict = dict(
                     order=2, dw_cfg=dict(type='DW', kernel_size=7),
                     scale=1.0),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        layers = [
            gnConv(
                len(self.in_channels) * self.channels, self.channels,
                **gnconv_cfg)
        ]
        if self.norm_cfg is not None:
            layers.append(build_norm_layer(self.norm_cfg, self.channels)[1])
        if self.act_cfg is not None:
            layers.append(build_activation_layer(self.act_cfg))
        self.fpn_bottleneck = nn.Sequential(*layers)

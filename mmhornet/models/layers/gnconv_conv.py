# Copyright (c) mmhornet contributors. All rights reserved.
"""gnConv behind the signature of a 2-D convolution, for ``conv_cfg``.

Every OpenMMLab model builds its convolutions with mmcv's
``build_conv_layer(cfg, in_channels, out_channels, kernel_size, stride=...,
padding=..., dilation=..., groups=..., bias=...)``; :class:`gnConv2d` takes
exactly those arguments, so ``conv_cfg=dict(type='mmhornet.gnConv2d', ...)``
(or ResNet's ``dcn`` slot) puts a gnConv where the convolution was.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmhornet.registry import MODELS
from .gnconv import gnConv

IntPair = Union[int, Tuple[int, int]]
STRIDE_MODES = ('sample', 'pool')


def _pair(value: IntPair, name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) for v in value)):
        return tuple(value)
    raise ValueError(f'gnConv2d: {name} must be an int or a pair of ints, '
                     f'got {value!r}')


def _check_conv_args(kernel_size: Tuple[int, int], stride: Tuple[int, int],
                     padding: Union[IntPair, str], dilation: Tuple[int, int],
                     groups: int, stride_mode: str) -> Tuple[float, float]:
    """Check that :class:`gnConv2d` can replace a convolution with these
    arguments; return its padding as a pair."""
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(
            'gnConv2d: kernel_size, stride and dilation must be >= 1, '
            f'got {kernel_size}, {stride}, {dilation}')
    if groups != 1:
        raise ValueError(
            f'gnConv2d does not take groups={groups}: gnConv mixes all '
            'channels, so only groups=1 can be replaced')
    if stride_mode not in STRIDE_MODES:
        raise ValueError(f'gnConv2d: stride_mode must be one of '
                         f'{STRIDE_MODES}, got {stride_mode!r}')
    same = tuple(d * (k - 1) / 2 for k, d in zip(kernel_size, dilation))
    if isinstance(padding, str):
        if padding == 'same' and stride != (1, 1):
            raise ValueError(
                "gnConv2d: padding='same' is not supported with "
                f'stride {stride} (as for torch convolutions); pass '
                f'padding={same} instead')
        if padding not in ('same', 'valid'):
            raise ValueError("gnConv2d: padding must be an int, a pair, "
                             f"'same' or 'valid', got {padding!r}")
        pads = same if padding == 'same' else (0, 0)
    else:
        pads = _pair(padding, 'padding')
    if pads != same:
        raise ValueError(
            f'gnConv2d keeps the spatial size (ceil(size / stride)), so '
            f'it replaces only convolutions padded to keep it: with '
            f'kernel_size {kernel_size} and dilation {dilation} that is '
            f'padding {same}, got padding {padding!r}')
    return pads


def _default_mixer(dw_cfg: Optional[dict], kernel_size: Tuple[int, int],
                   dilation: Tuple[int, int]) -> dict:
    """The mixer config: a depth-wise convolution spanning the replaced
    kernel (dilation included) unless ``dw_cfg`` gives its size or a
    global filter."""
    if dw_cfg is not None and not (dw_cfg.get('type') == 'DW'
                                   and 'kernel_size' not in dw_cfg):
        return dw_cfg
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    if extent[0] != extent[1]:
        raise ValueError('gnConv2d: the depth-wise mixer is square, but '
                         f'kernel_size {kernel_size} with dilation {dilation} '
                         f'spans {extent}; configure the mixer with dw_cfg')
    return dict(dw_cfg or dict(type='DW'), kernel_size=extent[0])


@MODELS.register_module()
class gnConv2d(BaseModule):
    """A gnConv that stands in for a 2-D convolution.

    It takes the arguments mmcv's ``build_conv_layer`` passes to a
    convolution and has the convolution's output size; each argument
    becomes:

    - ``in_channels``, ``out_channels``: gnConv's input and output width.
    - ``kernel_size``: the size of the depth-wise mixer (with dilation ``d``
      the dense kernel of the same extent, ``d * (k - 1) + 1``), unless
      ``dw_cfg`` configures the mixer (e.g. a global filter).
    - ``stride``: with ``stride_mode='sample'`` the gnConv runs at the input
      resolution and its output is taken at every ``stride``-th position,
      as a strided convolution is its dense counterpart sampled (the mixer
      sees the window centred on each output position; the cost is that of
      the full-resolution gnConv); with ``'pool'`` the input is first
      average-pooled over ``stride x stride`` windows (``ceil_mode``, as
      ResNet-D's shortcut; the gnConv runs at the output resolution, a
      ``stride ** 2`` times smaller cost). Both give ``ceil(H / stride)``,
      the size of the replaced convolution.
    - ``padding``, ``dilation``: gnConv keeps the spatial size, so only the
      "same" padding ``dilation * (kernel_size - 1) / 2`` (or ``'same'``
      without stride) is accepted; any other padding (e.g. ``0`` before
      ConvModule's explicit ``reflect`` padding) raises ``ValueError``.
    - ``groups``: only 1 (gnConv mixes all channels).
    - ``bias``: whether the output projection has a bias, the one bias a
      following norm makes redundant (the biases inside the gated recursion
      are not, and stay).

    It exposes the attributes ConvModule and other callers read from a
    convolution (``in_channels``, ``out_channels``, ``kernel_size``,
    ``stride``, ``padding``, ``dilation``, ``groups``, ``transposed``,
    ``output_padding``, ``bias``).

    Initialisation: every convolution inside is drawn from ``N(0, 1 /
    fan_in)`` with zero biases, when built and again in ``init_weights``
    (unless ``init_cfg`` is given, which then applies instead; ConvModule
    sees the method and does not Kaiming-initialise the layer as one
    convolution, and an enclosing model's ``init_cfg`` for ``Conv2d`` is
    overridden when its ``init_weights`` reaches the layer). Each
    projection then keeps the variance of its input and a gate product
    multiplies it by ``scale ** 2``, so with ``scale=1`` the output has
    about the input's variance. PyTorch's default initialisation gives
    1/50 to 1/200 of it (orders 1-5), small enough for a following
    BatchNorm's ``eps`` to damp the layer.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): Kernel size of the replaced
            convolution.
        stride (int | tuple[int, int]): Stride. Defaults to 1.
        padding (int | tuple[int, int] | str): Zero padding of the replaced
            convolution; must keep the size (see above). Defaults to 0.
        dilation (int | tuple[int, int]): Dilation. Defaults to 1.
        groups (int): Must be 1. Defaults to 1.
        bias (bool): Whether the output projection has a bias.
            Defaults to True.
        order (int): gnConv's interaction order. Defaults to 3.
        scale (float): gnConv's scale ``s`` after the mixer. Defaults to 1.0.
        dw_cfg (dict, optional): The spatial mixer: ``None`` for a
            depth-wise convolution of the size above, ``dict(type='GF', h=...,
            w=...)`` for the global-local filter, ``dict(type='DW',
            kernel_size=7)`` for another depth-wise size. Defaults to None.
        mid_channels (int, optional): Width of the recursion. Defaults to
            ``out_channels``.
        stride_mode (str): ``'sample'`` or ``'pool'`` (see above).
            Defaults to ``'sample'``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: IntPair,
                 stride: IntPair = 1,
                 padding: Union[IntPair, str] = 0,
                 dilation: IntPair = 1,
                 groups: int = 1,
                 bias: bool = True,
                 *,
                 order: int = 3,
                 scale: float = 1.0,
                 dw_cfg: Optional[dict] = None,
                 mid_channels: Optional[int] = None,
                 stride_mode: str = 'sample',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        kernel_size = _pair(kernel_size, 'kernel_size')
        stride = _pair(stride, 'stride')
        dilation = _pair(dilation, 'dilation')
        pads = _check_conv_args(kernel_size, stride, padding, dilation, groups,
                                stride_mode)
        dw_cfg = _default_mixer(dw_cfg, kernel_size, dilation)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding if isinstance(padding, str) else pads
        self.dilation = dilation
        self.groups = groups
        self.transposed = False
        self.output_padding = (0, 0)
        self.stride_mode = stride_mode
        self.gnconv = gnConv(
            in_channels,
            out_channels,
            order=order,
            dw_cfg=dw_cfg,
            scale=scale,
            mid_channels=mid_channels)
        if not bias:
            self.gnconv.proj_out.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every convolution's weights from ``N(0, 1 / fan_in)`` and
        zero its bias (the global filter keeps its own initialisation)."""
        for module in self.gnconv.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                nn.init.normal_(module.weight, std=fan_in**-0.5)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def init_weights(self) -> None:
        """Apply ``init_cfg`` if given, else :meth:`reset_parameters`."""
        if self.init_cfg is not None:
            super().init_weights()
        else:
            self.reset_parameters()

    @property
    def bias(self) -> Optional[nn.Parameter]:
        """The output bias (``None`` when built with ``bias=False``)."""
        return self.gnconv.proj_out.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``x`` (N, C, H, W)."""
        if self.stride == (1, 1):
            return self.gnconv(x)
        if self.stride_mode == 'pool':
            x = F.avg_pool2d(x, self.stride, self.stride, ceil_mode=True)
            return self.gnconv(x)
        sh, sw = self.stride
        return self.gnconv(x)[:, :, ::sh, ::sw].contiguous()

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, '
                f'bias={self.bias is not None}, '
                f'stride_mode={self.stride_mode!r}')

# Copyright (c) mmhornet contributors. All rights reserved.
from .depthwise_conv import depthwise_conv2d, ops_available

__all__ = ['depthwise_conv2d', 'ops_available']

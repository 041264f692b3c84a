# Copyright (c) mmhornet contributors. All rights reserved.
from .backbones import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403

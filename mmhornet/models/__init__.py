# Copyright (c) mmhornet contributors. All rights reserved.
from .backbones import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403

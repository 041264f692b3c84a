# Copyright (c) mmhornet contributors. All rights reserved.
"""What runs around a model, by concern, as in mmpretrain: ``hooks``
(crash-safe checkpoints, random states), ``optimizers`` (mixed precision on
any host, layer-wise lr decay), ``runners`` (a run's launch and its total
batch) and ``pretrained`` (the ``HorNetPretrained`` weight initializer)."""
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .runners import *  # noqa: F401,F403

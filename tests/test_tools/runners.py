# Copyright (c) mmhornet contributors. All rights reserved.
"""Runners for the tests of the tools' ``runner_type`` branch (imported by
their configs through ``custom_imports``)."""
import os

from mmengine.dist import get_rank
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


@RUNNERS.register_module(force=True)
class ReportingRunner(Runner):
    """Prints what the tool set up instead of training or testing."""

    def report(self, loop: str) -> None:
        print(f'ReportingRunner.{loop}: LOCAL_RANK='
              f"{os.environ.get('LOCAL_RANK')}")

    def train(self):
        self.report('train')
        return self.model

    def test(self) -> dict:
        self.report('test')
        return dict(reported=0.5)


@RUNNERS.register_module(force=True)
class FailingRunner(Runner):
    """Rank 1 fails as training starts; the other ranks go on training,
    into collectives that rank 1 never joins."""

    def train(self):
        if get_rank() == 1:
            raise RuntimeError('FailingRunner: rank 1 fails')
        return super().train()

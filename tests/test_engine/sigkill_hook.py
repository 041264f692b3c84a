# Copyright (c) mmhornet contributors. All rights reserved.
"""A hook that kills its own training process with SIGKILL, for the
crash tests (imported by their configs through ``custom_imports``)."""
import os
import signal
import threading
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module(force=True)
class SigkillHook(Hook):
    """SIGKILL the process after training iteration ``after_iter`` (1-based),
    or while the checkpoint of epoch ``while_saving_epoch`` is written: a
    thread kills the process as soon as that checkpoint's file (or its
    temporary file) appears in the work dir."""

    priority = 'LOWEST'

    def __init__(self,
                 after_iter: Optional[int] = None,
                 while_saving_epoch: Optional[int] = None) -> None:
        self.after_iter = after_iter
        self.while_saving_epoch = while_saving_epoch

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.after_iter:
            _kill()

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if checkpoint['meta'].get('epoch') != self.while_saving_epoch:
            return
        name = f'epoch_{self.while_saving_epoch}.pth'
        work_dir = runner.work_dir

        def watch() -> None:
            while True:
                if any(name in entry for entry in os.listdir(work_dir)):
                    _kill()
                time.sleep(0.0002)

        threading.Thread(target=watch, daemon=True).start()
        # Give the watcher a head start; the file is created right after.
        time.sleep(0.05)

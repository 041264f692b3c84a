# Copyright (c) mmhornet contributors. All rights reserved.
"""Safe checkpoint loading on torch >= 2.6: mmhornet's own loaders, and
mmengine's once the tools patch it."""
import io
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from mmhornet.checkpoint import (load_checkpoint_file, load_url,
                                 patch_checkpoint_loading)
from ..conftest import TEST_CONFIG, python_report


@pytest.fixture(autouse=True)
def patched():
    patch_checkpoint_loading()


class _RunsCommand:
    """Pickles as a call of ``os.system``: loading it unsafely would run
    the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


def test_mmengine_objects_load_with_weights_only(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(0.5)
    checkpoint = dict(
        state_dict={'w': torch.ones(2)},
        message_hub=dict(log_scalars={'train/loss': buffer}),
        meta=dict(
            seed=np.int64(3),
            scores=np.arange(3, dtype=np.float32),
            mask=np.array([True, False])))
    path = tmp_path / 'ckpt.pth'
    torch.save(checkpoint, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.current() == 0.5
    assert loaded['meta']['seed'] == 3
    assert loaded['meta']['scores'].dtype == np.float32


def test_pickled_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / 'was-executed'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': _RunsCommand(f'touch {marker}')}, path)
    with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
        CheckpointLoader.load_checkpoint(str(path))
    assert not marker.exists()


def _pickle_str(text: str) -> bytes:
    return b'X' + len(text).to_bytes(4, 'little') + text.encode()


def test_getattr_chains_cannot_call_what_they_reach():
    """``getattr`` is allowlisted for HistoryBuffer; calling a bound method
    reached through it (here ``module_globals.get``) is still refused."""
    from torch._weights_only_unpickler import Unpickler
    getattr_op = b'c__builtin__\ngetattr\n'
    payload = (b'\x80\x02' + getattr_op * 3 +
               b'cmmengine.logging.history_buffer\nHistoryBuffer\n' +
               _pickle_str('min') + b'\x86R' + _pickle_str('__globals__') +
               b'\x86R' + _pickle_str('get') + b'\x86R' + _pickle_str('np') +
               b'\x85R.')
    with pytest.raises(pickle.UnpicklingError):
        Unpickler(io.BytesIO(payload)).load()


def test_missing_and_corrupt_files_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found: .*nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    path = tmp_path / 'truncated.pth'
    torch.save({'w': torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(RuntimeError, match='truncated or not a torch'):
        load_checkpoint_file(str(path))


def test_url_failure_says_how_to_use_a_local_file(tmp_path):
    url = 'http://127.0.0.1:9/hornet-tiny.pth'  # nothing listens there
    with pytest.raises(RuntimeError) as error:
        CheckpointLoader.load_checkpoint(url)
    message = str(error.value)
    assert url in message and 'local file' in message


def test_url_uses_a_file_already_in_the_cache(tmp_path):
    torch.save({'state_dict': {'w': torch.arange(3)}}, tmp_path / 'cached.pth')
    loaded = load_url(
        'http://127.0.0.1:9/weights/cached.pth', model_dir=str(tmp_path))
    assert loaded['state_dict']['w'].tolist() == [0, 1, 2]


def _checkpoint_with_history(path) -> None:
    buffer = HistoryBuffer()
    buffer.update(0.5)
    torch.save(
        dict(
            state_dict={'w': torch.ones(2)},
            message_hub=dict(log_scalars={'loss': buffer})), path)


NO_PATCH_NEEDED = r'''
import json, sys
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def state():
    try:
        CheckpointLoader.load_checkpoint(sys.argv[1])
        loads = 'loaded'
    except Exception as error:
        loads = type(error).__name__
    return [CheckpointLoader._schemes[''].__module__, loads,
            HistoryBuffer in torch.serialization.get_safe_globals()]


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values()))


report = dict(before=state())
import mmhornet
import mmhornet.apis, mmhornet.checkpoint, mmhornet.engine, mmhornet.models
from mmhornet.checkpoint import load_checkpoint, load_checkpoint_file
from mmhornet.registry import MODELS
# mmhornet's loaders need no patch and leave none behind
assert load_checkpoint_file(sys.argv[1])['message_hub']
assert load_checkpoint(sys.argv[1])['message_hub']
# nor do get_model and HorNetPretrained, on a checkpoint saved as mmengine
# saves them (with the message hub's HistoryBuffer)
torch.manual_seed(0)
model = mmhornet.get_model(sys.argv[2])
buffer = HistoryBuffer()
buffer.update(0.5)
torch.save(dict(state_dict=model.state_dict(),
                message_hub=dict(log_scalars={'loss': buffer})), sys.argv[3])
torch.manual_seed(1)
report['get_model'] = same_weights(
    mmhornet.get_model(sys.argv[2], pretrained=sys.argv[3]), model)
backbone = MODELS.build(dict(model.cfg.model.backbone, init_cfg=dict(
    type='mmhornet.HorNetPretrained', checkpoint=sys.argv[3],
    prefix='backbone.')))
backbone.init_weights()
report['pretrained'] = same_weights(backbone, model.backbone)
report['used'] = state()
mmhornet.checkpoint.patch_checkpoint_loading()
report['patched'] = state()
print(json.dumps(report))
'''


@pytest.mark.slow
def test_only_the_explicit_patch_changes_mmengine(tmp_path):
    """Importing mmhornet (any of it), its loaders, ``get_model`` and
    ``HorNetPretrained`` read mmengine checkpoints on torch >= 2.6 without
    changing global state; only ``patch_checkpoint_loading()`` (called by
    the tools) makes mmengine's own loader read them."""
    path = tmp_path / 'ckpt.pth'
    _checkpoint_with_history(path)
    report = python_report(NO_PATCH_NEEDED, str(path), TEST_CONFIG,
                           str(tmp_path / 'model.pth'))
    # mmengine 0.10.7 on torch >= 2.6 refuses its own checkpoints
    assert report['before'] == [
        'mmengine.runner.checkpoint', 'UnpicklingError', False
    ]
    assert report['get_model'] and report['pretrained']
    assert report['used'] == report['before']
    assert report['patched'] == ['mmhornet.checkpoint.patch', 'loaded', True]

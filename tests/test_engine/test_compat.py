# Copyright (c) mmhornet contributors. All rights reserved.
"""Safe checkpoint loading on torch >= 2.6 and CPU mixed precision."""
import io
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from mmhornet.compat import load_checkpoint_file, load_url
from mmhornet.registry import OPTIM_WRAPPERS


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


def test_amp_optim_wrapper_uses_bfloat16_autocast_on_cpu():
    model = torch.nn.Linear(4, 2)
    wrapper = OPTIM_WRAPPERS.build(
        dict(
            type='AmpOptimWrapper',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert wrapper.loss_scaler is None  # this machine has no GPU
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        out = model(torch.randn(3, 4))
        assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().square().mean())
    assert not torch.equal(before, model.weight)
    state = wrapper.state_dict()
    wrapper.load_state_dict(dict(state, loss_scaler={'scale': 1.0}))
    with pytest.raises(ValueError, match='bfloat16 only'):
        OPTIM_WRAPPERS.build(
            dict(
                type='AmpOptimWrapper',
                dtype='float16',
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))

# Copyright (c) mmhornet contributors. All rights reserved.
"""tools/model_converters/hornet2mmhornet.py reads a local file or a URL
(served here by a real HTTP server on 127.0.0.1)."""
import functools
import hashlib
import http.server
import os.path as osp
import runpy
import sys
import threading

import pytest
import torch

from mmhornet.checkpoint import load_checkpoint_file
from ..conftest import REPO_ROOT

CONVERTER = osp.join(REPO_ROOT, 'tools', 'model_converters',
                     'hornet2mmhornet.py')


def official_checkpoint() -> dict:
    """A few keys of each kind an official classification checkpoint has."""
    torch.manual_seed(0)
    return dict(
        model={
            'downsample_layers.0.0.weight': torch.randn(8, 3, 4, 4),
            'stages.0.0.gamma1': torch.randn(8),
            'stages.0.0.gnconv.pws.0.weight': torch.randn(8, 4, 1, 1),
            'norm.weight': torch.randn(8),
            'head.bias': torch.randn(3),
        },
        epoch=299)


EXPECTED_KEYS = [
    'backbone.downsample_layers.0.0.weight',
    'backbone.stages.0.0.gamma1.weight',
    'backbone.stages.0.0.gnconv.projs.0.weight',
    'backbone.norm3.weight',
    'head.fc.bias',
]


def convert(src: str, dst: str, monkeypatch, capsys) -> str:
    monkeypatch.setattr(sys, 'argv', [CONVERTER, src, dst])
    runpy.run_path(CONVERTER, run_name='__main__')
    return capsys.readouterr().out


@pytest.fixture
def served(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / 'www'``."""
    root = tmp_path / 'www'
    root.mkdir()
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{httpd.server_port}'
    httpd.shutdown()
    httpd.server_close()


def check_converted(dst: str, source: dict, name: str) -> None:
    converted = load_checkpoint_file(dst)
    assert list(converted['state_dict']) == EXPECTED_KEYS
    assert torch.equal(converted['state_dict']['backbone.norm3.weight'],
                       source['model']['norm.weight'])
    assert converted['meta'] == dict(converted_from=name, source_key='model')


def test_local_file(tmp_path, monkeypatch, capsys):
    source = official_checkpoint()
    torch.save(source, tmp_path / 'hornet_tiny_7x7.pth')
    out = convert(
        str(tmp_path / 'hornet_tiny_7x7.pth'), str(tmp_path / 'out.pth'),
        monkeypatch, capsys)
    assert 'Converted 5 tensors' in out
    check_converted(str(tmp_path / 'out.pth'), source, 'hornet_tiny_7x7.pth')


def test_url_is_downloaded_verified_and_cached(served, tmp_path, monkeypatch,
                                               capsys):
    root, address = served
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch-home'))
    source = official_checkpoint()
    torch.save(source, root / 'plain.pth')
    body = (root / 'plain.pth').read_bytes()
    name = f'hornet_tiny_7x7-{hashlib.sha256(body).hexdigest()[:8]}.pth'
    (root / name).write_bytes(body)

    dst = str(tmp_path / 'out.pth')
    convert(f'{address}/{name}', dst, monkeypatch, capsys)
    check_converted(dst, source, name)
    cache = tmp_path / 'torch-home' / 'hub' / 'checkpoints'
    assert (cache / name).read_bytes() == body

    # a file whose name carries another sha256 prefix is refused, not kept
    wrong = 'hornet_tiny_7x7-00000000.pth'
    (root / wrong).write_bytes(body)
    with pytest.raises(RuntimeError, match='its sha256 is'):
        convert(f'{address}/{wrong}', dst, monkeypatch, capsys)
    assert not (cache / wrong).exists()
    with pytest.raises(RuntimeError, match='HTTP Error 404'):
        convert(f'{address}/missing.pth', dst, monkeypatch, capsys)

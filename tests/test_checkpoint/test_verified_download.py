# Copyright (c) mmhornet contributors. All rights reserved.
"""Checkpoint downloads are verified against the sha256 prefix in their
name: served by a real HTTP server on 127.0.0.1 to ``load_url``,
``mmhornet.get_model(..., pretrained=URL)`` and ``tools/test.py``."""
import hashlib
import http.server
import io
import os
import os.path as osp
import threading
from typing import Dict, Iterator, Tuple
from urllib.parse import urlparse

import pytest
import torch
from mmengine.logging import MMLogger

import mmhornet
from mmhornet.checkpoint import hash_prefix_of, load_url
from ..conftest import TEST_CONFIG, data_options, run_tool


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``: path -> (body, announced length)."""

    def do_GET(self):  # noqa: N802  (http.server's name)
        self.server.requests[self.path] = self.server.requests.get(
            self.path, 0) + 1
        if self.path not in self.server.files:
            self.send_error(404)
            return
        body, length = self.server.files[self.path]
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(length))
        self.end_headers()
        self.wfile.write(body)  # a short body: the connection then closes
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    httpd.files: Dict[str, Tuple[bytes, int]] = {}
    httpd.requests: Dict[str, int] = {}
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05, ), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(server, path: str) -> str:
    return f'http://127.0.0.1:{server.server_port}{path}'


def _serve(server, path: str, body: bytes, length: int = None) -> str:
    server.files[path] = (body, len(body) if length is None else length)
    return _url(server, path)


def _checkpoint_bytes(state_dict: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save({'state_dict': state_dict, 'meta': {}}, buffer)
    return buffer.getvalue()


def _named(body: bytes, stem: str = 'hornet-nano_20250101') -> str:
    return f'/weights/{stem}-{hashlib.sha256(body).hexdigest()[:8]}.pth'


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> str:
    home = tmp_path / 'torch-home'
    monkeypatch.setenv('TORCH_HOME', str(home))
    return str(home / 'hub' / 'checkpoints')


def _flip_byte(body: bytes, index: int) -> bytes:
    return body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1:]


def test_hash_prefix_of_openmmlab_names():
    assert hash_prefix_of('https://download.openmmlab.com/mmclassification/'
                          'v0/hornet/hornet-tiny_3rdparty_in1k_20220915-'
                          '0e8eedff.pth') == '0e8eedff'
    assert hash_prefix_of('/x/hornet_tiny_7x7.pth') is None
    assert hash_prefix_of('/x/a-0E8EEDFF.pth') is None  # hashes are lower
    assert hash_prefix_of('/x/a-0e8eedff0.pth') is None  # 9 digits


def test_good_download_is_cached_and_used_again(server, torch_home):
    body = _checkpoint_bytes({'w': torch.arange(4.)})
    url = _serve(server, _named(body), body)
    assert load_url(url)['state_dict']['w'].tolist() == [0, 1, 2, 3]
    assert os.listdir(torch_home) == [osp.basename(url)]
    assert load_url(url)['state_dict']['w'].tolist() == [0, 1, 2, 3]
    # The second call was served by the cache.
    assert server.requests[urlparse(url).path] == 1


@pytest.mark.parametrize('fault', ['truncated', 'corrupted', 'wrong-hash'])
def test_bad_downloads_are_refused_and_not_cached(server, torch_home, fault):
    good = _checkpoint_bytes({'w': torch.arange(1000.)})
    path = _named(good)
    if fault == 'truncated':  # announces the full length, sends 60%
        url = _serve(server, path, good[:len(good) * 3 // 5], len(good))
        expected = 'truncated: received'
    elif fault == 'corrupted':  # one flipped byte in the tensor data
        url = _serve(server, path, _flip_byte(good, len(good) - 900))
        expected = 'its sha256 is'
    else:  # a good file under another file's hash
        url = _serve(server, _named(b'other'), good)
        expected = 'its sha256 is'
    with pytest.raises(RuntimeError) as error:
        load_url(url)
    message = str(error.value)
    assert url in message and expected in message
    if fault != 'truncated':
        assert hash_prefix_of(url) in message
        served = server.files[urlparse(url).path][0]
        assert hashlib.sha256(served).hexdigest() in message
    assert os.listdir(torch_home) == []  # no file, no partial download
    # The server now has the right file: a retry downloads it again.
    server.files[urlparse(url).path] = (good, len(good))
    if fault == 'wrong-hash':
        with pytest.raises(RuntimeError, match='its sha256 is'):
            load_url(url)  # the name's hash is still not this file's
        assert os.listdir(torch_home) == []
    else:
        assert load_url(url)['state_dict']['w'].sum().item() == 499500
        assert os.listdir(torch_home) == [osp.basename(url)]
    assert server.requests[urlparse(url).path] == 2


def test_unreadable_download_without_hash_is_not_cached(server, torch_home):
    url = _serve(server, '/weights/no-hash.pth', b'<html>login</html>')
    with pytest.raises(RuntimeError, match='cannot be read and was not kept'):
        load_url(url)
    assert os.listdir(torch_home) == []


def test_404_is_explained(server, torch_home):
    url = _url(server, '/weights/missing-0e8eedff.pth')
    with pytest.raises(RuntimeError, match='HTTP Error 404') as error:
        load_url(url)
    assert url in str(error.value)
    assert not os.path.exists(torch_home) or os.listdir(torch_home) == []


def test_bad_cached_file_names_the_file_to_delete(server, torch_home, capsys):
    # print_log writes to the newest MMLogger: make one whose handler writes
    # to this test's captured stdout (an earlier test's logger writes to
    # the stream that was captured then)
    MMLogger.get_instance(f'verified-download-{id(capsys)}')
    body = _checkpoint_bytes({'w': torch.arange(1000.)})
    url = _serve(server, _named(body), body)
    os.makedirs(torch_home)
    cached = osp.join(torch_home, osp.basename(url))
    truncated = body[:500]
    with open(cached, 'wb') as f:
        f.write(truncated)
    with pytest.raises(RuntimeError, match=f'truncated.*Delete {cached} to'):
        load_url(url)
    assert open(cached, 'rb').read() == truncated  # never deleted
    # A readable file that is not the published one (placed by hand, or
    # damaged on disk) is used, with a warning that names it.
    flipped = _flip_byte(body, len(body) - 900)
    with open(cached, 'wb') as f:
        f.write(flipped)
    assert not torch.equal(
        load_url(url)['state_dict']['w'], torch.arange(1000.))
    warning = 'is not the published file of ' + url
    log = capsys.readouterr().out
    assert warning in log and f'Delete {cached}' in log
    assert urlparse(url).path not in server.requests
    with open(cached, 'wb') as f:
        f.write(body)
    assert torch.equal(load_url(url)['state_dict']['w'], torch.arange(1000.))
    assert warning not in capsys.readouterr().out


def _tiny_checkpoint() -> Tuple[dict, bytes]:
    torch.manual_seed(1)
    model = mmhornet.get_model(TEST_CONFIG)
    state_dict = model.state_dict()
    return state_dict, _checkpoint_bytes(state_dict)


def test_get_model_with_urls(server, torch_home):
    state_dict, body = _tiny_checkpoint()
    url = _serve(server, _named(body), body)
    model = mmhornet.get_model(TEST_CONFIG, pretrained=url)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state_dict[key]), key
    corrupt = _flip_byte(body, len(body) - 2000)
    bad_url = _serve(server, _named(body, 'corrupt'), corrupt)
    with pytest.raises(RuntimeError, match='its sha256 is') as error:
        mmhornet.get_model(TEST_CONFIG, pretrained=bad_url)
    assert bad_url in str(error.value)
    with pytest.raises(RuntimeError, match='HTTP Error 404'):
        mmhornet.get_model(TEST_CONFIG, pretrained=_url(server, '/nope.pth'))
    assert os.listdir(torch_home) == [osp.basename(url)]


@pytest.mark.slow
def test_tools_test_refuses_a_wrong_hash(server, torch_home,
                                         tiny_folder_dataset):
    """tools/test.py loads its checkpoint through the Runner, i.e. through
    mmengine's CheckpointLoader, whose http(s) scheme is ``load_url``."""
    _, body = _tiny_checkpoint()
    wrong = _serve(server, _named(b'another file'), body)
    result = run_tool([
        'tools/test.py', TEST_CONFIG, wrong, '--cfg-options',
        *data_options(tiny_folder_dataset)
    ],
                      check=False,
                      env={'TORCH_HOME': osp.dirname(osp.dirname(torch_home))})
    assert result.returncode != 0
    assert wrong in result.stderr and 'its sha256 is' in result.stderr
    assert hashlib.sha256(body).hexdigest() in result.stderr
    assert server.requests[urlparse(wrong).path] == 1
    assert not osp.exists(torch_home) or os.listdir(torch_home) == []

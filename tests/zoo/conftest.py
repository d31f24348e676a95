"""A fake zoo for the zoo tests: small tarballs of the right layout (and hostile ones), built
here, and a real HTTP server on 127.0.0.1 that serves them with Range requests, or drops the
connection, ignores Range or answers slowly, as a test asks. No test reaches the internet."""

import io
import os
import re
import socket
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from odwrap import report
from odwrap.zoo import find

MODEL = find("ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8")
TOP = MODEL.top_folder
# Incompressible, so that the tarball is about this size and a cut lands mid-way.
DATA = os.urandom(200_000)
INDEX = b"fake checkpoint index"
CONFIG = b"model { ssd { num_classes: 90 } }\n"


def member(name: str, data: bytes = b"", kind=tarfile.REGTYPE, mode: int = 0o644,
           link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime = kind, mode, link, 1_600_000_000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def zoo_members(top: str = TOP) -> list:
    """The members of a zoo tarball: TOP/checkpoint/ckpt-0.*, pipeline.config, saved_model/."""
    return [member(f"{top}/", kind=tarfile.DIRTYPE, mode=0o755),
            member(f"{top}/checkpoint/", kind=tarfile.DIRTYPE, mode=0o755),
            member(f"{top}/checkpoint/ckpt-0.index", INDEX),
            member(f"{top}/checkpoint/ckpt-0.data-00000-of-00001", DATA),
            member(f"{top}/checkpoint/checkpoint", b'model_checkpoint_path: "ckpt-0"\n'),
            member(f"{top}/pipeline.config", CONFIG),
            member(f"{top}/saved_model/saved_model.pb", b"fake saved model")]


def tarball(members=None, extra=()) -> bytes:
    """A .tar.gz of MEMBERS (default: a zoo model's), then EXTRA."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for info, data in [*(zoo_members() if members is None else members), *extra]:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


GOOD = tarball()


@dataclass
class ZooServer:
    """What the server holds (URL path -> bytes) and does; the requests it saw."""

    port: int = 0
    files: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)  # (path, Range header or None)
    drop_after: int | None = None  # the next response stops after this many body bytes
    ignore_range: bool = False
    status: int | None = None  # answer every request with this error status
    chunk_delay: float = 0.0  # seconds between 16 KiB chunks

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/zoo"

    def put(self, model=MODEL, data: bytes = GOOD) -> str:
        path = f"/zoo/{model.url_path}"
        self.files[path] = data
        return f"http://127.0.0.1:{self.port}{path}"

    def gets(self, model=MODEL) -> list:
        return [rng for path, rng in self.requests if path == f"/zoo/{model.url_path}"]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        zoo: ZooServer = self.server.zoo
        asked = self.headers.get("Range")
        zoo.requests.append((self.path, asked))
        if zoo.status:
            self.send_error(zoo.status)
            return
        data = zoo.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if asked and not zoo.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if zoo.drop_after is not None:
            body, zoo.drop_after = body[:zoo.drop_after], None
        for offset in range(0, len(body), 16384):
            self.wfile.write(body[offset:offset + 16384])
            if zoo.chunk_delay:
                time.sleep(zoo.chunk_delay)
        self.wfile.flush()  # HTTP/1.0: the connection closes after the response


@pytest.fixture
def server(monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    zoo = ZooServer(port=httpd.server_address[1])
    httpd.zoo = zoo
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("ODWRAP_ZOO_URL", zoo.base)
    try:
        yield zoo
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def zoo_env(tmp_path, monkeypatch):
    """A cache of the test's own; no proxy between the client and 127.0.0.1; the zoo's URL
    unset unless a test sets it (the real zoo is never asked: a test that forgot would fail
    on this offline machine, and `server` sets it)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "ODWRAP_ZOO_URL", "ODWRAP_ZOO_TIMEOUT", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("ODWRAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Heard(report.Reporter):
    """The library's messages and the progress it reported, for assertions."""

    def __init__(self):
        self.messages, self.progress_seen = [], []

    def message(self, text):
        self.messages.append(text)

    def progress(self, task, done, total, unit, **info):
        self.progress_seen.append((task, done, total, unit))


@pytest.fixture
def heard():
    with report.use(Heard()) as reporter:
        yield reporter


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path

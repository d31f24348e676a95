"""Fetching a zoo tarball into the cache's NAME.tar.gz.part: over HTTP(S), resumed with a Range
request, or copied from a file:// mirror (gs:// mirrors: odwrap.zoo.gcs).

Tarballs are at BASE/DATE/NAME.tar.gz, BASE being $ODWRAP_ZOO_URL or the zoo's own
http://download.tensorflow.org/models/object_detection/tf2; a mirror keeps that layout.
$ODWRAP_ZOO_TIMEOUT (seconds, default 60) bounds each wait for the server. Every failure is one
line naming the URL: RunError for the network and the server (the .part stays, to be resumed by
the next pull), InputError for a mirror that lacks the file or a base URL odwrap cannot use.
"""

import errno
import http.client
import math
import os
import re
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from odwrap import report
from odwrap.errors import InputError, RunError, shown
from odwrap.zoo.cache import open_part
from odwrap.zoo.catalog import ZooModel

DEFAULT_BASE = "http://download.tensorflow.org/models/object_detection/tf2"
BASE_ENV, TIMEOUT_ENV = "ODWRAP_ZOO_URL", "ODWRAP_ZOO_TIMEOUT"
SCHEMES = ("http", "https", "file", "gs")
DEFAULT_TIMEOUT = 60.0
CHUNK = 256 * 1024
LAYOUT = "DATE/NAME.tar.gz"
RESUME = "run the same pull again to resume it"


def base_url() -> str:
    """$ODWRAP_ZOO_URL (http, https, file or gs), else the zoo's own; no trailing slash."""
    base = os.environ.get(BASE_ENV, "").strip() or DEFAULT_BASE
    scheme = urlsplit(base).scheme.lower()
    if scheme not in SCHEMES:
        raise InputError(f"{BASE_ENV}={shown(base)}: not an http://, https://, file:// or gs:// "
                         "URL")
    return base.rstrip("/")


def url_for(model: ZooModel) -> str:
    return f"{base_url()}/{model.url_path}"


def timeout() -> float:
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 3600):
        raise InputError(f"{TIMEOUT_ENV}={shown(text)}: expected seconds in (0, 3600]")
    return value


def fetch(url: str, part: Path, task: str, hint: str) -> None:
    """Bring URL's whole file into PART, resuming what PART holds where the server allows.
    HINT ends the line of a network failure (what to do when offline). PART is written only as
    a file of its own (cache.open_part): a link there is replaced, never written through."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        _copy_file(url, part, task)
    elif scheme == "gs":
        from odwrap.zoo import gcs

        gcs.fetch(url, part, task)
    else:
        _http(url, part, task, timeout(), hint)


def _copy_file(url: str, part: Path, task: str) -> None:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InputError(f"{url}: a file:// URL names no host (file:///path or "
                         "file://localhost/path)")
    source = Path(urllib.request.url2pathname(parts.path))
    if not source.is_file():
        raise InputError(f"{url}: not found; a mirror holds {LAYOUT} under {BASE_ENV}")
    try:
        copy_into(source, part, task)
    except OSError as exc:
        raise RunError(f"{url}: cannot copy into {part}: {exc.strerror or exc}") from None


def _network_failure(url: str, reason, wait: float, hint: str) -> RunError:
    """One line for what urlopen or a read raised (REASON: an exception or a string)."""
    host = urlsplit(url).hostname or "?"
    if isinstance(reason, socket.gaierror):
        why = f"cannot resolve {host} ({reason.strerror or reason}): no network or no DNS"
    elif isinstance(reason, ConnectionRefusedError):
        why = f"connection refused by {host}:{urlsplit(url).port or 'default port'}"
    elif isinstance(reason, (TimeoutError, socket.timeout)):
        why = f"no answer within {wait:g} s ({TIMEOUT_ENV})"
    elif isinstance(reason, ssl.SSLError):
        why = f"TLS error: {reason.reason or reason}"
    elif isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        why = f"cannot reach {host}: {reason.strerror}"
    elif isinstance(reason, OSError) and reason.strerror:
        why = reason.strerror
    else:
        why = str(reason) or type(reason).__name__
    return RunError(f"{url}: {why}; {hint}")


def _open(url: str, start: int, wait: float, hint: str):
    """The response to a GET of URL from byte START; for a 416 (nothing from START on), the
    total size the server gave (-1 when it gave none)."""
    headers = {"User-Agent": "odwrap", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=wait)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and start:  # nothing from START on: the .part is whole, or not ours
            match = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", exc.headers.get("Content-Range", ""))
            return int(match.group(1)) if match else -1
        if exc.code == 404:
            raise InputError(f"{url}: not found (HTTP 404); a mirror ({BASE_ENV}) holds "
                             f"{LAYOUT}") from None
        raise RunError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _network_failure(url, exc.reason, wait, hint) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _network_failure(url, exc, wait, hint) from None


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """'bytes 100-999/1000' -> (100, 1000); '*' as the total -> (100, None)."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    return int(match.group(1)), None if match.group(2) == "*" else int(match.group(2))


def _length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.strip().isdigit() else None


def _http(url: str, part: Path, task: str, wait: float, hint: str) -> None:
    with open_part(part) as writer:
        try:
            done, total = _download(url, writer, task, wait, hint)
        except BaseException:
            if not os.fstat(writer.fileno()).st_size:
                part.unlink(missing_ok=True)  # nothing to resume: no empty .part stays
            raise
    if total is not None and done < total:
        raise RunError(f"{url}: the connection closed after {done} of {total} bytes; "
                       f"{RESUME}")
    if total is not None and done > total:
        part.unlink()
        raise RunError(f"{url}: the server sent {done} bytes, more than the {total} it "
                       "announced")


def _download(url: str, writer, task: str, wait: float, hint: str) -> tuple:
    """URL's file appended to WRITER (the open .part, resumed from what it holds): (its size
    now, the total the server announced or None)."""
    have = os.fstat(writer.fileno()).st_size
    response = _open(url, have, wait, hint)
    if response == have:
        return have, have  # a .part that was whole already (a pull stopped before the check)
    start, total = (None, None) if isinstance(response, int) else \
        _content_range(response.headers.get("Content-Range"))
    if isinstance(response, int) or (have and response.status == 206 and start != have):
        if not isinstance(response, int):  # a part from elsewhere than the .part's end
            response.close()
        writer.truncate(0)
        have, response = 0, _open(url, 0, wait, hint)
        start, total = _content_range(response.headers.get("Content-Range"))
    with response:
        if response.status == 206 and start != have:
            raise RunError(f"{url}: the server sent a part from byte {start}, not {have}")
        if have and response.status != 206:
            report.message(f"{url}: the server does not resume downloads; starting over")
            have = 0
        if response.status != 206:
            total = _length(response)
        elif total is None and _length(response) is not None:
            total = have + _length(response)
        return _receive(url, response, writer, have, total, task, wait), total


def _receive(url, response, writer, have: int, total: int | None, task: str,
             wait: float) -> int:
    """The response's body appended to WRITER (which keeps its first HAVE bytes); the size."""
    with report.tracking(task, total, "B", done=have) as tracker:
        writer.truncate(have)
        writer.seek(have)
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _network_failure(url, exc, wait, _stopped(writer.tell(), total)) from None
            if not chunk:
                break
            writer.write(chunk)
            tracker.advance(len(chunk))
        writer.flush()
        os.fsync(writer.fileno())
        return writer.tell()


def _stopped(done: int, total: int | None) -> str:
    of = f" of {total}" if total is not None else ""
    return f"the download stopped at {done}{of} bytes; {RESUME}"


def copy_into(source: Path, destination: Path, task: str) -> None:
    """A local tarball copied into the cache (for `zoo pull --from`), with progress; DESTINATION
    written as open_part does."""
    with open(source, "rb") as reader, open_part(destination) as writer, \
            report.tracking(task, source.stat().st_size, "B") as tracker:
        writer.truncate(0)
        while chunk := reader.read(CHUNK):
            writer.write(chunk)
            tracker.advance(len(chunk))
        writer.flush()
        os.fsync(writer.fileno())


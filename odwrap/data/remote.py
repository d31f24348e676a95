"""URLs (gs://bucket/path, any scheme Apache Beam has a filesystem for) where `convert --runner
beam` reads annotations and images and writes its output, through Beam's FileSystems.

Annotations are copied to a local folder for the readers (they are a small part of a dataset);
images are read where they are, by the workers; an image path that leaves its root (..) is
refused as on a disk. Each file is written to a temporary name and renamed. Beam is imported
only when a URL is used.
"""

import os
import posixpath
import re
import uuid
from pathlib import Path

from odwrap.data import resume
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes

_URL = re.compile(r"[a-z][a-z0-9+.-]*://")
MAX_ANNOTATION_FILES = 10_000_000  # VOC XML files copied from one folder


def is_url(value) -> bool:
    return isinstance(value, str) and _URL.match(value) is not None


def _filesystems():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def _raw():
    from apache_beam.io.filesystem import CompressionTypes

    return CompressionTypes.UNCOMPRESSED  # never guessed from a name (an image.gz stays one)


def join(url: str, *parts: str) -> str:
    return _filesystems().join(url.rstrip("/"), *parts)


def exists(url: str) -> bool:
    return _filesystems().exists(url)


def open_for_reading(url: str):
    """A binary file object of URL's bytes, as stored."""
    return _filesystems().open(url, compression_type=_raw())


def open_for_writing(url: str):
    """A binary file object that writes URL (a file of the run's own: no temporary name)."""
    return _filesystems().create(url, compression_type=_raw())


def read_bytes(url: str) -> bytes:
    handle = open_for_reading(url)
    try:
        return handle.read()
    finally:
        handle.close()


def write_bytes(url: str, data: bytes) -> None:
    """URL holds DATA whole or not at all: a temporary name beside it, then a rename."""
    head, _, name = url.rstrip("/").rpartition("/")
    tmp = f"{head}/.{name}.{uuid.uuid4().hex}.tmp"
    handle = _filesystems().create(tmp, compression_type=_raw())
    try:
        handle.write(data)
    finally:
        handle.close()
    _filesystems().rename([tmp], [url])


def delete(urls) -> None:
    urls = [url for url in urls if exists(url)]
    if urls:
        _filesystems().delete(urls)


def listing(url: str) -> list[str]:
    """Every file under the folder URL, recursively, sorted."""
    found = _filesystems().match([url.rstrip("/") + "/**"])[0].metadata_list
    if len(found) > MAX_ANNOTATION_FILES:
        raise InputError(f"{url}: over {MAX_ANNOTATION_FILES} files")
    return sorted(entry.path for entry in found)


def safe_relative(relative: str) -> bool:
    """Whether RELATIVE, a name under a folder URL as a bucket lists it, stays under a local
    folder it is copied into: no leading '/', no empty, '.' or '..' part."""
    return bool(relative) and "\0" not in relative and all(
        part not in ("", ".", "..") for part in relative.split("/"))


class RemoteImage:
    """An image at a URL, read as read_bytes() of a local path is (load_image's errors)."""

    def __init__(self, url: str):
        self.url = url

    def read_bytes(self) -> bytes:
        try:
            return read_bytes(self.url)
        except Exception as exc:  # Beam's BeamIOError, the client's own errors
            if not exists(self.url):
                raise FileNotFoundError(self.url) from None
            raise OSError(f"{self.url}: {exc}") from None


def locate(root: str, relative: str):
    """What to read image RELATIVE of the images root URL ROOT from; None when the path
    would leave the root (.., an absolute path or a URL of its own)."""
    if "\0" in relative or relative.startswith("/") or is_url(relative):
        return None
    normal = posixpath.normpath(relative)
    if normal in (".", "..") or normal.startswith("../"):
        return None
    return RemoteImage(join(root, normal))


class Staged:
    """The annotation files of a dataset at URLs, copied into a local folder for the readers;
    `images_url` maps the images root a reader returns back to where the images are."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.urls: dict[Path, str] = {}  # local folder -> the URL it stands for

    def copy(self, url: str, local: Path) -> Path:
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(read_bytes(url))
        return local

    def file(self, url: str, name: str) -> Path:
        """A copy of the file URL as FOLDER/NAME/<its name>; its folder stands for URL's."""
        tail = url.rstrip("/").rpartition("/")[2]
        if not safe_relative(tail):
            raise InputError(f"{url}: not the URL of a file")
        local = self.copy(url, self.folder / name / tail)
        self.urls[local.parent] = url.rstrip("/").rpartition("/")[0]
        return local

    def voc(self, url: str) -> Path:
        """The .xml files under the folder URL, copied with their relative paths."""
        root = self.folder / "voc"
        base = url.rstrip("/") + "/"
        for entry in listing(url):
            relative = entry[len(base):] if entry.startswith(base) else ""
            if relative.lower().endswith(".xml") and safe_relative(relative):
                self.copy(entry, root / relative)
        root.mkdir(parents=True, exist_ok=True)
        self.urls[root] = url.rstrip("/")
        return root

    def stand_in(self, url: str, name: str) -> Path:
        """A local folder that stands for the folder URL (an --images URL)."""
        local = self.folder / name
        local.mkdir(parents=True, exist_ok=True)
        self.urls[local] = url.rstrip("/")
        return local

    def images_url(self, images_root) -> str:
        return self.urls.get(Path(images_root), str(images_root))


class OutputFolder:
    """The output of `convert --runner beam`: a local folder or a URL, the same calls for both.
    `path(name)` is what the pipeline's FileSystems calls take."""

    def __init__(self, where):
        self.url = str(where).rstrip("/") if is_url(where) else None
        self.local = None if self.url else Path(where)
        self.created = False

    def __str__(self) -> str:
        return self.url or str(self.local)

    def path(self, name: str) -> str:
        return join(self.url, name) if self.url else str(self.local / name)

    def prepare(self) -> None:
        """A local folder made (the URL's 'folder' needs nothing)."""
        if self.url:
            return
        if self.local.exists() and not self.local.is_dir():
            raise InputError(f"{self.local}: exists and is not a folder")
        self.created = not self.local.exists()
        self.local.mkdir(parents=True, exist_ok=True)

    def exists(self, name: str) -> bool:
        return exists(self.path(name)) if self.url else os.path.lexists(self.local / name)

    def read(self, name: str) -> bytes:
        return read_bytes(self.path(name)) if self.url else (self.local / name).read_bytes()

    def write(self, name: str, data: bytes) -> None:
        if self.url:
            write_bytes(self.path(name), data)
        else:
            atomic_write_bytes(self.local / name, data)

    def stream(self, name: str, chunks) -> None:
        """CHUNKS of bytes into NAME as they come (a file of the run's own, not the output)."""
        if self.url:
            handle = _filesystems().create(self.path(name), compression_type=_raw())
        else:
            handle = open(self.local / name, "wb")
        try:
            for chunk in chunks:
                handle.write(chunk)
        finally:
            handle.close()

    def delete(self, names) -> None:
        if self.url:
            delete([self.path(name) for name in names])
            return
        for name in names:
            (self.local / name).unlink(missing_ok=True)

    def manifest(self):
        """The previous run's manifest, None without one (resume.read_manifest's checks)."""
        if self.local is not None:
            return resume.read_manifest(self.local)
        where = self.path(resume.MANIFEST)
        if not exists(where):
            return None
        data = read_bytes(where)
        if len(data) > resume.MAX_MANIFEST_BYTES:
            raise InputError(f"{where}: over the limit of {resume.MAX_MANIFEST_BYTES} bytes for "
                             "a manifest")
        return resume.parse_manifest(data.decode("utf-8", "replace"), where)

    def remove_shards(self, names) -> None:
        if self.local is not None:
            resume.remove_shards(self.local, names)
        else:
            self.delete(list(names))

    def remove_unfinished(self, shards) -> None:
        """After a failed pipeline: its temporary files; the manifest, and a folder this run
        made, when no shard was written (else the manifest names them for the next run)."""
        if self.url:
            found = _filesystems().match([self.path(".*.beam-*.tmp")])[0].metadata_list
            delete([entry.path for entry in found])
        else:
            for stale in self.local.glob(".*.beam-*.tmp"):
                stale.unlink(missing_ok=True)
        if not any(self.exists(name) for name in shards):
            self.delete([resume.MANIFEST])
            if self.created and not any(self.local.iterdir()):
                self.local.rmdir()

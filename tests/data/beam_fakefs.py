"""A Beam filesystem for URLs fakegs://BUCKET/PATH, kept in the local folder that
ODWRAP_FAKEGS_ROOT names: the calls odwrap makes for gs:// (Beam's FileSystems: match, open,
create, rename, exists, delete), with no network. Loaded where Beam runs through
--beam_plugins=tests.data.beam_fakefs (the workers import it; so does odwrap's driver)."""

import os

from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

PREFIX = "fakegs://"


def _local(path: str) -> str:
    if not path.startswith(PREFIX):
        return path
    return os.path.join(os.environ["ODWRAP_FAKEGS_ROOT"], path[len(PREFIX):])


def _url(path: str) -> str:
    root = os.environ["ODWRAP_FAKEGS_ROOT"].rstrip("/") + "/"
    return PREFIX + path[len(root):] if path.startswith(root) else path


class FakeGcs(LocalFileSystem):
    @classmethod
    def scheme(cls):
        return "fakegs"

    def join(self, base, *paths):
        if base.startswith(PREFIX):
            return "/".join([base.rstrip("/"), *(path.strip("/") for path in paths)])
        return super().join(base, *paths)

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def has_dirs(self):
        return False  # as in a bucket: no folders, only names

    def mkdirs(self, path):
        os.makedirs(_local(path), exist_ok=True)

    def _list(self, dir_or_prefix):
        """Every file whose name starts with DIR_OR_PREFIX, as a bucket lists a prefix (Beam
        lists the part of a glob pattern before its first wildcard)."""
        local = _local(dir_or_prefix)
        folder = local if os.path.isdir(local) else os.path.dirname(local)
        for entry in super()._list(folder):
            if entry.path.startswith(local):
                yield FileMetadata(_url(entry.path), entry.size_in_bytes,
                                   entry.last_updated_in_seconds)

    def create(self, path, *args, **kwargs):
        return super().create(_local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(_local(path), *args, **kwargs)

    def copy(self, sources, destinations):
        return super().copy([_local(p) for p in sources], [_local(p) for p in destinations])

    def rename(self, sources, destinations):
        return super().rename([_local(p) for p in sources], [_local(p) for p in destinations])

    def exists(self, path):
        return super().exists(_local(path))

    def size(self, path):
        return super().size(_local(path))

    def last_updated(self, path):
        return super().last_updated(_local(path))

    def checksum(self, path):
        return super().checksum(_local(path))

    def metadata(self, path):
        found = super().metadata(_local(path))
        return FileMetadata(path, found.size_in_bytes, found.last_updated_in_seconds)

    def delete(self, paths):
        return super().delete([_local(p) for p in paths])

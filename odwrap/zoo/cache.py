"""Where zoo models are kept on disk, and the record that vouches for each cached tarball.

The cache root is $ODWRAP_CACHE, else $XDG_CACHE_HOME/odwrap, else ~/.cache/odwrap. Under it,
for a zoo model NAME:

    zoo/NAME.tar.gz        the tarball as it was fetched or imported
    zoo/NAME.tar.gz.part   a download in progress (resumed with an HTTP Range request)
    zoo/NAME.json          the record: size, sha256, url, when it was fetched; written last
    zoo/NAME/              the extracted model: checkpoint/ckpt-0.*, pipeline.config, ...
    zoo/.locks/NAME/       the lock that one pull of NAME holds while it fetches or extracts

An entry without a record is unfinished (a pull that stopped) and is cleaned up by the next pull;
an entry whose tarball no longer matches its record is refused until it is fetched again.
"""

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text, open_own_file, read_text, remove_path
from odwrap.zoo.catalog import MODELS, ZooModel

ROOT_ENV = "ODWRAP_CACHE"
RECORD_VERSION = 1
CHUNK = 1024 * 1024


def cache_root() -> Path:
    """$ODWRAP_CACHE, else $XDG_CACHE_HOME/odwrap (an absolute one, as XDG asks), else
    ~/.cache/odwrap."""
    own = os.environ.get(ROOT_ENV)
    if own:
        return Path(own).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "odwrap"
    return Path.home() / ".cache" / "odwrap"


@dataclass(frozen=True)
class Record:
    """What a pull wrote down about the tarball it cached."""

    name: str
    url: str  # where it came from: the download URL, or the imported file's path
    size: int
    sha256: str
    fetched: str  # ISO 8601, UTC
    version: int = RECORD_VERSION


@dataclass(frozen=True)
class Entry:
    """The paths of one zoo model in the cache."""

    model: ZooModel
    zoo: Path  # ROOT/zoo

    @property
    def tarball(self) -> Path:
        return self.zoo / f"{self.model.name}.tar.gz"

    @property
    def part(self) -> Path:
        return self.zoo / f"{self.model.name}.tar.gz.part"

    @property
    def record_path(self) -> Path:
        return self.zoo / f"{self.model.name}.json"

    @property
    def folder(self) -> Path:
        return self.zoo / self.model.name

    @property
    def lock_folder(self) -> Path:
        return self.zoo / ".locks" / self.model.name

    def staging_prefix(self) -> str:
        """The prefix of this entry's temporary files and folders in ROOT/zoo."""
        return f".{self.model.name}."

    def read_record(self) -> Record | None:
        """The entry's record; None when there is none, or a link in its place (what it names
        is not the cache's own: the entry is unfinished)."""
        if self.record_path.is_symlink() or not self.record_path.exists():
            return None
        try:
            data = json.loads(read_text(self.record_path, "cache record", limit=64 * 1024))
            record = Record(**data)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{self.record_path}: a damaged cache record ({exc}); fetch the "
                             f"model again with 'odwrap zoo pull {self.model.name} --force'") \
                from None
        if not isinstance(record.size, int) or not isinstance(record.sha256, str):
            raise InputError(f"{self.record_path}: a damaged cache record; fetch the model "
                             f"again with 'odwrap zoo pull {self.model.name} --force'")
        return record

    def write_record(self, record: Record) -> None:
        atomic_write_text(self.record_path, json.dumps(asdict(record), indent=2) + "\n")

    def remove(self, keep_part: bool = True) -> None:
        """Everything of this entry but the lock (and the resumable .part, when asked)."""
        self.record_path.unlink(missing_ok=True)
        self.tarball.unlink(missing_ok=True)
        if not keep_part:
            self.part.unlink(missing_ok=True)
        remove_path(self.folder)
        self.clean_staging()

    def clean_staging(self) -> None:
        """The temporary files and folders a pull of this entry left when it was killed."""
        for leftover in self.zoo.glob(f"{self.staging_prefix()}*"):
            remove_path(leftover)


def open_part(path: Path):
    """PATH, a file of the cache that a pull writes (a .part, an import), opened to append
    (fsutil.open_own_file): what else is there (a link, a hard link, a FIFO) is removed first,
    never written through."""
    return open_own_file(path, replace=True, hint="remove it")


def entry(model: ZooModel, root: Path | None = None) -> Entry:
    return Entry(model, (root or cache_root()) / "zoo")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def refetch_hint(model: ZooModel) -> str:
    return f"fetch it again with 'odwrap zoo pull {model.name} --force'"


def verify(item: Entry, record: Record) -> None:
    """The cached tarball is the one the record describes (size, then SHA-256); InputError
    naming the file and how to fetch it again when it is not."""
    try:
        size = item.tarball.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{item.tarball}: the cached tarball is missing; "
                         f"{refetch_hint(item.model)}") from None
    if size != record.size:
        raise InputError(f"{item.tarball}: the cached tarball is {size} bytes, its record says "
                         f"{record.size} (truncated or changed); {refetch_hint(item.model)}")
    if sha256_of(item.tarball) != record.sha256:
        raise InputError(f"{item.tarball}: the cached tarball's SHA-256 differs from its record "
                         f"(changed since it was fetched); {refetch_hint(item.model)}")


def cached_models(root: Path | None = None) -> dict[str, Record]:
    """The records of the zoo models in the cache, by name (read, not verified)."""
    found = {}
    for model in MODELS:
        item = entry(model, root)
        try:
            record = item.read_record()
        except InputError:
            continue
        if record is not None and item.folder.is_dir():
            found[model.name] = record
    return found

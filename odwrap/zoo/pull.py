"""Pulling a zoo model into the cache: the cached one when its tarball still matches its
record, else a download (or an imported local tarball), extracted safely and recorded last, all
under the entry's lock so that two runs never fetch into the same file.

A pull that stops leaves a complete old entry or nothing but the resumable .part: the new
tarball and folder replace the old ones only once the tarball has been checked and extracted,
and the record, written last, is what makes an entry complete (cache.py describes the layout).
"""

import contextlib
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from odwrap import report
from odwrap.errors import FolderBusy, InputError, OdwrapError, RunError
from odwrap.fsutil import remove_path
from odwrap.locks import FolderLock
from odwrap.zoo import cache, download, extract
from odwrap.zoo.catalog import CHECKPOINT, REQUIRED, ZooModel, find

LOCK_WAIT = 3600.0  # seconds a pull waits for another pull of the same model to finish
POLL = 0.2


@dataclass(frozen=True)
class Pulled:
    model: ZooModel
    folder: Path  # the extracted model: checkpoint/, pipeline.config, saved_model/
    record: cache.Record
    reused: bool  # the cache had it already (its tarball verified against the record)

    @property
    def checkpoint(self) -> Path:
        """The prefix a pipeline.config's fine_tune_checkpoint takes: FOLDER/checkpoint/ckpt-0."""
        return self.folder / CHECKPOINT


def offline_hint(model: ZooModel) -> str:
    return (f"offline? fetch {model.url_path} elsewhere and run 'odwrap zoo pull {model.name} "
            f"--from FILE', or point {download.BASE_ENV} at a mirror")


def _source_file(source) -> Path:
    """--from's tarball: a readable regular file (no FIFO, device or folder)."""
    path = Path(source)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such tarball") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the tarball: {exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: cannot read the tarball: "
                         f"{'a folder' if stat.S_ISDIR(info.st_mode) else 'not a regular file'}")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read the tarball: permission denied")
    return path


def _make_lock_folder(item: cache.Entry) -> None:
    """ITEM's lock folder, made and kept (one that comes and goes races); a link in its place
    or in place of .locks is removed first, never followed: the lock's file would be written
    and removed wherever it led."""
    for folder in (item.lock_folder.parent, item.lock_folder):
        if folder.is_symlink():
            folder.unlink(missing_ok=True)
        folder.mkdir(exist_ok=True)


@contextlib.contextmanager
def _locked(item: cache.Entry, wait: float):
    """Hold ITEM's lock, waiting up to WAIT seconds for another pull of it to finish."""
    _make_lock_folder(item)
    deadline = time.monotonic() + wait
    announced = False
    while True:
        lock = FolderLock(item.lock_folder, f"odwrap zoo pull {item.model.name}")
        try:
            lock.__enter__()
            break
        except FolderBusy as exc:
            if time.monotonic() >= deadline:
                raise InputError(f"{item.model.name}: still being pulled by {exc.holder} after "
                                 f"{wait:g} s; try again when it ends") from None
            if not announced:
                report.message(f"{item.model.name}: waiting for {exc.holder} to finish it")
                announced = True
            time.sleep(POLL)
    try:
        yield
    finally:
        lock.release()


def _complete(folder: Path) -> bool:
    """FOLDER is the cache's own (a link to a folder elsewhere is not) and holds the files a
    model needs."""
    return not folder.is_symlink() and all((folder / required).is_file()
                                           for required in REQUIRED)


def _reuse(item: cache.Entry) -> Pulled | None:
    """The cached entry, verified; None when there is none (leftovers of a pull that stopped
    are removed, except the .part a download resumes)."""
    record = item.read_record()
    if record is None:
        item.remove(keep_part=True)
        return None
    item.clean_staging()  # a killed `pull --force` of a cached model left its extraction
    cache.verify(item, record)
    if not _complete(item.folder):
        why = "a link" if item.folder.is_symlink() else "incomplete"
        report.message(f"{item.folder}: {why}; extracting {item.tarball} again")
        _install(item, item.tarball, str(item.tarball), InputError, keep=True)
        item.write_record(record)
    return Pulled(item.model, item.folder, record, reused=True)


def _install(item: cache.Entry, tarball: Path, what: str, error: type, keep: bool = False):
    """Extract TARBALL (checked) and put its folder in place of the entry's; TARBALL becomes the
    cached tarball unless KEEP (it is the cached one already). The entry has no record
    afterwards: the caller writes it, last."""
    staging = Path(tempfile.mkdtemp(prefix=f"{item.staging_prefix()}extract-", dir=item.zoo))
    try:
        top = extract.extract(tarball, item.model, staging, what, error)
        item.record_path.unlink(missing_ok=True)  # from here on the entry is not complete
        if not keep:
            os.replace(tarball, item.tarball)
        remove_path(item.folder)
        os.replace(top, item.folder)
    finally:
        remove_path(staging)


def _fetch(item: cache.Entry, source: Path | None, force: bool) -> Pulled:
    model = item.model
    item.zoo.mkdir(parents=True, exist_ok=True)
    item.clean_staging()
    if source is None:
        url = download.url_for(model)
        if force:
            item.part.unlink(missing_ok=True)
        report.message(f"downloading {url}")
        download.fetch(url, item.part, model.name, offline_hint(model))
        candidate, what, error = item.part, url, RunError
    else:
        url, what, error = source.absolute().as_uri(), str(source), InputError
        report.message(f"importing {source}")
        candidate = item.zoo / f"{item.staging_prefix()}import.tar.gz"
        try:
            download.copy_into(source, candidate, model.name)
        except OSError as exc:
            candidate.unlink(missing_ok=True)
            raise RunError(f"{source}: cannot copy into {item.zoo}: {exc.strerror or exc}") \
                from None
    try:
        size, sha256 = candidate.stat().st_size, cache.sha256_of(candidate)
        _install(item, candidate, what, error)
    except OdwrapError:
        candidate.unlink(missing_ok=True)  # whole, and no zoo tarball: nothing to resume
        raise
    finally:
        if source is not None:
            candidate.unlink(missing_ok=True)
    record = cache.Record(name=model.name, url=url, size=size, sha256=sha256,
                          fetched=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    item.write_record(record)
    return Pulled(model, item.folder, record, reused=False)


def pull(name, source=None, force: bool = False, root: Path | None = None,
         wait: float = LOCK_WAIT) -> Pulled:
    """Zoo model NAME (or a ZooModel) in the cache (ROOT, default cache.cache_root()):
    reused when cached and verified, else downloaded, or imported from the tarball SOURCE.
    FORCE fetches it again even when cached (SOURCE always replaces what is cached)."""
    model = name if isinstance(name, ZooModel) else find(name)
    source = _source_file(source) if source is not None else None
    if source is None:
        download.base_url()  # a bad ODWRAP_ZOO_URL is refused before anything is locked
        download.timeout()
    item = cache.entry(model, root)
    try:
        item.zoo.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # ODWRAP_CACHE=/proc/x, a file, a folder of another user
        raise InputError(f"{item.zoo}: cannot make the zoo cache here: "
                         f"{exc.strerror or exc}; {cache.ROOT_ENV} moves it") from None
    try:
        with _locked(item, wait):
            if source is None and not force:
                reused = _reuse(item)
                if reused is not None:
                    return reused
            return _fetch(item, source, force)
    except OSError as exc:  # the cache's file system; the network's errors are RunErrors by now
        where = exc.filename or item.zoo
        if isinstance(exc, (PermissionError, NotADirectoryError, FileExistsError)):
            raise InputError(f"{where}: cannot write the zoo cache here: {exc.strerror}; "
                             f"{cache.ROOT_ENV} moves it") from None
        raise RunError(f"{where}: {exc.strerror or exc} (in the zoo cache)") from None

"""Reading untrusted text files with a size limit, and writing files so that a reader never sees
half of one."""

import contextlib
import errno
import fnmatch
import glob
import io
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from odwrap.errors import InputError, RunError

MiB = 1024 * 1024
DEFAULT_LIMIT = 16 * MiB  # what odwrap reads of a file whose caller names no limit


GLOB_ENTRIES = 500_000  # directory entries one pattern may read
GLOB_SECONDS = 20.0  # and the time it may take


def bounded_glob(pattern, recursive: bool = False) -> list:
    """What glob.glob(PATTERN, recursive=RECURSIVE) matches, sorted, with the work bounded:
    past GLOB_ENTRIES directory entries read or GLOB_SECONDS, an InputError naming the pattern
    ('/*/*/*/*/*/*/*/*/*.tfrecord' would read the whole disk). Names starting with '.' match
    only a part that starts with '.', as glob's; with RECURSIVE a '**' part is any number of
    folders."""
    pattern = str(pattern)
    if "\0" in pattern:
        return []
    if not glob.has_magic(pattern):
        return [pattern] if os.path.lexists(pattern) else []
    parts = [part for part in pattern.split("/") if part]
    found = ["/" if pattern.startswith("/") else ""]
    budget = _Budget(pattern)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        following = []
        for base in found:
            if recursive and part == "**":
                following.append(os.path.join(base, "") if last else base)  # glob's 'X/'
                stack = [base]
                while stack:
                    folder = stack.pop()
                    for entry in budget.scan(folder):
                        if entry.name.startswith("."):
                            continue
                        path = os.path.join(folder, entry.name)
                        if _is_dir(entry):
                            stack.append(path)
                            following.append(path)
                        elif last:  # a last '**' matches files too
                            following.append(path)
                continue
            if not glob.has_magic(part):
                path = os.path.join(base, part)
                if os.path.lexists(path) if last else os.path.isdir(path):
                    following.append(path)
                continue
            for entry in budget.scan(base):
                if entry.name.startswith(".") and not part.startswith("."):
                    continue
                if fnmatch.fnmatchcase(entry.name, part) and (last or _is_dir(entry)):
                    following.append(os.path.join(base, entry.name))
        found = sorted(set(following)) if recursive else following
    if pattern.endswith("/"):  # as glob: folders only, with the slash
        return sorted(path + "/" for path in found if os.path.isdir(path))
    return sorted(found)


class _Budget:
    """The folder entries a pattern has read and the time it has taken, against the limits."""

    def __init__(self, pattern: str):
        self.pattern, self.read = pattern, 0
        self.deadline = time.monotonic() + GLOB_SECONDS

    def scan(self, folder: str):
        """FOLDER's entries, each counted; none where it cannot be read (further)."""
        try:
            scanned = os.scandir(folder or ".")
        except OSError:
            return
        with scanned:
            try:
                for entry in scanned:
                    self.read += 1
                    if self.read > GLOB_ENTRIES or (self.read % 1000 == 0
                                                    and time.monotonic() > self.deadline):
                        raise InputError(f"{self.pattern}: the pattern reads more than "
                                         f"{min(self.read, GLOB_ENTRIES):,} folder entries or "
                                         f"{GLOB_SECONDS:.0f} s; give a narrower one")
                    yield entry
            except OSError:
                return


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def log_dir() -> Path:
    """Where odwrap writes the tracebacks of failed runs (ODWRAP_LOG_DIR, else a temp folder)."""
    return Path(os.environ.get("ODWRAP_LOG_DIR") or Path(tempfile.gettempdir()) / "odwrap")


def size_text(size: int) -> str:
    """'1 MiB', '52.4 MB': a limit in the unit it was set in, a size in decimal megabytes."""
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"


def read_bytes(path, what: str = "file", limit: int = DEFAULT_LIMIT,
               limit_for: str | None = None) -> bytes:
    """At most `limit` bytes of a regular file; InputError naming the path, and the limit (for
    `limit_for`, e.g. 'a spec') when the file is larger. FIFOs, devices (/dev/zero) and folders
    are refused without a read, and without blocking on a FIFO that has no writer."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InputError(f"{path}: cannot read the {what}: {exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise InputError(f"{path}: cannot read the {what}: {kind}")
    limit_for = limit_for or f"a {what}"
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise InputError(f"{path}: the {what} is {size_text(info.st_size)}, over odwrap's "
                             f"limit of {size_text(limit)} for {limit_for}")
        try:
            data = handle.read(limit + 1)  # the file may have grown since fstat
        except OSError as exc:
            raise InputError(f"{path}: cannot read the {what}: {exc}") from None
    if len(data) > limit:
        raise InputError(f"{path}: the {what} is over odwrap's limit of {size_text(limit)} "
                         f"for {limit_for}")
    return data


def read_text(path, what: str = "file", limit: int = DEFAULT_LIMIT,
              limit_for: str | None = None) -> str:
    """A UTF-8 text file's contents, read as `read_bytes` does; InputError naming the path when
    it cannot be read or decoded."""
    data = read_bytes(path, what, limit, limit_for)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{Path(path)}: cannot read the {what}: not UTF-8 text (byte "
                         f"{exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as open() in text mode reads


def check_output_file(path, what: str = "file") -> Path:
    """Refuse, before anything is computed or written, an output path that cannot become a file:
    a folder, a path under a file, a folder that cannot be written to."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the {what}'s file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{path}: cannot write the {what}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write the {what}: {parent} is not writable")
    return path


def check_input_file(path, what: str = "file") -> Path:
    """PATH, when it is a regular file (stat only, so a FIFO is never opened); else an
    InputError saying what it is instead."""
    path = Path(path)
    if not path.exists():  # a dangling link too
        raise InputError(f"{path}: no such {what}")
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a {what}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a FIFO, a socket or a device)")
    return path


@contextlib.contextmanager
def making(path, what: str = "file"):
    """Make PATH's missing folders for a run that writes PATH; when the run fails, remove the
    folders it made (and what it wrote in them). A write that fails for want of space is a
    RunError, for want of permission, or of a folder where one cannot be made (/proc, a
    removed folder): an InputError, one line naming PATH."""
    path = Path(path)
    top = path.parent
    while not top.parent.exists() and top.parent != top.parent.parent:
        top = top.parent
    made = not top.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield path
    except BaseException as exc:
        if made:
            shutil.rmtree(top, ignore_errors=True)
        if isinstance(exc, OSError) and _writing(exc, path):
            why = exc.strerror or str(exc)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO):
                raise RunError(f"{path}: cannot write the {what}: {why}") from None
            if isinstance(exc, FileNotFoundError):
                why = f"no file or folder can be made there ({why})"
            raise InputError(f"{path}: cannot write the {what}: {why}") from None
        raise


def _writing(exc: OSError, path: Path) -> bool:
    """EXC is about writing PATH: any error but a missing file, which is only when it names
    PATH, a folder above it or a temporary file or folder beside it (.NAME.*): not an input
    that went missing."""
    if not isinstance(exc, FileNotFoundError):
        return True
    if exc.filename is None:
        return False
    named = Path(os.fsdecode(exc.filename))
    return named in path.parents or any(
        part == path or (part.parent == path.parent and part.name.startswith(f".{path.name}."))
        for part in (named, *named.parents))


def refuse_input_as_output(output, inputs, what: str = "file") -> None:
    """InputError when OUTPUT is one of INPUTS (the same file by any name: a link, a hard link,
    another spelling): a run would replace what it reads."""
    output = Path(output)
    for source in inputs:
        source = Path(source)
        same = output.resolve() == source.resolve()
        if not same and output.exists() and source.exists():
            same = os.path.samefile(output, source)
        if same:
            raise InputError(f"{output}: is an input ({source}); write the {what} elsewhere")


def open_own_file(path, replace: bool = False,
                  hint: str = "remove it, or pass --restart") -> io.BufferedRandom:
    """PATH opened to read and append ('a+b'), created when missing, only if it is a regular
    file of this user with one name: never through a link, a hard link to another file, a FIFO
    or a device. For the files a run keeps between its interruptions (predict's .part files,
    the zoo cache's downloads), which a later run reopens and cuts. REPLACE: whatever else is
    at PATH is removed first (the name itself, never what a link names) and a new file made;
    else it is refused, with HINT."""
    path = Path(path)
    if replace and not _own_file(path):
        remove_path(path)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        why = "a link" if path.is_symlink() else exc.strerror
        raise InputError(f"{path}: cannot reuse it ({why}); {hint}") from None
    why = _not_own(os.fstat(fd))
    if why:
        os.close(fd)
        raise InputError(f"{path}: cannot reuse it ({why}); {hint}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a+b")


def _not_own(info: os.stat_result) -> str:
    """Why a file of stat INFO is not one a run may reuse as its own; '' when it is."""
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink != 1:
        return "a file with another name (a hard link)"
    return "another user's file" if info.st_uid != os.geteuid() else ""


def _own_file(path: Path) -> bool:
    """PATH is missing, or a file open_own_file reuses (a link is not)."""
    try:
        return not _not_own(path.lstat())
    except FileNotFoundError:
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_leftovers(path, kinds=("tmp",)) -> list:
    """Remove what killed runs left beside PATH: `.NAME.PID.*.tmp` files of atomic_writer and,
    with 'merge' in KINDS, `.NAME.merge.PID.*` folders, where process PID is gone (a run still
    going keeps its own). Links are removed, never followed. The removed paths."""
    path = Path(path)
    removed = []
    prefixes = [(f".{path.name}.", ".tmp")]
    if "merge" in kinds:
        prefixes.append((f".{path.name}.merge.", ""))
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        for prefix, suffix in prefixes:
            if not entry.name.startswith(prefix) or not entry.name.endswith(suffix):
                continue
            pid = entry.name[len(prefix):].split(".", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            remove_path(Path(entry.path))
            removed.append(Path(entry.path))
            break
    return removed


def remove_path(path: Path) -> None:
    """Remove PATH: a folder with what it holds, else the file or the link itself (never what a
    link names)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_writer(path) as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_writer(path):
    """A binary file handle whose content becomes PATH (temporary file, fsync, rename) when the
    block ends without an exception; nothing is left behind when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Zoo tarballs checked member by member, then extracted so that nothing lands outside the
model's folder.

Refused, in one line naming the member: an absolute path, a '..', a member outside the tarball's
one top folder, a symbolic or hard link that leads outside it (or through another symbolic
link), a device, FIFO or other special file, the same name twice, more than MAX_MEMBERS members
or MAX_BYTES in all. A tarball without `TOP/pipeline.config` and `TOP/checkpoint/ckpt-0.index`
and `.data-00000-of-00001` is not a zoo model. Extraction then goes through Python's own
`tarfile.data_filter` where the Python has it (3.10.12+, 3.11.4+, 3.12+); elsewhere the checked
members are extracted with their modes cleaned (no setuid, no group/other write) and owned by
whoever extracts them, which is what that filter does for the members these checks let through.
"""

import copy
import gzip
import os
import posixpath
import tarfile
import zlib
from pathlib import Path

from odwrap.errors import InputError, shown
from odwrap.zoo.catalog import REQUIRED, ZooModel

MAX_MEMBERS = 100_000
MAX_BYTES = 32 * 1024**3  # the largest zoo model is well under 2 GB extracted
HAS_DATA_FILTER = hasattr(tarfile, "data_filter")
CHUNK = 1024 * 1024

MAX_HEADER = 64 * 1024  # bytes of a GNU long name or a PAX header: names are under 4096
MAX_NAME = 4096  # characters of a member's name or link target (PATH_MAX)

SPECIAL = {tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device",
           tarfile.FIFOTYPE: "a FIFO"}


class _HeaderTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class _CappedTarInfo(tarfile.TarInfo):
    """A member whose GNU long-name or PAX header claims more than MAX_HEADER bytes is refused
    before tarfile reads that many into memory (a 1 MB tarball claimed 1 GiB)."""

    def _proc_member(self, tarfile_):
        extended = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                    tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
        if self.type in extended and self.size > MAX_HEADER:
            raise _HeaderTooLarge(self.size)
        return super()._proc_member(tarfile_)


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


class _Checker:
    """The rules above, applied to the members in the order the tarball holds them."""

    def __init__(self, model: ZooModel, what: str, error: type):
        self.model, self.what, self.error = model, what, error
        self.top = model.top_folder
        self.seen: dict[str, tarfile.TarInfo] = {}
        self.links: dict[str, tarfile.TarInfo] = {}  # each symbolic link's path, its member
        self.total = 0

    def refuse(self, member: tarfile.TarInfo, why: str) -> None:
        raise self.error(f"{self.what}: unsafe tarball member '{shown(member.name)}': {why}; "
                         "nothing was extracted")

    def path_of(self, member: tarfile.TarInfo, name: str, what: str = "its path") -> str:
        """NAME ('a/./b/') as 'a/b'; refused when absolute or with a '..'."""
        if name.startswith("/") or name[1:2] == ":":
            self.refuse(member, f"{what} is absolute ('{shown(name)}')")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            self.refuse(member, f"{what} contains '..'")
        if "\0" in name:
            self.refuse(member, f"{what} contains a NUL character")
        return "/".join(parts)

    def through_symlink(self, path: str) -> str | None:
        parts = path.split("/")
        for end in range(1, len(parts)):
            if "/".join(parts[:end]) in self.links:
                return "/".join(parts[:end])
        return None

    def check(self, member: tarfile.TarInfo) -> None:
        for text, what in ((member.name, "its name"), (member.linkname, "its link target")):
            if len(text) > MAX_NAME:
                raise self.error(f"{self.what}: unsafe tarball member '{shown(text[:60])}...': "
                                 f"{what} is {len(text):,} characters long, over {MAX_NAME}; "
                                 "nothing was extracted")
        path = self.path_of(member, member.name)
        if not path and member.isdir():
            return  # './': the folder it is extracted into
        if not _inside(path, self.top):
            raise self.error(f"{self.what}: not a tarball of zoo model {self.model.name}: "
                             f"member '{shown(member.name)}' is outside {self.top}/, the one "
                             "folder such a tarball holds; nothing was extracted")
        if path in self.seen:
            self.refuse(member, "a second member of the same name")
        link = self.through_symlink(path)
        if link:
            self.refuse(member, f"its path goes through the symbolic link '{shown(link)}'")
        if member.issym():
            self.check_symlink(member, path)
        elif member.islnk():
            self.check_hardlink(member)
        elif not (member.isreg() or member.isdir()):
            self.refuse(member, SPECIAL.get(member.type, "a special file (neither a file, a "
                                                         "folder nor a link)"))
        self.total += member.size if member.isreg() else 0
        if self.total > MAX_BYTES:
            self.refuse(member, f"the tarball holds over {MAX_BYTES // 1024**3} GiB, odwrap's "
                                "limit for a zoo model")
        self.seen[path] = member

    def check_symlink(self, member: tarfile.TarInfo, path: str) -> None:
        target = member.linkname
        if target.startswith("/"):
            self.refuse(member, f"a symbolic link to an absolute path ('{shown(target)}')")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if not _inside(resolved, self.top):
            self.refuse(member, f"a symbolic link that leads outside {self.top}/ "
                                f"('{shown(target)}')")
        if self.through_symlink(resolved + "/x"):  # itself or a folder above it
            self.refuse(member, "a symbolic link that leads through another symbolic link")
        self.links[path] = member

    def resolve(self, path: str) -> str | None:
        """PATH as the extracted tree will resolve it, each symbolic link of the tarball
        followed before a '..' after it is applied (a link's text alone says nothing of a link
        extracted later: L0 -> L1/.., L1 -> .); None past 40 links (a loop)."""
        done: list[str] = []
        parts, hops = path.split("/"), 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                else:
                    return "/.."  # above the folder extracted into
                continue
            here = "/".join([*done, part])
            member = self.links.get(here)
            if member is None:
                done.append(part)
                continue
            hops += 1
            if hops > 40:
                return None
            target = member.linkname.split("/")
            parts = target + parts  # relative to the link's folder, which `done` is
        return "/".join(done)

    def check_links(self) -> None:
        """Every symbolic link, resolved through the whole tarball's links, stays inside."""
        for path, member in self.links.items():
            resolved = self.resolve(path)
            if resolved is None:
                self.refuse(member, "a loop of symbolic links")
            if not _inside(resolved, self.top):
                self.refuse(member, f"a symbolic link that leads outside {self.top}/ through "
                                    f"other links of the tarball ('{shown(member.linkname)}')")

    def check_hardlink(self, member: tarfile.TarInfo) -> None:
        target = self.path_of(member, member.linkname, "its link target")
        if not _inside(target, self.top):
            self.refuse(member, f"a hard link to '{shown(member.linkname)}', outside "
                                f"{self.top}/")
        earlier = self.seen.get(target)
        if earlier is None or not earlier.isreg():
            self.refuse(member, "a hard link to no file before it in the tarball")

    def check_layout(self) -> None:
        for required in REQUIRED:
            member = self.seen.get(f"{self.top}/{required}")
            if member is None or not (member.isreg() or member.islnk()):
                raise self.error(
                    f"{self.what}: not a zoo tarball of {self.model.name}: no "
                    f"{self.top}/{required} (a zoo tarball holds {self.top}/pipeline.config and "
                    f"{self.top}/checkpoint/ckpt-0.index and .data-00000-of-00001)")


def _cleaned(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """What data_filter makes of a member that passed the checks, for Pythons without it."""
    member = copy.copy(member)
    if member.isdir():
        member.mode = 0o755
    elif member.isreg() or member.islnk():
        member.mode = (member.mode & 0o755) | 0o600
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    return member


def _damaged(what: str, exc: BaseException, error: type) -> Exception:
    if isinstance(exc, gzip.BadGzipFile) and str(exc).startswith("Not a gzipped file"):
        why = "not gzip-compressed data"
    elif isinstance(exc, EOFError):
        why = "the gzip data ends too early (a truncated file)"
    elif isinstance(exc, (zlib.error, gzip.BadGzipFile)):  # a bad CRC or length at the end
        why = f"damaged gzip data ({exc})"
    elif isinstance(exc, tarfile.TarError):
        why = f"not a tar archive inside the gzip data ({exc})"
    else:
        why = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
    return error(f"{what}: not a gzip tarball: {why}")


def _checked_members(tar, stream, checker: _Checker) -> list:
    """Every member, checked; then the rest of the gzip data, whose CRC is checked at its end."""
    members = []
    for member in tar:
        if len(members) >= MAX_MEMBERS:
            checker.refuse(member, f"over {MAX_MEMBERS} members, odwrap's limit for a zoo model")
        checker.check(member)
        if checker.path_of(member, member.name):
            members.append(member)
    checker.check_links()
    checker.check_layout()
    while stream.read(CHUNK):
        pass
    return members


def extract(tarball: Path, model: ZooModel, destination: Path, what: str,
            error: type = InputError, use_filter: bool = HAS_DATA_FILTER) -> Path:
    """Check every member of TARBALL (a .tar.gz of MODEL), then extract it into DESTINATION
    (an empty folder); the extracted top folder. Errors are ERROR (InputError for a file the
    user gave, RunError for what a server sent) and start with WHAT (its path or URL)."""
    checker = _Checker(model, what, error)
    try:
        with gzip.open(tarball, "rb") as stream, \
                tarfile.open(fileobj=stream, mode="r:", tarinfo=_CappedTarInfo) as tar:
            members = _checked_members(tar, stream, checker)
            _extract_all(tar, members, destination, use_filter, checker)
    except _HeaderTooLarge as exc:
        raise error(f"{what}: unsafe tarball: a long-name or PAX header of {exc.size:,} bytes, "
                    f"over odwrap's limit of {MAX_HEADER:,}; nothing was extracted") from None
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise _damaged(what, exc, error) from None
    return destination / checker.top


def _extract_all(tar, members, destination: Path, use_filter: bool, checker: _Checker):
    """The checked MEMBERS into DESTINATION; what goes wrong here is said here, so that only
    reading errors reach the caller's "not a gzip tarball"."""
    damaged = (EOFError, zlib.error, gzip.BadGzipFile, tarfile.ReadError)
    try:
        if use_filter:
            tar.extractall(destination, members=members, filter="data")
        else:
            options = {"filter": "fully_trusted"} if HAS_DATA_FILTER else {}  # no 3.12+ warning
            tar.extractall(destination, members=[_cleaned(member) for member in members],
                           **options)
    except getattr(tarfile, "FilterError", ()) as exc:
        checker.refuse(exc.tarinfo, str(exc))
    except damaged as exc:
        raise _damaged(checker.what, exc, checker.error) from None
    except (OSError, tarfile.TarError) as exc:  # a full disk, a folder that cannot be written
        raise checker.error(f"{checker.what}: cannot extract into {destination}: "
                            f"{getattr(exc, 'strerror', None) or exc}") from None

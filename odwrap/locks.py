"""One writer per folder: an advisory lock on a file inside it, released by the kernel when
the process that holds it ends, however it ends.

`convert` locks its output folder, `train` its model directory and `export` its output folder;
a second run into the same folder is refused with one line that says who holds it. The lock is
`flock` on DIR/.odwrap.lock, so a lock left by a killed process is no lock at all (the file
stays, with the dead holder's details, and the next run takes it over). flock works between
processes of one machine and on local file systems; on NFS it depends on the server.
"""

import errno
import fcntl
import json
import os
import socket
import stat
import time
from pathlib import Path

from odwrap.errors import FolderBusy, InputError

LOCK_NAME = ".odwrap.lock"


def _describe(path: Path) -> str:
    """Who holds the lock, from what the holder wrote into the file."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return (f"'{holder['command']}' (pid {holder['pid']} on {holder['host']}, since "
                f"{holder['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another odwrap run"  # it has the lock but has not written its details yet


class FolderLock:
    """`with FolderLock(folder, "odwrap train"):` holds FOLDER for this process (creating it
    and its parents if needed, and removing those again on exit while they are empty: a run
    that wrote nothing leaves nothing); InputError naming the holder when another holds it."""

    def __init__(self, folder, command: str):
        self.folder = Path(folder)
        self.command = command
        self._fd = None
        self._created = []

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def __enter__(self) -> "FolderLock":
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{self.folder}: exists and is not a folder")
        self._created = []  # the folders this lock creates, the deepest first
        missing = self.folder
        while not missing.exists() and missing != missing.parent:
            self._created.append(missing)
            missing = missing.parent
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fd = self._acquire()
        except OSError as exc:
            raise InputError(f"{self.folder}: cannot write here: {exc.strerror}") from None
        except BaseException:
            self._remove_if_created()
            raise
        holder = {"command": self.command, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(holder).encode(), 0)
        return self

    def _acquire(self) -> int:
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._remove_if_created()
                holder = _describe(self.path)
                raise FolderBusy(f"{self.folder}: in use by {holder}; wait for it to end, or "
                                 "use another folder", holder) from None
            try:  # a holder that ended between our open and our flock removed that file
                if os.path.samestat(os.fstat(fd), os.lstat(self.path)):
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def _open(self) -> int:
        """The lock file, opened (made when missing) only as a regular file with one name:
        never through a link, which would have the holder written and the file removed
        wherever it led."""
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        refused = InputError(f"{self.path}: not odwrap's lock file (a link, a hard link or not "
                             "a regular file); remove it")
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
                raise refused from None
            raise
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise refused
        return fd

    def __exit__(self, *exc_info) -> None:
        self.release()

    def release(self) -> None:
        if self._fd is None:
            return
        # Removed while still held, so that no other process can lock the file being removed
        # (one that opened it before the removal finds, after its flock, that it is gone);
        # only while the name is still the file this lock opened.
        try:
            if os.path.samestat(os.fstat(self._fd), os.lstat(self.path)):
                self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
        self._remove_if_created()

    def _remove_if_created(self) -> None:
        for folder in self._created:
            try:
                folder.rmdir()  # only when empty: a failed run that wrote nothing
            except OSError:
                break

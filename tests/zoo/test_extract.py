"""Safe extraction of zoo tarballs: hostile members refused in one line naming them, on both
paths (Python's tarfile.data_filter, and odwrap's own rules for Pythons without it)."""

import gzip
import os
import stat
import tarfile

import pytest

from odwrap.errors import InputError, RunError
from odwrap.zoo import extract
from tests.zoo.conftest import (
    DATA,
    GOOD,
    MODEL,
    TOP,
    member,
    tarball,
    write,
    zoo_members,
)

PATHS = [pytest.param(True, id="data_filter"), pytest.param(False, id="own-rules")]
if not extract.HAS_DATA_FILTER:
    PATHS = PATHS[1:]


def run(tmp_path, data: bytes, use_filter: bool, error=InputError):
    source = write(tmp_path / "in.tar.gz", data)
    destination = tmp_path / "out"
    destination.mkdir()
    return extract.extract(source, MODEL, destination, str(source), error, use_filter), \
        destination


@pytest.mark.parametrize("use_filter", PATHS)
def test_a_zoo_tarball_extracts_with_clean_modes(tmp_path, use_filter):
    setuid = member(f"{TOP}/tool", b"#!/bin/sh\n", mode=0o4777)
    inner_link = member(f"{TOP}/latest.index", kind=tarfile.SYMTYPE,
                        link="checkpoint/ckpt-0.index")
    inner_hardlink = member(f"{TOP}/copy.index", kind=tarfile.LNKTYPE,
                            link=f"{TOP}/checkpoint/ckpt-0.index")
    top, destination = run(tmp_path, tarball(extra=[setuid, inner_link, inner_hardlink]),
                           use_filter)
    assert top == destination / TOP
    assert (top / "checkpoint" / "ckpt-0.data-00000-of-00001").read_bytes() == DATA
    assert (top / "latest.index").is_symlink()
    assert (top / "latest.index").read_bytes() == (top / "copy.index").read_bytes()
    mode = stat.S_IMODE((top / "tool").stat().st_mode)
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)
    assert os.listdir(destination) == [TOP]


HOSTILE = [
    pytest.param([member("/tmp/odwrap-evil", b"x")], "'/tmp/odwrap-evil': its path is absolute",
                 id="absolute"),
    pytest.param([member("../odwrap-evil", b"x")], "'../odwrap-evil': its path contains '..'",
                 id="dot-dot"),
    pytest.param([member(f"{TOP}/../../odwrap-evil", b"x")], "its path contains '..'",
                 id="dot-dot-inside"),
    pytest.param([member(f"{TOP}/passwd", kind=tarfile.SYMTYPE, link="/etc/passwd")],
                 f"'{TOP}/passwd': a symbolic link to an absolute path ('/etc/passwd')",
                 id="symlink-absolute"),
    pytest.param([member(f"{TOP}/up", kind=tarfile.SYMTYPE, link="../../etc/passwd")],
                 f"'{TOP}/up': a symbolic link that leads outside {TOP}/ ('../../etc/passwd')",
                 id="symlink-out"),
    pytest.param([member(f"{TOP}/hard", kind=tarfile.LNKTYPE, link="/etc/passwd")],
                 f"'{TOP}/hard': its link target is absolute ('/etc/passwd')",
                 id="hardlink-absolute"),
    pytest.param([member(f"{TOP}/hard", kind=tarfile.LNKTYPE, link="../outside")],
                 f"'{TOP}/hard': its link target contains '..'", id="hardlink-out"),
    pytest.param([member(f"{TOP}/null", kind=tarfile.CHRTYPE)],
                 f"'{TOP}/null': a character device", id="char-device"),
    pytest.param([member(f"{TOP}/disk", kind=tarfile.BLKTYPE)],
                 f"'{TOP}/disk': a block device", id="block-device"),
    pytest.param([member(f"{TOP}/fifo", kind=tarfile.FIFOTYPE)], f"'{TOP}/fifo': a FIFO",
                 id="fifo"),
    pytest.param([member(f"{TOP}/pipeline.config", b"again")],
                 f"'{TOP}/pipeline.config': a second member of the same name", id="duplicate"),
    pytest.param([member(f"{TOP}/d/", kind=tarfile.DIRTYPE),
                  member(f"{TOP}/d/l", kind=tarfile.SYMTYPE, link=".."),
                  member(f"{TOP}/d/l/l2", kind=tarfile.SYMTYPE, link="..")],
                 f"'{TOP}/d/l/l2': its path goes through the symbolic link '{TOP}/d/l'",
                 id="symlink-chain"),
    # Issue 30, case 3: each link's text stays inside, but L8 -> . makes L7 -> L8/.. the
    # folder above TOP, and so on up: in the cache, L0 resolved to /.
    pytest.param([member(f"{TOP}/L{index}", kind=tarfile.SYMTYPE, link=f"L{index + 1}/..")
                  for index in range(8)]
                 + [member(f"{TOP}/L8", kind=tarfile.SYMTYPE, link=".")],
                 f"'{TOP}/L0': a symbolic link that leads outside {TOP}/ through other links of "
                 "the tarball ('L1/..')", id="symlink-relative-chain"),
    pytest.param([member(f"{TOP}/a", kind=tarfile.SYMTYPE, link="b/.."),
                  member(f"{TOP}/b", kind=tarfile.SYMTYPE, link=".")],
                 f"'{TOP}/a': a symbolic link that leads outside {TOP}/ through other links",
                 id="symlink-later-target"),
]


@pytest.mark.parametrize("use_filter", PATHS)
@pytest.mark.parametrize("extra, why", HOSTILE)
def test_a_hostile_member_is_refused_naming_it_and_nothing_is_extracted(tmp_path, use_filter,
                                                                        extra, why):
    with pytest.raises(InputError) as error:
        run(tmp_path, tarball(extra=extra), use_filter)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'in.tar.gz'}: unsafe tarball member ")
    assert why in message and message.endswith("; nothing was extracted")
    assert "\n" not in message
    assert os.listdir(tmp_path / "out") == []
    assert not os.path.lexists("/tmp/odwrap-evil")


def test_a_member_outside_the_top_folder_is_another_tarball(tmp_path):
    with pytest.raises(InputError) as error:
        run(tmp_path, tarball(zoo_members("other_model")), True)
    assert str(error.value) == (
        f"{tmp_path / 'in.tar.gz'}: not a tarball of zoo model {MODEL.name}: member "
        f"'other_model' is outside {TOP}/, the one folder such a tarball holds; nothing was "
        "extracted")


@pytest.mark.parametrize("missing", ["checkpoint/ckpt-0.index",
                                     "checkpoint/ckpt-0.data-00000-of-00001", "pipeline.config"])
def test_a_tarball_without_the_zoo_layout_is_refused(tmp_path, missing):
    members = [item for item in zoo_members() if item[0].name != f"{TOP}/{missing}"]
    with pytest.raises(RunError) as error:
        run(tmp_path, tarball(members), True, error=RunError)
    assert f"not a zoo tarball of {MODEL.name}: no {TOP}/{missing} (" in str(error.value)
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize("data, why", [
    pytest.param(b"<html>captive portal</html>" * 50, "not gzip-compressed data", id="html"),
    pytest.param(gzip.compress(b"plain text, not a tar archive" * 30),
                 "not a tar archive inside the gzip data", id="gzip-not-tar"),
    pytest.param(GOOD[:len(GOOD) // 2], "the gzip data ends too early", id="truncated"),
    pytest.param(GOOD[:-4] + bytes(4), "damaged gzip data (Incorrect length", id="bad-length"),
    pytest.param(GOOD[:-8] + bytes(8), "damaged gzip data (CRC check failed", id="bad-crc"),
    pytest.param(b"", "not a tar archive", id="empty"),
])
def test_a_file_that_is_not_a_whole_gzip_tarball(tmp_path, data, why):
    with pytest.raises(InputError) as error:
        run(tmp_path, data, True)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'in.tar.gz'}: not a gzip tarball: ")
    assert why in message, message


def _claiming(kind, size: int, follow: bytes) -> bytes:
    """A gzip tarball whose first header is a KIND extended header claiming SIZE bytes, followed
    by FOLLOW only."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = kind, size
    return gzip.compress(info.tobuf(tarfile.GNU_FORMAT) + follow)


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK,
                                  tarfile.XHDTYPE, tarfile.XGLTYPE])
@pytest.mark.parametrize("size", [2**30, 5 * 2**20])
def test_an_extended_header_claiming_megabytes_is_refused_before_it_is_read(tmp_path, kind,
                                                                            size):
    """Issue 30, case 12: a 1 MB tarball whose long-name header claimed 1 GiB used about 3 GB,
    then a MemoryError; a 5 MiB name gave a 10 MB "one-line" error."""
    data = _claiming(kind, size, b"a" * min(size, 2**20))
    with pytest.raises(InputError) as error:
        run(tmp_path, data, True)
    message = str(error.value)
    assert f"a long-name or PAX header of {size:,} bytes, over odwrap's limit of 65,536" \
        in message
    assert len(message) < 400 and os.listdir(tmp_path / "out") == []


def test_a_name_over_path_max_is_refused_in_a_short_line(tmp_path):
    name = f"{TOP}/" + "n" * 5000
    with pytest.raises(InputError) as error:
        run(tmp_path, tarball(extra=[member(name, b"x")]), True)
    message = str(error.value)
    assert "its name is 5,0" in message and "over 4096" in message and len(message) < 400

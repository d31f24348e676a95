"""Pulling zoo models from a real HTTP server on 127.0.0.1 (and file:// mirrors and local
tarballs): resume, servers that ignore Range, network failures, reuse verified against the
record, tampered caches, and one download for two concurrent pulls."""

import hashlib
import json
import os
import re
import socket
import sys
import tarfile
import threading
import time

import pytest

from odwrap import api
from odwrap.errors import FolderBusy, InputError, RunError, StackError
from odwrap.locks import LOCK_NAME, FolderLock
from odwrap.zoo import cache, pull
from tests.zoo.conftest import CONFIG, DATA, GOOD, MODEL, TOP, member, tarball, write

CUT = 100_000  # where a dropped connection stops the first response


def cached_files(root) -> list[str]:
    """What the cache holds besides the lock folders."""
    zoo = root / "zoo"
    if not zoo.exists():
        return []
    return sorted(str(path.relative_to(zoo)) for path in zoo.rglob("*")
                  if ".locks" not in path.parts)


def test_a_download_is_extracted_recorded_and_then_reused(server, zoo_env, heard):
    url = server.put()
    folder = api.zoo_pull(MODEL.name)
    assert folder == zoo_env / "zoo" / MODEL.name
    assert (folder / "checkpoint" / "ckpt-0.data-00000-of-00001").read_bytes() == DATA
    record = json.loads((zoo_env / "zoo" / f"{MODEL.name}.json").read_text())
    assert record["url"] == url and record["size"] == len(GOOD)
    assert record["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["fetched"])
    assert (zoo_env / "zoo" / f"{MODEL.name}.tar.gz").read_bytes() == GOOD
    assert not (zoo_env / "zoo" / f"{MODEL.name}.tar.gz.part").exists()
    assert heard.messages == [f"downloading {url}"]
    assert heard.progress_seen[-1] == (MODEL.name, len(GOOD), len(GOOD), "B")
    # Reused: no second request, and the checkpoint prefix the configs take.
    assert api.zoo_checkpoint(MODEL.name) == folder / "checkpoint" / "ckpt-0"
    assert server.gets() == [None]
    assert set(api.zoo_cached()) == {MODEL.name}


def test_an_interrupted_download_resumes_with_a_range_request(server, zoo_env):
    server.put()
    server.drop_after = CUT
    with pytest.raises(RunError) as error:
        api.zoo_pull(MODEL.name)
    assert str(error.value) == (
        f"{server.base}/{MODEL.url_path}: the connection closed after {CUT} of {len(GOOD)} "
        "bytes; run the same pull again to resume it")
    assert cached_files(zoo_env) == [f"{MODEL.name}.tar.gz.part"]  # nothing else half-written
    api.zoo_pull(MODEL.name)
    assert server.gets() == [None, f"bytes={CUT}-"]
    assert (zoo_env / "zoo" / f"{MODEL.name}.tar.gz").read_bytes() == GOOD


def test_a_server_that_ignores_range_gets_a_fresh_download(server, zoo_env, heard):
    url = server.put()
    server.drop_after = CUT
    with pytest.raises(RunError):
        api.zoo_pull(MODEL.name)
    server.ignore_range = True
    api.zoo_pull(MODEL.name)
    assert server.gets() == [None, f"bytes={CUT}-"]
    assert f"{url}: the server does not resume downloads; starting over" in heard.messages
    assert (zoo_env / "zoo" / f"{MODEL.name}.tar.gz").read_bytes() == GOOD


def test_a_whole_part_is_not_downloaded_again(server, zoo_env):
    server.put()
    write(zoo_env / "zoo" / f"{MODEL.name}.tar.gz.part", GOOD)
    api.zoo_pull(MODEL.name)
    assert server.gets() == [f"bytes={len(GOOD)}-"]  # 416, bytes */size: nothing missing
    assert (zoo_env / "zoo" / f"{MODEL.name}.tar.gz").read_bytes() == GOOD


def test_a_part_longer_than_the_file_starts_over(server, zoo_env):
    server.put()
    write(zoo_env / "zoo" / f"{MODEL.name}.tar.gz.part", GOOD + b"junk")
    api.zoo_pull(MODEL.name)
    assert server.gets() == [f"bytes={len(GOOD) + 4}-", None]  # 416, then from the start
    assert (zoo_env / "zoo" / f"{MODEL.name}.tar.gz").read_bytes() == GOOD


def test_not_found_is_bad_input_naming_the_url_and_the_layout(server, zoo_env):
    with pytest.raises(InputError) as error:
        api.zoo_pull(MODEL.name)
    assert str(error.value) == (f"{server.base}/{MODEL.url_path}: not found (HTTP 404); a "
                                "mirror (ODWRAP_ZOO_URL) holds DATE/NAME.tar.gz")
    assert cached_files(zoo_env) == []


def test_a_server_error_is_a_failed_run(server, zoo_env):
    server.status = 503
    with pytest.raises(RunError, match=r"tar\.gz: HTTP 503 Service Unavailable$"):
        api.zoo_pull(MODEL.name)
    assert cached_files(zoo_env) == []


def test_connection_refused(monkeypatch, closed_port, zoo_env):
    monkeypatch.setenv("ODWRAP_ZOO_URL", f"http://127.0.0.1:{closed_port}/zoo")
    with pytest.raises(RunError) as error:
        api.zoo_pull(MODEL.name)
    message = str(error.value)
    assert message.startswith(f"http://127.0.0.1:{closed_port}/zoo/{MODEL.url_path}: "
                              f"connection refused by 127.0.0.1:{closed_port}; offline? fetch ")
    assert f"'odwrap zoo pull {MODEL.name} --from FILE'" in message
    assert cached_files(zoo_env) == []


def test_a_host_that_does_not_resolve(monkeypatch):
    monkeypatch.setenv("ODWRAP_ZOO_URL", "http://odwrap-zoo.invalid/tf2")  # RFC 6761: never
    with pytest.raises(RunError, match=r"cannot resolve odwrap-zoo\.invalid \(.*\): no network "
                                       "or no DNS; offline?"):
        api.zoo_pull(MODEL.name)


def test_a_server_that_never_answers_times_out(monkeypatch):
    with socket.socket() as silent:  # listens, never accepts: the request is never answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        monkeypatch.setenv("ODWRAP_ZOO_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("ODWRAP_ZOO_TIMEOUT", "0.5")
        started = time.monotonic()
        with pytest.raises(RunError, match=r": no answer within 0\.5 s \(ODWRAP_ZOO_TIMEOUT\)"):
            api.zoo_pull(MODEL.name)
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon", "7200"])
def test_a_bad_timeout_is_refused(monkeypatch, value):
    monkeypatch.setenv("ODWRAP_ZOO_TIMEOUT", value)
    with pytest.raises(InputError, match=rf"^ODWRAP_ZOO_TIMEOUT={value}: expected seconds in "):
        api.zoo_pull(MODEL.name)


@pytest.mark.parametrize("url", ["ftp://mirror/zoo", "/srv/zoo", "mirror.example/zoo"])
def test_a_mirror_url_odwrap_cannot_use(monkeypatch, zoo_env, url):
    monkeypatch.setenv("ODWRAP_ZOO_URL", url)
    with pytest.raises(InputError, match="not an http://, https://, file:// or gs:// URL"):
        api.zoo_pull(MODEL.name)
    assert cached_files(zoo_env) == []


def test_a_download_that_is_no_tarball_is_removed(server, zoo_env):
    url = server.put(data=b"<html>sign in to the hotel wifi</html>")
    with pytest.raises(RunError, match=f"^{url}: not a gzip tarball: not gzip-compressed data$"):
        api.zoo_pull(MODEL.name)
    assert cached_files(zoo_env) == []


def test_a_hostile_download_is_refused_and_nothing_is_kept(server, zoo_env):
    url = server.put(data=tarball(extra=[member(f"{TOP}/p", kind=tarfile.LNKTYPE,
                                                 link="/etc/passwd")]))
    with pytest.raises(RunError, match=f"^{url}: unsafe tarball member '{TOP}/p': its link "
                                       "target is absolute"):
        api.zoo_pull(MODEL.name)
    assert cached_files(zoo_env) == []


def test_a_file_mirror(monkeypatch, tmp_path, zoo_env):
    mirror = tmp_path / "mirror"
    write(mirror / MODEL.url_path, GOOD)
    monkeypatch.setenv("ODWRAP_ZOO_URL", mirror.as_uri() + "/")
    folder = api.zoo_pull(MODEL.name)
    assert (folder / "pipeline.config").exists()
    record = cache.entry(MODEL).read_record()
    assert record.url == f"{mirror.as_uri()}/{MODEL.url_path}"
    other = "ssd_mobilenet_v2_fpnlite_640x640_coco17_tpu-8"
    with pytest.raises(InputError, match=f"{other}.tar.gz: not found; a mirror holds "
                                         "DATE/NAME.tar.gz under ODWRAP_ZOO_URL"):
        api.zoo_pull(other)


def _source(kind, server, monkeypatch, tmp_path) -> dict:
    """The zoo_pull keywords that fetch MODEL from a source of KIND: an HTTP server, a file://
    or gs:// mirror (LocalGfile) or a local tarball (--from)."""
    if kind == "http":
        server.put()
    elif kind == "file mirror":
        write(tmp_path / "mirror" / MODEL.url_path, GOOD)
        monkeypatch.setenv("ODWRAP_ZOO_URL", (tmp_path / "mirror").as_uri())
    elif kind == "gs mirror":
        gs_mirror(monkeypatch, tmp_path)
    else:
        return {"source": write(tmp_path / "downloads" / MODEL.file_name, GOOD)}
    return {}


@pytest.mark.parametrize("kind", ["http", "file mirror", "gs mirror"])
@pytest.mark.parametrize("target", ["decoy", "dangling"])
def test_a_link_in_place_of_the_part_is_replaced_never_written_through(
        server, monkeypatch, tmp_path, zoo_env, kind, target):
    """Issue 30: a NAME.tar.gz.part link to a decoy had the decoy overwritten (and the link
    kept as NAME.tar.gz); a dangling one made a file where it pointed, outside the cache."""
    decoys = tmp_path / "decoys"
    decoy = write(decoys / "decoy.bin", b"decoy") if target == "decoy" else decoys / "new.bin"
    decoys.mkdir(exist_ok=True)
    part = zoo_env / "zoo" / f"{MODEL.name}.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.symlink_to(decoy)
    api.zoo_pull(MODEL.name, **_source(kind, server, monkeypatch, tmp_path))
    assert sorted(os.listdir(decoys)) == (["decoy.bin"] if target == "decoy" else [])
    assert target == "dangling" or decoy.read_bytes() == b"decoy"
    tarball = zoo_env / "zoo" / f"{MODEL.name}.tar.gz"
    assert not tarball.is_symlink() and tarball.read_bytes() == GOOD
    assert not os.path.lexists(part)


@pytest.mark.parametrize("kind", ["http", "file mirror", "from"])
@pytest.mark.parametrize("linked", [".locks", f".locks/{MODEL.name}"])
def test_a_link_in_place_of_the_lock_folder_is_replaced_never_followed(
        server, monkeypatch, tmp_path, zoo_env, kind, linked):
    """Issue 30: a .locks/NAME link to a folder had the pull write its lock file there and
    then remove that folder's .odwrap.lock (here a decoy this test made)."""
    decoys = tmp_path / "decoys"
    write(decoys / MODEL.name / LOCK_NAME, b"decoy")
    write(decoys / LOCK_NAME, b"decoy")
    link = zoo_env / "zoo" / linked
    link.parent.mkdir(parents=True)
    link.symlink_to(decoys / MODEL.name if linked.endswith(MODEL.name) else decoys)
    api.zoo_pull(MODEL.name, **_source(kind, server, monkeypatch, tmp_path))
    assert sorted(str(path.relative_to(decoys)) for path in decoys.rglob("*")) == \
        [LOCK_NAME, MODEL.name, f"{MODEL.name}/{LOCK_NAME}"]
    assert (decoys / LOCK_NAME).read_bytes() == (decoys / MODEL.name / LOCK_NAME).read_bytes() \
        == b"decoy"
    assert not link.is_symlink() and link.is_dir()


def _tree(folder) -> dict:
    """FOLDER's files and links: relative name -> bytes (a link: where it points)."""
    return {str(path.relative_to(folder)): os.readlink(path) if path.is_symlink()
            else path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_symlink() or path.is_file()}


def _assert_a_whole_entry_of_regular_files(zoo):
    assert not [path for path in zoo.rglob("*") if path.is_symlink()]
    tarball, record = zoo / f"{MODEL.name}.tar.gz", zoo / f"{MODEL.name}.json"
    assert tarball.is_file() and tarball.read_bytes() == GOOD
    assert record.is_file() and json.loads(record.read_text())["size"] == len(GOOD)
    assert (zoo / MODEL.name / "pipeline.config").read_bytes() == CONFIG
    assert (zoo / MODEL.name / "checkpoint" / "ckpt-0.data-00000-of-00001").read_bytes() == DATA
    assert not list(zoo.glob(f".{MODEL.name}.*"))


@pytest.mark.parametrize("kind", ["http", "from"])
@pytest.mark.parametrize("linked", [
    pytest.param(MODEL.name, id="folder"), pytest.param(f"{MODEL.name}.json", id="record"),
    pytest.param(f"{MODEL.name}.tar.gz", id="tarball"),
    pytest.param(f".{MODEL.name}.import.tar.gz", id="import"),
    pytest.param(f".{MODEL.name}.extract-abc", id="staging")])
def test_links_in_place_of_the_entrys_files_are_removed_never_written_through(
        server, monkeypatch, tmp_path, zoo_env, kind, linked):
    """Issue 30: the names a pull writes in the cache (the model's folder NAME/, its record
    NAME.json, its tarball NAME.tar.gz, --from's copy .NAME.import.tar.gz, a staging folder
    .NAME.extract-*) as links to decoys this test made, found where a pull that stopped
    leaves them: the pull removes each link, never what it names, and writes its own files."""
    decoys = tmp_path / "decoys"
    write(decoys / "decoy.bin", b"decoy")
    write(decoys / "folder" / "pipeline.config", b"decoy")
    before = _tree(decoys)
    zoo = zoo_env / "zoo"
    zoo.mkdir(parents=True)
    folder = linked in (MODEL.name, f".{MODEL.name}.extract-abc")
    (zoo / linked).symlink_to(decoys / ("folder" if folder else "decoy.bin"))
    assert api.zoo_pull(MODEL.name, **_source(kind, server, monkeypatch, tmp_path)) == \
        zoo / MODEL.name
    assert _tree(decoys) == before
    _assert_a_whole_entry_of_regular_files(zoo)


@pytest.mark.parametrize("linked", [pytest.param(MODEL.name, id="folder"),
                                    pytest.param(f"{MODEL.name}.json", id="record")])
def test_a_cached_entry_with_a_link_in_place_of_its_folder_or_record_is_made_again(
        server, tmp_path, zoo_env, heard, linked):
    """A cached model whose folder or record was replaced by a link to a copy of it outside
    the cache (a decoy this test made): the link is not trusted as the cache's own (the model
    would be read from, or vouched for by, files the cache does not hold); the folder is
    extracted again from the verified tarball, or, without a record of its own, the model
    fetched again. The decoy stays as it was."""
    server.put()
    api.zoo_pull(MODEL.name)
    zoo = zoo_env / "zoo"
    decoy = tmp_path / "decoys" / linked
    decoy.parent.mkdir()
    os.replace(zoo / linked, decoy)
    before = _tree(decoy.parent)
    (zoo / linked).symlink_to(decoy)
    assert api.zoo_pull(MODEL.name) == zoo / MODEL.name
    assert _tree(decoy.parent) == before
    _assert_a_whole_entry_of_regular_files(zoo)
    url = f"{server.base}/{MODEL.url_path}"
    assert heard.messages[1:] == ([f"downloading {url}"] if linked.endswith(".json") else [
        f"{zoo / MODEL.name}: a link; extracting {zoo / f'{MODEL.name}.tar.gz'} again"])
    assert server.gets() == [None] * (2 if linked.endswith(".json") else 1)


def test_a_gs_mirror_without_tensorflow_says_so(monkeypatch):
    monkeypatch.setenv("ODWRAP_ZOO_URL", "gs://bucket/zoo")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as if it were not installed
    with pytest.raises(StackError, match="gs:// mirrors are read with TensorFlow's tf.io.gfile, "
                                         "and TensorFlow cannot be imported here"):
        api.zoo_pull(MODEL.name)


def test_a_local_tarball_is_imported(tmp_path, zoo_env, heard):
    source = write(tmp_path / "downloads" / MODEL.file_name, GOOD)
    checkpoint = api.zoo_checkpoint(MODEL.name, source=source)
    assert checkpoint == zoo_env / "zoo" / MODEL.name / "checkpoint" / "ckpt-0"
    assert cache.entry(MODEL).read_record().url == source.as_uri()
    assert source.read_bytes() == GOOD  # a copy: the user's file stays
    assert heard.messages == [f"importing {source}"]
    assert sorted(os.listdir(zoo_env / "zoo")) == [".locks", MODEL.name, f"{MODEL.name}.json",
                                                   f"{MODEL.name}.tar.gz"]


@pytest.mark.parametrize("name, why", [("missing.tar.gz", "no such tarball"),
                                       ("folder", "cannot read the tarball: a folder")])
def test_a_local_tarball_that_cannot_be_read(tmp_path, name, why):
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match=f"^{tmp_path / name}: {why}$"):
        api.zoo_pull(MODEL.name, source=tmp_path / name)


def test_a_bad_import_keeps_the_cached_model(server, tmp_path, zoo_env):
    server.put()
    folder = api.zoo_pull(MODEL.name)
    before = cached_files(zoo_env)
    device = member(f"{TOP}/dev", kind=tarfile.CHRTYPE)
    bad = write(tmp_path / "other.tar.gz", tarball(extra=[device]))
    with pytest.raises(InputError, match=f"^{bad}: unsafe tarball member '{TOP}/dev': a "
                                         "character device; nothing was extracted$"):
        api.zoo_pull(MODEL.name, source=bad)
    assert cached_files(zoo_env) == before
    assert api.zoo_pull(MODEL.name) == folder
    assert server.gets() == [None]


def test_a_tampered_cached_tarball_is_refused_until_fetched_again(server, zoo_env):
    server.put()
    api.zoo_pull(MODEL.name)
    cached = zoo_env / "zoo" / f"{MODEL.name}.tar.gz"
    changed = bytearray(GOOD)
    changed[5000] ^= 0xFF
    cached.write_bytes(bytes(changed))
    hint = f"fetch it again with 'odwrap zoo pull {MODEL.name} --force'"
    with pytest.raises(InputError) as error:
        api.zoo_pull(MODEL.name)
    assert str(error.value) == (f"{cached}: the cached tarball's SHA-256 differs from its record "
                                f"(changed since it was fetched); {hint}")
    cached.write_bytes(GOOD[:1000])
    with pytest.raises(InputError) as error:
        api.zoo_checkpoint(MODEL.name)
    assert str(error.value) == (f"{cached}: the cached tarball is 1000 bytes, its record says "
                                f"{len(GOOD)} (truncated or changed); {hint}")
    cached.unlink()
    with pytest.raises(InputError, match=f"the cached tarball is missing; {hint}"):
        api.zoo_pull(MODEL.name)
    api.zoo_pull(MODEL.name, force=True)
    assert cached.read_bytes() == GOOD
    assert server.gets() == [None, None]


def test_a_lost_folder_is_extracted_again_without_the_network(server, monkeypatch, zoo_env,
                                                              closed_port):
    server.put()
    folder = api.zoo_pull(MODEL.name)
    (folder / "checkpoint" / "ckpt-0.index").unlink()
    monkeypatch.setenv("ODWRAP_ZOO_URL", f"http://127.0.0.1:{closed_port}")
    assert api.zoo_pull(MODEL.name) == folder
    assert (folder / "checkpoint" / "ckpt-0.index").exists()
    assert api.zoo_pull(MODEL.name) == folder  # recorded again: still no network needed
    assert server.gets() == [None]


def test_a_killed_pull_leaves_nothing_the_next_one_trusts(server, zoo_env):
    """A tarball and a folder without a record (killed before the record was written) and a
    staging folder are cleared; the model is fetched again."""
    zoo = zoo_env / "zoo"
    write(zoo / f"{MODEL.name}.tar.gz", b"not trusted")
    write(zoo / MODEL.name / "pipeline.config", b"stale")
    write(zoo / f".{MODEL.name}.extract-abc" / TOP / "x", b"")
    server.put()
    api.zoo_pull(MODEL.name)
    assert server.gets() == [None]
    assert (zoo / MODEL.name / "pipeline.config").read_bytes() != b"stale"
    assert not (zoo / f".{MODEL.name}.extract-abc").exists()


def test_a_reused_model_clears_the_staging_a_killed_forced_pull_left(server, zoo_env):
    """Issue 30: `pull --force` killed while extracting left an 800 MB staging folder beside a
    model whose record was still valid; the next pull reused the model and kept it."""
    server.put()
    api.zoo_pull(MODEL.name)
    zoo = zoo_env / "zoo"
    write(zoo / f".{MODEL.name}.extract-abc" / TOP / "checkpoint" / "big", b"x" * 1000)
    api.zoo_pull(MODEL.name)
    assert server.gets() == [None]  # reused, not fetched again
    assert not (zoo / f".{MODEL.name}.extract-abc").exists()


def test_a_second_pull_waits_for_the_first_and_downloads_nothing(server, zoo_env):
    server.put()
    server.chunk_delay = 0.02  # about 0.3 s for the whole tarball
    results, errors = [], []

    def run():
        try:
            results.append(pull.pull(MODEL.name))
        except Exception as exc:  # noqa: BLE001 (asserted below, with the thread's own error)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert server.gets() == [None]
    assert sorted(result.reused for result in results) == [False, True]


def test_a_pull_gives_up_waiting_naming_the_holder(zoo_env):
    item = cache.entry(MODEL)
    item.lock_folder.mkdir(parents=True)
    with FolderLock(item.lock_folder, "odwrap train"), pytest.raises(InputError) as error:
        pull.pull(MODEL.name, wait=0.3)
    assert not isinstance(error.value, FolderBusy)
    assert str(error.value).startswith(f"{MODEL.name}: still being pulled by 'odwrap train' "
                                       f"(pid {os.getpid()} on ")
    assert str(error.value).endswith("after 0.3 s; try again when it ends")


def test_the_cache_root(monkeypatch, tmp_path):
    monkeypatch.delenv("ODWRAP_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "odwrap"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "odwrap"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "odwrap"
    monkeypatch.setenv("ODWRAP_CACHE", str(tmp_path / "own"))
    assert cache.cache_root() == tmp_path / "own"


def test_a_cache_that_cannot_be_written(monkeypatch, tmp_path, server):
    server.put()
    blocker = write(tmp_path / "a-file", b"")
    monkeypatch.setenv("ODWRAP_CACHE", str(blocker / "cache"))
    with pytest.raises(InputError, match=r": cannot (make|write) the zoo cache here: .*; "
                                         "ODWRAP_CACHE moves it$"):
        api.zoo_pull(MODEL.name)


def test_a_cache_where_no_folder_can_be_made_is_bad_input(monkeypatch, tmp_path, server):
    """ODWRAP_CACHE=/proc/xx exited 1, as a failed run ("No such file or directory")."""
    server.put()
    monkeypatch.setenv("ODWRAP_CACHE", "/proc/odwrap-no-such-cache")
    with pytest.raises(InputError, match=r"^/proc/odwrap-no-such-cache/zoo: cannot make the zoo "
                                         "cache here: No such file or directory; ODWRAP_CACHE "
                                         "moves it$"):
        api.zoo_pull(MODEL.name)


class LocalGfile:
    """tf.io.gfile's calls that gcs.py makes, on local files (gs://bucket/X -> ROOT/X)."""

    def __init__(self, root):
        self.root = root
        self.opened = []

    def local(self, url):
        return self.root / url.removeprefix("gs://bucket/")

    def exists(self, url):
        return self.local(url).exists()

    def stat(self, url):
        return type("Stat", (), {"length": self.local(url).stat().st_size})()

    def GFile(self, url, mode):
        handle = open(self.local(url), mode)  # noqa: SIM115 (returned to a with)
        self.opened.append(handle)
        return handle


def gs_mirror(monkeypatch, tmp_path) -> None:
    """ODWRAP_ZOO_URL=gs://bucket/zoo, holding MODEL, answered from TMP_PATH/bucket."""
    from odwrap.zoo import gcs

    gfile = LocalGfile(tmp_path / "bucket")
    write(gfile.local(f"gs://bucket/zoo/{MODEL.url_path}"), GOOD)
    monkeypatch.setattr(gcs, "_gfile", lambda: gfile)
    monkeypatch.setenv("ODWRAP_ZOO_URL", "gs://bucket/zoo")


def test_a_gs_mirror_resumes_by_seeking(monkeypatch, tmp_path, zoo_env):
    """TensorFlow stays unimported: a local stand-in answers gcs.py's gfile calls."""
    gs_mirror(monkeypatch, tmp_path)
    write(zoo_env / "zoo" / f"{MODEL.name}.tar.gz.part", GOOD[:CUT])
    folder = api.zoo_pull(MODEL.name)
    assert (zoo_env / "zoo" / f"{MODEL.name}.tar.gz").read_bytes() == GOOD
    assert (folder / "pipeline.config").exists()
    with pytest.raises(InputError, match=r"gs://bucket/zoo/20200711/ssd_mobilenet_v2_fpnlite_"
                                         r"640x640_coco17_tpu-8\.tar\.gz: not found"):
        api.zoo_pull("ssd_mobilenet_v2_fpnlite_640x640_coco17_tpu-8")

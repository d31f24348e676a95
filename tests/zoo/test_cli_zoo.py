"""`odwrap zoo list` and `odwrap zoo pull`: what they print, and one line and the exit code
(2 bad input, 1 a failed run) for each failure, without a traceback."""

import tarfile

import pytest

from odwrap import cli
from tests.conftest import run_odwrap
from tests.zoo.conftest import GOOD, MODEL, TOP, member, tarball, write


def lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def test_list_shows_every_model_and_what_is_cached(server, capsys, zoo_env):
    assert cli.main(["zoo", "list"]) == 0
    out = lines(capsys.readouterr().out)
    assert out[0].split() == ["NAME", "FAMILY", "INPUT", "OUTPUTS", "CACHED"]
    assert len(out) == 1 + 43 + 1 and out[-1].startswith("43 model(s), 0 cached")
    row = next(line for line in out if line.startswith(MODEL.name + " "))
    assert row.split() == [MODEL.name, "ssd", "320x320", "boxes", "-"]
    server.put()
    assert cli.main(["zoo", "pull", MODEL.name]) == 0
    capsys.readouterr()
    assert cli.main(["zoo", "list", "--family", "ssd"]) == 0
    out = lines(capsys.readouterr().out)
    assert len(out) == 1 + 4 + 1 and out[-1].startswith("4 model(s), 1 cached")
    row = next(line for line in out if line.startswith(MODEL.name + " "))
    assert row.endswith(f"{len(GOOD) / 1e6:.1f} MB")


def test_pull_prints_the_checkpoint_prefix_last(server, capsys, zoo_env):
    url = server.put()
    assert cli.main(["zoo", "pull", MODEL.name]) == 0
    out = lines(capsys.readouterr().out)
    assert out == [f"downloading {url}", str(zoo_env / "zoo" / MODEL.name / "checkpoint" /
                                             "ckpt-0")]


@pytest.mark.parametrize("argv, message", [
    pytest.param(["zoo"], "odwrap zoo: the following arguments are required: SUBCOMMAND",
                 id="no-subcommand"),
    pytest.param(["zoo", "list", "--family", "yolo"], "odwrap zoo list: argument --family: "
                 "invalid choice: 'yolo'", id="bad-family"),
    pytest.param(["zoo", "pull", "ssd_mobilenet_v2_fpnlite_320"], "unknown zoo model "
                 "'ssd_mobilenet_v2_fpnlite_320'; did you mean 'ssd_mobilenet_v2_fpnlite_320x320_"
                 "coco17_tpu-8', 'ssd_mobilenet_v2_fpnlite_640x640_coco17_tpu-8', ",
                 id="unknown"),
    pytest.param(["zoo", "pull", MODEL.name, "--from", "/no/such.tar.gz"],
                 "/no/such.tar.gz: no such tarball", id="from-missing"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("odwrap: error: ") and err.count("\n") == 1
    assert message in err


def test_failures_end_to_end_exit_codes_and_no_traceback(server, tmp_path, closed_port,
                                                         zoo_env):
    env = {"ODWRAP_CACHE": str(zoo_env), "no_proxy": "*", "ODWRAP_ZOO_URL": server.base}
    hostile = write(tmp_path / "hostile.tar.gz", tarball(extra=[
        member(f"{TOP}/passwd", kind=tarfile.SYMTYPE, link="/etc/passwd")]))
    refused = run_odwrap("zoo", "pull", MODEL.name, "--from", hostile, env=env)
    assert (refused.returncode, refused.stdout) == (2, f"importing {hostile}\n")
    assert refused.stderr == (f"odwrap: error: {hostile}: unsafe tarball member '{TOP}/passwd': "
                              "a symbolic link to an absolute path ('/etc/passwd'); nothing was "
                              "extracted\n")
    missing = run_odwrap("zoo", "pull", MODEL.name, env=env)  # nothing served yet: 404
    assert missing.returncode == 2 and "not found (HTTP 404)" in missing.stderr
    offline = run_odwrap("zoo", "pull", MODEL.name,
                         env=dict(env, ODWRAP_ZOO_URL=f"http://127.0.0.1:{closed_port}"))
    assert offline.returncode == 1 and "connection refused" in offline.stderr
    for result in (missing, offline):
        assert result.stderr.startswith("odwrap: error: ") and result.stderr.count("\n") == 1
    server.put()
    assert run_odwrap("zoo", "pull", MODEL.name, env=env).returncode == 0
    (zoo_env / "zoo" / f"{MODEL.name}.tar.gz").write_bytes(GOOD[:-1] + b"!")
    tampered = run_odwrap("zoo", "pull", MODEL.name, env=env)
    assert tampered.returncode == 2 and tampered.stderr.count("\n") == 1
    assert tampered.stderr.endswith(f"fetch it again with 'odwrap zoo pull {MODEL.name} "
                                    "--force'\n")
    forced = run_odwrap("zoo", "pull", MODEL.name, "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.endswith(f"{zoo_env}/zoo/{MODEL.name}/checkpoint/ckpt-0\n")

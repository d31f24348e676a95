"""merge and trim given hostile input (issue 30): an output that is an input by any name is
refused before anything is written; rows pass one validator (ids of one type, finite boxes in
range, scores that are numbers, a top level of the right shape, bounded depth and line length),
so that what merge writes, trim reads back; fusion never writes NaN."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from odwrap import cli
from tests.conftest import run_python

ROWS = [{"image_id": 1, "category_id": 1, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.5},
        {"image_id": 2, "category_id": 2, "bbox": [0.0, 0.0, 9.0, 9.0], "score": 0.25}]


def odwrap(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _output_naming(kind, tmp_path, source):
    if kind == "same":
        return source
    if kind == "spelled":
        return tmp_path / "sub" / ".." / source.name
    output = tmp_path / f"{kind}.json"
    if kind == "link":
        output.symlink_to(source)
    else:
        os.link(source, output)
    return output


@pytest.mark.parametrize("kind", ["same", "spelled", "link", "hard link"])
def test_merge_refuses_an_output_that_is_one_of_its_inputs(tmp_path, capsys, kind):
    (tmp_path / "sub").mkdir()
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(ROWS))
    second.write_text(json.dumps(ROWS[:1]))
    before = first.read_bytes()
    output = _output_naming(kind, tmp_path, first)
    code, _, err = odwrap(capsys, "merge", output, first, second)
    assert code == 2, err
    assert f"{output}: is an input ({first}); write the merged file elsewhere" in err
    assert err.count("\n") == 1
    assert first.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


@pytest.mark.parametrize("kind", ["same", "link", "hard link"])
def test_trim_refuses_an_output_that_is_its_input(tmp_path, capsys, kind):
    (tmp_path / "sub").mkdir()
    source = tmp_path / "a.json"
    source.write_text(json.dumps(ROWS))
    before = source.read_bytes()
    output = _output_naming(kind, tmp_path, source)
    code, _, err = odwrap(capsys, "trim", source, "-o", output, "--min-score", 0.3)
    assert code == 2 and f"{output}: is an input ({source})" in err, err
    assert source.read_bytes() == before


def test_merge_into_a_new_file_beside_its_inputs_still_works(tmp_path, capsys):
    first = tmp_path / "a.json"
    first.write_text(json.dumps(ROWS))
    code, out, err = odwrap(capsys, "merge", tmp_path / "out.json", first, first)
    assert code == 0, err
    assert len(json.loads((tmp_path / "out.json").read_text())) == 2


def _write(path, items):
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(item) + "\n" for item in items))
    else:
        path.write_text(json.dumps(items))
    return path


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_an_id_of_another_type_is_refused_not_spread(tmp_path, capsys, suffix):
    """Case 4: a first row's "1" turned every category-1 row of the output into "1"."""
    first = _write(tmp_path / f"a{suffix}", [{**ROWS[0], "category_id": "1"}, ROWS[1]])
    second = _write(tmp_path / f"b{suffix}", ROWS)
    code, _, err = odwrap(capsys, "merge", tmp_path / f"out{suffix}", first, second)
    assert code == 2 and "category_id '1' is not an integer" in err, err
    first = _write(tmp_path / f"a{suffix}", [{**ROWS[0], "image_id": "1"}, ROWS[1]])
    code, _, err = odwrap(capsys, "merge", tmp_path / f"out{suffix}", first, second)
    assert code == 2 and "image_id 2 is a int where the file's first row has a str" in err, err
    assert not (tmp_path / f"out{suffix}").exists()


@pytest.mark.parametrize("suffix, where", [(".json", ": item 0"), (".jsonl", ":1")])
def test_an_image_id_of_another_type_in_another_input_is_refused(tmp_path, capsys, suffix,
                                                                  where):
    """Issue 30: merge o s i, where s had image_id "1" and o and i had 1, exited 0 with every
    row's image_id "1": merge groups images by their text, across its inputs."""
    first = _write(tmp_path / f"o{suffix}", ROWS)
    strings = _write(tmp_path / f"s{suffix}", [{**row, "image_id": str(row["image_id"])}
                                                for row in ROWS])
    last = _write(tmp_path / f"i{suffix}", ROWS)
    output = tmp_path / f"out{suffix}"
    code, _, err = odwrap(capsys, "merge", output, first, strings, last)
    assert code == 2 and err == (f"odwrap: error: {strings}{where}: image_id '1' is a str where "
                                 f"{first}'s first row has a int\n"), err
    assert not output.exists()
    assert odwrap(capsys, "merge", output, strings, strings)[0] == 0  # one type: merged


@pytest.mark.parametrize("change, message", [
    ({"score": True}, "score True is not a number"),
    ({"bbox": "1234"}, "bbox '1234' is not [x, y, width, height]"),
    ({"category_id": None}, "category_id None is not an integer"),
    ({"bbox": [1e308, 0, 1e308, 1]}, "is not a box (finite, within 1e+07 pixels, min <= max)"),
    ({"score": 10 ** 400}, "is out of range"),
    ({"bbox": [1, 2, 3, [[[[4]]]]]}, "bbox [[[[4]]]] is not a number"),
    # An id no 64-bit integer holds: read as an int, written with 309 digits, which the
    # reader then refused (integer overflow); the fuzz test found 1e308.
    ({"image_id": 1e308}, "image_id 1e+308 is not an integer of 64 bits or a string"),
    ({"category_id": 2 ** 63}, f"category_id {2 ** 63} is not an integer of 64 bits"),
])
def test_a_bad_value_is_refused_naming_the_row(tmp_path, capsys, change, message):
    source = _write(tmp_path / "a.jsonl", [ROWS[0], {**ROWS[1], **change}])
    code, _, err = odwrap(capsys, "trim", source, "-o", tmp_path / "out.jsonl")
    assert code == 2 and f"{source}:2: " in err and message in err, err
    assert err.count("\n") == 1 and not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize("command", ["merge", "trim"])
def test_a_json_lines_number_that_is_not_finite_is_refused_naming_the_line(tmp_path, capsys,
                                                                          command, number):
    """Issue 30: NaN, Infinity or 1e400 under a key of its own passed the reader and failed
    at the writer ('Out of range float values are not JSON compliant', a traceback)."""
    source = tmp_path / "a.jsonl"
    source.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1])[:-1]
                      + f', "area": {number}}}\n')
    output = tmp_path / "out.jsonl"
    argv = ["merge", output, source, source] if command == "merge" else \
        ["trim", source, "-o", output]
    code, _, err = odwrap(capsys, *argv)
    assert code == 2 and err == f"odwrap: error: {source}:2: {number} is not a finite number\n", \
        err
    assert not output.exists()


@pytest.mark.parametrize("text, message", [
    ('{"image_id": 1}', "not a COCO results JSON array (an object)"),
    ("3", "not a COCO results JSON array (a number)"),
])
def test_a_coco_file_of_another_shape_is_refused(tmp_path, capsys, text, message):
    """A top level object or scalar merged as 0 rows, exit 0; nested brackets used many GB."""
    source = tmp_path / "a.json"
    source.write_text(text)
    code, _, err = odwrap(capsys, "trim", source, "-o", tmp_path / "out.json")
    assert code == 2 and message in err, err


@pytest.mark.parametrize("name, content, message", [
    ("a.jsonl",
     b'{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5, "x": "\xff"}\n',
     "a.jsonl:1: not UTF-8 text (byte 76)"),
    ("a.json",
     b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5, "x": "\xff"}]',
     "a.json: not a COCO results JSON array (lexical error: invalid bytes in UTF8 string.)"),
    ("a.csv", b"ImageId,PredictionString\nimg\xff,/m/01 0.5 0.1 0.2 0.3 0.4\n",
     "a.csv: not UTF-8 text (byte 28)"),
])
@pytest.mark.parametrize("command", ["merge", "trim"])
def test_a_file_that_is_not_utf8_is_one_line(tmp_path, capsys, command, name, content,
                                             message):
    """Issue 30: the .json line held ijson's reason as bytes (a stray b'...' and escapes)."""
    source = tmp_path / name
    source.write_bytes(content)
    output = tmp_path / f"out{source.suffix}"
    argv = ["merge", output, source, source] if command == "merge" else \
        ["trim", source, "-o", output]
    code, _, err = odwrap(capsys, *argv)
    assert code == 2 and err == f"odwrap: error: {tmp_path / message}\n", err


@pytest.mark.parametrize("string, message", [
    ("/m/01 0.5 0.1 0.2 nan 0.4", "box 0.1 0.2 nan 0.4 is not a box"),
    ("/m/01 0.5 0.1 0.2 inf 0.4", "box 0.1 0.2 inf 0.4 is not a box"),
    ("/m/01 0.5 0.3 0.2 0.1 0.4", "box 0.3 0.2 0.1 0.4 is not a box"),
    ("/m/01 0.5 0.1 0.2 0.3 1.5", "box 0.1 0.2 0.3 1.5 is not a box (finite, in [0, 1]"),
])
def test_an_open_images_box_that_is_no_box_is_refused(tmp_path, capsys, string, message):
    """Case 6: nan, inf and inverted boxes passed through merge and trim."""
    (tmp_path / "a.csv").write_text(f"ImageId,PredictionString\nimg1,{string}\n")
    for argv in (["trim", tmp_path / "a.csv", "-o", tmp_path / "out.csv"],
                 ["merge", tmp_path / "out.csv", tmp_path / "a.csv", tmp_path / "a.csv"]):
        code, _, err = odwrap(capsys, *argv)
        assert code == 2 and f"a.csv:2: {message}" in err, err


def test_an_open_images_line_of_thousands_of_detections_reads_back(tmp_path, capsys):
    """merge --join wrote a field over csv's 131,072-character default that trim then refused."""
    groups = [f"/m/0bt9l{index % 7} 0.{index % 9 + 1}23456 0.123456 0.234567 0.345678 0.456789"
              for index in range(3_000)]
    for name, part in (("a", groups[:1500]), ("b", groups[1500:])):
        (tmp_path / f"{name}.csv").write_text(f"ImageId,PredictionString\nimg1,{' '.join(part)}\n")
    code, _, err = odwrap(capsys, "merge", tmp_path / "joined.csv", tmp_path / "a.csv",
                          tmp_path / "b.csv", "--join")
    assert code == 0, err
    assert len((tmp_path / "joined.csv").read_text()) > 131_072
    code, out, err = odwrap(capsys, "trim", tmp_path / "joined.csv", "-o", tmp_path / "t.csv")
    assert code == 0 and "kept 3000 of 3000" in out, err


def test_join_with_a_method_is_refused(tmp_path, capsys):
    source = _write(tmp_path / "a.json", ROWS)
    code, _, err = odwrap(capsys, "merge", tmp_path / "out.json", source, source, "--join",
                          "--method", "wbf")
    assert code == 2 and "not allowed with argument" in err, err


@pytest.mark.parametrize("options, message", [
    (["--join", "--weights", "2,1"], "--weights: --join does not use it (it is for Soft-NMS and "
                                     "wbf)"),
    (["--join", "--decay", "linear"], "--decay: --join does not use it (it is for Soft-NMS)"),
    (["--join", "--iou", "0.3"], "--iou: --join does not use it"),
    (["--method", "wbf", "--decay", "gaussian"], "--decay: --method wbf does not use it (it is "
                                                 "for Soft-NMS)"),
    (["--method", "wbf", "--sigma", "0.3"], "--sigma: --method wbf does not use it (it is for "
                                            "Soft-NMS's gaussian decay)"),
    (["--method", "wbf", "--floor", "0"], "--floor: --method wbf does not use it"),
    (["--sigma", "0.3"], "--sigma: --decay linear (Soft-NMS) does not use it"),
    (["--decay", "gaussian", "--iou", "0.3"], "--iou: --decay gaussian (Soft-NMS) does not use "
                                              "it (it is for Soft-NMS's linear decay and wbf)"),
])
def test_an_option_the_method_does_not_use_is_refused(tmp_path, capsys, options, message):
    """Issue 30: --join took --weights and --decay, --method wbf --decay and --sigma, and
    ignored them; each is refused in one line, as --join --method wbf is."""
    source = _write(tmp_path / "a.json", ROWS)
    code, _, err = odwrap(capsys, "merge", tmp_path / "out.json", source, source, *options)
    assert code == 2 and err.startswith(f"odwrap: error: {message}") and err.count("\n") == 1, \
        err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("options", [[], ["--decay", "gaussian", "--sigma", "0.3", "--floor",
                                          "0.2", "--weights", "2,1"],
                                     ["--method", "wbf", "--iou", "0.3", "--weights", "2,1"]])
def test_the_options_a_method_uses_are_taken(tmp_path, capsys, options):
    source = _write(tmp_path / "a.json", ROWS)
    code, _, err = odwrap(capsys, "merge", tmp_path / "out.json", source, source, *options)
    assert code == 0, err


@pytest.mark.parametrize("method", ["soft-nms", "wbf"])
@pytest.mark.parametrize("weights, scores", [(None, (0.0, 0.0)), ("1e308,1e308", (0.5, 0.6))])
def test_fusion_writes_finite_rows_that_trim_reads_back(tmp_path, capsys, method, weights,
                                                         scores):
    """Case 5: wbf over boxes of score 0 gave NaN boxes; weights of 1e308 gave NaN scores (wbf)
    or dropped every row (soft-nms)."""
    first = _write(tmp_path / "a.json", [{**ROWS[0], "score": scores[0]}])
    second = _write(tmp_path / "b.json", [{**ROWS[0], "bbox": [1.5, 2, 3, 4],
                                           "score": scores[1]}])
    floor = ["--floor", 0] if method == "soft-nms" else []  # wbf keeps every cluster
    code, out, err = odwrap(capsys, "merge", tmp_path / "out.json", first, second, "--method",
                            method, *floor, *(["--weights", weights] if weights else []))
    assert code == 0, err
    merged = json.loads((tmp_path / "out.json").read_text())
    assert merged, out
    for row in merged:
        assert all(map(math.isfinite, [*row["bbox"], row["score"]])), row
    if weights:  # equal weights, however large, leave the scores as they were
        expected = 0.6 if method == "soft-nms" else 0.55  # wbf: the cluster's mean score
        assert max(row["score"] for row in merged) == pytest.approx(expected)
    assert odwrap(capsys, "trim", tmp_path / "out.json", "-o", tmp_path / "t.json")[0] == 0


LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))
from odwrap import cli
sys.exit(cli.main(sys.argv[1:]))
""".replace("GIB", str(2**30))


def run_limited(*argv):
    """odwrap ARGV in a child whose address space is capped at 1 GiB: past it, MemoryError."""
    return run_python(["-c", LIMITED, *map(str, argv)], timeout=600)


@pytest.mark.parametrize("name, content, message", [
    ("a.json", b"[" * 400_000 + b"]" * 400_000, "nested over 32 levels deep"),
    ("a.json", b'[{"image_id": ' + b"[" * 400_000, "nested over 32 levels deep"),
    ("a.jsonl", b"[" * 400_000 + b"]" * 400_000 + b"\n", "a.jsonl:1: nested too deep"),
])
def test_nested_brackets_are_refused_in_under_a_gigabyte(tmp_path, name, content, message):
    """Case 10: 400 KB of nested brackets made merge and trim use over 23 GB."""
    (tmp_path / name).write_bytes(content)
    for argv in (["trim", tmp_path / name, "-o", tmp_path / f"out{Path(name).suffix}"],
                 ["merge", tmp_path / f"m{Path(name).suffix}", tmp_path / name,
                  tmp_path / name]):
        result = run_limited(*argv)
        assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("method", ["soft-nms", "wbf"])
def test_twelve_thousand_detections_of_one_image_and_class_fuse_in_under_a_gigabyte(
        tmp_path, method):
    """Case 11: 20,000 rows of one group made Soft-NMS allocate 3 GiB IoU matrices; 12,000
    rows (a 1.1 GiB matrix) are past the limit here."""
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 1000, (12_000, 2))
    sizes = rng.uniform(5, 50, (12_000, 2))
    items = [{"image_id": 1, "category_id": 1, "bbox": [*map(float, corner), *map(float, size)],
              "score": float(score)}
             for corner, size, score in zip(corners, sizes, rng.uniform(0, 1, 12_000))]
    half = len(items) // 2
    first, second = _write(tmp_path / "a.json", items[:half]), _write(tmp_path / "b.json",
                                                                       items[half:])
    result = run_limited("merge", tmp_path / "out.json", first, second, "--method", method)
    assert result.returncode == 0, result.stderr[-2000:]
    merged = json.loads((tmp_path / "out.json").read_text())
    assert 0 < len(merged) <= 12_000
    assert all(math.isfinite(row["score"]) for row in merged)


def test_a_group_over_the_limit_is_refused_naming_it(tmp_path, capsys):
    items = [{**ROWS[0], "image_id": 7, "category_id": 3}] * 10_001
    first, second = _write(tmp_path / "a.jsonl", items), _write(tmp_path / "b.jsonl", items)
    code, _, err = odwrap(capsys, "merge", tmp_path / "out.jsonl", first, second)
    assert code == 2 and "image 7, class 3: 20,002 detections, over odwrap's limit of 20,000" \
        in err, err


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_merge_removes_what_a_killed_one_left_and_only_that(tmp_path, capsys):
    """A killed merge left .OUT.merge.*/ and .OUT.*.tmp (tens of MB) that no run removed; one
    still running keeps its own, and a link among them is removed, not followed."""
    dead, alive = _dead_pid(), os.getpid()
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "kept.jsonl").write_text("decoy")
    left = {tmp_path / f".out.json.merge.{dead}.ab12": "folder",
            tmp_path / f".out.json.{dead}.cd34.tmp": "file",
            tmp_path / f".out.json.merge.{dead}.link": "link"}
    running = {tmp_path / f".out.json.merge.{alive}.ef56": "folder",
               tmp_path / f".out.json.{alive}.gh78.tmp": "file"}
    for path, kind in {**left, **running}.items():
        if kind == "folder":
            path.mkdir()
            (path / "0.jsonl").write_text("x" * 1000)
        elif kind == "file":
            path.write_text("[")
        else:
            path.symlink_to(decoy)
    first = _write(tmp_path / "a.json", ROWS)
    code, _, err = odwrap(capsys, "merge", tmp_path / "out.json", first, first)
    assert code == 0, err
    assert not any(os.path.lexists(path) for path in left)
    assert all(path.exists() for path in running)
    assert (decoy / "kept.jsonl").read_text() == "decoy"
    code, _, err = odwrap(capsys, "trim", first, "-o", tmp_path / "out.json")
    assert code == 0 and (tmp_path / f".out.json.{alive}.gh78.tmp").exists(), err


@pytest.mark.parametrize("command", ["merge", "trim"])
@pytest.mark.parametrize("case", ["a folder", "under a file"])
def test_an_output_that_cannot_be_a_file_is_refused(tmp_path, capsys, command, case):
    source = _write(tmp_path / "a.json", ROWS)
    if case == "a folder":
        output = tmp_path / "out.json"
        output.mkdir()
    else:
        (tmp_path / "file").write_text("x")
        output = tmp_path / "file" / "out.json"
    argv = ["merge", output, source, source] if command == "merge" else \
        ["trim", source, "-o", output]
    code, _, err = odwrap(capsys, *argv)
    what = "merged file" if command == "merge" else "trimmed file"
    message = f"is a folder; give the {what}'s file name" if case == "a folder" else \
        f"cannot write the {what}: {tmp_path / 'file'} is not a folder"
    assert code == 2 and message in err and "Traceback" not in err, err


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux's /proc/self/fd")
@pytest.mark.parametrize("command", ["merge", "trim"])
@pytest.mark.parametrize("under", ["", "new/"])
def test_an_output_where_no_file_can_be_made_is_refused(tmp_path, capsys, command, under):
    """Issue 30: as root, -o /proc/out.json (mkstemp) and /proc/xx/out.json (mkdir) were
    tracebacks: os.access lets root write anywhere, and the kernel refuses. Here the folder is
    this test's, removed while open: /proc/self/fd/N names it, and nothing can be made in it."""
    source = _write(tmp_path / "a.json", ROWS)
    gone = tmp_path / "gone"
    gone.mkdir()
    handle = os.open(gone, os.O_RDONLY | os.O_DIRECTORY)
    try:
        gone.rmdir()
        output = Path(f"/proc/self/fd/{handle}/{under}out.json")
        argv = ["merge", output, source, source] if command == "merge" else \
            ["trim", source, "-o", output]
        code, _, err = odwrap(capsys, *argv)
    finally:
        os.close(handle)
    what = "merged file" if command == "merge" else "trimmed file"
    assert code == 2 and err == (f"odwrap: error: {output}: cannot write the {what}: no file or "
                                 "folder can be made there (No such file or directory)\n"), err
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


@pytest.mark.parametrize("make, message", [
    (lambda path: path.mkdir(), "a folder, not a detection file"),
    (lambda path: os.mkfifo(path), "not a regular file (a FIFO, a socket or a device)"),
])
def test_a_folder_or_fifo_as_an_input_says_what_it_is(tmp_path, capsys, make, message):
    """They were "no such file"; a FIFO is never opened (it would wait for a writer)."""
    odd = tmp_path / "odd.json"
    make(odd)
    source = _write(tmp_path / "a.json", ROWS)
    code, _, err = odwrap(capsys, "merge", tmp_path / "out.json", source, odd)
    assert code == 2 and f"{odd}: {message}" in err, err
    code, _, err = odwrap(capsys, "trim", odd, "-o", tmp_path / "out.json")
    assert code == 2 and f"{odd}: {message}" in err, err


def test_a_failed_merge_removes_the_folders_it_made(tmp_path, capsys):
    good = _write(tmp_path / "a.json", ROWS)
    bad = _write(tmp_path / "b.json", [ROWS[0], {**ROWS[1], "score": "high"}])
    output = tmp_path / "new" / "deeper" / "out.json"
    code, _, err = odwrap(capsys, "merge", output, good, bad)
    assert code == 2 and "score 'high' is not a number" in err, err
    assert not (tmp_path / "new").exists()
    code, _, err = odwrap(capsys, "trim", bad, "-o", output)
    assert code == 2 and not (tmp_path / "new").exists(), err


FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
from odwrap import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["merge", "trim"])
def test_a_disk_that_fills_up_is_one_line_and_leaves_nothing(tmp_path, command):
    """ENOSPC (here EFBIG, a file-size limit of 20 kB) was a traceback."""
    items = [{**ROWS[0], "image_id": index} for index in range(2_000)]
    source = tmp_path / "big.json"
    source.write_text(json.dumps(items))  # written before the limit, in this process
    output = tmp_path / "out" / "out.json"
    argv = ["merge", output, source, source] if command == "merge" else \
        ["trim", source, "-o", output]
    result = run_python(["-c", FULL_DISK, *map(str, argv)])
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{output}: cannot write the" in result.stderr and "File too large" in result.stderr
    assert not (tmp_path / "out").exists()


def test_links_in_the_output_folder_are_replaced_never_written_through(tmp_path, capsys):
    """Issue 30: merge, trim and convert never write outside their output folder, whatever
    links it holds: each link points at a decoy this test made, which stays as it was."""
    from tests import datasets

    decoys = tmp_path / "decoys"
    decoys.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    names = ["merged.json", "trimmed.jsonl", "label_map.pbtxt", "report.json",
             "data-00000-of-00001.tfrecord"]
    for name in names:
        (decoys / name).write_text("decoy")
        (out / name).symlink_to(decoys / name)
    source = _write(tmp_path / "a.json", ROWS)
    assert odwrap(capsys, "merge", out / "merged.json", source, source)[0] == 0
    assert odwrap(capsys, "trim", source, "-o", out / "trimmed.jsonl")[0] == 0
    voc = datasets.voc(tmp_path / "voc", images=3)
    assert odwrap(capsys, "convert", "voc", voc, "-o", out)[0] == 0
    assert all((decoys / name).read_text() == "decoy" for name in names)
    assert not any((out / name).is_symlink() for name in names)
    assert len(json.loads((out / "merged.json").read_text())) == 2


def test_an_output_folder_given_as_a_link_is_followed(tmp_path, capsys):
    """`convert -o LINK`, LINK a link to a folder: the user named that folder, as `cp FILE
    LINK/` would take it, so convert writes there and LINK stays a link; links convert finds
    *inside* its output folder it never follows (the test above). The folder's other files
    stay as they were."""
    from tests import datasets

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's own")
    link = tmp_path / "out"
    link.symlink_to(folder)
    voc = datasets.voc(tmp_path / "voc", images=3)
    assert odwrap(capsys, "convert", "voc", voc, "-o", link)[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(folder)
    assert (folder / "notes.txt").read_text() == "the user's own"
    written = [path for path in folder.iterdir() if path.name != "notes.txt"]
    assert {"label_map.pbtxt", "report.json"} <= {path.name for path in written}
    assert any(path.suffix == ".tfrecord" for path in written)
    assert all(path.is_file() and not path.is_symlink() for path in written)


def test_reading_a_submission_leaves_the_process_csv_limit_as_it_was(tmp_path, capsys):
    """csv's field limit is process-wide: raising it for good made convert's CSV reader take
    fields past its own limit in the same process (a notebook, the test worker)."""
    import csv

    before = csv.field_size_limit()
    (tmp_path / "a.csv").write_text("ImageId,PredictionString\nimg1,/m/01 0.5 0.1 0.2 0.3 0.4\n")
    assert odwrap(capsys, "trim", tmp_path / "a.csv", "-o", tmp_path / "out.csv")[0] == 0
    assert csv.field_size_limit() == before

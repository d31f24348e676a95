"""merge and trim given hostile arrangements of their own files (issue 30): an output that is an
input by any name is refused before anything is written, and the input is kept as it was."""

import json
import os

import pytest

from odwrap import cli

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

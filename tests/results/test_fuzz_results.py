"""Fuzz merge and trim's readers (Hypothesis): COCO results .json, JSON Lines and Open Images
.csv, as arbitrary bytes and as rows with hostile values (NaN, 1e400, huge integers, ids of
every type, nesting, boxes out of range). Whatever the input: rows or odwrap's InputError, never
another exception; every row read has a finite box in range and a finite score of at least 0,
what the writer makes of the rows reads back, and merge and trim leave nothing but their output
beside it."""

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from odwrap import api
from odwrap.errors import InputError
from odwrap.results import rows
from tests.fuzzing import JSON_ANY, SCALAR, TEXT, mostly

pytestmark = pytest.mark.fuzz

NUMBER = st.one_of(st.integers(0, 200), st.floats(0, 200),
                   st.sampled_from([math.nan, math.inf, -math.inf, -1, 1e308, 9_999_999.996,
                                    2 ** 64, 10 ** 400, 5e-324]), SCALAR)
SCORE = st.one_of(st.floats(0, 1), st.sampled_from([0, 1, -1e-9, 1e308, 10 ** 400]), SCALAR)
IDENTIFIER = st.one_of(st.integers(0, 3), st.sampled_from(["1", "a", "", "a,b", '"', "\n"]),
                       st.floats(0, 3), SCALAR)
ITEM = st.one_of(
    st.fixed_dictionaries(
        {"image_id": IDENTIFIER, "category_id": IDENTIFIER,
         "bbox": st.one_of(st.lists(NUMBER, min_size=4, max_size=4), JSON_ANY), "score": SCORE},
        optional={"segmentation": JSON_ANY, "id": IDENTIFIER, "area": NUMBER}),
    JSON_ANY)
# Rows that pass, so that most cases reach the writer and the merge, with a bad one among them.
GOOD_ITEM = st.fixed_dictionaries(
    {"image_id": st.integers(0, 3), "category_id": st.integers(1, 3),
     "bbox": st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(0, 50),
                       st.floats(0, 50)).map(list),
     "score": st.floats(0, 1)})
# A sound row with one value replaced (a key of its own: what rides along in `extra`).
ONE_BAD = st.builds(lambda item, key, value: {**item, key: value}, GOOD_ITEM,
                    st.sampled_from([*rows.COCO_KEYS, "area"]), st.one_of(NUMBER, JSON_ANY))
ITEMS = st.lists(mostly(GOOD_ITEM, st.one_of(ONE_BAD, ITEM), odds=2), max_size=6)
BYTES = st.one_of(st.binary(max_size=120),
                  st.sampled_from([b"[" * 5000, b'[{"image_id": ' + b"[" * 5000, b"\xff\xfe",
                                   b"ImageId,PredictionString\n\"img", b"\0" * 10]))


def coco_bytes(items) -> bytes:
    return json.dumps(items).encode()  # NaN and Infinity as Python spells them


def jsonl_bytes(items) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


NUMBER_TEXT = st.one_of(st.floats(0, 1).map(repr), st.sampled_from(
    ["nan", "inf", "-inf", "1e400", "-0", "1.5", "", "0x1", "1_0", "9" * 400]), TEXT)
GROUP = st.tuples(st.one_of(st.sampled_from(["/m/01", "/m/02"]), TEXT), *[NUMBER_TEXT] * 5)
GOOD_GROUP = st.tuples(
    st.sampled_from(["/m/01", "/m/02"]), st.floats(0, 1).map(repr),
    st.lists(st.floats(0, 1), min_size=2, max_size=2).map(sorted),
    st.lists(st.floats(0, 1), min_size=2, max_size=2).map(sorted)).map(
        lambda g: (g[0], g[1], *map(repr, (g[2][0], g[3][0], g[2][1], g[3][1]))))


def oid_line(groups):
    return st.tuples(st.one_of(st.sampled_from(["img1", "img2"]), TEXT),
                     st.lists(groups, max_size=3).map(
                         lambda found: " ".join(" ".join(group) for group in found)))


OID_LINE = oid_line(st.one_of(GOOD_GROUP, GROUP))
GOOD_OID_LINE = oid_line(GOOD_GROUP)


def oid_bytes(header: bool, lines) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(rows.OID_HEADER.split(","))
    writer.writerows(lines)
    return buffer.getvalue().encode("utf-8", "surrogatepass")


# Files of sound rows, so that many cases reach the writer (and a merge, which one bad file
# refuses), and hostile ones: sound rows with bad ones among them, and bytes.
SOUND = {".json": st.lists(GOOD_ITEM, max_size=6).map(coco_bytes),
         ".jsonl": st.lists(GOOD_ITEM, max_size=6).map(jsonl_bytes),
         ".csv": st.builds(oid_bytes, st.just(True), st.lists(GOOD_OID_LINE, max_size=4))}
HOSTILE = {".json": st.one_of(ITEMS.map(coco_bytes), BYTES),
           ".jsonl": st.one_of(ITEMS.map(jsonl_bytes), BYTES),
           ".csv": st.one_of(st.builds(oid_bytes, st.booleans(), st.lists(OID_LINE, max_size=4)),
                             BYTES)}
FILES = {suffix: mostly(SOUND[suffix], HOSTILE[suffix], odds=1) for suffix in SOUND}
A_FILE = st.sampled_from(sorted(FILES)).flatmap(
    lambda suffix: FILES[suffix].map(lambda data: (suffix, data)))


def read_checked(path: Path) -> list | None:
    """PATH's rows, each checked; None when it is refused as bad input."""
    try:
        found = list(rows.read(path))
    except InputError as exc:
        event(f"refused: {str(exc).split(': ', 2)[-1][:30]}")
        return None
    normalized = path.suffix == ".csv"
    for row in found:
        if row.label is None:  # an Open Images image marker
            continue
        assert math.isfinite(row.score) and row.score >= 0, row
        assert len(row.box) == 4 and all(map(math.isfinite, row.box)), row
        assert row.box[0] <= row.box[2] and row.box[1] <= row.box[3], row
        limit = 1.0 + 1e-6 if normalized else rows.MAX_COORDINATE
        assert all(abs(value) <= limit for value in row.box), row
        assert isinstance(row.image, str if normalized else (int, str)), row
        assert isinstance(row.label, str if normalized else int), row
    event(f"rows read: {min(len(found), 3)}{'+' if len(found) > 3 else ''}")
    return found


@given(file=A_FILE)
def test_fuzz_a_detection_file_reads_as_rows_that_write_and_read_back(file):
    suffix, data = file
    with tempfile.TemporaryDirectory() as sandbox:
        source = Path(sandbox) / f"in{suffix}"
        source.write_bytes(data)
        found = read_checked(source)
        if found is None:
            return
        output = Path(sandbox) / f"out{suffix}"
        try:
            with rows.Writer(output) as writer:
                for row in found:
                    writer.write(row)
        except InputError:  # an ImageId that no submission CSV can hold
            assert suffix == ".csv"
            return
        again = read_checked(output)
        assert again is not None
        assert [(row.image, row.label) for row in again if row.label is not None] == \
            [(row.image, row.label) for row in found if row.label is not None]


# JSON numbers as a file may spell them, that Python's floats cannot hold or JSON does not have.
TOKENS = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "9" * 400,
                          "-0", "1E+2", "[[[[[[1]]]]]]", '"\\ud800"', "true", "null", '"1"'])


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
@given(items=st.lists(GOOD_ITEM, min_size=1, max_size=2), index=st.integers(0, 1),
       key=st.sampled_from([*rows.COCO_KEYS, "bbox0", "area"]), token=TOKENS)
def test_fuzz_one_number_spelled_anyhow_in_a_sound_file(suffix, items, index, key, token):
    """A sound file with one value written as TOKEN (under a key of its own too: what rides
    along): refused, or read, written and read back."""
    item = dict(items[index % len(items)])
    if key == "bbox0":
        item["bbox"] = ["@", *item["bbox"][1:]]
    else:
        item[key] = "@"
    texts = [json.dumps(other) for other in items]
    texts[index % len(items)] = json.dumps(item).replace('"@"', token)
    data = ("[" + ",\n".join(texts) + "]" if suffix == ".json" else "\n".join(texts)).encode()
    test_fuzz_a_detection_file_reads_as_rows_that_write_and_read_back.hypothesis.inner_test(
        file=(suffix, data))


FAMILIES = st.one_of(st.lists(st.sampled_from([".json", ".jsonl"]), min_size=1, max_size=3),
                     st.integers(1, 3).map(lambda count: [".csv"] * count))
METHODS = st.sampled_from([{}, {"method": "wbf"}, {"method": "join"},
                           {"decay": "gaussian", "sigma": 0.3}, {"floor": 0.0},
                           {"method": "wbf", "iou": 0.1}, {"method": "join", "decay": "linear"}])


@st.composite
def merge_inputs(draw):
    """(suffix and bytes of each input, the output's suffix)"""
    suffixes = draw(FAMILIES)
    files = [(suffix, draw(mostly(SOUND[suffix], HOSTILE[suffix]))) for suffix in suffixes]
    target = ".csv" if suffixes[0] == ".csv" else draw(st.sampled_from([".json", ".jsonl"]))
    return files, target


@given(inputs=merge_inputs(), options=METHODS, max_total=st.one_of(st.none(), st.integers(0, 4)),
       min_score=st.sampled_from([0.0, 0.5]))
def test_fuzz_merge_then_trim(inputs, options, max_total, min_score):
    """merge and trim end to end on fuzzed inputs: a result, or InputError; what merge wrote
    trim reads; nothing is left beside the output but the output."""
    files, target = inputs
    with tempfile.TemporaryDirectory() as sandbox:
        sandbox = Path(sandbox)
        paths = []
        for index, (suffix, data) in enumerate(files):
            paths.append(sandbox / f"in{index}{suffix}")
            paths[-1].write_bytes(data)
        before = sorted(os.listdir(sandbox))
        merged = sandbox / f"merged{target}"
        try:
            result = api.merge(merged, paths, **options)
        except InputError as exc:
            event(f"merge refused: {str(exc).split(': ', 2)[-1][:30]}")
            assert sorted(os.listdir(sandbox)) == before
            return
        assert sorted(os.listdir(sandbox)) == sorted([*before, merged.name])
        assert result.rows_out <= result.rows_in
        assert read_checked(merged) is not None
        trimmed = sandbox / f"trimmed{target}"
        kept = api.trim(merged, trimmed, min_score=min_score, max_total=max_total)
        assert kept.rows_out <= (max_total if max_total is not None else kept.rows_in)
        assert sorted(os.listdir(sandbox)) == sorted([*before, merged.name, trimmed.name])
        assert len([row for row in read_checked(trimmed) if row.label is not None]) == \
            kept.rows_out

"""Fuzz predict's readers that need no model (Hypothesis): a labels.txt, and what a killed run
left in its output folder (predict.run.json, images.jsonl.part, detections.jsonl.part) as the
next run reads it back (predict._resume). Whatever the bytes: class names or a resumed state, or
odwrap's InputError, never another exception; a resumed state is a count of whole log lines,
each an image's, and a detections file cut to as many lines as they count."""

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from odwrap.deploy import predict
from odwrap.errors import InputError
from tests.fuzzing import JSON_ANY, SCALAR, TEXT, mostly

pytestmark = pytest.mark.fuzz

RUN = {"model": "/models/m.tflite", "threshold": 0.5, "runtime": "ai-edge-litert"}
HOSTILE_BYTES = st.one_of(st.binary(max_size=80), st.sampled_from(
    [b"[" * 100_000 + b"]" * 100_000, b'{"detections": ' + b"[" * 100_000, b"\xff\n", b"\0"]))

# A log line as predict writes it (an image read, or skipped), with hostile values among them.
LOG_ENTRY = st.fixed_dictionaries(
    {"image_id": st.one_of(st.integers(0, 9), TEXT), "filename": TEXT},
    optional={"detections": mostly(st.integers(0, 3), SCALAR),
              "skipped": TEXT, "width": st.integers(1, 99)})
LOG_LINE = mostly(LOG_ENTRY.map(json.dumps), st.one_of(
    JSON_ANY.map(json.dumps), st.sampled_from(["[" * 5000 + "]" * 5000, "{", "",
                                               '{"detections": 1'])), odds=2).map(str.encode)
LOG = st.one_of(st.builds(lambda lines, tail: b"".join(line + b"\n" for line in lines) + tail,
                          st.lists(LOG_LINE, max_size=4), st.sampled_from([b"", b'{"ima'])),
                HOSTILE_BYTES)
DETECTIONS = st.one_of(st.builds(lambda count, tail: b'{"id": 1}\n' * count + tail,
                                 st.integers(0, 8), st.sampled_from([b"", b'{"id"'])),
                       HOSTILE_BYTES)
# This run's record mostly, so that most cases reach the log; another run's, or none, or bytes.
RECORD = mostly(st.just(json.dumps(RUN).encode()), st.one_of(
    st.none(), HOSTILE_BYTES, st.dictionaries(st.sampled_from(sorted(RUN)), JSON_ANY).map(
        lambda changed: json.dumps({**RUN, **changed}).encode())))


@given(record=RECORD, log=LOG, detections=st.one_of(DETECTIONS, st.none()))
def test_fuzz_a_killed_runs_files_resume_or_are_refused(record, log, detections):
    with tempfile.TemporaryDirectory() as sandbox:
        out = Path(sandbox) / "out"
        out.mkdir()
        parts = {predict.RUN: record, predict.IMAGES + predict.PART: log,
                 predict.DETECTIONS + predict.PART: detections}
        for name, data in parts.items():
            if data is not None:
                (out / name).write_bytes(data)
        try:
            images, count = predict._resume(out, RUN, restart=False)
        except InputError as exc:
            event(f"refused: {str(exc).split(': ', 1)[-1][:30]}")
            return
        event(f"resumed {min(images, 2)}{'+' if images > 2 else ''} image(s)")
        assert type(images) is int and type(count) is int and images >= 0 and count >= 0
        kept = (out / (predict.IMAGES + predict.PART)).read_bytes()
        assert kept.count(b"\n") == images and kept.endswith(b"\n") == bool(images)
        entries = [json.loads(line) for line in kept.splitlines()]
        assert all(isinstance(entry, dict) for entry in entries)
        assert sum(entry.get("detections", 0) for entry in entries) == count
        assert len(list(predict._logged_names(out / (predict.IMAGES + predict.PART), images))) \
            == images
        lines = (out / (predict.DETECTIONS + predict.PART)).read_bytes()
        assert lines.count(b"\n") == count and lines.endswith(b"\n") == bool(count)


@given(data=st.one_of(st.binary(max_size=200), TEXT.map(str.encode),
                      st.lists(TEXT, max_size=5).map(lambda names: "\n".join(names).encode())))
def test_fuzz_a_labels_file_is_names_or_refused(data):
    with tempfile.TemporaryDirectory() as sandbox:
        labels = Path(sandbox) / "labels.txt"
        labels.write_bytes(data)
        try:
            names = predict.read_labels(labels)
        except InputError as exc:
            event(f"refused: {str(exc).split(': ', 1)[-1][:30]}")
            return
        assert list(names) == list(range(1, len(names) + 1))
        assert all(isinstance(name, str) and "\n" not in name for name in names.values())

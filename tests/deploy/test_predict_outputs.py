"""What `predict` writes (issue 30). It resumes an interrupted run from the .part files in its
output folder: links and hard links placed there (pointing at decoy files this test makes
outside the folder) are never followed, emptied or appended to; a fresh run replaces a link, it
does not write through it. Images of the same name get an annotated image each."""

import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_odwrap

pytestmark = pytest.mark.tf

DECOY = b'{"a decoy": "outside the output folder"}\n'


@pytest.fixture(scope="module")
def interrupted(tflite_export, tmp_path_factory):
    """(model, images, make(folder)): make() writes into FOLDER what a run over the first two
    of the three images leaves when it is killed before it renames its files."""
    model, _ = tflite_export("none")
    work = tmp_path_factory.mktemp("predict_links")
    rng = np.random.default_rng(0)
    images = []
    for index in range(3):
        path = work / f"image{index}.jpg"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        images.append(path)
    done = run_odwrap("predict", model, *images[:2], "-o", work / "done", "--jsonl",
                      "--no-annotate")
    assert done.returncode == 0, done.stderr[-3000:]
    runtime = re.search(r"^(\S+): median", done.stdout, re.M).group(1)

    def make(folder):
        folder.mkdir()
        (folder / "images.jsonl.part").write_bytes((work / "done" / "images.jsonl").read_bytes())
        (folder / "predict.run.json").write_text(json.dumps(
            {"model": str(model.resolve()), "threshold": 0.5, "runtime": runtime}))
        return (work / "done" / "detections.jsonl").read_bytes()

    return model, images, make


def test_a_link_as_the_detections_part_file_is_refused_and_its_target_kept(interrupted,
                                                                            tmp_path):
    model, images, make = interrupted
    out = tmp_path / "out"
    make(out)
    decoy = tmp_path / "decoy.jsonl"
    decoy.write_bytes(DECOY)
    (out / "detections.jsonl.part").symlink_to(decoy)
    result = run_odwrap("predict", model, *images, "-o", out, "--jsonl", "--no-annotate")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{out / 'detections.jsonl.part'}: cannot reuse it (a link)" in result.stderr
    assert decoy.read_bytes() == DECOY
    assert not (out / "detections.jsonl").exists()


def test_a_link_as_the_image_log_is_refused_and_its_target_kept(interrupted, tmp_path):
    model, images, make = interrupted
    out = tmp_path / "out"
    lines = make(out)
    (out / "detections.jsonl.part").write_bytes(lines)
    decoy = tmp_path / "decoy.jsonl"
    os.replace(out / "images.jsonl.part", decoy)  # a real log, so that it would be resumed
    before = decoy.read_bytes()
    (out / "images.jsonl.part").symlink_to(decoy)
    result = run_odwrap("predict", model, *images, "-o", out, "--jsonl", "--no-annotate")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "images.jsonl.part: cannot reuse it (a link)" in result.stderr
    assert decoy.read_bytes() == before


def test_a_hard_link_as_the_detections_part_file_is_refused(interrupted, tmp_path):
    model, images, make = interrupted
    out = tmp_path / "out"
    lines = make(out)
    decoy = tmp_path / "decoy.jsonl"
    decoy.write_bytes(lines)
    os.link(decoy, out / "detections.jsonl.part")
    result = run_odwrap("predict", model, *images, "-o", out, "--jsonl", "--no-annotate")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot reuse it (a file with another name (a hard link))" in result.stderr
    assert decoy.read_bytes() == lines


def test_the_same_state_with_real_files_resumes(interrupted, tmp_path):
    """The control: the state the link tests build, with the part file in place, resumes."""
    model, images, make = interrupted
    out = tmp_path / "out"
    lines = make(out)
    (out / "detections.jsonl.part").write_bytes(lines)
    result = run_odwrap("predict", model, *images, "-o", out, "--jsonl", "--no-annotate")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predicted 1 image(s) after the 2 of the interrupted run" in result.stdout
    assert (out / "detections.jsonl").read_bytes().startswith(lines)


ANNOTATED = ["image0.annotated.png", "image1.annotated.png", "image2.annotated.png"]


def _decoys(folder, out, names) -> dict:
    """A decoy file in FOLDER for each of NAMES, linked to from OUT/NAME: {name: decoy}."""
    decoys = {}
    for name in names:
        decoys[name] = folder / f"decoy-{name}"
        decoys[name].write_bytes(DECOY)
        (out / name).symlink_to(decoys[name])
    return decoys


@pytest.mark.parametrize("restart", [False, True])
@pytest.mark.parametrize("jsonl", [True, False])
def test_a_fresh_run_replaces_links_it_finds_and_writes_through_none(interrupted, tmp_path,
                                                                    restart, jsonl):
    """Links in place of every name a run writes (the part files, both detections files, the
    image log, the run record, the annotated images), each to a decoy outside the folder: a
    fresh run replaces those it writes with its own files and leaves every decoy as it was."""
    model, images, _ = interrupted
    out = tmp_path / "out"
    out.mkdir()
    decoys = _decoys(tmp_path, out, ["detections.jsonl.part", "images.jsonl.part",
                                     "detections.jsonl", "detections.json", "images.jsonl",
                                     "predict.run.json", *ANNOTATED])
    if not restart:
        (out / "images.jsonl.part").unlink()  # no log: a fresh run
    result = run_odwrap("predict", model, *images, "-o", out, "--threshold", 0,
                        *(["--jsonl"] if jsonl else []), *(["--restart"] if restart else []))
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(decoy.read_bytes() == DECOY for decoy in decoys.values())
    written = ["detections.jsonl" if jsonl else "detections.json", "images.jsonl", *ANNOTATED]
    for name in written:
        assert not (out / name).is_symlink() and (out / name).is_file(), name
    assert len((out / "images.jsonl").read_text().splitlines()) == 3
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in ANNOTATED)
    assert not os.path.lexists(out / "predict.run.json")  # the run's record goes when it ends


def test_a_resumed_run_replaces_links_in_place_of_what_it_writes(interrupted, tmp_path):
    """A killed run's folder (its own part files) with links in place of the run record (to a
    decoy holding the very record, which a resumed run reads), of the annotated image of the
    image it has left and of detections.json: the run resumes, writes its own files and
    leaves the decoys as they were."""
    model, images, make = interrupted
    out = tmp_path / "out"
    lines = make(out)
    (out / "detections.jsonl.part").write_bytes(lines)
    record = tmp_path / "decoy-predict.run.json"
    os.replace(out / "predict.run.json", record)
    (out / "predict.run.json").symlink_to(record)
    before = record.read_bytes()
    decoys = _decoys(tmp_path, out, ["image2.annotated.png", "detections.json"])
    result = run_odwrap("predict", model, *images, "-o", out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predicted 1 image(s) after the 2 of the interrupted run" in result.stdout
    assert record.read_bytes() == before
    assert all(decoy.read_bytes() == DECOY for decoy in decoys.values())
    for name in ("image2.annotated.png", "detections.json", "images.jsonl"):
        assert not (out / name).is_symlink() and (out / name).is_file(), name
    assert not os.path.lexists(out / "predict.run.json")


def test_an_output_folder_given_as_a_link_is_followed(interrupted, tmp_path):
    """`-o LINK`, LINK a link to a folder: the user named that folder, as `cp FILE LINK/` would
    take it, so the run writes there (and LINK stays a link). A link the run finds *inside* its
    output folder it did not make is never followed (the tests above). The folder's other
    files stay as they were."""
    model, images, _ = interrupted
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(DECOY)
    link = tmp_path / "out"
    link.symlink_to(folder)
    result = run_odwrap("predict", model, *images, "-o", link, "--jsonl")
    assert result.returncode == 0, result.stderr[-3000:]
    assert link.is_symlink() and os.readlink(link) == str(folder)
    assert (folder / "notes.txt").read_bytes() == DECOY
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["notes.txt", "detections.jsonl", "images.jsonl", *ANNOTATED])
    assert all((folder / name).is_file() and not (folder / name).is_symlink()
               for name in ["detections.jsonl", "images.jsonl", *ANNOTATED])


def test_a_garbage_run_record_is_bad_input_naming_it(interrupted, tmp_path):
    model, images, make = interrupted
    out = tmp_path / "out"
    lines = make(out)
    (out / "detections.jsonl.part").write_bytes(lines)
    (out / "predict.run.json").write_text("[[[ not json")
    result = run_odwrap("predict", model, *images, "-o", out, "--jsonl", "--no-annotate")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "holds an interrupted run with another" in result.stderr
    assert "predict.run.json" in result.stderr


def test_images_of_the_same_name_get_an_annotated_image_each(interrupted, tmp_path):
    model, images, _ = interrupted
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    sources = [folders[0] / "x.jpg", folders[1] / "x.jpg", folders[0] / "x.png",
               folders[0] / "x.2.jpg"]
    for source, image in zip(sources, [*images, images[0]]):
        Image.open(image).save(source)
    out = tmp_path / "out"
    result = run_odwrap("predict", model, *sources, "-o", out, "--threshold", 0)
    assert result.returncode == 0, result.stderr[-3000:]
    logged = [json.loads(line) for line in (out / "images.jsonl").read_text().splitlines()]
    names = [line["annotated"] for line in logged]
    assert names == ["x.annotated.png", "x.2.annotated.png", "x.3.annotated.png",
                     "x.2.2.annotated.png"]
    drawn = [Image.open(out / name) for name in names]
    assert [image.size for image in drawn] == [(64, 64)] * 4
    assert len({image.tobytes() for image in drawn[:3]}) == 3  # three images, not one thrice


def test_records_that_are_no_examples_are_bad_input(interrupted, tmp_path):
    """Was "failed inside TensorFlow or the OD API", exit 1 (stats said it right)."""
    from odwrap.odapi.tfexample import frame_record

    model, _, _ = interrupted
    records = tmp_path / "bad.tfrecord"
    records.write_bytes(frame_record(b"\x0f\x00"))  # field 1 of wire type 7, which is none
    result = run_odwrap("predict", model, records, "-o", tmp_path / "out")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{records}: record 0 is not a tf.Example" in result.stderr


def test_a_source_id_of_thousands_of_digits_is_a_name_not_an_id(interrupted, tmp_path):
    from odwrap.odapi.tfexample import encode_example, frame_record

    model, images, _ = interrupted
    records = tmp_path / "long.tfrecord"
    records.write_bytes(frame_record(encode_example({
        "image/encoded": ("bytes", [images[0].read_bytes()]),
        "image/source_id": ("bytes", [b"7" * 5000])})))
    result = run_odwrap("predict", model, records, "-o", tmp_path / "out", "--jsonl")
    assert result.returncode == 0, result.stderr[-3000:]
    logged = json.loads((tmp_path / "out" / "images.jsonl").read_text())
    assert logged["image_id"] == 1 and logged["filename"] == "7" * 5000
    assert logged["annotated"] == "7" * 100 + ".annotated.png"


def test_classes_keeps_only_the_detections_of_those_classes(interrupted, tmp_path):
    model, images, _ = interrupted
    names = (model.parent / "labels.txt").read_text().splitlines()
    every = run_odwrap("predict", model, *images, "-o", tmp_path / "every", "--jsonl",
                       "--threshold", 0, "--no-annotate")
    assert every.returncode == 0, every.stderr[-3000:]
    lines = [json.loads(line) for line in
             (tmp_path / "every" / "detections.jsonl").read_text().splitlines()]
    first = lines[0]["category_id"]
    kept = run_odwrap("predict", model, *images, "-o", tmp_path / "kept", "--jsonl",
                      "--threshold", 0, "--no-annotate", "--classes", names[first - 1])
    assert kept.returncode == 0, kept.stderr[-3000:]
    only = [json.loads(line) for line in
            (tmp_path / "kept" / "detections.jsonl").read_text().splitlines()]
    expected = [(line["image_id"], line["bbox"], line["score"]) for line in lines
                if line["category_id"] == first]
    assert [(line["image_id"], line["bbox"], line["score"]) for line in only] == expected
    assert {line["category_id"] for line in only} == {first}
    unknown = run_odwrap("predict", model, *images, "-o", tmp_path / "unknown",
                         "--classes", "no-such-class")
    assert unknown.returncode == 2
    assert f"--classes no-such-class: not a class of the model (its classes: " \
           f"{', '.join(names)})" in unknown.stderr


def test_without_threshold_the_exports_own_is_used_and_named(interrupted, tmp_path):
    # threshold.json as export writes it from an evaluation (issue 26); here the middle of
    # the widest gap between the scores of a run at threshold 0 (the file's scores are
    # rounded), so that it drops some detections.
    model, images, _ = interrupted
    every = run_odwrap("predict", model, *images, "-o", tmp_path / "every", "--jsonl",
                       "--threshold", 0, "--no-annotate")
    assert every.returncode == 0, every.stderr[-3000:]
    assert not every.stdout.startswith("threshold")  # given: nothing to say
    scores = sorted(json.loads(line)["score"] for line in
                    (tmp_path / "every" / "detections.jsonl").read_text().splitlines())
    distinct = sorted(set(scores))  # a model trained 2 steps may score them all alike
    if len(distinct) > 1:
        gap = max(range(1, len(distinct)), key=lambda i: distinct[i] - distinct[i - 1])
        middle = round((distinct[gap - 1] + distinct[gap]) / 2, 6)
    else:
        middle = round(min(1.0, distinct[0] * 2), 6)  # above every one of them
    folder = tmp_path / "export"
    folder.mkdir()
    copy = folder / model.name
    copy.write_bytes(model.read_bytes())
    (folder / "threshold.json").write_text(json.dumps({"threshold": middle, "step": 2}))
    carried = run_odwrap("predict", copy, *images, "-o", tmp_path / "carried", "--jsonl",
                         "--no-annotate")
    assert carried.returncode == 0, carried.stderr[-3000:]
    assert carried.stdout.splitlines()[0] == (f"threshold {middle:g}: the best F1 of its "
                                              f"evaluation ({folder / 'threshold.json'})")
    kept = sorted(json.loads(line)["score"] for line in
                  (tmp_path / "carried" / "detections.jsonl").read_text().splitlines())
    assert kept == [score for score in scores if score >= middle] and len(kept) < len(scores)

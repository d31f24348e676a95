"""odwrap convert --runner beam: the default converter's bytes from Apache Beam's DirectRunner
(multi-processing), for every format, with a split and with bad data.

The pipeline runs in the Beam venv (scripts/setup-beam.sh): from this venv, which has no
apache_beam, as a child process; one case runs odwrap itself in the Beam venv, where the
pipeline runs in its process. Without the venv these tests fail under CI and are skipped
elsewhere.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from odwrap import cli
from odwrap.odapi.tfexample import read_records
from tests import datasets
from tests.conftest import ROOT
from tests.data.test_convert import bad_dataset

SPLIT = ["--split", "train=0.6,val=0.4", "--shards", "2", "--seed", "3"]


def convert(*argv):
    return cli.main(["convert", *map(str, argv)])


def folder(out: Path) -> dict:
    """What a user reads of a converted folder: every file but the resume data."""
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())
            if not path.name.startswith(".")}


def assert_same_output(local: Path, beam: Path):
    expected, got = folder(local), folder(beam)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    # Beam leaves only the manifest, which names its shards for any later run to replace.
    assert [path.name for path in beam.iterdir() if path.name.startswith(".")] == \
        [".odwrap-convert.json"]


def with_a_bmp(root: Path) -> Path:
    """Make one image a BMP, which both converters re-encode as PNG."""
    from PIL import Image

    jpeg = root / "JPEGImages" / "shapes_00001.jpg"
    Image.open(jpeg).save(jpeg.with_suffix(".bmp"))
    jpeg.unlink()
    xml = root / "Annotations" / "shapes_00001.xml"
    xml.write_text(xml.read_text().replace("shapes_00001.jpg", "shapes_00001.bmp"))
    return root


CASES = {
    "voc": lambda tmp: ([with_a_bmp(datasets.voc(tmp / "voc", images=30))], []),
    "coco": lambda tmp: ([datasets.coco(tmp, images=12)], ["--masks"]),
    "csv": lambda tmp: ([datasets.csv_boxes(tmp, images=12)], []),
}


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_beam_writes_the_default_converters_bytes(tmp_path, beam_python, fmt):
    source, extra = CASES[fmt](tmp_path)
    assert convert(fmt, *source, "-o", tmp_path / "local", *SPLIT, *extra) == 0
    assert convert(fmt, *source, "-o", tmp_path / "beam", *SPLIT, *extra, "--runner", "beam",
                   "--workers", 2) == 0
    assert_same_output(tmp_path / "local", tmp_path / "beam")
    report = json.loads((tmp_path / "beam" / "report.json").read_text())
    assert report["splits"]["train"]["shards"] == 2 and report["splits"]["val"]["images"] > 0
    if fmt == "coco":
        shard = sorted((tmp_path / "beam").glob("train-*.tfrecord"))[0]
        assert any(b"image/object/mask" in record for record in read_records(shard))


def test_bad_images_are_counted_as_the_default_converter_counts_them(tmp_path, beam_python):
    root, label_map = bad_dataset(tmp_path)
    argv = ["voc", root, "--label-map", label_map, *SPLIT]
    assert convert(*argv, "-o", tmp_path / "local") == 0
    assert convert(*argv, "-o", tmp_path / "beam", "--runner", "beam") == 0
    assert_same_output(tmp_path / "local", tmp_path / "beam")  # report.json included
    report = json.loads((tmp_path / "beam" / "report.json").read_text())
    assert report["problems"]["corrupt_image"]["count"] == 2
    assert report["problems"]["missing_image"]["example"].endswith("missing.jpg")
    assert report["problems"]["path_escape"]["count"] == 1


def test_strict_fails_in_the_pipeline_with_one_line_and_writes_nothing(tmp_path, beam_python,
                                                                        capsys):
    root = datasets.voc(tmp_path / "voc", images=6)
    (root / "JPEGImages" / "shapes_00004.jpg").write_bytes(b"GIF89a broken")
    (root / "JPEGImages" / "shapes_00002.jpg").unlink()
    assert convert("voc", root, "-o", tmp_path / "out", "--strict", "--runner", "beam") == 2
    err = capsys.readouterr().err
    # The first bad image in the plan's order: the same whichever worker met it first.
    assert err.count("\n") == 1 and "(--strict)" in err, err
    assert "shapes_00002.jpg: image file missing" in err or \
        "shapes_00004.jpg: image corrupt" in err
    assert not (tmp_path / "out").exists()


def test_exif_photos_are_turned_as_the_default_converter_turns_them(tmp_path, beam_python):
    """Photos of every EXIF orientation: the same bytes and counts; the counts of photos
    turned or kept are no problem to --strict in the pipeline either."""
    from tests.data.test_exif_orientation import as_stored, dataset

    dataset(tmp_path / "voc", as_stored)
    argv = ["voc", tmp_path / "voc", "--strict"]
    assert convert(*argv, "-o", tmp_path / "local") == 0
    assert convert(*argv, "-o", tmp_path / "beam", "--runner", "beam") == 0
    assert_same_output(tmp_path / "local", tmp_path / "beam")
    report = json.loads((tmp_path / "beam" / "report.json").read_text())
    assert {reason: entry["count"] for reason, entry in report["problems"].items()} == \
        {"exif_oriented": 3, "exif_raw": 4}


@pytest.mark.parametrize("where", ["beam venv child", "in process"])
def test_a_failing_pipeline_is_one_line_with_its_log(tmp_path, beam_python, capsys,
                                                      monkeypatch, where):
    monkeypatch.setenv("ODWRAP_LOG_DIR", str(tmp_path / "logs"))
    root = datasets.voc(tmp_path / "voc", images=4)
    out = tmp_path / "out"
    (out / "data-00000-of-00001.tfrecord").mkdir(parents=True)  # the shard cannot be renamed
    if where == "in process":  # odwrap run by the Beam venv's Python itself
        done = subprocess.run([str(beam_python), "-m", "odwrap", "convert", "voc", str(root),
                               "-o", str(out), "--runner", "beam"], capture_output=True,
                              text=True, timeout=600, cwd=ROOT)
        code, err = done.returncode, done.stderr
    else:
        code, err = convert("voc", root, "-o", out, "--runner", "beam"), capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "the Beam pipeline failed" in err, err
    logs = list((tmp_path / "logs").glob("convert-beam-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text() and str(logs[0]) in err
    assert sorted(path.name for path in out.iterdir()) == [
        ".odwrap-convert.json", "data-00000-of-00001.tfrecord"]  # no temporary file left


@pytest.mark.parametrize("options, reason", [
    ("--runner=NoSuchRunner", "Unexpected pipeline runner: NoSuchRunner"),
    ("--direct_num_workers=two", "argument --direct_num_workers: invalid int value: 'two'"),
    ("--temp_location='gs://unclosed", "No closing quotation"),
])
def test_options_beam_refuses_exit_2(tmp_path, beam_python, capsys, options, reason):
    root = datasets.voc(tmp_path / "voc", images=2)
    assert convert("voc", root, "-o", tmp_path / "out", "--runner", "beam",
                   f"--beam-options={options}") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--beam-options" in err and reason in err, err
    assert not (tmp_path / "out").exists()


def test_without_apache_beam_the_error_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("odwrap.data.beamenv.DEFAULT_VENV", tmp_path / "none")
    monkeypatch.delenv("ODWRAP_BEAM_PYTHON", raising=False)
    root = datasets.voc(tmp_path / "voc", images=2)
    assert convert("voc", root, "-o", tmp_path / "out", "--runner", "beam") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scripts/setup-beam.sh" in err
    assert convert("voc", root, "-o", tmp_path / "out", "--beam-options=--x=1") == 2
    assert "--beam-options is for --runner beam" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def run_in_beam_venv(beam_python, bucket: Path, *argv):
    """odwrap in the Beam venv, with fakegs:// URLs kept in the folder BUCKET."""
    env = dict(os.environ, ODWRAP_FAKEGS_ROOT=str(bucket), PYTHONPATH=str(ROOT))
    return subprocess.run([str(beam_python), "-m", "odwrap", "convert", *map(str, argv)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


PLUGIN = "--beam-options=--beam_plugins=tests.data.beam_fakefs --direct_num_workers=2"


def test_urls_for_annotations_images_and_output(tmp_path, beam_python):
    """A VOC folder, its bad images and path escapes included, read from a bucket and written
    to one, as gs:// is: through Beam's FileSystems (a test filesystem, fakegs://, with no
    network), with the bytes and counts of a local conversion of the same files."""
    root, label_map = bad_dataset(tmp_path / "bucket" / "data")
    argv = ["--label-map", label_map, *SPLIT]
    assert convert("voc", root, "-o", tmp_path / "local", *argv) == 0
    done = run_in_beam_venv(beam_python, tmp_path / "bucket", "voc", "fakegs://data/voc", "-o",
                            "fakegs://out/voc", *argv, "--runner", "beam", PLUGIN)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "label map: fakegs://out/voc/label_map.pbtxt" in done.stdout
    assert_same_output(tmp_path / "local", tmp_path / "bucket" / "out" / "voc")


def test_open_images_with_url_images_class_names_and_label_map(tmp_path, beam_python,
                                                               capsys):
    """Open Images, with a split, run by odwrap in the Beam venv itself (the pipeline in its
    process, as on a machine that submits to Dataflow; the driver writes the label map there)."""
    path, images = datasets.oid(tmp_path / "bucket", images=12)
    label_map = tmp_path / "bucket" / "map.pbtxt"
    label_map.write_text('item { id: 1 name: "circle" } item { id: 2 name: "square" }')
    names = tmp_path / "bucket" / "class-descriptions.csv"
    assert convert("oid", path, "--images", images, "--class-names", names, "--label-map",
                   label_map, "-o", tmp_path / "local", *SPLIT) == 0
    url = "fakegs://" + str(images.relative_to(tmp_path / "bucket"))
    done = run_in_beam_venv(beam_python, tmp_path / "bucket", "oid", path, "--images", url,
                            "--class-names", "fakegs://class-descriptions.csv", "--label-map",
                            "fakegs://map.pbtxt", "-o", tmp_path / "beam", *SPLIT, "--runner",
                            "beam", PLUGIN)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_output(tmp_path / "local", tmp_path / "beam")
    report = json.loads((tmp_path / "beam" / "report.json").read_text())
    assert report["splits"]["train"]["boxes"] + report["splits"]["val"]["boxes"] == \
        sum(1 for _ in open(path)) - 1
    # Without Beam in the Python that runs odwrap, or without --runner beam: one line, no write.
    for extra, code, message in ((["--runner", "beam"], 1, "the Beam venv"),
                                 ([], 2, "URLs are read by convert --runner beam only")):
        capsys.readouterr()
        assert convert("oid", path, "--images", url, "-o", tmp_path / "none", *extra) == code
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "none").exists()


README_CHECK = """
import json, logging, shlex, sys
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import create_runner

discarded = []
class Catch(logging.Handler):
    def emit(self, record):
        if "Discarding" in record.getMessage():
            discarded.append(record.getMessage())
logging.getLogger().addHandler(Catch())
runners = []
for text in json.loads(sys.argv[1]):
    options = PipelineOptions(shlex.split(text))
    options.get_all_options()  # argparse: an unknown choice exits 2
    runners.append(type(create_runner(options.view_as(StandardOptions).runner)).__name__)
print(json.dumps({"discarded": discarded, "runners": runners}))
"""


@pytest.mark.parametrize("page", ["datasets.md", "export.md"])  # convert's, predict's
def test_the_documented_cluster_command_lines_parse(beam_python, page):
    """The Dataflow, Flink and Spark options of a docs page: each one Beam 2.77.0 knows, each
    value one it accepts, each runner one it has (nothing is submitted)."""
    text = (ROOT / "docs" / page).read_text()
    options = re.findall(r'--beam-options="(--runner=(?:Dataflow|Flink|Spark)Runner[^"]*)"',
                         text)
    assert len(options) == 3
    done = subprocess.run([str(beam_python), "-c", README_CHECK, json.dumps(options)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"discarded": [],
                     "runners": ["DataflowRunner", "FlinkRunner", "SparkRunner"]}


def test_a_runner_that_drops_elements_is_caught():
    """What each shard received against the plan: Beam's DirectRunner dropped 12 % of the
    images of a 100,000-image run here once (an earlier design that grouped image bytes),
    without an error; the driver now fails instead of reporting short shards."""
    from odwrap.data.beam import lost_samples

    planned = {"train-00000-of-00002.tfrecord": 3, "train-00001-of-00002.tfrecord": 2}
    written = [{"name": "train-00000-of-00002.tfrecord", "samples": 3},
               {"name": "train-00001-of-00002.tfrecord", "samples": 2}]
    assert lost_samples(planned, written) == ""
    written[1]["samples"] = 1
    assert lost_samples(planned, written) == "train-00001-of-00002.tfrecord has 1 of its 2 images"
    assert "has no of its 3 images" in lost_samples(planned, written[1:])


def test_bucket_names_that_would_leave_the_staging_folder_are_not_copied():
    """Object names are the bucket owner's: 'voc//etc/x.xml' lists as '/etc/x.xml' under the
    folder, which pathlib would join as an absolute path."""
    from odwrap.data.remote import safe_relative

    assert safe_relative("Annotations/a.xml") and safe_relative("a.xml")
    for name in ("/etc/x.xml", "a/../../x.xml", "..", ".", "", "a//b.xml", "./a.xml", "a\0.xml"):
        assert not safe_relative(name), name

"""`predict --runner beam`: the local predict's files (odwrap.deploy.predict) from an Apache Beam
pipeline (odwrap.deploy.beam_predict_pipeline), on the DirectRunner here or on a cluster.

The driver checks the input as the local run does, then plans: it lists the images in the local
run's order (sources.iterate; a URL's through Beam's FileSystems) and streams a line per image
(its position, id, name, annotated name and where to read it) into a scratch folder:
OUTPUT/.odwrap-beam-TOKEN/, or TEMP_LOCATION/odwrap-predict-TOKEN/ when the pipeline options
name a --temp_location (a cluster's workers cannot see this machine's disk: the model is copied
there too, and the annotated images come back through it). The pipeline writes each image's
rows there in chunks; the driver reads the chunks in order, a line at a time, numbers the
detections as the local run does and writes OUTPUT's files with the local run's own code. A
Beam run is not resumed (Beam retries failed work itself): an interrupted one starts over.

The pipeline runs in this interpreter when it has apache_beam, else in the Beam venv
(odwrap.data.beamenv), as convert's does; a SavedModel needs TensorFlow there
(scripts/setup-beam.sh --tensorflow).
"""

import itertools
import json
import os
import subprocess
import uuid
from pathlib import Path, PurePosixPath

from odwrap.data import remote
from odwrap.deploy import predict as local
from odwrap.deploy import keypoint_layout, model_files, sources
from odwrap.errors import InputError, RunError, StackError
from odwrap.fsutil import atomic_write_bytes, open_own_file

CHUNK = 1000  # images a chunk file of the pipeline holds
PIPELINE = "odwrap.deploy.beam_predict_pipeline"
SCRATCH_PREFIX = ".odwrap-beam-"
HAS_TENSORFLOW = "import importlib.util, sys; sys.exit(not importlib.util.find_spec('tensorflow'))"


def chunk_name(chunk: int) -> str:
    return f"chunk-{chunk:06d}.jsonl"


def model_kind(model: Path) -> tuple[str, Path]:
    """(tflite or saved_model, the file or the folder holding saved_model.pb) of MODEL;
    InputError for any other model."""
    if model.suffix in (".onnx", ".xml"):
        raise InputError(f"{model}: --runner beam runs .tflite and SavedModel exports; predict "
                         "an ONNX or OpenVINO model without --runner beam")
    if model.is_dir():
        for folder in (model, model / "saved_model"):
            if (folder / "saved_model.pb").exists():
                return "saved_model", folder
    if model.suffix == ".tflite":
        if not model.is_file():
            raise InputError(f"{model}: no such model")
        return "tflite", model
    raise InputError(f"{model}: not a .tflite model nor a SavedModel folder")


def url_files(argument: str) -> list[str]:
    """The files of a URL argument, as sources lists a local one's: a glob pattern's matches,
    the file it names, or the image files under the folder it names, sorted."""
    from apache_beam.io.filesystems import FileSystems

    if sources.GLOB_CHARACTERS & set(argument.split("://", 1)[1]):
        try:
            found = FileSystems.match([argument], [remote.MAX_ANNOTATION_FILES])[0]
        except Exception:  # Beam's BeamIOError: nothing matches, on some file systems
            found = None
        paths = sorted(entry.path for entry in found.metadata_list) if found else []
        if not paths:
            raise InputError(f"{argument}: no file matches this pattern")
        return paths
    under = remote.listing(argument)  # a bucket has names, no folders: a folder has files
    if under:
        return [path for path in under
                if PurePosixPath(path).suffix.lower() in sources.IMAGE_SUFFIXES]
    if remote.exists(argument):
        return [argument]
    raise InputError(f"{argument}: no such file or folder")


def _files(argument: str) -> list:
    return url_files(argument) if remote.is_url(argument) else sources._files(argument)


def open_record_file(path: str):
    """A TFRecord file for reading: through Beam's FileSystems for a URL."""
    return remote.open_for_reading(path) if remote.is_url(path) else open(path, "rb")


def plan_lines(images, limit: int | None, annotate: bool):
    """A JSON line for each image of IMAGES (the first LIMIT), in the local run's order, with
    what the local run gives it: its id, its name, its annotated image's name."""
    annotated = local._AnnotatedNames()
    found = sources.iterate(images, files=_files, opener=open_record_file)
    for position, source in enumerate(itertools.islice(found, limit)):
        entry = {"position": position, "image_id": source.image_id,
                 "filename": source.filename}
        if source.record is not None:
            entry["path"], offset, number = source.record
            entry["record"] = [offset, number]
        else:
            entry["path"] = str(source.path)
        name = annotated(source.filename)
        if annotate:
            entry["annotated"] = name
        yield (json.dumps(entry) + "\n").encode()


def _option(args: list[str], name: str) -> str | None:
    """The value of pipeline option NAME in ARGS (--name=value or --name value), None."""
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def _check_tensorflow(python: str | None) -> None:
    """A SavedModel runs on TensorFlow: the Python that runs the pipeline must have it."""
    if python is None:
        import importlib.util

        missing = importlib.util.find_spec("tensorflow") is None
    else:
        missing = subprocess.run([python, "-c", HAS_TENSORFLOW]).returncode != 0
    if missing:
        raise StackError("a SavedModel on --runner beam needs TensorFlow in the Beam venv, which "
                         "it does not have: run scripts/setup-beam.sh --tensorflow, or predict "
                         "the model's .tflite export")


class Scratch:
    """The run's scratch folder: local (in OUTPUT) or at a URL (under --temp_location), the
    same calls for both; `path(name)` is what the pipeline's FileSystems calls take."""

    def __init__(self, output: Path, temp_location: str | None):
        token = uuid.uuid4().hex[:16]
        self.url = remote.join(temp_location, f"odwrap-predict-{token}") \
            if temp_location else None
        self.local = None if self.url else output / f"{SCRATCH_PREFIX}{token}"

    def __str__(self) -> str:
        return self.url or str(self.local)

    def make(self) -> None:
        if self.local is not None:
            self.local.mkdir()

    def path(self, name: str) -> str:
        return remote.join(self.url, name) if self.url else str(self.local / name)

    def stream(self, name: str, chunks) -> int:
        """CHUNKS of bytes into NAME as they come; how many chunks."""
        handle = remote.open_for_writing(self.path(name)) if self.url else \
            open(self.local / name, "wb")
        count = 0
        try:
            for chunk in chunks:
                handle.write(chunk)
                count += 1
        finally:
            handle.close()
        return count

    def lines(self, name: str):
        """The lines of the file NAME, one at a time."""
        handle = remote.open_for_reading(self.path(name)) if self.url else \
            open(self.local / name, "rb")
        try:
            yield from handle
        finally:
            handle.close()

    def read(self, name: str) -> bytes:
        return remote.read_bytes(self.path(name)) if self.url else (self.local / name).read_bytes()

    def stage(self, model: Path) -> str:
        """MODEL (a .tflite with its sidecar, a SavedModel folder) copied here: the URL the
        workers load it from."""
        files = [path for path in sorted(model.rglob("*")) if path.is_file()] \
            if model.is_dir() else [model, *[path for path in [model.with_suffix(".json")]
                                             if path.is_file()]]
        for path in files:
            remote.write_bytes(self.path("model/" + path.relative_to(model.parent).as_posix()),
                               path.read_bytes())
        return self.path("model/" + model.name)

    def remove(self) -> None:
        if self.url:
            try:
                found = remote.listing(self.url)
            except Exception:  # nothing was written there
                found = []
            remote.delete(found)
        elif self.local.exists():
            import shutil

            shutil.rmtree(self.local)


def _merge(output: Path, scratch: Scratch, planned: int, result, annotate: bool) -> None:
    """The pipeline's chunks, in order, into OUTPUT's part files, as the local run writes
    them (the detections numbered from 1 across the images); RESULT (a PredictResult)
    counted. The annotated images of a remote scratch folder are copied into OUTPUT."""
    chunks = json.loads(scratch.read("result.json"))["chunks"]
    expected = {chunk: min(CHUNK, planned - chunk * CHUNK)
                for chunk in range((planned + CHUNK - 1) // CHUNK)}
    got = {entry["chunk"]: entry["images"] for entry in chunks}
    if got != expected:
        wrong = [f"chunk {chunk} has {got.get(chunk, 'none')} of its {count} images"
                 for chunk, count in expected.items() if got.get(chunk) != count]
        raise RunError(f"predict: the Beam runner lost data: {'; '.join(wrong[:3])}; nothing "
                       "is kept")
    for name in (local.DETECTIONS + local.PART, local.IMAGES + local.PART):
        (output / name).unlink(missing_ok=True)  # a link itself, not what it names
    with open_own_file(output / (local.DETECTIONS + local.PART)) as lines, \
            open_own_file(output / (local.IMAGES + local.PART)) as log:
        for chunk in sorted(expected):
            for text in scratch.lines(chunk_name(chunk)):
                row = json.loads(text)
                entry = row["log"]
                log.write((json.dumps(entry) + "\n").encode())
                if "skipped" in entry:
                    result.skipped.append((entry["filename"], entry["skipped"]))
                    continue
                for number, line in enumerate(row["lines"]):
                    line["id"] = result.detections + 1 + number
                lines.write("".join(json.dumps(line) + "\n" for line in row["lines"]).encode())
                if annotate and scratch.url:
                    name = entry["annotated"]
                    atomic_write_bytes(output / name, scratch.read("annotated/" + name))
                result.masks = row["masks"]
                result.detections += len(row["lines"])
                result.images += 1
                result.milliseconds.append(entry["milliseconds"])


def predict(model, images, output="predictions", *, threshold: float | None = None,
            labels=None, runtime: str = "auto", jsonl: bool = False, threads: int = 2,
            annotate: bool = True, restart: bool = False, max_images: int | None = None,
            classes=None, format: str | None = None, runner: str = "beam",
            beam_options: str = "", workers: int | None = None,
            stride: int = 1) -> local.PredictResult:
    """odwrap.deploy.predict.predict on Apache Beam: the same files in OUTPUT (but no
    resume: an interrupted local run there is refused unless RESTART). IMAGES may be URLs
    (gs://...) when this Python has apache-beam; the pipeline runs on the runner that
    BEAM_OPTIONS names, the DirectRunner with WORKERS processes by default (a process per
    THREADS cores). Videos (STRIDE) are the local run's only."""
    from odwrap.data.beam import pipeline_args, plugins, run_pipeline
    from odwrap.data.beamenv import beam_python

    if runner != "beam":
        raise InputError("--beam-options is for --runner beam" if runner == "local" else
                         f"unknown runner '{runner}'; one of: local, beam")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold {threshold}: must be in [0, 1]")
    local_only = [str(image) for image in images if not remote.is_url(str(image))]
    clip = stride != 1 or sources.first_of([str(image) for image in images], "stream") or \
        sources.first_of(local_only, "video")
    if clip:
        raise InputError(f"{'--stride' if clip is True else clip}: videos and streams are "
                         "predicted by the local runner: leave out --runner beam")
    if max_images is not None and max_images < 1:
        raise InputError(f"--max-images {max_images}: must be at least 1")
    if remote.is_url(str(output)):
        raise InputError(f"{output}: --output names a local folder (the images may be URLs)")
    model, output = Path(model), Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: is a file; --output names a folder")
    kind, model_path = model_kind(model)
    python = beam_python()
    args = pipeline_args(beam_options, workers or max(1, (os.cpu_count() or 1) // threads))
    temp_location = _option(args, "--temp_location")
    urls = [str(image) for image in images if remote.is_url(str(image))]
    if (urls or temp_location) and python is not None:
        raise StackError(f"{(urls or [temp_location])[0]}: URLs are read and written through "
                         "apache-beam, which this Python does not have: run odwrap with "
                         f"{python[:-len('python')]}odwrap (the Beam venv)")
    if urls or temp_location:
        plugins(args)
    if kind == "saved_model":
        _check_tensorflow(python)
    given = model_files.read_labels(labels) if labels else None
    if format is not None:
        if urls:
            raise InputError(f"--format {format}: {urls[0]} is a URL; a labelling tool opens "
                             "image files: predict local files")
        local._check_format(format, images, output, restart)
    source = "given" if threshold is not None else None
    if threshold is None:
        threshold, source = model_files.model_threshold(model)
    detector = None
    if kind == "tflite":  # a bad model fails here, before the pipeline; its labels
        from odwrap.deploy.runtime import load_detector

        detector = load_detector(model_path, runtime=runtime, threads=threads)
    names = given if given is not None else model_files.model_labels(detector, model)
    layout = model_files.model_keypoints(detector, model)  # a keypoint model's
    wanted = local._class_ids(classes, names) if classes else None
    log = output / (local.IMAGES + local.PART)
    if not restart and (log.exists() or log.is_symlink()):
        raise InputError(f"{output}: holds an interrupted run of predict; resume it without "
                         "--runner beam, pass --restart to start over, or another --output")
    result = local.PredictResult(runtime=detector.runtime if detector else "tensorflow",
                                 output=output, threshold=threshold, threshold_source=source)
    del detector
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)
    scratch = Scratch(output, temp_location)
    done = False
    try:
        scratch.make()
        planned = scratch.stream("plan.jsonl", plan_lines(images, max_images, annotate))
        if not planned:
            raise InputError(f"no images in {', '.join(str(image) for image in images)}")
        spec = {"plan": scratch.path("plan.jsonl"), "scratch": str(scratch),
                "result": scratch.path("result.json"), "chunk": CHUNK, "kind": kind,
                "model": scratch.stage(model_path) if scratch.url else str(model_path),
                "runtime": runtime, "threads": threads, "threshold": threshold,
                "wanted": sorted(wanted) if wanted else None,
                "names": {str(key): name for key, name in names.items()},
                "keypoints": keypoint_layout.to_json(layout).decode() if layout else "",
                "annotated": (scratch.path("annotated") if scratch.url else str(output))
                if annotate else None, "args": args}
        run_pipeline(spec, python, "predict", PIPELINE)
        _merge(output, scratch, planned, result, annotate)
        done = True
    finally:
        scratch.remove()
        if not done:
            for name in (local.DETECTIONS + local.PART, local.IMAGES + local.PART):
                (output / name).unlink(missing_ok=True)
            if created and not any(output.iterdir()):
                output.rmdir()
    if not result.images:
        for name in (local.DETECTIONS + local.PART, local.IMAGES + local.PART, local.RUN):
            (output / name).unlink(missing_ok=True)
        if created and not any(output.iterdir()):
            output.rmdir()
        raise InputError(f"no image could be read ({len(result.skipped)} tried): "
                         f"{result.skipped[0][1]}")
    result.output, result.labelling = local._finish(output, jsonl, format, names, images,
                                                    layout)
    return result

"""The Apache Beam pipeline of `predict --runner beam` (odwrap.deploy.beam_predict plans it and
writes its spec).

1. Read: the plan's lines, one an image in the local run's order (its position, id, name,
   annotated name and where to read it), are spread among the workers (lines, not image
   bytes, are shuffled); each worker reads its images as the local run does (an image file,
   an image at a URL, a TFRecord's record at its offset). An image that cannot be read is
   logged as skipped, as the local run logs it.
2. Infer: RunInference with the ModelHandler of the model's kind (HANDLERS: TFLite,
   SavedModel), which loads odwrap's own detector (odwrap.deploy.runtime) once per worker.
3. Rows: predict's detection_lines makes each image's lines (ids from 1: the driver renumbers
   them in order) and its annotated image, written where the spec says.
4. Chunks: the rows are grouped by chunk (CHUNK positions each), sorted by position and written
   a chunk a file, through a temporary name; a result file lists each chunk's count of images.
The driver then reads the chunks in order into the local run's files.
"""

import io
import json
import sys
import tempfile
import uuid
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import (KeyedModelHandler, ModelHandler, PredictionResult,
                                           RunInference)

from odwrap.data import beam_pipeline, remote
from odwrap.deploy.beam_predict import chunk_name, open_record_file
from odwrap.errors import InputError

UNCOMPRESSED = CompressionTypes.UNCOMPRESSED  # never guessed from a file's name
MAX_BATCH = 8  # images RunInference hands the detector at once (decoded: memory per worker)


def local_model(model: str, kind: str) -> str:
    """MODEL as a local path: a URL (the model staged for a cluster's workers) copied into a
    temporary folder first, a .tflite with its sidecar, a SavedModel folder whole."""
    if not remote.is_url(model):
        return model
    base = model.rstrip("/")
    local = Path(tempfile.mkdtemp(prefix="odwrap-beam-model-")) / base.rpartition("/")[2]
    files = {url: local / url[len(base) + 1:] for url in remote.listing(base)} \
        if kind == "saved_model" else {base: local}
    sidecar = base.removesuffix(".tflite") + ".json"
    if kind == "tflite" and remote.exists(sidecar):
        files[sidecar] = local.with_suffix(".json")
    for url, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(remote.read_bytes(url))
    return str(local)


class DetectorHandler(ModelHandler):
    """Runs odwrap's detector of a model over (plan entry, image) examples; each inference is
    a Detections (odwrap.deploy.detections)."""

    def __init__(self, model: str, kind: str, runtime: str, threads: int):
        super().__init__(min_batch_size=1, max_batch_size=MAX_BATCH)
        self.model, self.kind, self.runtime, self.threads = model, kind, runtime, threads

    def load_model(self):
        return self.detector(local_model(self.model, self.kind))

    def detector(self, path: str):
        raise NotImplementedError

    def run_inference(self, batch, model, inference_args=None):
        return [PredictionResult(example, model.detect(example[1])) for example in batch]

    def get_metrics_namespace(self) -> str:
        return "odwrap_predict"


class TFLiteHandler(DetectorHandler):
    def detector(self, path: str):
        from odwrap.deploy.runtime import TFLiteDetector

        return TFLiteDetector(path, runtime=self.runtime, threads=self.threads)


class SavedModelHandler(DetectorHandler):
    def detector(self, path: str):
        from odwrap.deploy.runtime import SavedModelDetector

        return SavedModelDetector(path)


HANDLERS = {"tflite": TFLiteHandler, "saved_model": SavedModelHandler}


def read_image(entry: dict):
    """uint8 RGB [H, W, 3] of a plan ENTRY, as the local run's Source.read gives it;
    InputError when it cannot be read."""
    from odwrap.deploy import sources
    from odwrap.deploy.runtime import load_rgb
    from odwrap.odapi.tfexample import read_record_at

    path = entry["path"]
    if "record" in entry:
        offset, number = entry["record"]
        handle = open_record_file(path)
        try:
            data = read_record_at(handle, offset, path)
        finally:
            handle.close()
        return sources.record_source(path, number, data, entry["position"] - number).read()
    if remote.is_url(path):
        try:
            data = remote.read_bytes(path)
        except Exception as exc:  # Beam's BeamIOError, the client's own errors
            raise InputError(f"{path}: cannot read the image ({exc})") from None
        return load_rgb(io.BytesIO(data), name=path)
    return sources.Source(image_id=entry["image_id"], filename=entry["filename"],
                          path=Path(path)).read()


def _logged(entry: dict) -> dict:
    return {"image_id": entry["image_id"], "filename": entry["filename"]}


class ReadImages(beam.DoFn):
    """A plan line -> (position, (entry, image)); an image that cannot be read -> the chunk's
    row of a skipped image, tagged 'skipped'."""

    def __init__(self, chunk: int):
        self.chunk = chunk

    def process(self, line):
        entry = json.loads(line)
        position = entry["position"]
        try:
            image = read_image(entry)
        except InputError as exc:  # corrupt, not an image, a decompression bomb: the rest run
            yield beam.pvalue.TaggedOutput("skipped", (position // self.chunk, {
                "position": position, "log": {**_logged(entry), "skipped": str(exc)},
                "lines": [], "masks": False}))
            return
        yield position, (entry, image)


class Rows(beam.DoFn):
    """(position, PredictionResult) -> (chunk, the image's row: its log line, its detection
    lines, whether the model predicts masks); the annotated image written."""

    def __init__(self, spec: dict):
        self.threshold = spec["threshold"]
        self.wanted = set(spec["wanted"]) if spec["wanted"] is not None else None
        self.names = {int(key): name for key, name in spec["names"].items()}
        self.keypoints = spec.get("keypoints") or ""  # a keypoint model's keypoints.json
        self.layout = None  # parsed from it on the worker, once
        self.annotated = spec["annotated"]  # the folder (or URL) of the annotated images
        self.chunk = spec["chunk"]

    def process(self, item):
        from odwrap.deploy import keypoint_layout
        from odwrap.deploy.annotate import Annotator
        from odwrap.deploy.pipeline import detection_lines
        from odwrap.deploy.sources import Source

        position, result = item
        (entry, image), found = result.example, result.inference
        if self.layout is None:
            self.layout = keypoint_layout.parse(self.keypoints.encode(), "keypoints") \
                if self.keypoints else {}
        layout = self.layout
        annotator = Annotator(image, layout) if self.annotated is not None else None
        source = Source(image_id=entry["image_id"], filename=entry["filename"])
        lines = detection_lines(source, image, found, self.threshold, 1, annotator, self.wanted,
                                layout)
        log = {**_logged(entry), "width": image.shape[1], "height": image.shape[0],
               "detections": len(lines), "milliseconds": round(found.milliseconds, 2)}
        if annotator is not None:
            log["annotated"] = entry["annotated"]
            self.write_annotated(entry["annotated"], annotator.png(lines, self.names))
        yield position // self.chunk, {"position": position, "log": log, "lines": lines,
                                       "masks": found.masks is not None}

    def write_annotated(self, name: str, data: bytes) -> None:
        if remote.is_url(self.annotated):
            remote.write_bytes(remote.join(self.annotated, name), data)
        else:
            from odwrap.fsutil import atomic_write_bytes

            atomic_write_bytes(Path(self.annotated) / name, data)


class WriteChunk(beam.DoFn):
    """(chunk, its rows) -> the rows in position order, a JSON line each, in the chunk's file
    (written to a temporary name, then renamed); yields {chunk, images}."""

    def __init__(self, scratch: str):
        self.scratch = scratch

    def process(self, item):
        chunk, rows = item
        rows = sorted(rows, key=lambda row: row["position"])
        target = FileSystems.join(self.scratch, chunk_name(chunk))
        tmp = FileSystems.join(self.scratch, f".{chunk_name(chunk)}.{uuid.uuid4().hex}.tmp")
        handle = FileSystems.create(tmp, compression_type=UNCOMPRESSED)
        try:
            for row in rows:
                handle.write((json.dumps(row) + "\n").encode())
        finally:
            handle.close()
        FileSystems.rename([tmp], [target])
        yield {"chunk": chunk, "images": len(rows)}


def write_result(chunks, path: str) -> None:
    handle = FileSystems.create(path, compression_type=UNCOMPRESSED)
    try:
        handle.write(json.dumps({"chunks": sorted(chunks, key=lambda c: c["chunk"])}).encode())
    finally:
        handle.close()


def build(pipeline, spec: dict) -> None:
    handler = HANDLERS[spec["kind"]](spec["model"], spec["kind"], spec["runtime"],
                                     spec["threads"])
    read = (pipeline
            | "Read plan" >> beam.io.ReadFromText(spec["plan"], compression_type=UNCOMPRESSED)
            | "Spread" >> beam.Reshuffle()
            | "Read images" >> beam.ParDo(ReadImages(spec["chunk"])).with_outputs(
                "skipped", main="images"))
    rows = (read.images
            | "Infer" >> RunInference(KeyedModelHandler(handler))
            | "Rows" >> beam.ParDo(Rows(spec)))
    ((rows, read.skipped)
     | "Every image" >> beam.Flatten()
     | "By chunk" >> beam.GroupByKey()
     | "Write chunks" >> beam.ParDo(WriteChunk(spec["scratch"]))
     | "Collect" >> beam.combiners.ToList()
     | "Result" >> beam.Map(write_result, spec["result"]))


def run(spec: dict) -> None:
    """Run the pipeline of SPEC to the end; Beam's exception when it fails."""
    with beam_pipeline.make_pipeline(spec["args"]) as pipeline:
        build(pipeline, spec)


def main(spec_path: str) -> int:
    """The Beam venv's entry (odwrap.data.beam.run_pipeline starts it): as convert's."""
    return beam_pipeline.main(spec_path, run)


if __name__ == "__main__":  # pragma: no cover (odwrap.data.beam runs it with -c)
    sys.exit(main(sys.argv[1]))

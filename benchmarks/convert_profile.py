"""Where `odwrap convert voc` and the OD-API-style baseline spend their time, stage by stage.

bench_convert.py --profile runs this in its own process, on the page-cache-warm dataset: each
stage of odwrap's conversion is timed over every image by calling the functions the converter
calls, in its order, one stage at a time (time.perf_counter, best of ROUNDS passes); the
baseline's stages are timed inside one instrumented pass of the same loop that
bench_convert.baseline runs. The stages of one converter add up to about its whole pass; what
they leave out is reported as `rest` (the boxes clipped, the feature lists built, the calls).
Figures are microseconds per image, except those in seconds (`*_s`), paid once a run.
"""

import hashlib
import io
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

from odwrap.data import convert as convert_mod
from odwrap.data import images as images_mod
from odwrap.data import records as records_mod
from odwrap.data import workers as workers_mod
from odwrap.data.dataset import Problems, RootLocator
from odwrap.data.splits import assign_splits, source_fractions
from odwrap.odapi import tfexample


class _Read:
    """An image whose bytes were read already (the header check timed without the read)."""

    def __init__(self, data: bytes):
        self.data = data

    def read_bytes(self) -> bytes:
        return self.data


def _best(function, rounds: int) -> tuple[float, object]:
    """(the shortest of ROUNDS runs of FUNCTION in seconds, its last result)."""
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def process_start(tmp: Path, dataset: Path, workers: int, rounds: int) -> float:
    """Seconds of `odwrap convert` of a dataset of WORKERS images in WORKERS shards: the
    interpreter, the imports, the worker processes' start and the output's fixed files."""
    tiny = tmp / "start"
    for folder in ("Annotations", "JPEGImages"):
        (tiny / folder).mkdir(parents=True, exist_ok=True)
    for xml in sorted((dataset / "Annotations").glob("*.xml"))[:workers]:
        (tiny / "Annotations" / xml.name).write_bytes(xml.read_bytes())
        image = ElementTree.parse(xml).findtext("filename")
        (tiny / "JPEGImages" / image).write_bytes((dataset / "JPEGImages" / image).read_bytes())
    times = []
    for index in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "odwrap", "convert", "voc", str(tiny), "-o",
                        str(tmp / f"start-{index}"), "--workers", str(workers), "--shards",
                        str(workers)], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def odwrap_stages(dataset: Path, tmp: Path, workers: int = 2, rounds: int = 3) -> dict:
    """Microseconds per image of each stage of odwrap's conversion of DATASET (a VOC folder);
    the stages that WORKERS processes share, with that many."""
    count = len(list((dataset / "Annotations").glob("*.xml")))
    options = convert_mod.ConvertOptions(format="voc", source=dataset, output=tmp / "profile")
    stages = {}

    def per_image(name, function):
        seconds, result = _best(function, rounds)
        stages[name] = round(seconds / count * 1e6, 1)
        return result

    # The parent, before any worker starts: every annotation read, then the plan.
    samples, root, _ = per_image("parent: read annotations (1 process)",
                                 lambda: convert_mod.read_dataset(options, Problems()))
    parallel = replace(options, workers=workers)
    per_image(f"parent: read annotations ({workers} processes, --workers {workers})",
              lambda: convert_mod.read_dataset(parallel, Problems()))
    label_map = per_image("parent: label map",
                          lambda: convert_mod.dataset_label_map(options, samples, Problems()))
    ids = {item.name: item.id for item in label_map.item}
    splits = per_image("parent: splits", lambda: assign_splits(
        samples, source_fractions(None, samples), options.seed))
    output = tmp / "profile"
    output.mkdir(parents=True, exist_ok=True)
    tasks = [convert_mod.ShardTask(output / name, members, root, ids, False)
             for name, members in convert_mod.shard_plan(splits, None)]
    per_image("parent: plan hash (a stat an image)", lambda: convert_mod._plan_hash(options, tasks))

    # A worker, stage by stage, each over every image.
    def locate():
        locators = [RootLocator() for _ in tasks]
        return [locators[index](root, sample.image)
                for index, task in enumerate(tasks) for sample in task.samples]

    paths = per_image("worker: locate (realpath, inside the root)", locate)
    data = per_image("worker: read image bytes", lambda: [path.read_bytes() for path in paths])
    per_image("worker: header check (size, format)", lambda: [
        images_mod.load_image(_Read(item), "", Problems(), None) for item in data])
    per_image("worker: sha256", lambda: [hashlib.sha256(item).hexdigest() for item in data])
    features = []  # what encode_sample hands the encoder, caught on the way
    encoder = records_mod.example_parts
    records_mod.example_parts = lambda found: features.append(found) or encoder(found)
    try:
        for task in tasks:
            for sample in task.samples:
                records_mod.encode_sample(sample, root, ids, Problems(), RootLocator())
    finally:
        records_mod.example_parts = encoder
    parts = per_image("worker: encode tf.train.Example",
                      lambda: [tfexample.example_parts(found) for found in features])
    framed = per_image("worker: TFRecord framing (CRC32C)",
                       lambda: [tfexample.frame_parts(found) for found in parts])

    def write():
        with open(tmp / "profile-write.tfrecord", "wb") as handle:
            for record in framed:
                handle.writelines(record)
        (tmp / "profile-write.tfrecord").unlink()

    per_image("worker: write (page cache)", write)
    per_image("worker: whole shards (write_shard)",
              lambda: [convert_mod.write_shard(task) for task in tasks])
    finishing = float("inf")
    for _ in range(rounds):  # each round finishes shards written anew, untimed
        written = [convert_mod.write_shard(task) for task in tasks]
        start = time.perf_counter()
        for result in written:
            convert_mod.finish_shard(result)
        finishing = min(finishing, time.perf_counter() - start)
    stages["parent's threads: fsync, sidecar, rename (beside the workers)"] = round(
        finishing / count * 1e6, 1)
    parts_sum = sum(value for name, value in stages.items()
                    if name.startswith("worker:") and not name.startswith("worker: whole"))
    stages["worker: rest (boxes, features, calls)"] = round(
        stages["worker: whole shards (write_shard)"] - parts_sum, 1)

    # Two forked workers that only report each image begun: their start and the progress.
    def report_only(task, on_sample):
        for sample in task.samples:
            on_sample(sample.image)
        return None

    seconds, _ = _best(lambda: workers_mod.run_in_workers(tasks, report_only, workers,
                                                          lambda _: 0), rounds)
    stages[f"workers: start and progress, {workers} workers (s)"] = round(seconds, 3)
    return stages


def baseline_stages(dataset: Path, output: Path, tf) -> dict:
    """Microseconds per image of each stage of bench_convert.baseline (the OD API's way), timed
    inside one pass of its loop, with its record-making functions."""
    from PIL import Image

    from benchmarks.bench_convert import baseline_boxes, baseline_example

    clock, spent = time.perf_counter, {}

    def lap(name, since):
        now = clock()
        spent[name] = spent.get(name, 0.0) + now - since
        return now

    count = 0
    whole = clock()
    with tf.io.TFRecordWriter(str(output)) as writer:
        for xml in sorted((dataset / "Annotations").glob("*.xml")):
            count += 1
            now = clock()
            tree = ElementTree.parse(xml)
            filename = tree.findtext("filename")
            width, height = int(tree.findtext("size/width")), int(tree.findtext("size/height"))
            boxes = baseline_boxes(tree)
            now = lap("read annotation (ElementTree)", now)
            data = (dataset / "JPEGImages" / filename).read_bytes()
            now = lap("read image bytes", now)
            if Image.open(io.BytesIO(data)).format != "JPEG":
                raise ValueError("Image format not JPEG")
            now = lap("header check (PIL.Image.open)", now)
            key = hashlib.sha256(data).hexdigest()
            now = lap("sha256", now)
            example = baseline_example(tf, filename, width, height, key, data, boxes)
            record = example.SerializeToString()
            now = lap("encode tf.train.Example (protobuf's C++)", now)
            writer.write(record)
            lap("write (TFRecordWriter, framing and CRC)", now)
    total = clock() - whole
    stages = {name: round(seconds / count * 1e6, 1) for name, seconds in spent.items()}
    stages["whole pass"] = round(total / count * 1e6, 1)
    return stages


def show(profile: dict, stream=sys.stderr) -> None:
    """The profile as two aligned tables (bench_convert prints its JSON too)."""
    for title, stages in profile.items():
        if not isinstance(stages, dict):
            continue
        print(f"\n{title} (us per image; (s): seconds a run)", file=stream)
        for name, value in stages.items():
            print(f"  {name:<52} {value:>9}", file=stream)


if __name__ == "__main__":  # python benchmarks/convert_profile.py VOC_FOLDER
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        show({"odwrap": odwrap_stages(Path(sys.argv[1]), Path(folder))})

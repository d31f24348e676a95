"""`odwrap convert` images per second against a plain converter and against raw reading.

On a generated Pascal VOC dataset (the demo shapes, default 3000 JPEGs of 256x256), in one run:
  raw read   -- read every image file's bytes, nothing else
  baseline   -- one process, the way the OD API's create_pascal_tf_record.py works: parse the
                XML, read the image, check it with PIL, hash it, build a tf.train.Example and
                write it with tf.io.TFRecordWriter, one record at a time (TF import not timed)
  odwrap     -- `odwrap convert voc` as a user runs it (process start included), 1 and N workers
  yolo       -- `odwrap convert yolo` of the same images and boxes as a YOLO dataset (images/
                hard links to the same JPEG files, labels/ written from the VOC XML, data.yaml),
                1 and N workers: the text label reader against the XML one
  beam       -- `odwrap convert voc --runner beam`: the DirectRunner, multi-processing, N
                workers (its pipeline in the Beam venv, scripts/setup-beam.sh; --no-beam: not run)
Then, unless --scale-images 0, both converters (N workers) once on a larger dataset (default
100,000 JPEGs of 128x128), each with the peak memory of its whole process tree (the sum of the
processes' proportional set sizes, sampled every 50 ms), and whether they wrote the same bytes.
Targets: N workers >= 1.8x the baseline; >= 0.5x the raw read speed.
    .venv/bin/python benchmarks/bench_convert.py [--images 3000] [--repeat 3]
        [--scale-images 100000] [--scale-size 128] [--no-beam]
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent


def raw_read(dataset: Path) -> float:
    start = time.perf_counter()
    for path in sorted((dataset / "JPEGImages").glob("*.jpg")):
        path.read_bytes()
    return time.perf_counter() - start


def baseline(dataset: Path, output: Path, tf) -> float:
    from PIL import Image

    def feature(values, kind):
        if kind == "bytes":
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        if kind == "float":
            return tf.train.Feature(float_list=tf.train.FloatList(value=values))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    start = time.perf_counter()
    ids = {"circle": 1, "square": 2}
    with tf.io.TFRecordWriter(str(output)) as writer:
        for xml in sorted((dataset / "Annotations").glob("*.xml")):
            tree = ElementTree.parse(xml)
            filename = tree.findtext("filename")
            data = (dataset / "JPEGImages" / filename).read_bytes()
            image = Image.open(io.BytesIO(data))
            if image.format != "JPEG":
                raise ValueError("Image format not JPEG")
            key = hashlib.sha256(data).hexdigest()
            width, height = int(tree.findtext("size/width")), int(tree.findtext("size/height"))
            xmin, ymin, xmax, ymax, names, labels = [], [], [], [], [], []
            for obj in tree.iter("object"):
                box = obj.find("bndbox")
                xmin.append(float(box.findtext("xmin")) / width)
                ymin.append(float(box.findtext("ymin")) / height)
                xmax.append(float(box.findtext("xmax")) / width)
                ymax.append(float(box.findtext("ymax")) / height)
                names.append(obj.findtext("name").encode())
                labels.append(ids[obj.findtext("name")])
            example = tf.train.Example(features=tf.train.Features(feature={
                "image/height": feature([height], "int"),
                "image/width": feature([width], "int"),
                "image/filename": feature([filename.encode()], "bytes"),
                "image/source_id": feature([filename.encode()], "bytes"),
                "image/key/sha256": feature([key.encode()], "bytes"),
                "image/encoded": feature([data], "bytes"),
                "image/format": feature([b"jpeg"], "bytes"),
                "image/object/bbox/xmin": feature(xmin, "float"),
                "image/object/bbox/xmax": feature(xmax, "float"),
                "image/object/bbox/ymin": feature(ymin, "float"),
                "image/object/bbox/ymax": feature(ymax, "float"),
                "image/object/class/text": feature(names, "bytes"),
                "image/object/class/label": feature(labels, "int"),
            }))
            writer.write(example.SerializeToString())
    return time.perf_counter() - start


def yolo_dataset(dataset: Path, folder: Path) -> Path:
    """FOLDER as a YOLO dataset of the VOC DATASET's images and boxes: images/ holds hard links
    to the same JPEG files (the same pages in the page cache), labels/ a .txt per image written
    from its XML (6 decimals, as Ultralytics writes them), data.yaml the class names."""
    annotations = []
    for xml in sorted((dataset / "Annotations").glob("*.xml")):
        tree = ElementTree.parse(xml)
        width, height = int(tree.findtext("size/width")), int(tree.findtext("size/height"))
        boxes = [(obj.findtext("name"), *(float(obj.findtext(f"bndbox/{key}"))
                                          for key in ("xmin", "ymin", "xmax", "ymax")))
                 for obj in tree.iter("object")]
        annotations.append((tree.findtext("filename"), width, height, boxes))
    names = sorted({name for *_, boxes in annotations for name, *_ in boxes})
    ids = {name: index for index, name in enumerate(names)}
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    for filename, width, height, boxes in annotations:
        try:
            os.link(dataset / "JPEGImages" / filename, folder / "images" / filename)
        except OSError:  # another file system
            shutil.copy(dataset / "JPEGImages" / filename, folder / "images" / filename)
        lines = [f"{ids[name]} {(xmin + xmax) / 2 / width:.6f} {(ymin + ymax) / 2 / height:.6f} "
                 f"{(xmax - xmin) / width:.6f} {(ymax - ymin) / height:.6f}\n"
                 for name, xmin, ymin, xmax, ymax in boxes]
        (folder / "labels" / Path(filename).with_suffix(".txt")).write_text("".join(lines))
    (folder / "data.yaml").write_text(json.dumps({"names": names}) + "\n")  # JSON is YAML
    return folder


def counts(output: Path) -> dict:
    """The images, boxes and problems that a convert's report.json gives."""
    report = json.loads((output / "report.json").read_text())
    return {"images": sum(split["images"] for split in report["splits"].values()),
            "boxes": sum(split["boxes"] for split in report["splits"].values()),
            "problems": {reason: entry["count"] for reason, entry in report["problems"].items()}}


def _tree_pss(pid: int) -> int:
    """Bytes of memory of PID and all its descendants, each process's share of the pages it
    shares counted once (PSS, Linux /proc): forked workers are not counted twice."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            total += int(rollup.split("\nPss:")[1].split()[0]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def odwrap_convert(dataset: Path, output: Path, workers: int, runner: str = "local",
                   memory: bool = False, fmt: str = "voc"):
    """Seconds of one `odwrap convert` (and with MEMORY, (seconds, peak bytes of its tree))."""
    shutil.rmtree(output, ignore_errors=True)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "odwrap", "convert", fmt, str(dataset),
                                "-o", str(output), "--workers", str(workers), "--runner",
                                runner], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while memory and process.poll() is None:
        peak = max(peak, _tree_pss(process.pid))
        time.sleep(0.05)
    error = process.communicate()[1]
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"odwrap convert {fmt} --runner {runner} failed: "
                         f"{error.decode()[-2000:]}")
    return (seconds, peak) if memory else seconds


def at_scale(tmp: Path, images: int, size: int, workers: int, beam: bool) -> dict:
    """Both converters (or without BEAM the default one) once on IMAGES generated images, with
    their peak memory; whether they wrote the same bytes."""
    from odwrap.data.demo import write_demo_dataset

    dataset = write_demo_dataset(tmp / "scale", images=images, size=size)
    raw_read(dataset)
    result = {"images": images, "image_size": size}
    for runner in ("local", "beam") if beam else ("local",):
        seconds, peak = odwrap_convert(dataset, tmp / f"scale-{runner}", workers, runner,
                                       memory=True)
        result[runner] = {"images_per_second": round(images / seconds, 1),
                          "seconds": round(seconds, 1), "peak_mib": round(peak / 2**20)}
    if not beam:
        shutil.rmtree(dataset)
        return result
    result["beam_vs_local"] = round(result["beam"]["images_per_second"] /
                                    result["local"]["images_per_second"], 2)
    local, beam = (sorted((tmp / f"scale-{runner}").glob("*.tfrecord"))
                   for runner in ("local", "beam"))
    result["same_bytes"] = [p.name for p in local] == [p.name for p in beam] and all(
        a.read_bytes() == b.read_bytes() for a, b in zip(local, beam))
    if not result["same_bytes"]:
        result["differing_shards"] = sorted(
            {p.name for p in local} ^ {p.name for p in beam} |
            {a.name for a, b in zip(local, beam) if a.read_bytes() != b.read_bytes()})
    shutil.rmtree(dataset)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale-images", type=int, default=100_000,
                        help="images of the scale run (0: none)")
    parser.add_argument("--scale-size", type=int, default=128)
    parser.add_argument("--no-beam", dest="beam", action="store_false",
                        help="leave out the Beam runs (no Beam venv needed)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from odwrap.data.demo import write_demo_dataset

    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dataset = write_demo_dataset(tmp / "voc", images=args.images, size=args.size)
        raw_read(dataset)  # the page cache holds the files for every measurement alike
        yolo = yolo_dataset(dataset, tmp / "yolo")
        times = {"raw_read": [], "baseline": [], "odwrap_1_worker": [],
                 f"odwrap_{workers}_workers": [], "yolo_1_worker": [],
                 f"yolo_{workers}_workers": []}
        if args.beam:
            times[f"beam_{workers}_workers"] = []
        for _ in range(args.repeat):
            times["raw_read"].append(raw_read(dataset))
            times["baseline"].append(baseline(dataset, tmp / "baseline.tfrecord", tf))
            times["odwrap_1_worker"].append(odwrap_convert(dataset, tmp / "one", 1))
            times[f"odwrap_{workers}_workers"].append(
                odwrap_convert(dataset, tmp / "all", workers))
            times["yolo_1_worker"].append(
                odwrap_convert(yolo, tmp / "yolo_one", 1, fmt="yolo"))
            times[f"yolo_{workers}_workers"].append(
                odwrap_convert(yolo, tmp / "yolo_all", workers, fmt="yolo"))
            if args.beam:
                times[f"beam_{workers}_workers"].append(
                    odwrap_convert(dataset, tmp / "beam", workers, "beam"))
        # The two readers must have read the same thing for their rates to compare.
        voc_counts, yolo_counts = counts(tmp / "all"), counts(tmp / "yolo_all")
        shutil.rmtree(dataset)
        scale = at_scale(tmp, args.scale_images, args.scale_size, workers, args.beam) \
            if args.scale_images else None
    rates = {name: round(args.images / statistics.median(values), 1)
             for name, values in times.items()}
    best = rates[f"odwrap_{workers}_workers"]
    result = {
        "images": args.images, "image_size": args.size, "cores": workers,
        "images_per_second": rates,
        "all_workers_vs_baseline": round(best / rates["baseline"], 2),
        "one_worker_vs_baseline": round(rates["odwrap_1_worker"] / rates["baseline"], 2),
        "all_workers_vs_raw_read": round(best / rates["raw_read"], 3),
        "yolo_vs_voc_1_worker": round(rates["yolo_1_worker"] / rates["odwrap_1_worker"], 2),
        "yolo_vs_voc_all_workers": round(rates[f"yolo_{workers}_workers"] / best, 2),
        "voc_read": voc_counts, "yolo_read": yolo_counts,
        "beam_vs_all_workers": round(rates[f"beam_{workers}_workers"] / best, 2)
        if args.beam else None,
        "scale": scale,
        "targets": {"all_workers_vs_baseline": 1.8, "all_workers_vs_raw_read": 0.5},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

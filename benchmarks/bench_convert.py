"""`odwrap convert voc` images per second against a plain converter and against raw reading.

On generated Pascal VOC datasets (the demo shapes, JPEGs of --size 256) of --images (3000) and
--large-images (30,000: the small set's files copied under new names), in one run:
  raw read   -- read every image file's bytes, nothing else (the page cache warm)
  baseline   -- one process, the way the OD API's create_pascal_tf_record.py works: parse the
                XML, read the image, check it with PIL, hash it, build a tf.train.Example and
                write it with tf.io.TFRecordWriter, one record at a time (TF import not timed)
  odwrap     -- `odwrap convert voc` as a user runs it, --workers 1 and --workers N (N: the
                cores); images/s with its process start (the wall time of the command) and in
                steady state (without it: the wall time less that of converting N images into
                N shards, which pays the interpreter, the imports, the workers' start and the
                output's fixed files), and, as a check of that, the rate of the images that the
                large set adds to the small one ("added": no fixed cost in it)
  yolo       -- `odwrap convert yolo` of the small set as a YOLO dataset (images/ hard links to
                the same JPEG files, labels/ written from the VOC XML, data.yaml), 1 and N
                workers: the text label reader against the XML one (--no-yolo: not run)
  beam       -- `odwrap convert voc --runner beam` of the small set: the DirectRunner,
                multi-processing, N workers (its pipeline in the Beam venv, scripts/setup-beam.sh;
                --no-beam: not run)
Each run's CPU time (this process's and its children's, user and system) is reported too, per
image and as the cores it used on average (CPU time / wall time): on a machine that other jobs
share, a run of N workers that used fewer than N cores did not get them.
With --profile, each stage's microseconds per image of both converters on the small set
(benchmarks/convert_profile.py), printed as a table to stderr and kept in the JSON.
With --scale-images M, both runners once more on M JPEGs of --scale-size with the peak memory of
their process trees (the sum of the processes' proportional set sizes, sampled every 50 ms), and
whether they wrote the same bytes.
Targets: N workers >= 1.8x the baseline (steady state, large set); >= 0.5x the raw read speed.
    .venv/bin/python benchmarks/bench_convert.py [--images 3000] [--large-images 30000]
        [--repeat 3] [--profile] [--no-yolo] [--no-beam] [--scale-images 0]
"""

import argparse
import hashlib
import io
import json
import os
import resource
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


BASELINE_IDS = {"circle": 1, "square": 2}  # the demo's classes, as its label map numbers them


def _feature(tf, values, kind):
    if kind == "bytes":
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def baseline_boxes(tree) -> list[tuple]:
    """A VOC TREE's objects as [(class, xmin, ymin, xmax, ymax)] in pixels."""
    boxes = []
    for obj in tree.iter("object"):
        box = obj.find("bndbox")
        boxes.append((obj.findtext("name"), *(float(box.findtext(key))
                                              for key in ("xmin", "ymin", "xmax", "ymax"))))
    return boxes


def baseline_example(tf, filename: str, width: int, height: int, key: str, data: bytes,
                     boxes: list):
    """The tf.train.Example that the OD API's create_pascal_tf_record makes of one image."""
    return tf.train.Example(features=tf.train.Features(feature={
        "image/height": _feature(tf, [height], "int"),
        "image/width": _feature(tf, [width], "int"),
        "image/filename": _feature(tf, [filename.encode()], "bytes"),
        "image/source_id": _feature(tf, [filename.encode()], "bytes"),
        "image/key/sha256": _feature(tf, [key.encode()], "bytes"),
        "image/encoded": _feature(tf, [data], "bytes"),
        "image/format": _feature(tf, [b"jpeg"], "bytes"),
        "image/object/bbox/xmin": _feature(tf, [b[1] / width for b in boxes], "float"),
        "image/object/bbox/xmax": _feature(tf, [b[3] / width for b in boxes], "float"),
        "image/object/bbox/ymin": _feature(tf, [b[2] / height for b in boxes], "float"),
        "image/object/bbox/ymax": _feature(tf, [b[4] / height for b in boxes], "float"),
        "image/object/class/text": _feature(tf, [b[0].encode() for b in boxes], "bytes"),
        "image/object/class/label": _feature(tf, [BASELINE_IDS[b[0]] for b in boxes], "int"),
    }))


def baseline(dataset: Path, output: Path, tf) -> float:
    """Seconds to convert the VOC DATASET into OUTPUT the OD API's way: one process, PIL's
    format check, SHA-256, a tf.train.Example each, TFRecordWriter."""
    from PIL import Image

    start = time.perf_counter()
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
            example = baseline_example(tf, filename, width, height, key, data,
                                       baseline_boxes(tree))
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


def _cpu_seconds() -> float:
    """CPU seconds (user and system) of this process and of its children waited for: an
    `odwrap convert`, its workers and its annotation readers included."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def copies(dataset: Path, folder: Path, images: int) -> Path:
    """FOLDER as a VOC dataset of IMAGES images: DATASET's image files and annotations copied in
    turn, each copy under a name of its own (the same bytes, other files, other page-cache
    pages): generating 30,000 images would take minutes."""
    sources = sorted((dataset / "Annotations").glob("*.xml"))
    (folder / "Annotations").mkdir(parents=True)
    (folder / "JPEGImages").mkdir()
    for index in range(images):
        xml = sources[index % len(sources)]
        text = xml.read_text()
        old = ElementTree.fromstring(text).findtext("filename")
        new = f"copy_{index:06d}.jpg"
        shutil.copyfile(dataset / "JPEGImages" / old, folder / "JPEGImages" / new)
        (folder / "Annotations" / f"copy_{index:06d}.xml").write_text(
            text.replace(f"<filename>{old}</filename>", f"<filename>{new}</filename>"))
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--large-images", type=int, default=30_000,
                        help="images of the large set (0: none)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--profile", action="store_true",
                        help="each stage's time per image, both converters (small set)")
    parser.add_argument("--scale-images", type=int, default=0,
                        help="images of the memory run (0: none)")
    parser.add_argument("--scale-size", type=int, default=128)
    parser.add_argument("--no-yolo", dest="yolo", action="store_false",
                        help="leave out the YOLO runs")
    parser.add_argument("--no-beam", dest="beam", action="store_false",
                        help="leave out the Beam runs (no Beam venv needed)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from odwrap.data.demo import write_demo_dataset

    workers = args.workers
    sizes = {"small": args.images, **({"large": args.large_images} if args.large_images else {})}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = {"small": write_demo_dataset(tmp / "voc", images=args.images, size=args.size)}
        if args.large_images:
            sets["large"] = copies(sets["small"], tmp / "voc-large", args.large_images)
        for dataset in sets.values():
            raw_read(dataset)  # the page cache holds the files for every measurement alike
        profile = None
        if args.profile:
            sys.path.insert(0, str(ROOT))
            from benchmarks import convert_profile

            profile = {
                "odwrap": convert_profile.odwrap_stages(sets["small"], tmp / "profile",
                                                        workers),
                "baseline": convert_profile.baseline_stages(sets["small"],
                                                            tmp / "profile.tfrecord", tf)}
            convert_profile.show(profile)
            shutil.rmtree(tmp / "profile")
        start = {count: convert_profile_start(tmp, sets["small"], count, args.repeat)
                 for count in (1, workers)}
        times, cpu = {}, {}

        def timed(name, function):
            before = _cpu_seconds()
            times.setdefault(name, []).append(function())
            cpu.setdefault(name, []).append(_cpu_seconds() - before)

        yolo = yolo_dataset(sets["small"], tmp / "yolo") if args.yolo else None
        for _ in range(args.repeat):
            for size, dataset in sets.items():
                timed(f"raw_read_{size}", lambda: raw_read(dataset))
                timed(f"baseline_{size}", lambda: baseline(dataset, tmp / "baseline.tfrecord",
                                                           tf))
                timed(f"odwrap_1_worker_{size}",
                      lambda: odwrap_convert(dataset, tmp / f"one-{size}", 1))
                timed(f"odwrap_{workers}_workers_{size}",
                      lambda: odwrap_convert(dataset, tmp / f"all-{size}", workers))
            if yolo is not None:
                timed("yolo_1_worker_small",
                      lambda: odwrap_convert(yolo, tmp / "yolo_one", 1, fmt="yolo"))
                timed(f"yolo_{workers}_workers_small",
                      lambda: odwrap_convert(yolo, tmp / "yolo_all", workers, fmt="yolo"))
            if args.beam:
                timed(f"beam_{workers}_workers_small",
                      lambda: odwrap_convert(sets["small"], tmp / "beam", workers, "beam"))
        # The two readers must have read the same thing for their rates to compare.
        read = {"voc": counts(tmp / "all-small"),
                **({"yolo": counts(tmp / "yolo_all")} if yolo is not None else {})}
        for dataset in sets.values():
            shutil.rmtree(dataset)
        scale = at_scale(tmp, args.scale_images, args.scale_size, workers, args.beam) \
            if args.scale_images else None
    seconds = {name: statistics.median(values) for name, values in times.items()}
    result = {"images": sizes, "image_size": args.size, "workers": workers,
              "cores": os.cpu_count(), "load_average_at_end": os.getloadavg(),
              "process_start_s": {f"{count}_workers": round(value, 3)
                                  for count, value in start.items()},
              "images_per_second": {}, "ratios": {}}
    rates, ratios = result["images_per_second"], result["ratios"]
    result["cpu_us_per_image"], result["cores_used"] = {}, {}
    for name, value in seconds.items():
        count = sizes[name.rsplit("_", 1)[1]]
        rates[name] = round(count / value, 1)
        result["cpu_us_per_image"][name] = round(statistics.median(cpu[name]) / count * 1e6, 1)
        result["cores_used"][name] = round(statistics.median(
            used / wall for used, wall in zip(cpu[name], times[name])), 2)
        if name.startswith("odwrap_"):
            fixed = start[1 if name.startswith("odwrap_1_") else workers]
            rates[name.replace("odwrap_", "odwrap_steady_")] = round(count / (value - fixed), 1)
    if "large" in sizes:  # the rate of the images the large set adds: no fixed cost in it
        added = sizes["large"] - sizes["small"]
        for who in ("1_worker", f"{workers}_workers"):
            rates[f"odwrap_added_{who}"] = round(added / (
                seconds[f"odwrap_{who}_large"] - seconds[f"odwrap_{who}_small"]), 1)
            ratios[f"added_{who}_vs_baseline_large"] = round(
                rates[f"odwrap_added_{who}"] / rates["baseline_large"], 2)
            result["cpu_us_per_image"][f"odwrap_added_{who}"] = round((
                statistics.median(cpu[f"odwrap_{who}_large"])
                - statistics.median(cpu[f"odwrap_{who}_small"])) / added * 1e6, 1)
    for size in sizes:
        base, raw = rates[f"baseline_{size}"], rates[f"raw_read_{size}"]
        for kind in ("", "steady_"):
            for who in ("1_worker", f"{workers}_workers"):
                rate = rates[f"odwrap_{kind}{who}_{size}"]
                ratios[f"{kind}{who}_vs_baseline_{size}"] = round(rate / base, 2)
                ratios[f"{kind}{who}_vs_raw_read_{size}"] = round(rate / raw, 3)
    if yolo is not None:
        ratios["yolo_vs_voc_1_worker"] = round(
            rates["yolo_1_worker_small"] / rates["odwrap_1_worker_small"], 2)
        ratios["yolo_vs_voc_all_workers"] = round(
            rates[f"yolo_{workers}_workers_small"] / rates[f"odwrap_{workers}_workers_small"], 2)
    if args.beam:
        ratios["beam_vs_all_workers"] = round(
            rates[f"beam_{workers}_workers_small"] / rates[f"odwrap_{workers}_workers_small"], 2)
    result.update(read=read, scale=scale, profile=profile, targets={
        f"steady_{workers}_workers_vs_baseline_large": 1.8,
        f"steady_{workers}_workers_vs_raw_read_large": 0.5})
    print(json.dumps(result, indent=2))
    return 0


def convert_profile_start(tmp: Path, dataset: Path, workers: int, rounds: int) -> float:
    """Seconds of odwrap's process start (convert_profile.process_start), best of ROUNDS."""
    sys.path.insert(0, str(ROOT))
    from benchmarks import convert_profile

    return convert_profile.process_start(tmp, dataset, workers, rounds)


if __name__ == "__main__":
    sys.exit(main())

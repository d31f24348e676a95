"""`odwrap convert`, `labelmap`, `stats` and `demo-data`: each command's parser and the function
that runs it (the API call and what it prints)."""

from pathlib import Path

from odwrap import api
from odwrap.cli.common import EXIT_OK, SEED_MAX, add_runner_options
from odwrap.cli.options import arguments
from odwrap.cli.types import input_size, int_in, path_or_url, rank_list
from odwrap.data.formats import READERS


def split_list(value) -> tuple:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()


def dataset_options(args) -> dict:
    """The class filters and reader options that convert and labelmap share, as API keywords."""
    return {"keep": split_list(args.keep), "drop": split_list(args.drop),
            "rename": tuple(args.rename), "order": args.order, "images": args.images,
            "crowd": args.crowd, "group_of": args.group_of,
            "class_names": args.class_names}


def add_class_options(parser) -> None:
    """The class filters and reader options that convert and labelmap share."""
    parser.add_argument("--keep", metavar="A,B", help="keep only these classes")
    parser.add_argument("--drop", metavar="A,B", help="leave these classes out")
    parser.add_argument("--rename", action="append", metavar="OLD=NEW",
                        help="rename a class (repeatable; applied before --keep/--drop)")
    parser.add_argument("--order", choices=["name", "frequency"],
                        help="how label map ids are given: by class name or by box count")
    parser.add_argument("--images", type=path_or_url, metavar="DIR",
                        help="the images folder, when not the format's default")
    parser.add_argument("--crowd", choices=["keep", "drop"],
                        help="coco: keep iscrowd boxes flagged is_crowd, or drop them")
    parser.add_argument("--no-group-of", dest="group_of", action="store_false",
                        help="oid: leave IsGroupOf boxes out")
    parser.add_argument("--class-names", type=path_or_url, metavar="CSV",
                        help="oid: class descriptions (MID,Name) to name the classes")


def add_convert(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert", help="turn VOC, COCO, CSV, Open Images, YOLO, LabelMe, CVAT or Create ML "
                        "annotations into TFRecords",
        description="Write sharded TFRecords (NAME-00000-of-0000N.tfrecord) with the feature "
                    "keys of the OD API's TfExampleDecoder, a label_map.pbtxt and a "
                    "report.json. Bad images and boxes are counted per reason (--strict fails "
                    "instead). A dataset's own splits (Roboflow's train/valid/test folders, "
                    "data.yaml's train/val/test) are kept, with one label map, unless --split "
                    "is given. Deterministic for a seed, whatever the number of workers; a "
                    "rerun after an interruption finishes the job.")
    parser.add_argument("format", choices=list(READERS), help="the annotation format")
    parser.add_argument("source", type=path_or_url,
                        help="voc, labelme, yolo: the dataset folder; coco: the JSON file, "
                             "or a folder of split folders with _annotations.coco.json "
                             "(Roboflow) or with images/ and labels.json (Model Maker); "
                             "createml: the JSON file; csv, oid: the CSV; cvat: the XML file; "
                             "yolo: also its data.yaml")
    parser.add_argument("-o", "--output", type=path_or_url, required=True,
                        help="the output folder (a gs:// URL with --runner beam)")
    parser.add_argument("--split", metavar="NAME=F,...",
                        help="e.g. train=0.8,val=0.1,test=0.1 (default: one split, 'data')")
    parser.add_argument("--seed", type=int_in(0, SEED_MAX),
                        help="the split's random seed")
    parser.add_argument("--workers", type=int_in(1, 1024), metavar="N",
                        help="processes writing shards (default: all cores)")
    parser.add_argument("--shards", type=int_in(1, 99_999), metavar="N",
                        help="shards per split (default: one per 500 images)")
    parser.add_argument("--label-map", type=path_or_url, metavar="FILE",
                        help="number classes with this label map (others: unknown_class)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on the first bad image, box or annotation")
    add_runner_options(parser, local="worker processes here",
                       default="the DirectRunner with --workers processes")
    parser.add_argument("--masks", action="store_true",
                        help="a PNG instance mask per box: coco's segmentations, labelme's "
                             "and cvat's shapes, yolo's polygons; a box without one gets its "
                             "filled box (counted: box_mask)")
    parser.add_argument("--keypoints", action="store_true",
                        help="coco, yolo (pose: data.yaml's kpt_shape), labelme (point shapes "
                             "grouped with a box): each object's keypoints too, the label map "
                             "listing each class's; bad points are left unlabeled and counted")
    parser.add_argument("--exif", choices=("oriented", "raw"),
                        help="for photos with an EXIF orientation, where the annotated size "
                             "cannot tell: oriented (boxes drawn on the image as viewers show "
                             "it; the image is written turned; the default) or raw (on the "
                             "stored pixels)")
    add_class_options(parser)
    parser.set_defaults(func=convert)


def convert(args) -> int:
    from odwrap.data.dataset import REASONS
    from odwrap.odapi.labelmap import FILE_NAME

    report = api.convert(args.format, args.source, args.output, split=args.split,
                         seed=args.seed, workers=args.workers, shards=args.shards,
                         label_map=args.label_map, strict=args.strict, masks=args.masks,
                         runner=args.runner, beam_options=args.beam_options,
                         exif=args.exif, keypoints=args.keypoints, **dataset_options(args))
    for name, split in report.splits.items():
        print(f"{name:10} {split['images']:7} images {split['boxes']:8} boxes "
              f"{split['shards']:4} shard(s)")
    for reason, entry in report.problems.items():
        print(f"{entry['count']:7} {REASONS[reason]}; e.g. {entry['example']}")
    if report.rewritten_shards:
        print(f"rewrote {len(report.rewritten_shards)} damaged shard(s) of an earlier run: "
              f"{', '.join(report.rewritten_shards)}")
    rate = report.images / report.seconds if report.seconds else 0.0
    resumed = f", {report.resumed_shards} shard(s) kept from an earlier run" \
        if report.resumed_shards else ""
    label_map = f"{report.output}/{FILE_NAME}" if isinstance(report.output, str) else \
        report.output / FILE_NAME  # a URL, or a folder
    print(f"wrote {report.output} in {report.seconds:.1f} s ({rate:.0f} images/s{resumed}); "
          f"label map: {label_map}")
    return EXIT_OK


def add_labelmap(subparsers) -> None:
    parser = subparsers.add_parser(
        "labelmap", help="write a label map from a dataset or a class list",
        description="Write a label_map.pbtxt with ids 1..N from a dataset's classes "
                    "(FORMAT SOURCE, as for convert) or from --classes.")
    parser.add_argument("format", nargs="?", choices=list(READERS), help="the annotation format")
    parser.add_argument("source", nargs="?", type=Path, help="as for convert")
    parser.add_argument("--classes", metavar="A,B,C", help="class names, ids 1..N in this order")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the label map to write")
    groups = parser.add_mutually_exclusive_group()
    groups.add_argument("--groups", type=int_in(1, 100_000), metavar="N",
                        help="N label maps of classes by frequency (OUTPUT-1-of-N.pbtxt ...)")
    groups.add_argument("--group-ranks", type=rank_list, metavar="R1,R2",
                        help="label maps of the classes by frequency cut after these ranks")
    add_class_options(parser)
    parser.set_defaults(func=labelmap)


def labelmap(args) -> int:
    counts = api.write_label_map(args.output, classes=split_list(args.classes),
                                 format=args.format, source=args.source,
                                 groups=args.groups, group_ranks=args.group_ranks,
                                 **dataset_options(args))
    if args.groups or args.group_ranks:
        rank = 0
        for path, group in counts.items():
            print(f"wrote {path}: classes {rank + 1}-{rank + len(group)} by frequency "
                  f"({len(group)} classes, {sum(group.values())} box(es))")
            rank += len(group)
        return EXIT_OK
    if not args.classes:
        for index, (name, boxes) in enumerate(counts.items(), start=1):
            print(f"{index:4} {name:24} {boxes} box(es)")
    print(f"wrote {args.output} ({len(counts)} classes)")
    return EXIT_OK


def add_stats(subparsers) -> None:
    parser = subparsers.add_parser(
        "stats", help="images, boxes per class and box sizes of TFRecords",
        description="Read TFRecords and print images, boxes, boxes per class and the box size "
                    "distribution at the model's input size (small objects warn).")
    parser.add_argument("files", nargs="+", help="TFRecord files or globs")
    parser.add_argument("--input-size", type=input_size, metavar="SIZE",
                        help="the model's input, SIZE or HEIGHTxWIDTH (default 320x320)")
    parser.add_argument("--histogram", type=Path, metavar="PNG",
                        help="also save a histogram of box sizes and classes")
    parser.set_defaults(func=stats)


def stats(args) -> int:
    from odwrap.data.stats import format_stats

    result = api.stats(**arguments(args, "stats", api.stats))
    print(format_stats(result))
    if result.histogram:
        print(f"wrote {result.histogram}")
    return EXIT_OK


def add_demo_data(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo-data", help="write the built-in demo dataset (shapes, Pascal VOC)",
        description="Write red squares and blue circles (and green triangles with --shapes) "
                    "on noisy backgrounds as Pascal VOC (JPEGImages/, Annotations/), ready "
                    "for 'odwrap convert voc'.")
    parser.add_argument("output", type=Path, help="the folder to write")
    parser.add_argument("--images", type=int_in(1, 100_000),
                        help="how many images (default %(default)s)")
    parser.add_argument("--size", type=int_in(57, 2048),
                        help="image side in pixels, 57 to 2048 (the shapes are 24-56; "
                             "default %(default)s)")
    parser.add_argument("--seed", type=int_in(0, SEED_MAX))
    parser.add_argument("--shapes", type=lambda text: tuple(text.split(",")),
                        help="the shapes (classes) drawn, comma-separated, out of square, circle "
                             "and triangle (default square,circle)")
    parser.add_argument("--masks", action="store_true",
                        help="write COCO JSON (annotations.json) with each shape's polygon instead "
                             "of Pascal VOC, for 'odwrap convert coco --masks'")
    parser.add_argument("--keypoints", action="store_true",
                        help="write COCO JSON (annotations.json) with the corners of squares "
                             "and triangles as named keypoints, for 'odwrap convert coco "
                             "--keypoints' (circles have none)")
    parser.set_defaults(func=demo_data)


def demo_data(args) -> int:
    path = api.demo_data(**arguments(args, "demo-data", api.demo_data))
    kind = ("COCO annotations with " + " and ".join(
        what for what, wanted in (("polygons", args.masks), ("keypoints", args.keypoints))
        if wanted)) if args.masks or args.keypoints else "Pascal VOC annotations"
    print(f"wrote {args.images} images of {', '.join(args.shapes)} and {kind} to {path}")
    return EXIT_OK

"""`odwrap merge` and `trim`, the detection-file tools: each command's parser and the function
that runs it (the API call and what it prints)."""

from pathlib import Path

from odwrap import api
from odwrap.cli.common import EXIT_OK
from odwrap.cli.options import arguments
from odwrap.cli.types import int_in, number_in, weight_list

RESULT_FORMATS = ("coco", "jsonl", "oid")


def add_merge(subparsers) -> None:
    formats = RESULT_FORMATS
    parser = subparsers.add_parser(
        "merge", help="ensemble several models' detections (Soft-NMS or box fusion), or join",
        description="Merge detection files (COCO results .json, JSON Lines .jsonl, Open Images "
                    "submission .csv) image by image and class by class: Soft-NMS (decayed boxes "
                    "kept above --floor) or weighted boxes fusion, with per-model --weights; "
                    "--join concatenates class-group files of one image set. An option the "
                    "method does not use is refused. Streams through partitions on disk: any "
                    "file size.")
    parser.add_argument("output", type=Path, help="the merged file (its suffix sets the format)")
    parser.add_argument("inputs", nargs="+", type=Path, help="detection files, one per model")
    method = parser.add_mutually_exclusive_group()
    method.add_argument("--method", choices=("soft-nms", "wbf"))
    method.add_argument("--join", action="store_true", help="no fusion: join class-group files")
    parser.add_argument("--decay", choices=("linear", "gaussian"),
                        help="Soft-NMS: how an overlapping box's score decays (linear)")
    parser.add_argument("--iou", type=number_in(0, 1), help="Soft-NMS linear: the overlap above "
                        "which scores decay (0.5); wbf: that joins a cluster (0.55)")
    parser.add_argument("--sigma", type=number_in(0, 100, low_open=True),
                        help="Soft-NMS gaussian: exp(-IoU^2 / sigma) (0.5)")
    parser.add_argument("--floor", type=number_in(0, 1),
                        help="Soft-NMS: the lowest decayed score kept (0.001)")
    parser.add_argument("--weights", type=weight_list,
                        help="Soft-NMS, wbf: one weight per input, e.g. 2,1,1")
    parser.add_argument("--format", choices=formats, help="the inputs' format, if no suffix says")
    parser.set_defaults(func=merge)


def merge(args) -> int:
    result = api.merge(args.output, args.inputs, method="join" if args.join else args.method,
                       decay=args.decay, iou=args.iou, sigma=args.sigma, floor=args.floor,
                       weights=args.weights, input_format=args.format)
    print(f"merged {result.rows_in} detection(s) of {len(args.inputs)} file(s) ({result.method}) "
          f"into {result.rows_out} of {result.images} image(s): {result.output}")
    return EXIT_OK


def add_trim(subparsers) -> None:
    formats = RESULT_FORMATS
    parser = subparsers.add_parser(
        "trim", help="keep detections above a score, and the N best over a whole file",
        description="Drop detections under --min-score and keep the --max-total highest-scoring "
                    "of the whole file, in passes of constant memory; the input's order is kept.")
    parser.add_argument("input", type=Path, help="a .json, .jsonl or .csv detection file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the trimmed file")
    parser.add_argument("--min-score", type=number_in(0, 1))
    parser.add_argument("--max-total", type=int_in(0, 2**62), help="keep at most N detections")
    parser.add_argument("--format", choices=formats, help="the input's format, if no suffix says")
    parser.set_defaults(func=trim)


def trim(args) -> int:
    result = api.trim(**arguments(args, "trim", api.trim))
    cut = f"; lowest score kept {result.threshold:.6g}" if result.threshold is not None else ""
    print(f"kept {result.rows_out} of {result.rows_in} detection(s){cut}: {result.output}")
    return EXIT_OK

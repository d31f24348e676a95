"""`odwrap export`, `predict` and `verify`: each command's parser and the function that runs it
(the API call and what it prints)."""

from pathlib import Path

from odwrap import api
from odwrap.cli.common import (EXIT_FINDINGS, EXIT_OK, INT32_MAX, RUNTIME_CHOICES,
                               add_runner_options)
from odwrap.cli.options import arguments
from odwrap.cli.types import int_in, number_in, path_or_url, quantize_list
from odwrap.deploy.export import CHECKPOINTS, FORMATS, QUANTIZE, UPSAMPLING, WEIGHTS
from odwrap.deploy.labelling import FORMATS as TOOL_FORMATS
from odwrap.errors import InputError

MAX_DETECTIONS = 10_000  # the post-processing op's detections


def add_export(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained model to SavedModel, TFLite, the Edge TPU, ONNX or "
                       "OpenVINO",
        description="Export MODEL_DIR's latest checkpoint. Every export prints time, size and "
                    "path and is verified by loading it and running one inference. Options a "
                    "format does not take are refused.")
    parser.add_argument("model_dir", type=Path, help="the folder odwrap train wrote")
    parser.add_argument("--format", required=True, choices=list(FORMATS))
    parser.add_argument("-o", "--output", type=Path, help="default: MODEL_DIR/export")
    parser.add_argument("--quantize", type=quantize_list, metavar="MODES",
                        help=f"tflite: post-training quantization, {', '.join(QUANTIZE)} "
                             "(default none), or several comma-separated (or all): one model "
                             "each, converted from one graph export; onnx: none, int8; "
                             "openvino: none, fp16, int8")
    parser.add_argument("--input-type", metavar="TYPE",
                        help="saved_model: image_tensor | encoded_image_string_tensor | "
                             "tf_example; int8 tflite/edgetpu: uint8 | int8")
    parser.add_argument("--representative", type=int_in(1, 100_000), metavar="N",
                        help="int8 (tflite, edgetpu, onnx, openvino): eval images for "
                             "calibration (default 100)")
    parser.add_argument("--max-detections", type=int_in(1, MAX_DETECTIONS), metavar="N",
                        help="tflite/edgetpu: detections of the post-processing op (default 10)")
    parser.add_argument("--compare", action="store_true",
                        help="also export fp32 and report the mAP of both on the eval images "
                             "and the difference (tflite with --quantize, edgetpu)")
    parser.add_argument("--upsampling", choices=UPSAMPLING,
                        help="tflite/edgetpu: the FPN's top-down upsampling, native (one "
                             "nearest-neighbour resize op, the default; checked against the "
                             "default build) or reshape (the OD API's default)")
    parser.add_argument("--search-delegate", action="store_true",
                        help="edgetpu: edgetpu_compiler's segment search (-d) when the "
                             "compiler is on PATH")
    parser.add_argument("--checkpoint", choices=CHECKPOINTS,
                        help="the latest checkpoint, or the best one evaluated so far "
                             "(odwrap eval keeps it in MODEL_DIR/best/; default: latest)")
    parser.add_argument("--weights", choices=WEIGHTS,
                        help="the moving averages or the trained weights (default: the averages "
                             "when training kept them, train_config.optimizer."
                             "use_moving_average)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and the converter's logs")
    parser.set_defaults(func=export)


def export(args) -> int:
    result = api.export(**arguments(args, "export", api.export))
    for note in result.notes:
        print(note)
    print(f"exported {result.format} to {result.path} in {result.seconds:.0f} s, "
          f"{result.size_bytes / 1e6:.2f} MB; verified: {result.verified}")
    for path in result.files:
        print(f"wrote {path}")
    return EXIT_OK


def add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="run an exported model on images and videos",
        description="Run a .tflite model (ai-edge-litert, else tflite-runtime, else "
                    "TensorFlow's interpreter), a SavedModel folder, an ONNX model or an "
                    "OpenVINO IR on images and on the frames of videos; write the detections "
                    "(with compressed RLE masks for a mask model) as COCO results JSON or JSON "
                    "Lines, a line per image or frame in images.jsonl (a frame's with its "
                    "\"frame\" index and \"time\"), and annotated images (an annotated "
                    "NAME.annotated.mp4 of a video); with --format, also a labelling tool's "
                    "files to correct them in. --workers threads read, infer and draw images "
                    "side by side; the files are written in the images' order, the same for any "
                    "number of workers. An interrupted run is resumed: the images and frames "
                    "already written are skipped.")
    parser.add_argument("model", type=Path,
                        help="a .tflite file, a SavedModel folder, a .onnx file (ONNX Runtime) "
                             "or an OpenVINO .xml (OpenVINO)")
    parser.add_argument("images", nargs="+", type=path_or_url,
                        help="image files, folders (searched recursively, for videos too), "
                             "glob patterns (quoted), TFRecord files, video files (.mp4, .avi, "
                             ".mkv, .webm) or stream URLs OpenCV opens (rtsp://, http(s)://); "
                             "with --runner beam, images and TFRecords in buckets too "
                             "(gs://...)")
    parser.add_argument("-o", "--output", type=Path,
                        help="where results go (default ./predictions)")
    parser.add_argument("--threshold", type=number_in(0, 1),
                        help="lowest score kept (default: the best-F1 threshold that export "
                             "wrote beside the model, else 0.5)")
    parser.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES)
    parser.add_argument("--threads", type=int_in(1, 1024),
                        help="inference threads of each worker's interpreter (default "
                             "%(default)s)")
    parser.add_argument("--workers", type=int_in(1, 64), metavar="N",
                        help="threads that read, infer (a model instance each) and draw images "
                             "side by side (default: the usable cores, at most 4)")
    parser.add_argument("--stride", type=int_in(1, INT32_MAX), metavar="N",
                        help="a video's every Nth frame: 0, N, 2N, ... (default %(default)s: "
                             "every frame)")
    parser.add_argument("--jsonl", action="store_true",
                        help="detections.jsonl, one detection a line, instead of detections.json")
    parser.add_argument("--no-annotate", dest="annotate", action="store_false",
                        help="write no annotated images")
    parser.add_argument("--restart", action="store_true",
                        help="start over instead of resuming an interrupted run in --output")
    parser.add_argument("--max-images", type=int_in(1, INT32_MAX), metavar="N",
                        help="only the first N images, a video's kept frames counted as images "
                             "(default: all; a stream runs until it ends or N)")
    parser.add_argument("--classes", type=lambda text: tuple(text.split(",")), metavar="A,B",
                        help="only detections of these classes (default: all)")
    parser.add_argument("--format", choices=list(TOOL_FORMATS),
                        help="also write the detections as a labelling tool's files in "
                             "OUTPUT/FORMAT (with the class names; a mask model's masks as "
                             "polygons), to import and correct there: yolo (data.yaml, "
                             "labels/, images/ as hard links), labelme (a JSON per image), "
                             "cvat (CVAT for images 1.1 XML) or coco (a COCO dataset JSON)")
    add_runner_options(parser, local="one image at a time here",
                       default="the DirectRunner with a process per --threads cores")
    parser.set_defaults(func=predict)


def predict(args) -> int:
    result = api.predict(**arguments(args, "predict", api.predict))
    if result.threshold_source != "given":
        print(f"threshold {result.threshold:g}: {result.threshold_source}")
    for _, why in result.skipped:
        print(f"skipped {why}")
    resumed = f" after the {result.resumed} of the interrupted run" if result.resumed else ""
    masks = " with masks" if result.masks else ""
    frames = f" ({result.frames} of them video frames)" if result.frames else ""
    print(f"predicted {result.images} image(s){frames}{resumed}; {result.detections} "
          f"detection(s){masks} in {result.output}")
    if result.skipped:
        print(f"skipped {len(result.skipped)} of {result.images + len(result.skipped)} image(s) "
              "that could not be read")
    if result.images:
        print(f"{result.runtime}: median {result.median_milliseconds:.1f} ms per image"
              + ("; annotated images in " + str(args.output) if args.annotate else ""))
    if result.labelling:
        print(f"{result.labelling.format} files for the labelling tool in "
              f"{result.labelling.folder}; " + "; ".join(result.labelling.notes))
    return EXIT_OK


def add_verify(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="check a mask model's masks against golden masks",
        description="Check that every expected mask of a golden folder is matched by a "
                    "predicted mask of its class with IoU at least --iou: a line per mask file, "
                    "exit 1 when any is missing. --record-golden writes the folder from a "
                    "trusted model: per image a folder with image.png and CLASS.png, "
                    "CLASS.2.png ... (a .npy array works as an expected mask too).")
    parser.add_argument("model", type=Path, help="a mask model's SavedModel folder")
    parser.add_argument("images", nargs="*", type=Path,
                        help="with --record-golden: image files, folders, globs or TFRecords")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--golden", type=Path, metavar="DIR", help="the golden folder to check")
    which.add_argument("--record-golden", type=Path, metavar="DIR",
                       help="write the golden folder from the model's masks on IMAGES")
    parser.add_argument("--iou", type=number_in(0, 1, low_open=True),
                        help="the lowest IoU that matches (default %(default)s)")
    parser.add_argument("--threshold", type=number_in(0, 1),
                        help="the lowest score of a predicted mask (default %(default)s)")
    parser.add_argument("--out-qual", type=Path, metavar="DIR",
                        help="write expected_*.png and actual_*.png, the masks over the image")
    parser.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    parser.set_defaults(func=verify)


def verify(args) -> int:
    if args.record_golden:
        if not args.images:
            raise InputError("--record-golden: name the images to record the masks of")
        recorded = api.record_golden(args.model, args.record_golden, args.images,
                                     threshold=args.threshold, labels=args.labels)
        for image in recorded.empty:
            print(f"{image}: no mask scored {args.threshold} or more (nothing to check there)")
        print(f"recorded {recorded.masks} mask(s) of {recorded.images} image(s) in "
              f"{recorded.folder}")
        return EXIT_OK
    if args.images:
        raise InputError("--golden: takes no images (the golden folder holds them)")
    result = api.verify(args.model, args.golden, iou=args.iou, threshold=args.threshold,
                        out_qual=args.out_qual, labels=args.labels)
    for check in result.checks:
        if check.passed:
            print(f"{check.file}: OK (IoU {check.iou:.2f})")
        elif check.matched:
            print(f"{check.file}: missing (best IoU {check.iou:.2f} with {check.matched})")
        else:
            print(f"{check.file}: missing (no predicted mask overlaps it)")
    print(f"{len(result.checks) - len(result.failed)} of {len(result.checks)} golden mask(s) of "
          f"{result.images} image(s) matched at IoU {result.iou}"
          + (f"; side by side in {args.out_qual}" if args.out_qual else ""))
    return EXIT_FINDINGS if result.failed else EXIT_OK


def add_benchmark(subparsers) -> None:
    parser = subparsers.add_parser(
        "benchmark", help="export to every format, then each one's size, mAP and latency",
        description="Export MODEL_DIR's checkpoint to every format this machine can produce "
                    "(SavedModel, TFLite fp32/fp16/dynamic/int8, ONNX fp32/int8, OpenVINO "
                    "fp32/fp16/int8), evaluate each on the eval records and time it: one row "
                    "per format and quantization (status, size, COCO mAP and mAP@.50, median "
                    "and p90 ms per image, runtime), printed and written as benchmark.json and "
                    "benchmark.md. A format that fails is a row with its reason.")
    parser.add_argument("model_dir", type=Path, help="the folder odwrap train wrote")
    parser.add_argument("-o", "--output", type=Path,
                        help="where the exports and the table go (default: MODEL_DIR/benchmark)")
    parser.add_argument("--formats", metavar="LIST",
                        help="comma-separated FORMAT or FORMAT:MODE, e.g. "
                             "saved_model,tflite:int8,onnx (default: all of them)")
    parser.add_argument("--records", metavar="GLOB",
                        help="the TFRecords to evaluate on (default: the config's eval ones)")
    parser.add_argument("--max-images", type=int_in(1, INT32_MAX), metavar="N",
                        help="at most N eval images (default: eval num_examples)")
    parser.add_argument("--representative", type=int_in(1, 100_000), metavar="N",
                        help="int8: eval images for calibration (default %(default)s)")
    parser.add_argument("--threads", type=int_in(1, 1024),
                        help="inference threads of every runtime (default %(default)s)")
    parser.add_argument("--checkpoint", choices=CHECKPOINTS,
                        help="the latest checkpoint, or the best one evaluated (default: latest)")
    parser.add_argument("--weights", choices=WEIGHTS,
                        help="the moving averages or the trained weights (as for export)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and the converters' logs")
    parser.set_defaults(func=benchmark)


def benchmark(args) -> int:
    from odwrap.deploy.benchmark import table

    result = api.benchmark(**arguments(args, "benchmark", api.benchmark))
    print(f"benchmark on {result.machine}, {args.threads} thread(s), in {result.seconds:.0f} s:")
    print(table(result))
    for path in result.files:
        print(f"wrote {path}")
    failed = [row for row in result.rows if row.status != "ok"]
    return EXIT_FINDINGS if len(failed) == len(result.rows) else EXIT_OK

"""The `odwrap` argument parser: every command, its options and its help text.

Choices come from the library's own tables (formats, quantize modes, runtimes), imported without
numpy or TensorFlow; each command's function is in odwrap.cli.commands.
"""

import argparse
from pathlib import Path

from odwrap import __version__
from odwrap.cli import commands
from odwrap.data.formats import READERS
from odwrap.deploy import RUNTIMES
from odwrap.cli.options import command_parsers, defaults_from_api
from odwrap.cli.parser_tools import add_diagnostics, add_results, add_zoo
from odwrap.cli.types import (input_size, int_in, number_in, path_or_url, quantize_list,
                               rank_list)
from odwrap.deploy.export import FORMATS, QUANTIZE, UPSAMPLING, WEIGHTS
from odwrap.errors import InputError

RUNTIME_CHOICES = ("auto", *RUNTIMES)
INT32_MAX = 2**31 - 1  # the OD API's step counts are int32 proto fields
SEED_MAX = 2**32 - 1  # what numpy's generators take
MAX_DETECTIONS = 10_000  # as a spec's export.max_detections


class Parser(argparse.ArgumentParser):
    """Errors as InputError (one line, exit 2), and a command's positionals may come after its
    options (`verify MODEL --record-golden DIR IMAGES...`): a command without subcommands parses
    its arguments intermixed, as `parse_intermixed_args` does."""

    _intermixing = False

    def error(self, message):
        raise InputError(f"{self.prog}: {message}")

    def parse_known_args(self, args=None, namespace=None):
        if self._subparsers is not None or self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls back in here
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _add_class_options(parser):
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


def _add_set(parser):
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE",
        help="override a spec value, e.g. --set train.batch_size=8 (value read as YAML; "
             "--set wins over the spec file, which wins over the defaults)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="odwrap",
        description="The TensorFlow 2 Object Detection API, end to end: YAML spec -> "
                    "pipeline.config -> TFRecords -> train -> eval -> export.",
        epilog="Start with 'odwrap doctor' when something is off. "
               "'odwrap COMMAND --help' describes each command.")
    parser.add_argument("--version", action="version", version=f"odwrap {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    doctor = subparsers.add_parser(
        "doctor", help="report the installed TF / OD API stack and what is wrong with it",
        description="Print Python, TensorFlow, protobuf, numpy, OD API and TFLite runtime "
                    "versions, the compatibility fixes odwrap applies, visible GPUs and TPUs "
                    "and whether edgetpu_compiler is on PATH. Exits 1 when a problem is found.")
    doctor.set_defaults(func=commands.doctor)

    generate = subparsers.add_parser(
        "generate", help="render a YAML spec into a validated pipeline.config",
        description="Render SPEC (YAML) into OUTPUT/pipeline.config, parsed and validated with "
                    "the OD API's own TrainEvalPipelineConfig. Writes OUTPUT/label_map.pbtxt "
                    "when the spec lists its classes inline. Does not import TensorFlow.")
    generate.add_argument("spec", type=Path, help="the YAML spec")
    generate.add_argument("-o", "--output", type=Path, required=True,
                          help="the folder to write pipeline.config into")
    generate.add_argument("--force", action="store_true",
                          help="write the files even when the checks find errors")
    _add_set(generate)
    generate.set_defaults(func=commands.generate)

    check = subparsers.add_parser(
        "check", help="lint a pipeline.config or a spec before training",
        description="Run odwrap's semantic checks on a pipeline.config (generated or "
                    "hand-written) or a YAML spec. Exit 0 clean, 1 errors found, 2 bad input.")
    check.add_argument("file", type=Path, help="a pipeline.config or a .yaml spec")
    check.add_argument("--build", action="store_true",
                       help="also build the model with the OD API's model_builder (imports "
                            "TensorFlow)")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.add_argument("--device", choices=["cpu", "gpu", "tpu"],
                       help="where training will run (a spec says it in train.device)")
    check.add_argument("--num-devices", type=int_in(1, 4096), metavar="N",
                       help="GPUs or TPU cores (default 1; 8 with --device tpu)")
    check.add_argument("--target", action="append", choices=list(FORMATS),
                       help="an export target to check for (repeatable; a spec says it in "
                            "export.targets)")
    _add_set(check)
    check.set_defaults(func=commands.check)

    train = subparsers.add_parser(
        "train", help="train a model from a spec or a pipeline.config",
        description="Run the OD API's TF2 training step for exactly the requested steps, "
                    "with a progress bar, a checkpoint every --checkpoint-every steps and at "
                    "the end, resume from the latest checkpoint in --model-dir, and a "
                    "checkpoint on SIGINT/SIGTERM. The model directory keeps the "
                    "pipeline.config it was trained with; another one is refused without "
                    "--force.")
    train.add_argument("source", type=Path, help="a .yaml spec or a pipeline.config")
    train.add_argument("--model-dir", type=Path, required=True,
                       help="checkpoints, summaries and the config go here")
    train.add_argument("--steps", type=int_in(1, INT32_MAX), metavar="N",
                       help="train until step N (default: the config's num_steps)")
    train.add_argument("--checkpoint-every", type=int_in(1, INT32_MAX), metavar="N",
                       help="save a checkpoint every N steps (default %(default)s; always at the end)")
    train.add_argument("--force", action="store_true",
                       help="train even though --model-dir holds another pipeline.config")
    train.add_argument("--steps-per-loop", type=int_in(1, INT32_MAX), metavar="N",
                       help="steps per tf.function call: the progress bar's granularity; "
                            "smaller costs speed (default %(default)s, as model_main_tf2)")
    train.add_argument("--tpu", metavar="NAME", help="train on this Cloud TPU (TPUStrategy)")
    train.add_argument("--seed", type=int_in(0, SEED_MAX), help="random seed: the same initial "
                       "weights and random draws each run (parallel CPU kernels and input "
                       "threads still vary the steps a little)")
    train.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    _add_set(train)
    train.set_defaults(func=commands.train)

    evaluation = subparsers.add_parser(
        "eval", help="evaluate a checkpoint now, each new one (--watch), or an exported model",
        description="Evaluate the latest (or --checkpoint) checkpoint of MODEL_DIR once, "
                    "immediately, with the config's metrics set, print a table and write "
                    "MODEL_DIR/metrics.json. --watch evaluates every new checkpoint while "
                    "training runs, until the last step or --timeout seconds without one. "
                    "--model evaluates an exported .tflite or SavedModel instead (COCO metrics "
                    "on the eval TFRecords of the pipeline.config beside it, MODEL_DIR's, "
                    "--config's, or --records) and writes MODEL.metrics.json.")
    evaluation.add_argument("model_dir", type=Path, nargs="?",
                            help="the folder odwrap train wrote")
    evaluation.add_argument("--model", type=Path, metavar="PATH",
                            help="an exported .tflite file or SavedModel folder to evaluate")
    evaluation.add_argument("--records", metavar="GLOB",
                            help="with --model: the TFRecords to evaluate on")
    evaluation.add_argument("--max-images", type=int_in(1, INT32_MAX), metavar="N",
                            help="with --model: at most N images (default: eval num_examples)")
    evaluation.add_argument("--runtime", choices=RUNTIME_CHOICES,
                            help="with --model: the TFLite runtime (default: the fastest "
                                 "installed)")
    evaluation.add_argument("--checkpoint", metavar="PREFIX",
                            help="a checkpoint prefix, e.g. DIR/ckpt-1000 (default: latest)")
    evaluation.add_argument("--config", type=Path,
                            help="the pipeline.config (default: MODEL_DIR/pipeline.config)")
    evaluation.add_argument("--watch", action="store_true",
                            help="evaluate each new checkpoint as it appears")
    evaluation.add_argument("--timeout", type=number_in(0, 604800, low_open=True),
                            metavar="S", help="with --watch: stop after S seconds without a "
                                              "new checkpoint (at most a week)")
    evaluation.add_argument("--verbose", action="store_true", help="show TensorFlow's logs")
    evaluation.set_defaults(func=commands.eval)

    plot = subparsers.add_parser(
        "plot", help="plot losses, learning rate and eval mAP of a model directory",
        description="Read MODEL_DIR's TensorBoard event files and write a PNG of the training "
                    "losses, the learning rate and the eval mAP over steps.")
    plot.add_argument("model_dir", type=Path, help="the folder odwrap train wrote")
    plot.add_argument("-o", "--output", type=Path,
                      help="the PNG to write (default: MODEL_DIR/training.png)")
    plot.set_defaults(func=commands.plot)

    export = subparsers.add_parser(
        "export", help="export a trained model to SavedModel, TFLite or the Edge TPU",
        description="Export MODEL_DIR's latest checkpoint. Every export prints time, size and "
                    "path and is verified by loading it and running one inference. Options a "
                    "format does not take are refused.")
    export.add_argument("model_dir", type=Path, help="the folder odwrap train wrote")
    export.add_argument("--format", required=True, choices=list(FORMATS))
    export.add_argument("-o", "--output", type=Path, help="default: MODEL_DIR/export")
    export.add_argument("--quantize", type=quantize_list, metavar="MODES",
                        help=f"tflite: post-training quantization, {', '.join(QUANTIZE)} "
                             "(default none), or several comma-separated (or all): one model "
                             "each, converted from one graph export")
    export.add_argument("--input-type", metavar="TYPE",
                        help="saved_model: image_tensor | encoded_image_string_tensor | "
                             "tf_example; int8 tflite/edgetpu: uint8 | int8")
    export.add_argument("--representative", type=int_in(1, 100_000), metavar="N",
                        help="int8: eval images for calibration (default 100)")
    export.add_argument("--max-detections", type=int_in(1, MAX_DETECTIONS), metavar="N",
                        help="tflite/edgetpu: detections of the post-processing op (default 10)")
    export.add_argument("--compare", action="store_true",
                        help="also export fp32 and report the mAP of both on the eval images "
                             "and the difference (tflite with --quantize, edgetpu)")
    export.add_argument("--upsampling", choices=UPSAMPLING,
                        help="tflite/edgetpu: the FPN's top-down upsampling, native (one "
                             "nearest-neighbour resize op, the default; checked against the "
                             "default build) or reshape (the OD API's default)")
    export.add_argument("--search-delegate", action="store_true",
                        help="edgetpu: edgetpu_compiler's segment search (-d) when the "
                             "compiler is on PATH")
    export.add_argument("--weights", choices=WEIGHTS,
                        help="the moving averages or the trained weights (default: the averages "
                             "when training kept them, train_config.optimizer."
                             "use_moving_average)")
    export.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and the converter's logs")
    export.set_defaults(func=commands.export)

    predict = subparsers.add_parser(
        "predict", help="run an exported model on images",
        description="Run a .tflite model (ai-edge-litert, else tflite-runtime, else "
                    "TensorFlow's interpreter) or a SavedModel folder on images, one at a time; "
                    "write the detections (with compressed RLE masks for a mask model) as COCO "
                    "results JSON or JSON Lines, a line per image in images.jsonl, and annotated "
                    "images. An interrupted run is resumed: the images already written are "
                    "skipped.")
    predict.add_argument("model", type=Path, help="a .tflite file or a SavedModel folder")
    predict.add_argument("images", nargs="+", type=Path,
                         help="image files, folders (searched recursively), glob patterns "
                              "(quoted) or TFRecord files")
    predict.add_argument("-o", "--output", type=Path,
                         help="where results go (default ./predictions)")
    predict.add_argument("--threshold", type=number_in(0, 1), help="lowest score kept")
    predict.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    predict.add_argument("--runtime", choices=RUNTIME_CHOICES)
    predict.add_argument("--threads", type=int_in(1, 1024))
    predict.add_argument("--jsonl", action="store_true",
                         help="detections.jsonl, one detection a line, instead of detections.json")
    predict.add_argument("--no-annotate", dest="annotate", action="store_false",
                         help="write no annotated images")
    predict.add_argument("--restart", action="store_true",
                         help="start over instead of resuming an interrupted run in --output")
    predict.add_argument("--max-images", type=int_in(1, INT32_MAX), metavar="N",
                         help="only the first N images (default: all)")
    predict.set_defaults(func=commands.predict)

    verify = subparsers.add_parser(
        "verify", help="check a mask model's masks against golden masks",
        description="Check that every expected mask of a golden folder is matched by a "
                    "predicted mask of its class with IoU at least --iou: a line per mask file, "
                    "exit 1 when any is missing. --record-golden writes the folder from a "
                    "trusted model: per image a folder with image.png and CLASS.png, "
                    "CLASS.2.png ... (a .npy array works as an expected mask too).")
    verify.add_argument("model", type=Path, help="a mask model's SavedModel folder")
    verify.add_argument("images", nargs="*", type=Path,
                        help="with --record-golden: image files, folders, globs or TFRecords")
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--golden", type=Path, metavar="DIR", help="the golden folder to check")
    which.add_argument("--record-golden", type=Path, metavar="DIR",
                       help="write the golden folder from the model's masks on IMAGES")
    verify.add_argument("--iou", type=number_in(0, 1, low_open=True),
                        help="the lowest IoU that matches (default %(default)s)")
    verify.add_argument("--threshold", type=number_in(0, 1),
                        help="the lowest score of a predicted mask (default %(default)s)")
    verify.add_argument("--out-qual", type=Path, metavar="DIR",
                        help="write expected_*.png and actual_*.png, the masks over the image")
    verify.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    verify.set_defaults(func=commands.verify)

    formats = list(READERS)
    convert = subparsers.add_parser(
        "convert", help="turn VOC, COCO, CSV or Open Images annotations into TFRecords",
        description="Write sharded TFRecords (NAME-00000-of-0000N.tfrecord) with the feature "
                    "keys of the OD API's TfExampleDecoder, a label_map.pbtxt and a "
                    "report.json. Bad images and boxes are counted per reason (--strict fails "
                    "instead). Deterministic for a seed, whatever the number of workers; a "
                    "rerun after an interruption finishes the job.")
    convert.add_argument("format", choices=formats, help="the annotation format")
    convert.add_argument("source", type=path_or_url,
                         help="voc: the dataset folder; coco: the JSON file; csv, oid: the CSV")
    convert.add_argument("-o", "--output", type=path_or_url, required=True,
                         help="the output folder (a gs:// URL with --runner beam)")
    convert.add_argument("--split", metavar="NAME=F,...",
                         help="e.g. train=0.8,val=0.1,test=0.1 (default: one split, 'data')")
    convert.add_argument("--seed", type=int_in(0, SEED_MAX),
                         help="the split's random seed")
    convert.add_argument("--workers", type=int_in(1, 1024), metavar="N",
                         help="processes writing shards (default: all cores)")
    convert.add_argument("--shards", type=int_in(1, 99_999), metavar="N",
                         help="shards per split (default: one per 500 images)")
    convert.add_argument("--label-map", type=path_or_url, metavar="FILE",
                         help="number classes with this label map (others: unknown_class)")
    convert.add_argument("--strict", action="store_true",
                         help="fail on the first bad image, box or annotation")
    convert.add_argument("--runner", choices=("local", "beam"),
                         help="local: worker processes here (default); beam: the same bytes "
                              "from an Apache Beam pipeline (see --beam-options)")
    convert.add_argument("--beam-options", metavar="'ARGS'",
                         help="Beam's pipeline options as one quoted string, e.g. "
                              "'--runner=DataflowRunner --project=P --region=R "
                              "--temp_location=gs://B/tmp' (default: the DirectRunner "
                              "with --workers processes)")
    convert.add_argument("--masks", action="store_true", help="coco: keep instance masks")
    _add_class_options(convert)
    convert.set_defaults(func=commands.convert)

    label = subparsers.add_parser(
        "labelmap", help="write a label map from a dataset or a class list",
        description="Write a label_map.pbtxt with ids 1..N from a dataset's classes "
                    "(FORMAT SOURCE, as for convert) or from --classes.")
    label.add_argument("format", nargs="?", choices=formats, help="the annotation format")
    label.add_argument("source", nargs="?", type=Path, help="as for convert")
    label.add_argument("--classes", metavar="A,B,C", help="class names, ids 1..N in this order")
    label.add_argument("-o", "--output", type=Path, required=True, help="the label map to write")
    label.add_argument("--groups", type=int_in(1, 100_000), metavar="N",
                       help="N label maps of classes by frequency (OUTPUT-1-of-N.pbtxt ...)")
    label.add_argument("--group-ranks", type=rank_list, metavar="R1,R2",
                       help="label maps of the classes by frequency cut after these ranks")
    _add_class_options(label)
    label.set_defaults(func=commands.labelmap)

    stats = subparsers.add_parser(
        "stats", help="images, boxes per class and box sizes of TFRecords",
        description="Read TFRecords and print images, boxes, boxes per class and the box size "
                    "distribution at the model's input size (small objects warn).")
    stats.add_argument("files", nargs="+", help="TFRecord files or globs")
    stats.add_argument("--input-size", type=input_size, metavar="SIZE",
                       help="the model's input, SIZE or HEIGHTxWIDTH (default 320x320)")
    stats.add_argument("--histogram", type=Path, metavar="PNG",
                       help="also save a histogram of box sizes and classes")
    stats.set_defaults(func=commands.stats)

    add_zoo(subparsers)
    add_results(subparsers)
    add_diagnostics(subparsers, _add_set)

    demo = subparsers.add_parser(
        "demo-data", help="write the built-in demo dataset (shapes, Pascal VOC)",
        description="Write red squares and blue circles (and green triangles with --shapes) "
                    "on noisy backgrounds as Pascal VOC (JPEGImages/, Annotations/), ready "
                    "for 'odwrap convert voc'.")
    demo.add_argument("output", type=Path, help="the folder to write")
    demo.add_argument("--images", type=int_in(1, 100_000),
                      help="how many images (default %(default)s)")
    demo.add_argument("--size", type=int_in(57, 2048),
                      help="image side in pixels, 57 to 2048 (the shapes are 24-56; default %(default)s)")
    demo.add_argument("--seed", type=int_in(0, SEED_MAX))
    demo.add_argument("--shapes", type=lambda text: tuple(text.split(",")),
                      help="the shapes (classes) drawn, comma-separated, out of square, circle "
                           "and triangle (default square,circle)")
    demo.add_argument("--masks", action="store_true",
                      help="write COCO JSON (annotations.json) with each shape's polygon instead "
                           "of Pascal VOC, for 'odwrap convert coco --masks'")
    demo.set_defaults(func=commands.demo_data)
    for command, sub in command_parsers(parser).items():
        defaults_from_api(sub, command)
    return parser

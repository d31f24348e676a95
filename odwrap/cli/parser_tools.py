"""The parsers of `odwrap zoo`, of the detection-file tools (`merge`, `trim`) and of the
training diagnostics (`profile`, `batch-size`)."""

from pathlib import Path

from odwrap.cli import commands
from odwrap.cli.types import int_in, number_in, weight_list
from odwrap.zoo.catalog import FAMILIES


def add_zoo(subparsers) -> None:
    zoo = subparsers.add_parser(
        "zoo", help="list and fetch the TF2 Detection Zoo's pretrained models",
        description="The TF2 Detection Zoo's COCO-trained detectors, kept in a local cache "
                    "($ODWRAP_CACHE, else $XDG_CACHE_HOME/odwrap, else ~/.cache/odwrap) and "
                    "verified against their record on every reuse. $ODWRAP_ZOO_URL points at "
                    "a mirror (http, https, file:// or gs://) holding DATE/NAME.tar.gz.")
    actions = zoo.add_subparsers(dest="zoo_command", metavar="SUBCOMMAND", parser_class=type(zoo),
                                 required=True)
    listing = actions.add_parser(
        "list", help="every zoo model: family, input size, whether it is cached",
        description="Print every zoo model with its family, input size, what it outputs "
                    "besides boxes, and its size when it is in the cache.")
    listing.add_argument("--family", choices=list(FAMILIES), help="only this family")
    listing.set_defaults(func=commands.zoo_list)
    pull = actions.add_parser(
        "pull", help="download (or import) a zoo model and print its checkpoint prefix",
        description="Fetch zoo model NAME into the cache (resuming an interrupted download), "
                    "extract it safely, and print the checkpoint prefix for a pipeline.config's "
                    "fine_tune_checkpoint as the last line. A cached model is verified (size and "
                    "SHA-256) and reused.")
    pull.add_argument("name", help="a zoo model's name, as 'odwrap zoo list' prints it")
    pull.add_argument("--from", dest="source", type=Path, metavar="TARBALL",
                      help="import this local copy of the model's .tar.gz instead of "
                           "downloading it (for machines without network)")
    pull.add_argument("--force", action="store_true",
                      help="fetch it again even when it is cached (a fresh download)")
    pull.set_defaults(func=commands.zoo_pull)


def add_results(subparsers) -> None:
    formats = ("coco", "jsonl", "oid")
    merge = subparsers.add_parser(
        "merge", help="ensemble several models' detections (Soft-NMS or box fusion), or join",
        description="Merge detection files (COCO results .json, JSON Lines .jsonl, Open Images "
                    "submission .csv) image by image and class by class: Soft-NMS (decayed boxes "
                    "kept above --floor) or weighted boxes fusion, with per-model --weights; "
                    "--join concatenates class-group files of one image set. Streams through "
                    "partitions on disk: any file size.")
    merge.add_argument("output", type=Path, help="the merged file (its suffix sets the format)")
    merge.add_argument("inputs", nargs="+", type=Path, help="detection files, one per model")
    merge.add_argument("--method", choices=("soft-nms", "wbf"))
    merge.add_argument("--join", action="store_true", help="no fusion: join class-group files")
    merge.add_argument("--decay", choices=("linear", "gaussian"),
                       help="Soft-NMS: how an overlapping box's score decays")
    merge.add_argument("--iou", type=number_in(0, 1), help="Soft-NMS linear: the overlap above "
                       "which scores decay (0.5); wbf: that joins a cluster (0.55)")
    merge.add_argument("--sigma", type=number_in(0, 100, low_open=True),
                       help="Soft-NMS gaussian: exp(-IoU^2 / sigma) (default %(default)s)")
    merge.add_argument("--floor", type=number_in(0, 1),
                       help="Soft-NMS: the lowest decayed score kept (default %(default)s)")
    merge.add_argument("--weights", type=weight_list, help="one weight per input, e.g. 2,1,1")
    merge.add_argument("--format", choices=formats, help="the inputs' format, if no suffix says")
    merge.set_defaults(func=commands.merge)

    trim = subparsers.add_parser(
        "trim", help="keep detections above a score, and the N best over a whole file",
        description="Drop detections under --min-score and keep the --max-total highest-scoring "
                    "of the whole file, in passes of constant memory; the input's order is kept.")
    trim.add_argument("input", type=Path, help="a .json, .jsonl or .csv detection file")
    trim.add_argument("-o", "--output", type=Path, required=True, help="the trimmed file")
    trim.add_argument("--min-score", type=number_in(0, 1))
    trim.add_argument("--max-total", type=int_in(0, 2**62), help="keep at most N detections")
    trim.add_argument("--format", choices=formats, help="the input's format, if no suffix says")
    trim.set_defaults(func=commands.trim)


def add_diagnostics(subparsers, add_set) -> None:
    profile = subparsers.add_parser(
        "profile", help="is training input-bound? rates of the input, the step and both",
        description="Time the config's input pipeline alone, its training step alone (on a "
                    "batch in memory) and both together on this machine; say whether training "
                    "is input-bound and what would help; --trace writes a TensorBoard profile.")
    profile.add_argument("source", type=Path, help="a spec (.yaml) or a pipeline.config")
    add_set(profile)
    profile.add_argument("--steps", type=int_in(1, 100_000),
                         help="timed batches or steps of each measure (default %(default)s)")
    profile.add_argument("--warmup", type=int_in(1, 1000),
                         help="untimed ones before each (default %(default)s)")
    profile.add_argument("--trace", type=Path, metavar="DIR",
                         help="write a TensorBoard profiler trace here")
    profile.add_argument("--trace-steps", type=int_in(1, 1000))
    profile.set_defaults(func=commands.profile)

    sizing = subparsers.add_parser(
        "batch-size", help="the largest training batch that fits, and its learning rate",
        description="Find the largest training batch that fits the device: on a GPU by trying "
                    "batch sizes (child processes, out-of-memory caught, bisection), on a CPU "
                    "from the peak memory at two small batches against the memory available. "
                    "Prints the batch, the learning rate scaled for it and the line to set.")
    sizing.add_argument("source", type=Path, help="a spec (.yaml) or a pipeline.config")
    add_set(sizing)
    sizing.add_argument("--start", type=int_in(1, 4096),
                        help="the first batch tried (CPU: and 4 times it; default %(default)s)")
    sizing.add_argument("--fraction", type=number_in(0, 1, low_open=True),
                        help="CPU: of the memory available, what a run may take (default %(default)s)")
    sizing.set_defaults(func=commands.batch_size)

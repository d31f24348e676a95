"""What the command modules share: exit codes, the bounds of integer options and `--set`."""

from odwrap.deploy import RUNTIMES

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
INT32_MAX = 2**31 - 1  # the OD API's step counts are int32 proto fields
SEED_MAX = 2**32 - 1  # what numpy's generators take
RUNTIME_CHOICES = ("auto", *RUNTIMES)  # of a .tflite model


def add_set(parser) -> None:
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE",
        help="override a spec value, e.g. --set train.batch_size=8 (value read as YAML; "
             "--set wins over the spec file, which wins over the defaults)")


def add_runner_options(parser, local: str, default: str) -> None:
    """--runner and --beam-options, as every command that runs on Apache Beam declares them:
    LOCAL says what the local runner does, DEFAULT what runs the pipeline by default."""
    parser.add_argument("--runner", choices=("local", "beam"),
                        help=f"local: {local} (default); beam: the same files from an Apache "
                             "Beam pipeline (see --beam-options)")
    parser.add_argument("--beam-options", metavar="'ARGS'",
                        help="Beam's pipeline options as one quoted string, e.g. "
                             "'--runner=DataflowRunner --project=P --region=R "
                             f"--temp_location=gs://B/tmp' (default: {default})")

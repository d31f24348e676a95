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

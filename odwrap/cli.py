"""The `odwrap` command line: parses arguments, calls one library function, reports errors.

Library errors (OdwrapError) become one line on stderr and their exit code; nothing else here
knows about exit codes. TensorFlow is imported only by the commands that need it.
"""

import argparse
import sys
from pathlib import Path

from odwrap import __version__
from odwrap.errors import InputError, OdwrapError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _cmd_doctor(args) -> int:
    from odwrap import doctor

    report = doctor.diagnose()
    print(doctor.format_report(report))
    return EXIT_FINDINGS if report.problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="odwrap",
        description="The TensorFlow 2 Object Detection API, end to end: YAML spec -> "
                    "pipeline.config -> TFRecords -> train -> eval -> export.",
        epilog="Start with 'odwrap doctor' when something is off. "
               "'odwrap COMMAND --help' describes each command.")
    parser.add_argument("--version", action="version", version=f"odwrap {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    doctor = commands.add_parser(
        "doctor", help="report the installed TF / OD API stack and what is wrong with it",
        description="Print Python, TensorFlow, protobuf, numpy, OD API and TFLite runtime "
                    "versions, the compatibility fixes odwrap applies, visible GPUs and TPUs "
                    "and whether edgetpu_compiler is on PATH. Exits 1 when a problem is found.")
    doctor.set_defaults(func=_cmd_doctor)

    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except OdwrapError as exc:
        print(f"odwrap: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("odwrap: interrupted", file=sys.stderr)
        return 130


def entrypoint() -> None:
    sys.exit(main(sys.argv[1:]))

"""The `odwrap` command line: parses arguments, calls one library function, reports errors.

Library errors (OdwrapError) become one line on stderr and their exit code; nothing else here
knows about exit codes. TensorFlow is imported only by the commands that need it.
"""

import argparse
import json
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


def _cmd_generate(args) -> int:
    from odwrap import generate

    written = generate.generate(args.spec, args.output, overrides=args.set, force=args.force)
    for note in written.notes:
        print(f"note: {note}")
    for finding in written.findings:
        print(finding.format())
    for path in written.files:
        print(f"wrote {path}")
    return EXIT_OK


def _cmd_check(args) -> int:
    from odwrap import check

    findings = check.check_file(args.file, overrides=args.set, build=args.build,
                                device=args.device, num_devices=args.num_devices,
                                export_targets=args.target)
    if args.json:
        print(json.dumps([finding.as_dict() for finding in findings], indent=2))
    else:
        for finding in findings:
            print(finding.format())
        errors = sum(finding.severity == "error" for finding in findings)
        print(f"{args.file}: {errors} error(s), {len(findings) - errors} warning(s)")
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK


def _add_set(parser):
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a spec value, e.g. --set train.batch_size=8 (value read as YAML; "
             "--set wins over the spec file, which wins over the defaults)")


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

    generate = commands.add_parser(
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
    generate.set_defaults(func=_cmd_generate)

    check = commands.add_parser(
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
    check.add_argument("--num-devices", type=int, metavar="N",
                       help="GPUs or TPU cores (default 1; 8 with --device tpu)")
    check.add_argument("--target", action="append", choices=["saved_model", "tflite", "edgetpu"],
                       help="an export target to check for (repeatable; a spec says it in "
                            "export.targets)")
    _add_set(check)
    check.set_defaults(func=_cmd_check)
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
        for finding in getattr(exc, "findings", ()):
            print(finding.format(), file=sys.stderr)
        print(f"odwrap: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("odwrap: interrupted", file=sys.stderr)
        return 130


def entrypoint() -> None:
    sys.exit(main(sys.argv[1:]))

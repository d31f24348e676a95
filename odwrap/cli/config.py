"""`odwrap doctor`, `generate` and `check`: each command's parser and the function that runs it
(the API call and what it prints)."""

import json
from pathlib import Path

from odwrap import api
from odwrap.cli.common import EXIT_FINDINGS, EXIT_OK, add_set
from odwrap.cli.types import int_in
from odwrap.errors import InputError
from odwrap.deploy.export import FORMATS


def add_doctor(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor", help="report the installed TF / OD API stack and what is wrong with it",
        description="Print Python, TensorFlow, protobuf, numpy, OD API and TFLite runtime "
                    "versions, the compatibility fixes odwrap applies, visible GPUs and TPUs "
                    "and whether edgetpu_compiler is on PATH. Exits 1 when a problem is found.")
    parser.add_argument("--install-hook", action="store_true",
                        help="first make every program of this Python (notebooks, the OD API's "
                             "own scripts) apply the fixes on its first import of "
                             "object_detection, as scripts/setup.sh does for its venv")
    parser.set_defaults(func=doctor)


def doctor(args) -> int:
    from odwrap.doctor import format_report

    found = api.diagnose(install_hook=args.install_hook)
    print(format_report(found))
    return EXIT_FINDINGS if found.problems else EXIT_OK


def add_generate(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="render a YAML spec into a validated pipeline.config",
        description="Render SPEC (YAML) into OUTPUT/pipeline.config, parsed and validated with "
                    "the OD API's own TrainEvalPipelineConfig. Writes OUTPUT/label_map.pbtxt "
                    "when the spec lists its classes inline. Does not import TensorFlow.")
    parser.add_argument("spec", type=Path, help="the YAML spec")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="the folder to write pipeline.config into")
    parser.add_argument("--force", action="store_true",
                        help="write the files even when the checks find errors")
    add_set(parser)
    parser.set_defaults(func=generate)


def generate(args) -> int:
    written = api.generate(args.spec, args.output, overrides=args.set, force=args.force)
    for note in written.notes:
        print(f"note: {note}")
    for finding in written.findings:
        print(finding.format())
    for path in written.files:
        print(f"wrote {path}")
    return EXIT_OK


def add_check(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="lint a pipeline.config or a spec before training",
        description="Run odwrap's semantic checks on a pipeline.config (generated or "
                    "hand-written) or a YAML spec. Exit 0 clean, 1 errors found, 2 bad input.")
    parser.add_argument("file", type=Path, help="a pipeline.config or a .yaml spec")
    parser.add_argument("--build", action="store_true",
                        help="also build the model with the OD API's model_builder (imports "
                             "TensorFlow)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--device", choices=["cpu", "gpu", "tpu"],
                        help="where training will run (a spec says it in train.device)")
    parser.add_argument("--num-devices", type=int_in(1, 4096), metavar="N",
                        help="GPUs or TPU cores (default 1; 8 with --device tpu)")
    parser.add_argument("--target", action="append", choices=list(FORMATS),
                        help="an export target to check for (repeatable; a spec says it in "
                             "export.targets)")
    add_set(parser)
    parser.set_defaults(func=check)


def check(args) -> int:
    from odwrap.config.findings import UNREADABLE
    from odwrap.config.loader import errors_in

    try:
        findings = api.check(args.file, overrides=args.set, build=args.build,
                             device=args.device, num_devices=args.num_devices,
                             targets=args.target)
    except InputError as exc:
        if args.json:  # JSON on stdout whatever happens; the one-line error still on stderr
            print(json.dumps([{"id": UNREADABLE, "severity": "error", "path": str(args.file),
                               "message": str(exc),
                               "hint": "the file cannot be read; nothing else was checked"}],
                             indent=2))
        raise
    errors = len(errors_in(findings))
    if args.json:
        print(json.dumps([finding.as_dict() for finding in findings], indent=2))
    else:
        for finding in findings:
            print(finding.format())
        print(f"{args.file}: {errors} error(s), {len(findings) - errors} warning(s)")
    return EXIT_FINDINGS if errors else EXIT_OK

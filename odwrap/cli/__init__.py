"""The `odwrap` command line: a thin layer over the public API (odwrap.api).

`main(argv)` parses, installs a Reporter that draws progress bars and prints messages, runs one
command and prints the library's errors (odwrap.errors; a failure inside TensorFlow is already
one of them, odwrap.failures) as one line on stderr with their exit code. TensorFlow is imported
only by the commands that need it, after they have checked their input, and quietly.
"""

import os
import signal
import sys
import traceback

from odwrap import report
from odwrap.errors import ChecksFailed, Interrupted, OdwrapError, shown
from odwrap.failures import TENSORFLOW_COMMANDS, TensorFlowFailure


class TerminalReporter(report.Reporter):
    """Progress as tqdm bars on stderr (one per task), messages on stdout."""

    SMOOTHING = {"train": 0.3}

    def __init__(self, verbose: bool = False):
        self.verbose = verbose
        self.bars = {}

    def message(self, text: str) -> None:
        print(text, flush=True)

    def progress(self, task, done, total, unit, **info) -> None:
        bar = self.bars.get(task)
        if bar is None:
            from tqdm import tqdm

            scaled = {"unit_scale": True, "unit_divisor": 1024} if unit == "B" else {}
            bar = self.bars[task] = tqdm(total=total, initial=done, unit=unit, desc=task,
                                         smoothing=self.SMOOTHING.get(task, 0.1), disable=None,
                                         dynamic_ncols=True, **scaled)
        bar.update(done - bar.n)
        if "loss" in info:
            loss = info["loss"]
            bar.set_postfix(loss=f"{loss:.4f}" if loss is not None else "-",
                            lr=f"{info.get('learning_rate', 0.0):.3g}")

    def finished(self, task) -> None:
        bar = self.bars.pop(task, None)
        if bar is not None:
            bar.close()


def _terminate_handler(main_pid: int):
    """SIGTERM as SIGINT is by default: an exception in the main process, so that a run stops
    with a message and its clean-up (a forked worker just ends, as SIGTERM would end it)."""

    def handle(number, _frame):
        if os.getpid() != main_pid:
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
            return
        raise Interrupted("stopped by SIGTERM", number)

    return handle


def _run(argv) -> int:
    from odwrap.cli.parser import build_parser

    signal.signal(signal.SIGTERM, _terminate_handler(os.getpid()))

    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        verbose = getattr(args, "verbose", False)
        if args.command in TENSORFLOW_COMMANDS and not verbose:
            from odwrap.odapi.logs import quiet_logs, quiet_tensorflow_import

            quiet_logs()
            quiet_tensorflow_import()  # when the command gets to it, not before
        with report.use(TerminalReporter(verbose=verbose)):
            return args.func(args)
    except ChecksFailed as exc:
        for finding in exc.findings:
            print(finding.format(), file=sys.stderr)
        print(f"odwrap: error: {shown(exc)}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print(f"odwrap: {exc}", file=sys.stderr)
        return exc.exit_code
    except OdwrapError as exc:
        if isinstance(exc, TensorFlowFailure) and getattr(args, "verbose", False):
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        print(f"odwrap: error: {shown(exc)}", file=sys.stderr)  # one line, whatever it quotes
        return exc.exit_code
    except KeyboardInterrupt:
        print("odwrap: interrupted", file=sys.stderr)
        return 130


def main(argv=None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except BrokenPipeError:  # `odwrap ... | head`: the reader left; stop quietly like cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def entrypoint() -> None:
    sys.exit(main(sys.argv[1:]))

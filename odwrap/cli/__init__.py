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


def _reporter(verbose: bool) -> report.Reporter:
    """Progress bars on a terminal; elsewhere (a pipe, a log file, CI, a batch job) a plain line
    at most every 30 s. Messages go to stdout either way."""
    if sys.stderr.isatty():
        return report.ProgressBars(show_messages=True, verbose=verbose)
    return report.ProgressLines(verbose=verbose)


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
        if not verbose:
            from odwrap.odapi.logs import quiet_logs, quiet_tensorflow_import

            if args.command in TENSORFLOW_COMMANDS:
                quiet_logs()
            # Any command that gets to TensorFlow (check --build, plot too), not before.
            quiet_tensorflow_import()
        from odwrap.failures import log_path
        from odwrap.odapi.logs import output_log

        # What TensorFlow and pycocotools print is kept off the terminal, in this run's log.
        with report.use(_reporter(verbose)), output_log(log_path(args.command)):
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
    code = main(sys.argv[1:])
    # odwrap's last line is said: what threads still print on the way out (gRPC's C++ logging
    # when a cluster's peer has gone, after a worker's "stopped by SIGTERM" line) is not shown.
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
    sys.exit(code)

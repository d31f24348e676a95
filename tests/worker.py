"""The suite's odwrap worker: one child process that imports TensorFlow and the OD API once and
then runs `odwrap` commands through `odwrap.cli.main`, one at a time, as a fresh `python -m
odwrap` would (its own exit code, output and errors, environment and working folder).

`Worker.run(argv, env, cwd, folder, timeout)` sends a request as a JSON line on the child's
stdin; the child answers with a JSON line on a descriptor of its own, so that the command's
output (Python's and C++'s, on descriptors 1 and 2) goes to files the parent reads back. A
command that outlives its timeout, or kills the child, ends that child: the next request starts
a new one. `python -m tests.worker` is the child.
"""

import json
import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Environment variables that odwrap reads when a command runs, not when it is imported: a
# request may set them; any other variable needs a fresh process (tests.conftest decides).
PER_COMMAND_ENV = ("ODWRAP_LOG_DIR", "ODWRAP_PROGRESS_EVERY", "ODWRAP_CACHE", "ODWRAP_ZOO_URL",
                   "ODWRAP_ZOO_TIMEOUT", "ODWRAP_CONSUMERS_VENV", "ODWRAP_BEAM_PYTHON",
                   "XDG_CACHE_HOME", "TF_CONFIG")
# A child is replaced after this many commands, so that TensorFlow's per-process state (traced
# functions, Keras names) does not pile up over a whole run.
COMMANDS_PER_CHILD = 40


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str
    folder: str = ""  # a digest of the folder after the command ("" without one)


def folder_digest(folder) -> str:
    """A digest of FOLDER's files, names and bytes."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


class Worker:
    """The parent's side: starts the child on the first request."""

    def __init__(self, env: dict):
        self.env = env
        self.child = None
        self.answers = None
        self.count = 0

    def _start(self):
        read, write = os.pipe()
        self.child = subprocess.Popen(
            [sys.executable, "-m", "tests.worker", str(write)], cwd=ROOT, env=self.env,
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=[write], text=True)
        os.close(write)
        self.answers = os.fdopen(read, "r")
        self.count = 0

    def stop(self):
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            self.answers.close()
            self.child = None

    def run(self, argv, env=None, cwd=None, folder=None, timeout=600) -> Ran:
        if self.child is None or self.child.poll() is not None \
                or self.count >= COMMANDS_PER_CHILD:
            self.stop()
            self._start()
        self.count += 1
        with tempfile.TemporaryDirectory() as scratch:
            request = {"argv": [str(arg) for arg in argv], "env": env or {},
                       "cwd": str(cwd or ROOT), "folder": str(folder) if folder else None,
                       "stdout": f"{scratch}/stdout", "stderr": f"{scratch}/stderr"}
            try:
                self.child.stdin.write(json.dumps(request) + "\n")
                self.child.stdin.flush()
            except BrokenPipeError:
                pass  # the child died starting: the read below says so
            ready, _, _ = select.select([self.answers], [], [], timeout)
            line = self.answers.readline() if ready else ""
            if not line:  # timed out, or the child died mid-command
                died = self.child.poll()
                self.stop()
                if died is None:
                    raise subprocess.TimeoutExpired(request["argv"], timeout)
                return Ran(died, _read(request["stdout"]), _read(request["stderr"]))
            answer = json.loads(line)
            return Ran(answer["code"], _read(request["stdout"]), _read(request["stderr"]),
                       answer["folder"])


def _read(path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


def serve(answer_fd: int) -> None:
    """The child: TensorFlow and the OD API first, then a command per request line."""
    from odwrap.odapi import compat
    from odwrap.odapi.logs import captured_output

    with captured_output():
        compat.load("object_detection.builders.model_builder")
    from odwrap import cli

    answers = os.fdopen(answer_fd, "w")
    for line in sys.stdin:
        request = json.loads(line)
        saved_env = {name: os.environ.get(name) for name in request["env"]}
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                code = cli.main(request["argv"])
            except SystemExit as exc:  # --help, --version
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.chdir(ROOT)
        digest = folder_digest(request["folder"]) if request["folder"] else ""
        answers.write(json.dumps({"code": code, "folder": digest}) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))

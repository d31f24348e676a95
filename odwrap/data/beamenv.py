"""Where `convert --runner beam` runs its pipeline: this Python when it has apache_beam, else
the Beam venv's (scripts/setup-beam.sh, or ODWRAP_BEAM_PYTHON). Imports nothing heavy: doctor
asks it too."""

import importlib.util
import os
from pathlib import Path

from odwrap.errors import StackError

BEAM_PYTHON = "ODWRAP_BEAM_PYTHON"  # the interpreter of a venv with apache-beam and odwrap
DEFAULT_VENV = Path(__file__).resolve().parents[2] / ".venv-beam"  # scripts/setup-beam.sh


def beam_venv() -> Path:
    """The Beam venv that beam_python() looks in (it may not exist)."""
    chosen = os.environ.get(BEAM_PYTHON)
    return Path(chosen).parent.parent if chosen else DEFAULT_VENV


def beam_python() -> str | None:
    """The interpreter to run the pipeline with: None for this one (it has apache_beam)."""
    if importlib.util.find_spec("apache_beam") is not None:
        return None
    chosen = os.environ.get(BEAM_PYTHON)
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise StackError(f"{BEAM_PYTHON}={chosen}: no such Python")
        return chosen
    if (DEFAULT_VENV / "bin" / "python").exists():
        return str(DEFAULT_VENV / "bin" / "python")
    raise StackError("--runner beam needs apache-beam, which this Python does not have and no "
                     f"Beam venv was found ({DEFAULT_VENV}): run scripts/setup-beam.sh, or set "
                     f"{BEAM_PYTHON} to the python of a venv with 'pip install odwrap[beam]'")

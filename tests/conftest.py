import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_python(code_or_args, env=None, timeout=600, cwd=None):
    """Run the venv's Python in a fresh process (TF state and monkeypatches stay there)."""
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, *args], env=full_env, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or ROOT)


def run_odwrap(*argv, env=None, timeout=600, cwd=None):
    return run_python(["-m", "odwrap", *map(str, argv)], env=env, timeout=timeout, cwd=cwd)


@pytest.fixture
def odwrap_cli():
    return run_odwrap

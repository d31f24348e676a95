"""The OD API's fixes for every program in odwrap's venv, on its first import of the OD API.

odwrap's own commands apply the fixes (odwrap.odapi.compat) before any `object_detection` code
runs. A user's own notebook or script, or the OD API's scripts (`python -m
object_detection.model_main_tf2`), import `object_detection` directly and break at once on
current stacks. A path-configuration file in the venv's site-packages (PTH_NAME, written by
`scripts/setup.sh` and `odwrap doctor --install-hook`) loads this module at every interpreter
start; `install()` puts a finder at
the front of `sys.meta_path` that finds nothing itself: the first time an `object_detection`
module is imported, it applies the fixes and lets the import go on.

- `object_detection` and `object_detection.protos...` get the fixes that import no TensorFlow
  (Keras 2 chosen, the old generated protos rebuilt): a program that reads pipeline.config files
  never loads TensorFlow for them.
- Any other `object_detection` module gets every fix first, then the finder is gone.
- A program that never imports the OD API pays for this module alone (no odwrap module beyond
  it, no numpy, no TensorFlow). `ODWRAP_COMPAT_DISABLE=all` leaves the finder out.
"""

import os
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "odwrap-odapi-fixes.pth"
# site runs a .pth line that starts with "import"; a failure there would print on every start.
PTH_LINE = ("import odwrap.odapi.hook as _odwrap_hook; _odwrap_hook.install()  "
            "# odwrap: the OD API's compat fixes on its first import\n")
PACKAGE = "object_detection"
PROTOS = f"{PACKAGE}.protos"


class FixesFirst:
    """A meta path finder that finds no module: it applies the compat fixes before the first
    import of an `object_detection` module (those importing no TensorFlow for the package and
    its protos, every fix for anything else)."""

    def __init__(self):
        self.without_tensorflow = False  # the fixes that import no TensorFlow are in

    def find_spec(self, name, path=None, target=None):
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            return None
        protos = name in (PACKAGE, PROTOS) or name.startswith(PROTOS + ".")
        if protos and self.without_tensorflow:
            return None
        compat = sys.modules.get("odwrap.odapi.compat")
        if compat is not None and compat.applying():  # a fix's own import of the OD API
            return None
        remove()  # the fixes import modules themselves: never back here meanwhile
        try:
            _apply(tensorflow=not protos)
        finally:
            if protos:
                self.without_tensorflow = True
                sys.meta_path.insert(0, self)
        return None


def _apply(tensorflow: bool) -> None:
    from odwrap.errors import OdwrapError
    from odwrap.odapi import compat

    try:
        compat.apply(tensorflow=tensorflow)
    except OdwrapError as exc:  # the import goes on and fails as it would have without us
        print(f"odwrap: the OD API's compat fixes were not applied: {exc}", file=sys.stderr)


def install() -> None:
    """The finder at the front of sys.meta_path (once), unless every fix is disabled."""
    disabled = {part.strip() for part in os.environ.get("ODWRAP_COMPAT_DISABLE", "").split(",")}
    if "all" not in disabled and not installed():
        sys.meta_path.insert(0, FixesFirst())


def remove() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, FixesFirst)]


def installed() -> bool:
    """Whether this process has the finder in place (the fixes not yet applied)."""
    return any(isinstance(finder, FixesFirst) for finder in sys.meta_path)


def pth_path(site_packages: Path | None = None) -> Path:
    """The path-configuration file in SITE_PACKAGES (default: this Python's purelib)."""
    return Path(site_packages or sysconfig.get_paths()["purelib"]) / PTH_NAME


def pth_installed(site_packages: Path | None = None) -> bool:
    """Whether this Python's site-packages loads the hook at every start."""
    try:
        return pth_path(site_packages).read_text() == PTH_LINE
    except (OSError, UnicodeDecodeError):
        return False


def write_pth(site_packages: Path | None = None) -> Path:
    from odwrap.fsutil import atomic_write_text

    return atomic_write_text(pth_path(site_packages), PTH_LINE)

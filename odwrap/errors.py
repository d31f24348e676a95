"""Every error odwrap reports to its users, in one hierarchy under OdwrapError.

They are raised deep in the library and turned into one line and an exit code only in the CLI
(`odwrap.cli`), which catches OdwrapError in exactly one place.
"""


class OdwrapError(Exception):
    """Anything odwrap reports to the user as one line; exit code 1."""

    exit_code = 1


class InputError(OdwrapError):
    """A bad file, spec, value or command line; exit code 2."""

    exit_code = 2


class FolderBusy(InputError):
    """A folder that another odwrap run holds (odwrap.locks); `holder` says who."""

    def __init__(self, message: str, holder: str = ""):
        super().__init__(message)
        self.holder = holder


class StackError(OdwrapError):
    """The installed TensorFlow / OD API stack cannot do what was asked."""


class RunError(OdwrapError):
    """A run on accepted input failed inside TensorFlow, the OD API or the TFLite converter."""


class ChecksFailed(OdwrapError):
    """The checks found errors in a config; `findings` says which (the CLI prints them)."""

    def __init__(self, message: str, findings: list):
        super().__init__(message)
        self.findings = findings


class TemplateError(OdwrapError):
    """A template could not be rendered: a bug in a template or in the context it was given."""


class RenderedConfigError(OdwrapError):
    """A rendered config does not parse: a template or context bug, never the user's input."""


class Interrupted(OdwrapError):
    """A run stopped by a signal (after saving what it could); exit code 128 + the signal."""

    exit_code = 130

    def __init__(self, message: str, signal_number: int = 2):
        super().__init__(message)
        self.exit_code = 128 + signal_number


def shown(text) -> str:
    """TEXT as it may stand in a one-line message: control characters (a newline in a YAML key)
    escaped as Python writes them, everything else as it is."""
    text = str(text)
    return text if text.isprintable() else repr(text)[1:-1]

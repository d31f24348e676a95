"""The errors odwrap reports to its users.

They are raised deep in the library and turned into one line and an exit code only in the CLI.
"""


class OdwrapError(Exception):
    """Anything odwrap reports to the user as one line; exit code 1."""

    exit_code = 1


class InputError(OdwrapError):
    """A bad file, spec, value or command line; exit code 2."""

    exit_code = 2


class StackError(OdwrapError):
    """The installed TensorFlow / OD API stack cannot do what was asked."""

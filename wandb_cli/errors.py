"""Errors and exit codes, in one place.

Core modules raise `WbrunError` subclasses; the CLI turns each into one line on stderr and
the exit code the class names.  Nothing else decides exit codes (the wrapper returns the
child's own code, which is not an error).
"""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # an error about runs or the store
    USAGE = 2  # bad usage or bad input


class WbrunError(Exception):
    """An error about runs or the store (exit 1)."""

    exit_code: int = ExitCode.ERROR

    def render(self) -> str:
        """The one line shown to the user (a filter's caret adds lines: FilterError).  A
        newline from the data in it is spelt as printable() spells it (a manifest naming
        "x\\nwbrun: ..." printed a second, forged line); print_error escapes the rest."""
        return str(self).replace("\n", "\\n")


class UsageError(WbrunError):
    """Bad usage or bad input: a malformed ID, filter, option value (exit 2)."""

    exit_code: int = ExitCode.USAGE


class RunNotFound(WbrunError):
    """No run matches the reference the user gave."""


class AmbiguousRun(WbrunError):
    """A reference matched several runs; the message lists them."""


class RunExists(WbrunError):
    """An ID is taken (or was, by a run since deleted) and may not be created again."""


class StoreError(WbrunError):
    """The store could not be read or written (permissions, full disk, corruption)."""


class FilterError(UsageError):
    """A malformed filter expression; `pos` is the 0-based offset of the problem."""

    def __init__(self, message: str, expr: str = "", pos: int = 0):
        super().__init__(message)
        self.message = message
        self.expr = expr
        self.pos = pos

    def render(self) -> str:
        if not self.expr:
            return self.message
        caret = " " * (len("  ") + self.pos) + "^"
        return f"bad filter: {self.message} (at position {self.pos})\n  {self.expr}\n{caret}"


class RemoteError(WbrunError):
    """Another tracker (an MLflow server, the W&B SDK) refused or failed a request."""


# W&B's exception names (`wandb.errors.CommError`), for code that does `import wandb_cli as
# wandb`; under `wbrun --`, `import wandb` gets them from the shim's errors module, the same.
Error = CommError = AuthenticationError = WbrunError

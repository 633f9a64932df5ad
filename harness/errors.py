"""Errors that end a command with one of the SPEC's exit codes.

Every message says what happened, where, and what to do next.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAIL = 1  # verdict fail, findings at or above the fail level, guard violations
EXIT_USAGE = 2  # usage, configuration or input error
EXIT_INCOMPLETE = 3  # could not complete: model API unavailable, budget, interrupted; state is kept


class HarnessError(Exception):
    """An error the user can act on; the CLI prints it and exits with ``exit_code``."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class UsageError(HarnessError):
    """Bad arguments, configuration or input files (exit 2)."""

    exit_code = EXIT_USAGE


class IncompleteError(HarnessError):
    """The command could not complete; its state is kept and it can be resumed (exit 3)."""

    exit_code = EXIT_INCOMPLETE

"""Error types and the exit codes they map to (0 ok, 1 blockers, 2 usage/config/input, 3 internal error, 130
interrupted)."""

from __future__ import annotations

EXIT_BLOCKERS = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


class S3PlanError(Exception):
    """An error the user can act on: one clear line, a known exit code, no traceback."""

    exit_code = EXIT_INPUT


class UsageError(S3PlanError):
    """Bad options or configuration values."""


class InputError(S3PlanError):
    """A missing, empty or unreadable input."""


class OutputError(S3PlanError):
    """An output that cannot be written (a file where a folder belongs, no space, no permission)."""


class RuleError(S3PlanError):
    """A rule file that does not validate; the message starts with `file:line:`."""


class InternalError(Exception):
    """A bug: a safety invariant or consistency check failed. Never caught quietly."""

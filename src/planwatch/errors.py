"""The exception tree. Domain code raises these; the web and CLI adapters map them to answers.

Every message says what was wrong, where (file, entry, field, row) and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass


class PlanwatchError(Exception):
    """Base of every error planwatch raises on purpose."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(PlanwatchError):
    """An id, code or year that does not exist."""

    status_code = 404


class UnauthorizedError(PlanwatchError):
    """No valid credentials (an expired or revoked token, a bad login)."""

    status_code = 401


class OutOfScopeError(NotFoundError):
    """An object outside the caller's scope: answered exactly like a missing one (404), but
    recorded as an access denial."""


class ConflictError(PlanwatchError):
    """The request clashes with the current state (a duplicate, a wrong workflow step)."""

    status_code = 409


class ForbiddenError(PlanwatchError):
    """The caller may not do this."""

    status_code = 403


class SchemaVersionError(PlanwatchError):
    """The database was written by a different (usually newer) planwatch."""

    status_code = 500


class DatabaseNotInitialisedError(PlanwatchError):
    """The database has no planwatch schema yet."""

    status_code = 500


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file."""

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.entry}" if self.entry else self.file
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class CatalogueError(PlanwatchError):
    """A plan catalogue file that cannot be loaded; nothing was written."""

    status_code = 422

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems]
        head = f"{len(problems)} problem(s) in the catalogue; nothing was loaded:"
        super().__init__("\n".join([head, *lines]))


class InvalidValueError(PlanwatchError):
    """A value given on the command line or in a request that does not fit."""

    status_code = 422


class ImportFileError(PlanwatchError):
    """A data file that cannot be read as a table at all (wrong type, empty, too large, unsafe);
    nothing was written. ``file`` names it; the message says what to do."""

    status_code = 422

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        self.detail = message
        super().__init__(f"{file}: {message}")


class LockedError(PlanwatchError):
    """A write into data that is submitted, approved or past its entry deadline (409)."""

    status_code = 409

    def __init__(self, message: str, *, code: str) -> None:
        self.code = code
        """``APPROVED``, ``SUBMITTED`` or ``PERIOD_EXPIRED``."""
        super().__init__(message)


class PayloadTooLargeError(PlanwatchError):
    """A request body or upload over the configured limit."""

    status_code = 413

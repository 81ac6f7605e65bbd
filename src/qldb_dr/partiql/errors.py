"""The one error of the PartiQL engine: the statement cannot be run as written."""

from __future__ import annotations


class PartiqlError(ValueError):
    """A statement is malformed, unsupported, names something that does not exist, gets the wrong
    number of parameters or fails while evaluating (a type error). Running it again fails again, so
    a retry cannot help; the ledger's server reports it as ``BadRequestException``."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(message + where)

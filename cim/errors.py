"""Errors the platform raises on purpose, each with the CLI exit code it maps to.

A user-facing failure must name the file, row and field where there is one; the CLI prints
the message (never a traceback) and exits with ``exit_code``.
"""

from __future__ import annotations


class CimError(Exception):
    """Base of every expected, user-facing error."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.path = path
        self.row = row
        self.field = field
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        self.message = message
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class ConfigError(CimError):
    exit_code = 2


class InputError(CimError):
    """The input file cannot be read or used at all (nothing is loaded)."""

    exit_code = 3


class OutOfAreaError(InputError):
    """The input lies outside the city profile's area (nothing is loaded)."""


class DatabaseError(CimError):
    exit_code = 4


class CodeError(CimError):
    exit_code = 5

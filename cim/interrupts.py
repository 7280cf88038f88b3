"""What a command committed before Ctrl-C reached it. An interrupt that arrives after a load's
COMMIT (while the report prints) said "aborted", exit 130, though the batch had succeeded and
its rows were stored: a script took a finished load for a failed one. The rooms record their
work here as it begins and commits; the command line's interrupt handler tells it."""

from __future__ import annotations

_OPEN: list[str] = []
_COMMITTED: list[str] = []
_ONE_PIECE: list[bool] = []


def one_piece() -> None:
    """The command's work is one piece (a `cim load`: one batch): once it committed, an
    interrupt finds the command's work done. A command of several pieces (`profile apply`:
    districts, then grid cells) is never told done by an interrupt between them."""
    _ONE_PIECE.append(True)


def begun(what: str) -> None:
    """Work ``what`` began (a load batch): an interrupt now leaves it unfinished."""
    _OPEN.append(what)


def ended(what: str, committed: str | None) -> None:
    """Work ``what`` ended; ``committed``: what it committed, said in a line (None: nothing)."""
    if what in _OPEN:
        _OPEN.remove(what)
    if committed:
        _COMMITTED.append(committed)


def interrupted() -> tuple[list[str], bool]:
    """(what was committed, whether the command's work may be unfinished) when the interrupt
    came: unfinished unless the command is of one piece, it committed and nothing else
    began."""
    return list(_COMMITTED), bool(_OPEN) or not _ONE_PIECE or len(_COMMITTED) != 1

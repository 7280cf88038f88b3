"""What a command committed before Ctrl-C reached it. An interrupt that arrives after a load's
COMMIT (while the report prints) said "aborted", exit 130, though the batch had succeeded and
its rows were stored: a script took a finished load for a failed one. The rooms record their
work here as it begins and commits; the command line's interrupt handler tells it."""

from __future__ import annotations

_OPEN: list[str] = []
_COMMITTED: list[str] = []


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
    """(what was committed, whether work was still under way) when the interrupt came."""
    return list(_COMMITTED), bool(_OPEN)

"""A value a person typed, quoted back in an error message without the whole of it.

A refusal names the value it refuses (``no grid cell has code '3708…'``) so the person sees
the typo; a client sending a megabyte address or grid code had the megabyte echoed back in
the 400 (and in every log line quoting it). The case loop's messages quote input through
:func:`shown`: the value as ``repr`` shows it, cut to its first :data:`SHOWN_CHARS`
characters with the length it had.
"""

from __future__ import annotations

from typing import Any

SHOWN_CHARS = 80


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` when the value is at most ``limit`` characters; else the repr of its
    first ``limit`` characters and ``…(N characters)``, N its length (a text's characters,
    or those of any other value's repr)."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}…({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} characters)"

"""GDAL's warnings while a file is read, as the user sees them: one line naming the file,
once, and none for what the load's report already tells. Light (standard library only): the
CLI imports it at start."""

from __future__ import annotations

import ast
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

# -- what a load prints besides its report --------------------------------------------------
# GDAL's warnings whose matter a load reports in its own words: a polygon ring read closed is
# its row's flag ring_closed (loaders/sources/batch.py), a CSV's WKT GDAL cannot read its
# row's invalid_geometry reject naming the field (loaders.common.name_unread_geometries)
REPORTED_GDAL_WARNINGS = (r"Non closed ring detected", r"Ignoring invalid WKT")
# pyogrio's words for a GDAL message that is not UTF-8 (a GBK field name in it)
_UNDECODED = "Could not decode error message to UTF-8. Raw error: "


@contextlib.contextmanager
def gdal_warnings(paths: Path | list[Path | None]) -> Iterator[None]:
    """GDAL's warnings while a load reads ``paths`` as one line each naming the file.

    pyogrio passes a GDAL warning on as a Python RuntimeWarning, which printed GDAL's raw
    text with a line of the loader's code ("read.py:451: RuntimeWarning: Non closed ring
    detected. To avoid accepting it, set the OGR_GEOMETRY_ACCEPT_UNCLOSED_RING configuration
    option to NO") beside a report that flags the ring ``ring_closed`` — advice to refuse
    the ring the load had just closed and flagged. Those the report tells are dropped; any
    other is printed ``warning: FILE: message`` (never dropped: it may be the only word of
    a problem). The filters and the printer are the process's for the block, so the
    converter processes forked inside it print the same way."""
    given = paths if isinstance(paths, list) else [paths]
    where = ", ".join(str(p) for p in given if p is not None)
    with warnings.catch_warnings():
        for pattern in REPORTED_GDAL_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern, category=RuntimeWarning)
        shown = warnings.showwarning
        said: set[str] = set()  # the file is opened in several places: each warning once

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            # (pyogrio's own UserWarnings too: "Measured (M) geometry types are not
            # supported …" printed three lines of Python's warning format)
            if issubclass(category, (RuntimeWarning, UserWarning)) and _reading(filename):
                text = _gdal_text(str(message))
                if text not in said:
                    said.add(text)
                    sys.stderr.write(f"warning: {where}: {text}\n")
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _reading(filename: str) -> bool:
    """Whether a warning was raised reading a source: by pyogrio (GDAL's; its ``open_arrow``
    warns from inside a context manager, so from contextlib's frame), or where the loaders'
    readers call it."""
    p = Path(filename).as_posix()
    return "/pyogrio/" in p or "/loaders/sources/" in p or p.endswith("/contextlib.py")


def _gdal_text(message: str) -> str:
    """A GDAL message as text: one pyogrio could not decode as UTF-8 (GBK in it) decoded as
    GB18030, else with its bad bytes replaced."""
    if not message.startswith(_UNDECODED):
        return message
    try:
        raw = ast.literal_eval(message[len(_UNDECODED):])
    except (ValueError, SyntaxError):
        return message
    if not isinstance(raw, bytes):
        return message
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")

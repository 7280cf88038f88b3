"""A request's JSON body read with a limit on its nesting, for every service that takes one.

``json.loads`` of ``[[[…]]]`` a hundred thousand deep raises RecursionError (each service
answered it 500, "internal error"), and a body just below json's own limit (about a thousand
levels, less in a served thread) was read and then broke the first code that walked it
recursively (a schema validator, a text check, ``repr`` in a message). No input of the
platform nests deeper than a dozen levels (a GeoJSON multipolygon in a feature collection
inside a process's inputs is nine), so a body deeper than :data:`MAX_DEPTH` is refused
outright as bad input, naming ``body``, before any service looks into it.

Python's json also reads ``NaN``, ``Infinity`` and numbers past a double's range (``1e400``,
read as infinity), none of them JSON (RFC 8259). A NaN radius passed every "> 0" check (NaN
compares false) and crashed the database server in ``ST_Buffer``; so no body holds one.
Nor a text the database cannot hold (:func:`check_texts`: NUL, a lone surrogate), named by
its place in the body (``readings[0].sensor``): each was a 500 where it reached the database.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from cim.errors import InputError

MAX_DEPTH = 64  # arrays and objects inside one another, the body itself the first


def _too_deep(limit: int) -> InputError:
    return InputError(f"the body nests arrays or objects more than {limit} deep: no input "
                      "of the platform does", field="body")


def read_json(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw``; an :class:`InputError` naming ``body`` when it is not
    JSON (or not UTF-8) or nests arrays and objects deeper than ``max_depth``."""
    odd: list[_NotFinite] = []

    def constant(text: str) -> _NotFinite:
        odd.append(_NotFinite(text))
        return odd[-1]

    def number(text: str) -> float | _NotFinite:
        v = _finite(text)
        if isinstance(v, _NotFinite):
            odd.append(v)
        return v

    def integer(text: str) -> int | _NotFinite:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:  # past a double's range as a number
            odd.append(_NotFinite(f"an integer of {len(text.lstrip('-'))} digits"))
            return odd[-1]
        return int(text)

    try:
        # decoded as json decodes bytes (UTF-8, -16 or -32, surrogates passed): the text
        # searched below is the one parsed
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw),
                                                           "surrogatepass")
        value = json.loads(text, parse_constant=constant, parse_float=number,
                           parse_int=integer)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"the body is not JSON ({' '.join(str(exc).split())[:120]})",
                         field="body") from None
    if depth_over(value, max_depth):
        raise _too_deep(max_depth)
    # walked only when the body can hold what the walk finds: a number that is none, or a
    # NUL or half a character, which JSON text writes only as an escape (a raw control
    # character is no JSON): 50,000 readings are not walked for nothing
    if odd or _TEXT_ODDITIES.search(text):
        check_texts(value, "")
    return value


# where a NUL or half a character can be: written as an escape, or as itself (UTF-16 or -32
# text, a surrogate's own UTF-8 bytes)
_TEXT_ODDITIES = re.compile(r"\\u(0000|d[89a-f])|[\x00\ud800-\udfff]", re.IGNORECASE)
MAX_INT_DIGITS = 309  # 1e309 and beyond are no double


class _NotFinite:
    """A number of the body that is none (NaN, Infinity, 1e400), kept as written until
    :func:`check_texts` names its place."""

    def __init__(self, text: str) -> None:
        self.text = text


def _finite(text: str) -> float | _NotFinite:
    v = float(text)
    return v if math.isfinite(v) else _NotFinite(text)


def depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` deep; walked with a stack
    of its own, not by recursion, so any depth json could read is measured."""
    stack = [(value, 1)] if isinstance(value, (list, dict)) else []
    while stack:
        v, d = stack.pop()
        if d > limit:
            return True
        for item in (v.values() if isinstance(v, dict) else v):
            if isinstance(item, (list, dict)):
                stack.append((item, d + 1))
    return False


def check_texts(value: Any, field: str) -> None:
    """An InputError naming the field of a text holding a NUL character or a lone UTF-16
    surrogate (JSON's ``"\\udce9"``, half of a character): the database's text can hold
    neither (each was a 500, "internal error"); or of a number that is none (NaN, Infinity,
    ``1e400``: :func:`read_json` keeps them as written for this)."""
    if isinstance(value, _NotFinite):
        raise InputError(f"{field or 'the body'} is {value.text}: numbers must be finite (not "
                         "NaN, infinity or beyond a double's range)", field=field or "body")
    if isinstance(value, str):
        if "\x00" in value:
            raise InputError(f"{field or 'the text'} holds a NUL character (\\x00)",
                             field=field or "body")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"{field or 'the text'} holds a lone surrogate "
                             f"(\\u{ord(value[exc.start]):04x}, half of a character) at "
                             f"character {exc.start + 1}: not Unicode text",
                             field=field or "body") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            check_texts(k, field)
            check_texts(v, f"{field}.{k}" if field else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_texts(v, f"{field}[{i}]")

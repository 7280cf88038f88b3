"""Numbers typed as text, read strictly: the one reader of a number in a text for the loaders
(:func:`loaders.fields.as_float`) and the layers (``cim iot import``'s values) alike.

Python's ``float`` takes more than a number as people type it — ``1_5`` (a digit separator) is
15 — and less: ``1,200.5`` or ``１２．５`` (an IME's full-width mode) fail. Here a text may group
thousands with commas, be typed in full-width forms and (unless ``metres`` is false) end in a
metre sign; a comma anywhere else, an underscore or any other unit is refused, not dropped.
"""

from __future__ import annotations

import math
import re

from cim.text import half_width

# a number as surveyors type it: thousands grouped by commas (1,200.5; a first group of 1–3
# digits not starting with 0: 0,500 is a decimal comma), a metre sign after it
_GROUPED = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?")
_METRES = re.compile(r"(.*?[\d.])\s*(?:m|M|米)")
# a count of storeys as building surveys write it: 3层, 12F (field_units.yaml spells storeys
# 层, 层数, F)
_STOREYS = re.compile(r"(.*?\d)\s*(?:层|F)")


class ValueProblem(ValueError):
    """A value that cannot be used; the message says why (for the reject record)."""


def parse_number(text: str, *, metres: bool = True, storeys: bool = False) -> float:
    """The finite number ``text`` is; a ValueProblem saying why it is none.

    ``1,5`` and ``0,500`` (decimal commas) read as 15 and 500, ``12mm`` as 12 metres and
    ``1_5`` as 15 were silent errors of ten and a thousand times; ``1e3``, ``-0.3``, ``+2``,
    ``1,200.5`` and ``１２．５`` are numbers, ``12m`` and ``12 米`` too where ``metres``,
    ``3层`` and ``12F`` where ``storeys`` (a floor count: it was refused as no number)."""
    s = half_width(text).strip()  # an IME's full-width mode: "１２．５", "1，200"
    if "_" in s:
        raise ValueProblem(f"{text!r} is not a number")
    try:
        f = float(s)  # most values: a plain number
    except ValueError:
        if storeys and (m := _STOREYS.fullmatch(s)) is not None:
            s = m.group(1)
        elif (m := _METRES.fullmatch(s)) is not None:
            if not metres:
                raise ValueProblem(f"{text!r} is not a number (m or 米 is a length's unit, "
                                   "not this value's)") from None
            s = m.group(1)
        if "," in s:
            if not _GROUPED.fullmatch(s):
                raise ValueProblem(f"{text!r} is not a number (a comma may only group "
                                   "thousands, as in 1,200.5)") from None
            s = s.replace(",", "")
        try:
            f = float(s)
        except ValueError:
            raise ValueProblem(f"{text!r} is not a number") from None
    if not math.isfinite(f):
        raise ValueProblem(f"{text!r} is not a finite number")
    return f


def height_difference(a: float, b: float) -> float:
    """``a - b`` of two surveyed heights (地面高程 − 埋深, 地面高程 − 管线高程) as the surveyor
    would write it: binary floats made 36.4 − 1.2 into 35.199999999999996, which the layers
    stored and the API served. Rounded to the micrometre, far below any survey's precision."""
    return round(a - b, 6)

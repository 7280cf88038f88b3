"""The one text normaliser of the platform: how a delivered value or name is compared with a
dictionary (building uses, component subclasses, pipe classes and features, materials, field
and column aliases …).

Surveyors type the same word many ways: with spaces ("办 公", "办公 "), ideographic spaces
(U+3000), full-width letters and digits ("ＪＳ", "ＰＥ", "１２"), full-width brackets ("（m）"),
upper or lower case, invisible characters pasted from Word or Excel. Every loader used to
compare in its own way, so a value matched in one layer and not in another; now all compare
through these two functions:

- :func:`norm_key` — values and dictionary entries:
  1. Unicode NFKC (full-width → half-width: "ＪＳ" → "JS", "（" → "(", U+3000 → space;
     compatibility forms: "㎜" → "mm", "①" → "1");
  2. remove invisible characters (zero-width space/joiners, word joiner, BOM, soft hyphen);
  3. remove all whitespace (any Unicode white space, inside the text too);
  4. case-fold ("JS", "js", "Js" are one key).
- :func:`norm_name` — field and column names: :func:`norm_key`, then without a trailing unit
  in brackets ("起点埋深(m)", "管径【mm】" → "起点埋深", "管径"), without separators
  (``_ : - / \\ . ·``) and with × written as x.

Both sides of a look-up go through the same function: the dictionary's names and aliases
when it is built, the delivered value when it is looked up.

An id (a point number, a pipe or a feature's source id) is neither looked up nor read but
matched: :func:`id_form`, full-width ASCII as ASCII and no invisible character.

Numbers are not looked up but read: :func:`half_width` gives their full-width forms the
meaning of their ASCII twins ("１８．５ｍ", "ＤＮ３００", "－3") and nothing else.

Delivered text files (a survey's CSV tables, a sensor readings CSV) are decoded by the one
detection, :func:`decode_text`: UTF-8 with or without BOM, UTF-16 by its BOM, else GBK/GB18030
(what a Chinese Excel or WPS saves "CSV" as), or the encoding the user gave.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any

from cim.errors import InputError

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACE = re.compile(r"\s+")
_UNIT = re.compile(r"[(\[【][^)\]】]*[)\]】]$")
_BRACKETS = re.compile(r"[(\[【]([^)\]】]*)[)\]】]$")  # a name's trailing brackets, norm_key'd
_SEPARATORS = re.compile(r"[_:\-/\\.·]")


# the full-width forms of ASCII (U+FF01–U+FF5E) and the ideographic space; not NFKC, which
# would also read "10⁵" as 105 and "½" as 1⁄2 in a number
_HALF_WIDTH = {0x3000: 0x20, **{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}}


def half_width(text: str) -> str:
    """``text`` with full-width ASCII forms (an IME's full-width mode) as ASCII."""
    return text.translate(_HALF_WIDTH)


# what an id's text loses (:func:`id_form`), as a regex class for Arrow's kernels
ID_UNSEEN = "[\uff01-\uff5e\u3000\u200b\u200c\u200d\u2060\ufeff\u00ad]"


def id_form(text: str) -> str:
    """An id as it is compared and keyed: full-width ASCII as ASCII (``ＲＬ0001`` typed in an
    IME's full-width mode is the point RL0001) and without the invisible characters a paste
    leaves (a zero-width space after RL0101), trimmed. Not NFKC, not case-folded: an id's
    ① and ``q`` are its own. A segment named its end RL0001 and the point table's ＲＬ0001
    was another point; Q1 and Ｑ1 of one file loaded as two buildings."""
    return half_width(text).translate(_INVISIBLE).strip()


def norm_key(value: Any) -> str:
    """The form in which a value is compared with a dictionary (see the module docstring);
    None is ""."""
    if value is None:
        return ""
    s = unicodedata.normalize("NFKC", str(value)).translate(_INVISIBLE)
    return _SPACE.sub("", s).casefold()


def norm_name(name: Any) -> str:
    """The form in which a field or column name is compared with the aliases."""
    s = norm_key(name)
    for _ in range(2):  # 埋深(m)(旧) → 埋深
        s = _UNIT.sub("", s)
    return _SEPARATORS.sub("", s.replace("×", "x"))


# what a table writes before the unit inside the brackets: 面积（单位：公顷）, 限高(单位:m)
_UNIT_LABEL = re.compile(r"^单位(?:为|是)?[:=]?")


def header_brackets(name: Any) -> list[str]:
    """The texts of a field name's trailing brackets, the last first, as :func:`header_unit`
    reads them: ``norm_key``'d, a 单位: label taken off, at most the two :func:`norm_name`
    takes off the name it matches (起点埋深(cm)(实测) → ``["实测", "cm"]``, 面积（单位：公顷） →
    ``["公顷"]``, 管径 → ``[]``). What is inside may name a unit or be a qualifier (X(北坐标))."""
    s = norm_key(name)
    out: list[str] = []
    for _ in range(2):
        m = _BRACKETS.search(s)
        if m is None:
            break
        out.append(_UNIT_LABEL.sub("", m.group(1)))
        s = s[:m.start()]
    return out


def header_unit(name: Any, spellings: dict[str, str]) -> str | None:
    """The unit a field name's trailing brackets name (管径(mm) → mm, 限高（层） → storeys,
    面积（单位：公顷） → ha), by ``spellings``; None when they name none (X(北坐标)) or there are
    none. Of two trailing groups — the two :func:`norm_name` takes off the name it matches —
    the one naming a unit: 起点埋深(cm)(实测) is in cm. (The loaders' field matching and the
    approval check's project reader both read a header's unit so.)"""
    for text in header_brackets(name):
        unit = spellings.get(text)
        if unit is not None:
            return unit
    return None


def _line_of(raw: bytes, end: int, encoding: str) -> int:
    """The line (from 1) holding byte ``end`` of ``raw`` in ``encoding``."""
    return raw[:end].decode(encoding, errors="replace").count("\n") + 1


def decode_text(raw: bytes, path: Path | str, encoding: str | None = None,
                remedy: str = "pass --encoding") -> tuple[str, str]:
    """(text, encoding) of a delivered text file: UTF-8 with or without BOM, UTF-16 by its
    BOM, else GBK/GB18030 — or ``encoding`` when one is given (``--encoding``). Bytes that are
    none of them are an InputError naming the file and the line of the first such byte (a
    UTF-8 file with a BOM and rows pasted in from a GBK one is not read as either)."""
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except LookupError as exc:
            raise InputError(f"cannot decode the file as {encoding}: {exc}",
                             path=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"cannot decode the file as {encoding}: {exc.reason} "
                             f"(byte {raw[exc.start:exc.start + 1].hex()})", path=str(path),
                             row=_line_of(raw, exc.start, encoding)) from exc
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "UTF-8 (BOM)"
        except UnicodeDecodeError as exc:
            raise InputError("the file begins as UTF-8 (its BOM) but this line is not UTF-8 "
                             "(rows pasted in from a file in another encoding?)",
                             path=str(path), row=_line_of(raw, exc.start + 3, "utf-8")) from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise InputError("the file begins as UTF-16 (its BOM) but this line is not UTF-16 "
                             f"({exc.reason})", path=str(path),
                             row=_line_of(raw, exc.start, "utf-16")) from exc
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as exc:
        raise InputError(f"the text is neither UTF-8 nor GBK/GB18030; {remedy}",
                         path=str(path), row=_line_of(raw, exc.start, "gb18030")) from exc


def json_value(v: Any) -> Any:
    """A value JSON has no type for, as every JSON answer and ``--json`` output writes it: a
    time or date as RFC 3339 / ISO 8601 text (``2026-12-01T08:00:00+00:00``: ``str()`` wrote a
    space for the ``T``, which a browser's ``Date`` need not read — Safari's did not),
    anything else as its text."""
    if isinstance(v, dt.date):  # datetime too
        return v.isoformat()
    return str(v)


# -- a value a person typed, quoted back in an error message without the whole of it --------
# A refusal names the value it refuses (``no grid cell has code '3708…'``) so the person sees
# the typo; a client sending a megabyte address, grid code or sensor id had the megabyte echoed
# back in the 400 (and in every log line quoting it). Messages quote input through
# :func:`shown`: the value as ``repr`` shows it, cut to its first :data:`SHOWN_CHARS`
# characters with the length it had.

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


def named(value: str, limit: int = SHOWN_CHARS) -> str:
    """``value`` itself when at most ``limit`` characters, else :func:`shown`: a name listed or
    quoted unquoted (a sensor code in an answer's ``unknown`` list, ``sensor GAS-01: …``) stays
    as the client sent it and can be matched against what it sent; only a value no real name
    is that long comes back cut (a 1 MB sensor id was echoed whole)."""
    return value if len(value) <= limit else shown(value, limit)

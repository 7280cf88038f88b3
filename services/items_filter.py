"""The items path's ``filter`` hook: CQL2 Text and CQL2 JSON through :mod:`cim.cql2`.

A filter in ``filter-lang=cql2-text`` or ``cql2-json`` is compiled to SQL here and runs in the
same statement as the page. Without ``filter-lang`` the filter is tried as CQL2 Text first; if
it is not CQL2 (pygeoapi 0.21's ECQL, e.g. ``INTERSECTS(geometry, POLYGON(…))``), the request
goes to pygeoapi as before (:class:`FallThrough`), so existing ECQL clients keep working; a
filter that parses as CQL2 but names an unknown property or ``filter-crs`` is a 400 here.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading

from services.items_query import ParamError, city_zone
from services.items_sql import Layer

_PLACEHOLDER = re.compile(r"(?<!%)%s")
# a non-ASCII character CQL2 Text (as cim.cql2 reads it) and pygeoapi's ECQL both refuse
# outside a quoted text: typographic quotes (‘住宅’), a symbol (×); a Chinese name is an
# identifier in CQL2 Text (建筑用途 = '住宅': an unknown property is the compiler's 400)
_UNEXPECTED = re.compile(r"unexpected character '(.)'")


class FallThrough(Exception):
    """Not for the platform's path: pygeoapi answers the request."""


class Cql2Translator:
    """``(text, filter-lang, filter-crs, layer) -> (SQL over alias p, named parameters)``;
    one compiler per layer and process."""

    def __init__(self) -> None:
        from cim import cql2

        self.cql2 = cql2
        self._compilers: dict[str, object] = {}
        self._lock = threading.Lock()

    def _compiler(self, layer: Layer):
        c = self._compilers.get(layer.name)
        if c is None:
            types = {col.name: col.json_type for col in layer.columns}
            c = self.cql2.FilterCompiler(types, layer.srid, table_alias="p")
            with self._lock:
                self._compilers[layer.name] = c
        return c

    def __call__(self, text: str, lang: str | None, crs: str | None,
                 layer: Layer) -> tuple[str, dict]:
        if lang == "cql-json":  # the drafts' name, read as CQL2 JSON as a POST's body is:
            lang = "cql2-json"  # pygeoapi's GET read it as CQL Text ("Bad CQL text")
        if lang not in (None, "", "cql2-text", "cql2-json", "cql-text"):
            raise FallThrough
        legacy = lang == "cql-text"  # GDAL's OAPIF driver (QGIS, ogr2ogr): read as CQL2 Text
        ilike: list[bool] = []
        if legacy:
            text, ilike = _ilike_as_like(text)
        try:
            tree = self.cql2.parse_filter(text, "cql2-text" if legacy else lang or "cql2-text")
        except self.cql2.FullWidthError as exc:  # no ECQL either: say what to type
            raise ParamError(f"filter: {exc}") from exc
        except self.cql2.FilterError as exc:
            if (literal := _refused_literal(exc, text)) is not None:  # CQL2 all the same:
                raise ParamError(f"filter: {literal}") from exc  # never ECQL's to answer
            bad = _UNEXPECTED.search(str(exc))
            if bad and not bad[1].isascii():  # no ECQL either: pygeoapi said "Bad CQL text"
                names = ", ".join(c.name for c in layer.columns[:8])
                raise ParamError(
                    f"filter: {exc}: a property is named as the queryables name it ({names} "
                    f"…), a text value is written in single quotes ('住宅')") from exc
            if (not lang or legacy) and _is_ecql(text):  # pygeoapi's ECQL: pygeoapi answers
                if (literal := _overflowing_number(text)) is not None:
                    raise ParamError(f"filter: {literal}") from exc
                if crs is not None:  # pygeoapi's 400 said "Bad CQL text", its log an ERROR
                    try:
                        self.cql2.filter_crs_of(crs, layer.srid)
                    except self.cql2.FilterError as crs_exc:
                        raise ParamError(str(crs_exc)) from exc
                _remember(f"{exc}")
                raise FallThrough from exc
            raise ParamError(f"filter: {exc}") from exc
        if legacy:
            _gdal_dates(tree, {c.name for c in layer.columns
                               if c.json_type in ("date", "date-time")})
        try:  # it is CQL2: an unknown property or filter-crs is the client's, never ECQL's
            frag, values = self._compiler(layer).compile(tree, crs, zone=city_zone())
        except self.cql2.FilterError as exc:
            raise ParamError(f"filter: {exc}{_by_its_key(str(exc), layer)}") from exc
        names = iter(range(len(values)))
        text_sql = _PLACEHOLDER.sub(lambda m: f"%(f{next(names)})s", frag.as_string(None))
        if any(ilike):
            text_sql = _like_as_ilike(text_sql, ilike)
        return text_sql, {f"f{i}": v for i, v in enumerate(values)}


# -- filter-lang=cql-text: the dialect GDAL's OAPIF driver writes ------------------------------
# GDAL 3.6 (QGIS's OGR layers, ogr2ogr) sends an attribute filter to the server only when the
# items' ``filter-lang`` parameter lists ``cql-text`` (the draft's name of CQL2 Text) in the
# OpenAPI document; otherwise it downloads every feature and filters them itself. What it
# writes is CQL2 Text (comparisons, LIKE, IS NULL, AND/OR/NOT, quoted timestamps) but for ILIKE
# (OGR SQL's case-insensitive LIKE) and a date written '2026-01-01T' (a date without a time).
# pygeoapi read cql-text as ECQL, which refused ``NOT (…)``, compared a timestamp with a quoted
# time as text (a 500) and takes '.', not '_', as LIKE's one-character wildcard.
_WORD = re.compile(r"[^\W\d]\w*")
_GDAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T")


def _ilike_as_like(text: str) -> tuple[str, list[bool]]:
    """``text`` with each ILIKE keyword (outside quotes) written `` LIKE`` (same length, so
    positions in messages stay right), and per LIKE or ILIKE keyword in order whether it was
    ILIKE."""
    out, flags, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":  # a quoted text or identifier: its doubled quote is one character
            j = i + 1
            while j < len(text):
                if text[j] == ch:
                    if j + 1 < len(text) and text[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(text[i:j + 1])
            i = j + 1
            continue
        m = _WORD.match(text, i)
        if m:
            word = m[0].upper()
            if word in ("LIKE", "ILIKE"):
                flags.append(word == "ILIKE")
            out.append(" LIKE" if word == "ILIKE" else m[0])
            i = m.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out), flags


def _like_as_ilike(text_sql: str, flags: list[bool]) -> str:
    """The compiled SQL with the LIKE of each filter's ILIKE made ILIKE: the compiler writes
    one `` LIKE `` per LIKE predicate, in the filter's order (columns are quoted
    identifiers and values parameters, so nothing else in it reads `` LIKE ``)."""
    parts = text_sql.split(" LIKE ")
    if len(parts) - 1 != len(flags):
        raise ParamError("filter: ILIKE could not be read here; use LIKE (CQL2 Text)")
    out = [parts[0]]
    for flag, part in zip(flags, parts[1:]):
        out.append((" ILIKE " if flag else " LIKE ") + part)
    return "".join(out)


def _gdal_dates(node: object, temporal: set[str]) -> None:
    """GDAL's date literal ``'2026-01-01T'`` (a date compared with a date or date-time
    property: it writes the date and a ``T`` without a time) read as the date it is — where
    it is compared with one of the ``temporal`` properties only: against a text property it
    is the text it says."""
    from cim.cql2.nodes import Between, Compare, In, Lit, Node, Prop

    def dated(p: object) -> bool:
        return isinstance(p, Prop) and p.name in temporal

    def fix(lit: object) -> None:
        if isinstance(lit, Lit) and isinstance(lit.value, str) \
                and _GDAL_DATE.fullmatch(lit.value):
            lit.value = lit.value[:-1]

    if isinstance(node, Compare):
        if dated(node.lhs):
            fix(node.rhs)
        if dated(node.rhs):
            fix(node.lhs)
        return
    if isinstance(node, Between):
        if dated(node.lhs):
            fix(node.low)
            fix(node.high)
        return
    if isinstance(node, In):
        if dated(node.lhs):
            for v in node.values:
                fix(v)
        return
    if isinstance(node, list):
        for n in node:
            _gdal_dates(n, temporal)
        return
    if isinstance(node, Node):
        for f in dataclasses.fields(node):
            _gdal_dates(getattr(node, f.name), temporal)


_REFUSED_LITERAL = re.compile(r"(number|integer) literal out of range")
_NUMBER_AT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


_NUMBER_OR_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<![\w.])"
                               r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _overflowing_number(text: str) -> str | None:
    """The message for the first number of an ECQL filter (outside quotes) beyond a double's
    range, as :func:`_refused_literal` says it; None if there is none. pygeoapi reads it as
    infinity and answers an empty page."""
    for m in _NUMBER_OR_QUOTED.finditer(text):
        if m[0][0] not in "'\"" and not math.isfinite(float(m[0])):
            return (f"number literal {m[0]} (at character {m.start() + 1}) is out of range: "
                    "not a finite double, at most ±1.7976931348623157e308")
    return None


def _refused_literal(exc: Exception, text: str) -> str | None:
    """The message for a number literal CQL2 refuses by its value (``1e400``, beyond a
    double's range: read as infinity), naming it; None for any other error. Such a filter
    is CQL2 Text whose literal is wrong: it parsed as ECQL too, where pygeoapi compared with
    infinity and answered an empty page."""
    message, pos = getattr(exc, "message", ""), getattr(exc, "position", None)
    if not _REFUSED_LITERAL.match(message) or not isinstance(pos, int):
        return None
    m = _NUMBER_AT.match(text, pos - 1)
    literal = m[0] if m else "?"
    bounds = ("a 64-bit integer" if message.startswith("integer")
              else "a finite double, at most ±1.7976931348623157e308")
    return f"number literal {literal} (at character {pos}) is out of range: not {bounds}"


def _is_ecql(text: str) -> bool:
    """Whether pygeoapi's ECQL parser reads ``text``. A filter neither CQL2 Text nor ECQL
    went to pygeoapi all the same, whose 400 said "Bad CQL text" in every format and named
    nothing; the CQL2 reading's message says what and where."""
    from pygeofilter.parsers.ecql import parse

    try:
        parse(text)
    except Exception:  # lark's errors, and pygeofilter's own on odd literals
        return False
    return True


def _remember(message: str) -> None:
    """The CQL2 reading's message of a filter that goes on to pygeoapi as ECQL, for the
    provider's 400 when ECQL cannot evaluate it either (``DATE('2026-02-30')`` parses as an
    ECQL function call that pygeoapi does not know)."""
    from flask import g, has_app_context

    if has_app_context():
        g.cim_cql2_error = message


def fallen_through_error() -> str | None:
    """The CQL2 message of the request's filter that went to pygeoapi as ECQL (None if
    none did)."""
    from flask import g, has_app_context

    return g.get("cim_cql2_error") if has_app_context() else None


def cql2_translator() -> Cql2Translator:
    """The CQL2 translator (:mod:`cim.cql2` is part of the core: a failing import is a bug,
    never a reason to serve without filters)."""
    return Cql2Translator()


_UNKNOWN = re.compile(r"unknown property '([^']+)'")


def _by_its_key(message: str, layer: Layer) -> str:
    """A hint when the unknown property is the Chinese name a property is shown under (the
    queryables' title, QGIS's alias, the survey's header: 建筑用途 = '住宅'): which key to
    filter by. Unquoted Chinese names are identifiers in CQL2 Text, so the filter parses and
    only the name is wrong."""
    m = _UNKNOWN.search(message)
    if not m:
        return ""
    from layers.styles.fields import field_titles, without_unit

    keys = [k for k, title in field_titles(layer.table).items()
            if m[1] in (title, without_unit(title))]
    if not keys:
        return ""
    return (f"; {m[1]!r} is the name shown for the property {keys[0]}: filter by its key "
            f"({keys[0]} = …, a text value in single quotes)")


_UNKNOWN_LISTED = re.compile(r"^(properties|sortby): unknown propert(?:y|ies) (.+?); known: ")


def shown_name_hint(message: str, layer: Layer) -> str:
    """For ``properties``/``sortby`` naming a property by the Chinese name it is shown under
    (QGIS's alias, the HTML page's heading, the queryables' title: ``properties=建筑名称``),
    which key to give instead, as :func:`_by_its_key` says for a filter; "" if none is."""
    m = _UNKNOWN_LISTED.match(message)
    if not m:
        return ""
    from layers.styles.fields import field_titles, without_unit

    by_title: dict[str, str] = {}
    for key, title in field_titles(layer.table).items():
        by_title.setdefault(title, key)
        by_title.setdefault(without_unit(title), key)
    hits = [(n, by_title[n]) for n in m[2].split(", ") if n in by_title]
    if not hits:
        return ""
    shown = ", ".join(f"{n!r} is the name shown for the property {k}" for n, k in hits)
    return f"; {shown}: {m[1]} takes the keys ({', '.join(k for _, k in hits)})"

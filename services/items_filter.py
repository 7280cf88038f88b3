"""The items path's ``filter`` hook: CQL2 Text and CQL2 JSON through :mod:`cim.cql2`.

A filter in ``filter-lang=cql2-text`` or ``cql2-json`` is compiled to SQL here and runs in the
same statement as the page. Without ``filter-lang`` the filter is tried as CQL2 Text first; if
it is not CQL2 (pygeoapi 0.21's ECQL, e.g. ``INTERSECTS(geometry, POLYGON(…))``), the request
goes to pygeoapi as before (:class:`FallThrough`), so existing ECQL clients keep working; a
filter that parses as CQL2 but names an unknown property or ``filter-crs`` is a 400 here.
"""

from __future__ import annotations

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
        if lang not in (None, "", "cql2-text", "cql2-json"):
            raise FallThrough  # pygeoapi's own cql-text / cql-json
        try:
            tree = self.cql2.parse_filter(text, lang or "cql2-text")
        except self.cql2.FullWidthError as exc:  # no ECQL either: say what to type
            raise ParamError(f"filter: {exc}") from exc
        except self.cql2.FilterError as exc:
            bad = _UNEXPECTED.search(str(exc))
            if bad and not bad[1].isascii():  # no ECQL either: pygeoapi said "Bad CQL text"
                names = ", ".join(c.name for c in layer.columns[:8])
                raise ParamError(
                    f"filter: {exc}: a property is named as the queryables name it ({names} "
                    f"…), a text value is written in single quotes ('住宅')") from exc
            if not lang and _is_ecql(text):  # pygeoapi's ECQL: pygeoapi answers it
                _remember(f"{exc}")
                raise FallThrough from exc
            raise ParamError(f"filter: {exc}") from exc
        try:  # it is CQL2: an unknown property or filter-crs is the client's, never ECQL's
            frag, values = self._compiler(layer).compile(tree, crs, zone=city_zone())
        except self.cql2.FilterError as exc:
            raise ParamError(f"filter: {exc}{_by_its_key(str(exc), layer)}") from exc
        names = iter(range(len(values)))
        text_sql = _PLACEHOLDER.sub(lambda m: f"%(f{next(names)})s", frag.as_string(None))
        return text_sql, {f"f{i}": v for i, v in enumerate(values)}


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
    from layers.styles.fields import field_titles

    keys = [k for k, title in field_titles(layer.table).items() if title == m[1]]
    if not keys:
        return ""
    return (f"; {m[1]!r} is the name shown for the property {keys[0]}: filter by its key "
            f"({keys[0]} = …, a text value in single quotes)")

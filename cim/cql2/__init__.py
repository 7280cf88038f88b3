"""CQL2 filters (OGC API Features Part 3, CQL2 Text and CQL2 JSON) → parameterised PostGIS SQL.

    compiler = FilterCompiler({"name": "string", "height": "number"}, storage_srid=4527)
    fragment, params = compiler.compile(parse_filter(text, "cql2-text"), filter_crs=None)
    conn.execute(sql.SQL("SELECT id FROM {} WHERE {}").format(table, fragment), params)

Every refusal is a :class:`FilterError` whose message says what and where (400 material).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cim.cql2.compile import FilterCompiler, filter_crs_of
from cim.cql2.cqljson import load_json, parse_json
from cim.cql2.nodes import DEFAULT_LIMITS, Budget, FilterError, Limits, Node
from cim.cql2.text import FullWidthError, parse_text

FILTER_LANGS = ("cql2-text", "cql2-json")

__all__ = ["FILTER_LANGS", "FilterCompiler", "FilterError", "FullWidthError", "Limits", "Node",
           "filter_crs_of", "filter_lang", "parse_filter", "to_sql"]


def filter_lang(value: str | None) -> str:
    """The ``filter-lang`` parameter checked: default ``cql2-text``."""
    if value is None or value == "":
        return "cql2-text"
    if value not in FILTER_LANGS:
        raise FilterError(f"unsupported filter-lang {value[:50]!r}; supported: "
                          f"{', '.join(FILTER_LANGS)}")
    return value


def parse_filter(filter_: str | bytes | Mapping[str, Any], lang: str | None = "cql2-text",
                 limits: Limits = DEFAULT_LIMITS) -> Node:
    """Parse a CQL2 filter (text, or JSON as a string or already decoded) into a tree."""
    lang = filter_lang(lang)
    if isinstance(filter_, (str, bytes)) and len(filter_) > limits.max_length:
        raise FilterError(f"filter longer than {limits.max_length} characters")
    budget = Budget(limits)
    try:
        if lang == "cql2-json":
            return parse_json(load_json(filter_, budget), budget)
        if not isinstance(filter_, str):
            raise FilterError("a cql2-text filter must be a string")
        return parse_text(filter_, budget)
    except RecursionError:
        raise FilterError("filter nested too deeply") from None


def to_sql(filter_: str | bytes | Mapping[str, Any], lang: str | None = "cql2-text", *,
           properties, storage_srid: int, filter_crs: str | None = None,
           geometry_column: str = "geom", table_alias: str | None = None,
           limits: Limits = DEFAULT_LIMITS, zone: str | None = None):
    """One-shot :func:`parse_filter` + :meth:`FilterCompiler.compile` → (fragment, params);
    ``zone``: the city's clock, as for :meth:`FilterCompiler.compile`."""
    compiler = FilterCompiler(properties, storage_srid, geometry_column=geometry_column,
                              table_alias=table_alias)
    return compiler.compile(parse_filter(filter_, lang, limits), filter_crs, zone=zone)

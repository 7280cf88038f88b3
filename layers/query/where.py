"""``--where LAYER:CQL2``: attribute (and spatial) filters on one layer of a query.

The CQL2 compiler is generic (it depends on nothing of the services but its own package:
``cim.crs``, ``cim.errors``, shapely, pyproj, psycopg), so the query library uses it rather than
a second parser; it is imported here only, lazily, so that moving it out of ``services/``
(where it does not belong, being shared) is a one-line change. Properties are the layer's
published columns with JSON types from the layer declarations; values are bound.

    parse_where(["buildings:floors_above >= 10"])  # → {"buildings": "floors_above >= 10"}
"""

from __future__ import annotations

import re

from psycopg import sql

from cim.errors import InputError
from layers.catalog import HIDDEN_COLUMNS
from layers.query.common import layer_def, published_columns

_JSON = {"int2": "integer", "int4": "integer", "int8": "integer", "float4": "number",
         "float8": "number", "numeric": "number", "bool": "boolean", "date": "date",
         "timestamptz": "date-time", "text[]": "array"}


_LAYER_PREFIX = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:\uff1a](.*)", re.DOTALL)


def queryables(layer: str) -> dict[str, str]:
    """Published columns of ``layer`` → JSON type (what a filter may name)."""
    return {c.name: _JSON.get(c.pgtype, "string") for c in published_columns(layer)
            if c.name not in HIDDEN_COLUMNS}


def parse_where(values: str | list[str] | tuple[str, ...] | dict | None) -> dict[str, str]:
    """``["LAYER:CQL2", …]`` (or a dict layer → CQL2) → {layer: filter}; one filter per layer."""
    if not values:
        return {}
    if isinstance(values, str):  # one filter (its characters were read as filters)
        values = [values]
    if isinstance(values, dict):
        items = list(values.items())
    else:
        items = []
        for v in values:
            # the layer's name, then ':' — or '：', a Chinese input method's colon
            m = _LAYER_PREFIX.match(v)
            layer, sep, text = (m.group(1), ":", m.group(2)) if m else (v, "", "")
            if not sep or not text.strip():
                raise InputError(f"--where {v!r}: expected LAYER:CQL2, e.g. "
                                 "buildings:floors_above >= 10")
            items.append((layer.strip(), text))
    out: dict[str, str] = {}
    for layer, text in items:
        layer_def(layer)
        if layer in out:
            raise InputError(f"two --where filters for layer {layer}: combine them with AND")
        out[layer] = text
    return out


def compile_where(layer: str, text: str, srid: int, alias: str, zone: str | None = None
                  ) -> tuple[sql.Composable, list]:
    """The CQL2 text ``text`` on ``layer`` as (SQL fragment on ``alias``, bound values);
    ``zone``: the city's clock, which reads a date against a date-time property
    (:func:`cim.cityclock.city_time`, as the OGC API's filters read it)."""
    from cim.cql2 import FilterError, to_sql  # generic; see the module docstring

    try:
        return to_sql(text, "cql2-text", properties=queryables(layer), storage_srid=srid,
                      table_alias=alias, zone=zone)
    except FilterError as exc:
        raise InputError(f"--where {layer}: {exc}") from None

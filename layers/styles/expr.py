"""One declarative filter, two expression languages: QGIS expressions (QML rules, layer
subsets) and MapLibre expressions (style layer filters)."""

from __future__ import annotations

from typing import Any

from layers.styles.model import Filter

# MapLibre's geometry-type values for the symbol kinds of a mixed layer
ML_GEOMETRY = {"point": ["Point", "MultiPoint"], "line": ["LineString", "MultiLineString"],
               "fill": ["Polygon", "MultiPolygon"]}


def qgis_literal(v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def qgis_field(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qgis_filter(f: Filter) -> str:
    """The QGIS expression (also valid SQL for PostgreSQL) of a filter."""
    col = qgis_field(f.field)
    if f.values is not None:
        if len(f.values) == 1:
            return f"{col} = {qgis_literal(f.values[0])}"
        return f"{col} IN ({', '.join(qgis_literal(v) for v in f.values)})"
    parts = []
    if f.min is not None:
        parts.append(f"{col} >= {qgis_literal(f.min)}")
    if f.max is not None:
        parts.append(f"{col} < {qgis_literal(f.max)}")
    return " AND ".join(parts) or "TRUE"


def ml_filter(f: Filter) -> list:
    """The MapLibre expression of a filter."""
    get = ["get", f.field]
    if f.values is not None:
        return ["in", ["coalesce", get, ""], ["literal", list(f.values)]]
    parts: list = []
    if f.min is not None:
        parts.append([">=", ["to-number", ["coalesce", get, 0]], f.min])
    if f.max is not None:
        parts.append(["<", ["to-number", ["coalesce", get, 0]], f.max])
    return ["all", *parts]


def ml_geometry(kind: str) -> list:
    return ["in", ["geometry-type"], ["literal", ML_GEOMETRY[kind]]]

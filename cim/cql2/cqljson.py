"""CQL2 JSON (OGC 21-065, JSON encoding) → the same filter tree as CQL2 Text.

``{"op": ..., "args": [...]}`` nodes, ``{"property": name}``, JSON strings/numbers/booleans,
``{"date": ...}``/``{"timestamp": ...}``, GeoJSON geometry objects and ``{"bbox": [...]}``.
Positions are JSON paths (``$.args[1].args[0]``), so an error names the offending member.
"""

from __future__ import annotations

import json
from typing import Any

import shapely
import shapely.geometry

from cim.cql2.nodes import (
    SPATIAL_OPS,
    Between,
    BoolConst,
    Budget,
    Compare,
    DWithin,
    FilterError,
    In,
    IsNull,
    Like,
    Lit,
    Logical,
    Node,
    Not,
    Prop,
    Spatial,
)
from cim.cql2.text import bbox_literal, temporal

COMPARISONS = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
GEOJSON_TYPES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString",
                 "MultiPolygon", "GeometryCollection"}


def load_json(text: str | bytes | dict, budget: Budget) -> Any:
    """The filter as a JSON value; a string is decoded (a GET request's ``filter=``)."""
    if isinstance(text, dict):
        return text
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FilterError(f"filter is not valid JSON: {exc.msg}", exc.pos + 1) from None
    except RecursionError:
        raise FilterError("filter nested too deeply") from None


def _no_constant(name: str) -> None:
    raise FilterError(f"{name} is not a valid JSON number")


def parse_json(value: Any, budget: Budget) -> Node:
    return _bool(value, "$", 0, budget)


def _bool(v: Any, path: str, depth: int, budget: Budget) -> Node:
    budget.depth(depth, path)
    budget.node(path)
    if isinstance(v, bool):
        return BoolConst(v, pos=path)
    if not isinstance(v, dict) or "op" not in v:
        raise FilterError("expected an expression {\"op\": ..., \"args\": [...]}", path)
    op = v["op"]
    args = v.get("args")
    if not isinstance(op, str):
        raise FilterError("\"op\" must be a string", path + ".op")
    if not isinstance(args, list):
        raise FilterError(f"{op}: \"args\" must be an array", path + ".args")
    low = op.lower()

    def arg(i: int) -> str:
        return f"{path}.args[{i}]"

    def need(n: int) -> None:
        if len(args) != n:
            raise FilterError(f"{op} takes {n} arguments, got {len(args)}", path + ".args")

    if low in ("and", "or"):
        if len(args) < 2:
            raise FilterError(f"{op} takes at least 2 arguments", path + ".args")
        return Logical(low.upper(), [_bool(a, arg(i), depth + 1, budget)
                                     for i, a in enumerate(args)], pos=path)
    if low == "not":
        need(1)
        return Not(_bool(args[0], arg(0), depth + 1, budget), pos=path)
    if op in COMPARISONS:
        need(2)
        return Compare(COMPARISONS[op], _scalar(args[0], arg(0), budget),
                       _scalar(args[1], arg(1), budget), pos=path)
    if low == "like":
        need(2)
        return Like(_scalar(args[0], arg(0), budget), _scalar(args[1], arg(1), budget),
                    pos=path)
    if low == "between":
        if len(args) == 2 and isinstance(args[1], list) and len(args[1]) == 2:
            args = [args[0], *args[1]]  # the 2021 draft's [value, [low, high]]
        need(3)
        return Between(*(_scalar(a, arg(i), budget) for i, a in enumerate(args)), pos=path)
    if low == "in":
        need(2)
        if not isinstance(args[1], list):
            raise FilterError("in: the second argument must be an array of values", arg(1))
        if len(args[1]) > budget.limits.max_in:
            raise FilterError(f"IN list longer than {budget.limits.max_in}", arg(1))
        return In(_scalar(args[0], arg(0), budget),
                  [_scalar(x, f"{arg(1)}[{i}]", budget) for i, x in enumerate(args[1])],
                  pos=path)
    if low == "isnull":
        need(1)
        return IsNull(_scalar(args[0], arg(0), budget), pos=path)
    if low.upper() in SPATIAL_OPS:
        need(2)
        return Spatial(low.upper(), _geom(args[0], arg(0), budget),
                       _geom(args[1], arg(1), budget), pos=path)
    if low == "s_dwithin":
        need(4)
        units = args[3]
        if not isinstance(units, str):
            raise FilterError("s_dwithin: units must be a string (meters or kilometers)", arg(3))
        return DWithin(_geom(args[0], arg(0), budget), _geom(args[1], arg(1), budget),
                       budget.distance(args[2], units, arg(2)), pos=path)
    raise FilterError(f"unknown operator or function {op!r}", path + ".op")


def _scalar(v: Any, path: str, budget: Budget) -> Node:
    budget.node(path)
    if isinstance(v, bool):
        return Lit(v, pos=path)
    if isinstance(v, (int, float)):
        return Lit(budget.number(v, path), pos=path)
    if isinstance(v, str):
        return Lit(budget.string(v, path), pos=path)
    if isinstance(v, dict):
        if set(v) == {"property"}:
            if not isinstance(v["property"], str):
                raise FilterError("\"property\" must be a string", path)
            return Prop(v["property"], pos=path)
        if set(v) == {"date"} and isinstance(v["date"], str):
            return Lit(temporal("DATE", v["date"], path), pos=path)
        if set(v) == {"timestamp"} and isinstance(v["timestamp"], str):
            return Lit(temporal("TIMESTAMP", v["timestamp"], path), pos=path)
        if "op" in v:
            raise FilterError(f"a value is expected here, not the expression {v['op']!r}", path)
    raise FilterError("expected a property {\"property\": name} or a literal value", path)


def _geom(v: Any, path: str, budget: Budget) -> Node:
    budget.node(path)
    if isinstance(v, dict) and set(v) == {"property"}:
        return _scalar(v, path, budget)
    if isinstance(v, dict) and set(v) == {"bbox"}:
        b = v["bbox"]
        if not isinstance(b, list) or not all(isinstance(x, (int, float))
                                              and not isinstance(x, bool) for x in b):
            raise FilterError("bbox must be an array of numbers", path)
        return bbox_literal([float(budget.number(float(x), path)) for x in b], path, budget)
    if isinstance(v, dict) and v.get("type") in GEOJSON_TYPES:
        try:
            g = shapely.geometry.shape(v)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError,
                shapely.errors.GEOSException) as exc:
            raise FilterError(f"invalid GeoJSON {v.get('type')}: {exc}", path) from None
        return budget.geometry(g, path)
    raise FilterError("expected a geometry property, a GeoJSON geometry or {\"bbox\": [...]}",
                      path)

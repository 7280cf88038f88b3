"""The filter tree both CQL2 encodings parse into, the error they raise and the limits they enforce.

One small tree of our own (not pygeofilter's): pygeofilter 0.4's CQL2 text grammar rejects
one-letter property names and ``<>``/``IN``/``BETWEEN``/``IS NULL`` on them, has no
``S_DWITHIN``, and its CQL2 JSON walker crashes on ``between``; a tree we own also keeps the
position of every node, so an error can say where the filter is wrong.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import shapely

Position = int | str | None  # text: 1-based character; JSON: a path such as $.args[1]


class FilterError(ValueError):
    """A filter the server refuses: the message says what and where (answered with a 400)."""

    def __init__(self, message: str, position: Position = None) -> None:
        self.message = message
        self.position = position
        where = ""
        if isinstance(position, int):
            where = f" (at character {position})"
        elif position:
            where = f" (at {position})"
        super().__init__(message + where)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one filter may ask, so a request cannot make the parser or PostGIS work
    without end (every bound is checked before any SQL is built)."""

    max_length: int = 20_000  # characters of the filter text / JSON
    max_depth: int = 40  # nesting of AND/OR/NOT and parentheses
    max_nodes: int = 2_000  # predicates and literals in all
    max_vertices: int = 10_000  # coordinates in all geometry literals together
    max_in: int = 1_000  # values of one IN list
    max_string: int = 2_000  # characters of one string literal
    max_distance_m: float = 100_000.0  # S_DWITHIN distance


DEFAULT_LIMITS = Limits()


@dataclass
class Node:
    pos: Position = field(default=None, kw_only=True)


@dataclass
class Prop(Node):
    name: str


@dataclass
class Lit(Node):
    value: str | int | float | bool | dt.date | dt.datetime


@dataclass
class Geom(Node):
    """A geometry literal as written, in the filter CRS and its axis order."""

    geom: shapely.Geometry


@dataclass
class Compare(Node):
    op: str  # = <> < <= > >=
    lhs: Node
    rhs: Node


@dataclass
class Like(Node):
    lhs: Node
    pattern: Node
    negated: bool = False


@dataclass
class In(Node):
    lhs: Node
    values: list[Node]
    negated: bool = False


@dataclass
class Between(Node):
    lhs: Node
    low: Node
    high: Node
    negated: bool = False


@dataclass
class IsNull(Node):
    lhs: Node
    negated: bool = False


@dataclass
class Logical(Node):
    op: str  # AND, OR
    args: list[Node]


@dataclass
class Not(Node):
    arg: Node


@dataclass
class BoolConst(Node):
    value: bool


@dataclass
class Spatial(Node):
    op: str  # S_INTERSECTS …
    lhs: Node
    rhs: Node


@dataclass
class DWithin(Node):
    lhs: Node
    rhs: Node
    distance_m: float


SPATIAL_OPS = {
    "S_INTERSECTS": "ST_Intersects",
    "S_WITHIN": "ST_Within",
    "S_CONTAINS": "ST_Contains",
    "S_DISJOINT": "ST_Disjoint",
    "S_EQUALS": "ST_Equals",
    "S_TOUCHES": "ST_Touches",
    "S_OVERLAPS": "ST_Overlaps",
    "S_CROSSES": "ST_Crosses",
}
WKT_TYPES = ("POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING",
             "MULTIPOLYGON", "GEOMETRYCOLLECTION")
UNITS_M = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
           "km": 1000.0, "kilometer": 1000.0, "kilometers": 1000.0, "kilometre": 1000.0,
           "kilometres": 1000.0}


class Budget:
    """Counts nodes and vertices while parsing, against :class:`Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.nodes = 0
        self.vertices = 0

    def node(self, pos: Position) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise FilterError(f"filter too large: more than {self.limits.max_nodes} terms", pos)

    def depth(self, depth: int, pos: Position) -> None:
        if depth > self.limits.max_depth:
            raise FilterError(f"filter nested too deeply (more than {self.limits.max_depth} "
                              "levels)", pos)

    def string(self, s: str, pos: Position) -> str:
        if len(s) > self.limits.max_string:
            raise FilterError(f"string literal longer than {self.limits.max_string} "
                              "characters", pos)
        if "\x00" in s:
            raise FilterError("string literal contains a NUL character", pos)
        return s

    def number(self, v: int | float, pos: Position) -> int | float:
        if isinstance(v, bool):
            return v
        if isinstance(v, int) and not -(2 ** 63) <= v < 2 ** 63:
            raise FilterError("integer literal out of range (64-bit)", pos)
        if isinstance(v, float) and not math.isfinite(v):
            raise FilterError("number literal out of range", pos)
        return v

    def geometry(self, g: shapely.Geometry, pos: Position) -> Geom:
        if g is None or g.is_empty:
            raise FilterError("empty geometry literal", pos)
        coords = shapely.get_coordinates(g, include_z=True)
        self.vertices += len(coords)
        if self.vertices > self.limits.max_vertices:
            raise FilterError(f"geometry literals have more than {self.limits.max_vertices} "
                              "vertices", pos)
        import numpy as np

        if not np.isfinite(coords[:, :2]).all():
            raise FilterError("geometry literal has a coordinate out of range", pos)
        if not g.is_valid:  # GEOS in PostGIS would fail on it mid-query
            raise FilterError(f"invalid geometry literal: {shapely.is_valid_reason(g)}", pos)
        return Geom(g, pos=pos)

    def distance(self, value: object, units: str, pos: Position) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FilterError("S_DWITHIN distance must be a number", pos)
        factor = UNITS_M.get(units.lower())
        if factor is None:
            raise FilterError(f"unknown distance unit {units!r} (use meters or kilometers)", pos)
        d = float(value) * factor
        if not 0 <= d <= self.limits.max_distance_m:
            raise FilterError(f"S_DWITHIN distance must be between 0 and "
                              f"{self.limits.max_distance_m:g} m", pos)
        return d

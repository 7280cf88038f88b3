"""Filter tree → a parameterised SQL fragment for PostGIS (psycopg ``sql`` objects + values).

Every value is a bound parameter; every column name comes from the caller's allow-list and
is quoted with :class:`psycopg.sql.Identifier`; operators and function names come from fixed
tables here. So nothing a client writes ever reaches the SQL text.

Geometry literals are bound as WKB with the SRID of the filter CRS and transformed to the
storage CRS once, in PostGIS; a literal in another CRS is densified first (~50 m), so a
lon/lat edge stays the curve it is in the storage projection, as the provider's bbox does.
Axis order follows the filter CRS's definition (CRS84 lon/lat; EPSG:4490 lat/lon; a
Gauss-Krüger EPSG code northing/easting) and is swapped to PostGIS x/y before binding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import lru_cache

import pyproj
import shapely
from psycopg import sql

from cim.cql2.nodes import (
    SPATIAL_OPS,
    Between,
    BoolConst,
    Compare,
    DWithin,
    FilterError,
    Geom,
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
from cim.crs import (
    densify_step_of,
    is_crs84,
    lonlat_srid,
    parse_crs,
    storage_domain,
)
from cim.errors import InputError

_OPS = {op: sql.SQL(op) for op in ("=", "<>", "<", "<=", ">", ">=")}
_NUMERIC = ("number", "integer")
_TEMPORAL = ("date", "date-time")


@lru_cache(maxsize=64)
def filter_crs_of(uri: str | None, storage_srid: int) -> tuple[int, bool, bool]:
    """(SRID, first axis is northing/latitude, geographic) of a ``filter-crs`` value; CRS84 is
    lon/lat as the provider's output is (:func:`cim.crs.lonlat_srid` of the storage CRS)."""
    if not uri or is_crs84(uri):
        return lonlat_srid(storage_srid), False, True
    try:
        crs: pyproj.CRS = parse_crs(uri)
    except InputError:
        raise FilterError(f"unknown filter-crs {uri[:200]!r}") from None
    epsg = crs.to_epsg()
    if epsg is None:
        raise FilterError(f"filter-crs {uri[:200]!r} has no EPSG code")
    north = bool(crs.axis_info) and crs.axis_info[0].direction.lower() in ("north", "south")
    return epsg, north, crs.is_geographic


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, dt.datetime):
        return "date-time"
    if isinstance(v, dt.date):
        return "date"
    return "string"


def _compatible(prop_type: str | None, kind: str) -> bool:
    if prop_type is None:
        return True
    if prop_type in _NUMERIC:
        return kind == "number"
    if prop_type in _TEMPORAL:
        return kind in _TEMPORAL or kind == "string"
    return prop_type == kind


class FilterCompiler:
    """Compiles filters for one table: its queryable properties (name → JSON Schema type, or
    just names when types are unknown), its geometry column and storage SRID. Build it once
    per collection and process; :meth:`compile` is then pure."""

    def __init__(self, properties: Mapping[str, str | None] | Iterable[str], storage_srid: int,
                 *, geometry_column: str = "geom",
                 geometry_names: Iterable[str] = ("geometry", "geom"),
                 table_alias: str | None = None) -> None:
        self.types: dict[str, str | None] = dict(properties) if isinstance(properties, Mapping) \
            else {p: None for p in properties}
        self.srid = int(storage_srid)
        self.storage_geographic = parse_crs(self.srid).is_geographic
        self.geometry_column = geometry_column
        self.geometry_names = set(geometry_names)
        self.alias = table_alias

    def compile(self, tree: Node, filter_crs: str | None = None, zone: str | None = None
                ) -> tuple[sql.Composed, list]:
        """(SQL fragment with ``%s`` placeholders, its values in order). ``zone``: the city's
        clock (an IANA name, the profile's ``timezone``): a DATE compared with a date-time
        property is that day in the city and a TIMESTAMP without an offset the city's time,
        as in the ``datetime`` parameter — without it the database's time zone would read
        them (UTC here: a version made at 02:00 on 1 June in China would not be of 1 June)."""
        crs = filter_crs_of(filter_crs, self.srid)
        params: list = []
        frag = _Emitter(self, crs, params, zone).bool(tree)
        return sql.Composed([frag]), params


class _Emitter:
    def __init__(self, c: FilterCompiler, crs: tuple[int, bool, bool], params: list,
                 zone: str | None = None) -> None:
        self.c, self.crs, self.params, self.zone = c, crs, params, zone

    def col(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.c.alias, name) if self.c.alias else sql.Identifier(name)

    def bind(self, value: object) -> sql.Placeholder:
        self.params.append(value)
        return sql.Placeholder()

    # -- boolean expressions ------------------------------------------------------------
    def bool(self, n: Node) -> sql.Composable:
        if isinstance(n, Logical):
            joiner = sql.SQL(f" {n.op} ")
            return sql.SQL("({})").format(joiner.join(self.bool(a) for a in n.args))
        if isinstance(n, Not):
            return sql.SQL("(NOT {})").format(self.bool(n.arg))
        if isinstance(n, BoolConst):
            return sql.SQL("TRUE" if n.value else "FALSE")
        if isinstance(n, Compare):
            lhs, rhs = self.pair(n.lhs, n.rhs)
            return sql.SQL("({} {} {})").format(lhs, _OPS[n.op], rhs)
        if isinstance(n, Like):
            lhs, pattern = self.pair(n.lhs, n.pattern, need="string")
            return sql.SQL("({} {} {})").format(
                lhs, sql.SQL("NOT LIKE" if n.negated else "LIKE"), pattern)
        if isinstance(n, In):
            lhs = self.scalar(n.lhs)
            vals = [self.scalar(v, against=n.lhs) for v in n.values]
            return sql.SQL("({} {} ({}))").format(
                lhs, sql.SQL("NOT IN" if n.negated else "IN"), sql.SQL(", ").join(vals))
        if isinstance(n, Between):
            lhs = self.scalar(n.lhs)
            low = self.scalar(n.low, against=n.lhs)
            high = self.scalar(n.high, against=n.lhs)
            return sql.SQL("({} {} {} AND {})").format(
                lhs, sql.SQL("NOT BETWEEN" if n.negated else "BETWEEN"), low, high)
        if isinstance(n, IsNull):
            target = self.geometry(n.lhs) if self._is_geometry(n.lhs) else self.scalar(
                n.lhs, allow_array=True)
            return sql.SQL("({} {})").format(
                target, sql.SQL("IS NOT NULL" if n.negated else "IS NULL"))
        if isinstance(n, Spatial):
            if (cut := self._cut(n.lhs, n.rhs)) is not None:
                mirrored, prop, lit, dim = cut
                return self.spatial_cut(_MIRRORED.get(n.op, n.op) if mirrored else n.op,
                                        prop, lit, dim)
            if isinstance(n.lhs, Geom) and isinstance(n.rhs, Prop):
                return self.relation(_MIRRORED.get(n.op, n.op), n.rhs, n.lhs)
            if isinstance(n.lhs, Prop) and isinstance(n.rhs, Geom):
                return self.relation(n.op, n.lhs, n.rhs)
            return sql.SQL("{}({}, {})").format(sql.SQL(SPATIAL_OPS[n.op]),
                                                self.geometry(n.lhs), self.geometry(n.rhs))
        if isinstance(n, DWithin):
            if (cut := self._cut(n.lhs, n.rhs)) is not None:
                # the literal's points beyond the domain lie farther from every feature than
                # the largest distance a filter may give (cim.crs.DOMAIN_MARGIN_DEGREES ≫ 100 km)
                _, prop, lit, _ = cut
                if lit is None:
                    return sql.SQL("FALSE")
                n = DWithin(prop, lit, n.distance_m, pos=n.pos)
            a, b = self.geometry(n.lhs), self.geometry(n.rhs)
            if self.c.storage_geographic:  # metres on the ellipsoid
                return sql.SQL("ST_DWithin({}::geography, {}::geography, {})").format(
                    a, b, self.bind(n.distance_m))
            return sql.SQL("ST_DWithin({}, {}, {})").format(a, b, self.bind(n.distance_m))
        if isinstance(n, (Prop, Lit, Geom)):
            raise FilterError("a condition is expected here, not a lone value", n.pos)
        raise FilterError(f"unsupported expression {type(n).__name__}", n.pos)

    # -- scalars ---------------------------------------------------------------------------
    def _is_geometry(self, n: Node) -> bool:
        return isinstance(n, Geom) or (isinstance(n, Prop) and n.name in self.c.geometry_names)

    def prop_type(self, n: Node) -> str | None:
        return self.c.types.get(n.name) if isinstance(n, Prop) else None

    def pair(self, a: Node, b: Node, need: str | None = None):
        for side in (a, b):
            if need and isinstance(side, Prop) and self.prop_type(self._check(side)) not in (
                    None, need):
                raise FilterError(f"property {side.name!r} is not a {need}: LIKE needs "
                                  "text", side.pos)
            if need and isinstance(side, Lit) and _kind(side.value) != need:
                raise FilterError(f"LIKE needs a {need} pattern", side.pos)
        return self.scalar(a, against=b), self.scalar(b, against=a)

    def _check(self, p: Prop, against: Node | None = None) -> Prop:
        if p.name in self.c.geometry_names:
            raise FilterError(f"the geometry {p.name!r} can only be used in spatial functions "
                              "(S_INTERSECTS …) or IS NULL", p.pos)
        if p.name not in self.c.types:
            shown = p.name if len(p.name) <= 60 else p.name[:60] + "…"
            # an unquoted word is a property in CQL2 Text (Chinese ones too): use_name = 住宅
            # meant the text '住宅'
            hint = (f"; a text value is written in single quotes ('{shown}')"
                    if isinstance(against, Prop) and against.name in self.c.types else "")
            raise FilterError(f"unknown property {shown!r}; queryable properties: "
                              f"{', '.join(sorted(self.c.types)) or 'none'}{hint}", p.pos)
        return p

    def scalar(self, n: Node, against: Node | None = None,
               allow_array: bool = False) -> sql.Composable:
        if isinstance(n, Prop):
            t = self.prop_type(self._check(n, against))
            if t == "array" and not allow_array:
                raise FilterError(f"property {n.name!r} is an array: only IS NULL applies",
                                  n.pos)
            if isinstance(against, Prop) and against.name in self.c.types:
                other = self.prop_type(against)
                if t and other and not (t == other or {t, other} <= set(_NUMERIC)):
                    raise FilterError(f"cannot compare {n.name!r} ({t}) with "
                                      f"{against.name!r} ({other})", n.pos)
            return self.col(n.name)
        if isinstance(n, Lit):
            if isinstance(against, Prop) and against.name in self.c.types:
                t = self.prop_type(against)
                if not _compatible(t, _kind(n.value)):
                    raise FilterError(f"property {against.name!r} is {_article(t)}; "
                                      f"{_shown(n.value)} is {_article(_kind(n.value))}",
                                      n.pos)
                if t == "date-time" and self.zone:
                    return self.bind(_in_zone(_iso_text(n.value), self.zone))
            return self.bind(n.value)
        if isinstance(n, Geom):
            raise FilterError("a geometry literal can only be used in spatial functions", n.pos)
        raise FilterError("a value is expected here, not a condition", n.pos)

    # -- a literal reaching beyond where the data can lie -----------------------------------
    def _cut(self, a: Node, b: Node):
        """For a spatial predicate between the geometry and a literal that reaches beyond
        where the layer's data can lie (:func:`storage_domain`): (the literal came first, the
        geometry property, the literal cut to that domain — None if nothing is left — and
        the literal's dimension). None when no cut is needed."""
        if isinstance(a, Geom) and isinstance(b, Prop):
            mirrored, prop, lit = True, b, a
        elif isinstance(a, Prop) and isinstance(b, Geom):
            mirrored, prop, lit = False, a, b
        else:
            return None
        srid, north_first, _ = self.crs
        domain = storage_domain(srid, self.c.srid)
        if domain is None:
            return None
        if north_first:  # the domain in the literal's axis order
            domain = (domain[1], domain[0], domain[3], domain[2])
        self.literal_xy(lit.geom, lit.pos)  # out of range (axes swapped?): refused, not cut
        x0, y0, x1, y1 = lit.geom.bounds
        if domain[0] <= x0 and domain[1] <= y0 and x1 <= domain[2] and y1 <= domain[3]:
            return None
        dim = shapely.get_dimensions(lit.geom)
        part = shapely.intersection(lit.geom, shapely.box(*domain))
        part = None if part.is_empty else Geom(part, pos=lit.pos)
        return mirrored, prop, part, int(dim)

    def spatial_cut(self, op: str, prop: Prop, lit: Geom | None, dim: int) -> sql.Composable:
        """``op(feature, L)`` where L reaches beyond the domain every feature lies in, through
        ``lit`` = L cut to that domain: the relations that hold near the features are the
        same for both; L's points beyond the domain are outside every feature."""
        g = self.geometry(prop)
        if lit is None:  # L lies wholly where no feature can be
            return sql.SQL("({} IS NOT NULL)").format(g) if op == "S_DISJOINT" \
                else sql.SQL("FALSE")
        if op in ("S_CONTAINS", "S_EQUALS"):  # a feature cannot hold L's far points
            return sql.SQL("FALSE")
        if op == "S_OVERLAPS":  # L has interior outside the feature: drop that term
            return self.guarded(op, prop, lit, dim, sql.SQL(
                "(ST_Dimension({}) = {} AND ST_Relate({}, {}, {}))").format(
                g, sql.Literal(dim), g, self.geometry(lit),
                sql.Literal("1*T******" if dim == 1 else "T*T******")))
        if op == "S_CROSSES":  # the same term, where the feature has the higher dimension
            return self.guarded(op, prop, lit, dim, sql.SQL(
                "(CASE WHEN ST_Dimension({}) > {} THEN ST_Relate({}, {}, {}) "
                "ELSE ST_Crosses({}, {}) END)").format(
                g, sql.Literal(dim), g, self.geometry(lit), sql.Literal("T********"), g,
                self.geometry(lit)))  # bound twice: each placeholder takes a value
        return self.relation(op, prop, lit)

    def relation(self, op: str, prop: Prop, lit: Geom) -> sql.Composable:
        """``op(feature, L)`` for a literal L, in terms PostGIS answers from L prepared once
        for the statement. ST_Disjoint, ST_Touches, ST_Overlaps and ST_Crosses prepare
        nothing: each feature was tested against every vertex of L — a China-sized box
        densified for its projection, 20,000 of them, 1 ms a feature, and the request timed
        out on 1,500 buildings. Disjoint is not intersecting; the others are asked only of
        the features a prepared test leaves possible (:meth:`guarded`)."""
        g = self.geometry(prop)
        if op == "S_DISJOINT":
            return sql.SQL("(NOT ST_Intersects({}, {}))").format(g, self.geometry(lit))
        expr = sql.SQL("{}({}, {})").format(sql.SQL(SPATIAL_OPS[op]), g, self.geometry(lit))
        if op not in ("S_TOUCHES", "S_OVERLAPS", "S_CROSSES"):
            return expr  # ST_Intersects, ST_Within, ST_Contains, ST_Equals: prepared, or cheap
        return self.guarded(op, prop, lit, int(shapely.get_dimensions(lit.geom)), expr)

    def guarded(self, op: str, prop: Prop, lit: Geom, dim: int,
                expr: sql.Composable) -> sql.Composable:
        """``expr`` (``op`` of the feature and L, of dimension ``dim``) asked only where a
        necessary condition PostGIS answers from L prepared holds: the boxes overlap (an
        index condition) and the feature meets L; of an area L, a feature that touches L
        is not in L's interior (ST_ContainsProperly), one that overlaps or crosses it is
        not wholly in it (ST_Covers). The CASE keeps the order, and a NULL geometry NULL."""
        g = self.geometry(prop)
        need = sql.SQL("ST_Intersects({}, {})").format(g, self.geometry(lit))
        if dim == 2:
            inside = "ST_ContainsProperly" if op == "S_TOUCHES" else "ST_Covers"
            need = sql.SQL("{} AND NOT {}({}, {})").format(
                need, sql.SQL(inside), self.geometry(lit), g)
        return sql.SQL("({} && {} AND CASE WHEN NOT ({}) THEN FALSE ELSE {} END)").format(
            g, self.geometry(lit), need, expr)

    # -- geometries --------------------------------------------------------------------------
    def geometry(self, n: Node) -> sql.Composable:
        if isinstance(n, Prop):
            if n.name not in self.c.geometry_names:
                raise FilterError(f"{n.name!r} is not the geometry: spatial functions take "
                                  f"{' or '.join(sorted(self.c.geometry_names))} or a "
                                  "geometry literal", n.pos)
            return self.col(self.c.geometry_column)
        if isinstance(n, Geom):
            return self.literal(n.geom, n.pos)
        raise FilterError("a geometry (property or literal) is expected here", n.pos)

    def literal_xy(self, g: shapely.Geometry, pos) -> shapely.Geometry:
        """A literal in PostGIS x/y order, 2D; FilterError if out of the CRS's range."""
        srid, north_first, geographic = self.crs
        g = shapely.force_2d(g)
        if north_first:  # the CRS's axis order -> PostGIS x/y
            g = shapely.transform(g, lambda c: c[:, ::-1])
        if geographic:  # PROJ would fail mid-query on a latitude of 116°
            x0, y0, x1, y1 = g.bounds
            if not (-180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90):
                order = "latitude, longitude" if north_first else "longitude, latitude"
                name = f"EPSG:{srid}" if north_first else "CRS84"
                raise FilterError(f"coordinates out of range for {order} (filter-crs "
                                  f"{name})", pos)
        return g

    def literal(self, g: shapely.Geometry, pos) -> sql.Composable:
        srid, _, geographic = self.crs
        g = self.literal_xy(g, pos)
        wkb = self.bind(shapely.to_wkb(g))
        # scalar subqueries: made once per statement, also in a prepared statement's generic
        # plan, which otherwise parses (and projects) the literal again for every row
        if srid == self.c.srid:
            return sql.SQL("(SELECT ST_GeomFromWKB({}, {}))").format(wkb, sql.Literal(srid))
        step = densify_step_of(g, geographic)
        return sql.SQL("(SELECT ST_Transform(ST_Segmentize(ST_GeomFromWKB({}, {}), {}), {}))"
                       ).format(wkb, sql.Literal(srid), sql.Literal(step),
                                sql.Literal(self.c.srid))


_MIRRORED = {"S_WITHIN": "S_CONTAINS", "S_CONTAINS": "S_WITHIN"}  # the others are symmetric


def _iso_text(v: object) -> object:
    """A text literal that is an ISO 8601 date or date-time (``'2020-06-01'`` against a
    date-time property) as that date-time, read on the city's clock as DATE('…') is; any other
    value as it is."""
    if isinstance(v, str):
        try:
            return dt.datetime.fromisoformat(v)
        except ValueError:
            return v
    return v


def _in_zone(v: object, zone: str) -> object:
    """A date or date-time on the city's clock (:func:`cim.cityclock.city_time`); any other
    value as it is."""
    from cim.cityclock import city_time

    return city_time(v, zone) if isinstance(v, dt.date) else v


def _shown(v: object) -> str:
    """A literal as the filter wrote it (DATE('…'), TIMESTAMP('…'), 'text', 12)."""
    if isinstance(v, dt.datetime):
        return f"TIMESTAMP('{v.isoformat()}')"
    if isinstance(v, dt.date):
        return f"DATE('{v.isoformat()}')"
    return repr(v)


def _article(t: str | None) -> str:
    t = t or "value"
    return ("an " if t[0] in "aeiou" else "a ") + t

"""An area of interest of a query (:class:`Area`): a bbox, a polygon, a point and a radius, or a
feature, district or grid cell named by its code — as the CLI, the HTTP processes and Python
callers give it. A Python caller's values are checked as the CLI's are (a bbox of three numbers,
a radius typed as text): each refusal names the parameter, never a traceback."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from typing import Any

import psycopg
import shapely
from psycopg import sql

from cim.errors import InputError
from cim.layerdefs import LAYERS
from layers.query.common import query_geometry

# a radius beyond the Earth's half circumference holds the whole Earth: larger ones (1e308)
# overflowed the circle's geometry, and an answer of 112 facilities stood for 127
MAX_RADIUS_M = 20_037_508.0
# segments a quarter of the polygon drawn around a point + radius area has
BUFFER_QUARTER = 32


@dataclass(frozen=True)
class Area:
    """An area of interest: exactly one of bbox, polygon, point+radius, or a feature code
    (of any layer), a district code or a grid-cell code. ``None`` everywhere = the whole city.

    A point + radius takes what lies within the radius of the point, exactly (a polygon drawn
    for the circle missed a footprint 19 cm inside a 634 m radius); a clip to it (overlay) is
    to a 128-sided polygon around the circle."""

    bbox: tuple[float, float, float, float] | None = None
    polygon: str | shapely.Geometry | None = None
    point: tuple[float, float] | None = None
    radius: float | None = None
    code: str | None = None
    district: str | None = None
    grid: str | None = None
    crs: str | int | None = None

    def __post_init__(self) -> None:
        # a Python caller's values checked as the CLI's options are: a bbox of three numbers
        # was "not enough values to unpack", a radius typed "100" a TypeError, a GeoJSON
        # mapping (as the HTTP process takes it) "'dict' object has no attribute 'strip'"
        for name, n in (("bbox", 4), ("point", 2)):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _numbers(v, n, name))
        if self.radius is not None and not _is_number(self.radius):
            raise InputError(f"radius {self.radius!r}: a number of metres expected",
                             field="radius")
        if self.polygon is not None and not isinstance(self.polygon, (str, shapely.Geometry)):
            object.__setattr__(self, "polygon", _geojson_text(self.polygon))

    def given(self) -> list[str]:
        return [k for k in ("bbox", "polygon", "point", "code", "district", "grid")
                if getattr(self, k) is not None]

    def storage_sql(self, storage_srid: int) -> tuple[sql.Composable, list] | None:
        """SQL of the area as one storage-CRS geometry (None: no area, the whole city)."""
        given = self.given()
        if len(given) > 1:
            raise InputError(f"give one area, not {' and '.join(given)}")
        if self.radius is not None and self.point is None:
            # (it was set aside without a word: the whole city's answer for a circle's)
            raise InputError("a radius (--radius) goes with a point (--point X,Y): give the "
                             "circle's centre", field="radius")
        if not given:
            return None
        if self.bbox is not None:
            x0, y0, x1, y1 = self.bbox
            if not all(math.isfinite(v) for v in self.bbox):
                raise InputError(f"bbox {self.bbox}: coordinates must be finite numbers "
                                 "(not NaN or infinity)")
            if not (x0 < x1 and y0 < y1):
                raise InputError(f"bbox {self.bbox}: need X0 < X1 and Y0 < Y1")
            return query_geometry(shapely.box(x0, y0, x1, y1), self.crs, storage_srid,
                                  "bbox", "clip").storage_sql(storage_srid)
        if self.polygon is not None:
            return query_geometry(self.polygon, self.crs, storage_srid, "polygon",
                                  "clip").storage_sql(storage_srid)
        if self.point is not None:
            # NaN passes "<= 0" and, in ST_Buffer, crashed the database server (signal 11:
            # every database of the cluster went into recovery); infinity was a GEOS error
            if self.radius is None or not math.isfinite(self.radius) or self.radius <= 0 or \
                    self.radius > MAX_RADIUS_M:
                raise InputError(f"a point (--point) needs a radius (--radius) in metres, a "
                                 f"number > 0 and at most {MAX_RADIUS_M:,.0f} (the Earth's "
                                 "half circumference)"
                                 + ("" if self.radius is None else f", not {self.radius!r}"),
                                 field="radius")
            # a polygon around the circle (its edges touch it from outside): what is
            # selected is then told exactly by the distance (see layers.query.sqlparts.in_area)
            g, params = self.centre_sql(storage_srid)
            return (sql.SQL("ST_Buffer({}, %s, {})").format(g, sql.Literal(BUFFER_QUARTER)),
                    [*params, float(self.radius) / math.cos(math.pi / (4 * BUFFER_QUARTER))])
        if self.district is not None:
            return (sql.SQL("(SELECT geom FROM admin_divisions WHERE code = %s "
                            "AND valid_to IS NULL)"), [self.district])
        if self.grid is not None:
            return (sql.SQL("(SELECT geom FROM grid_cells WHERE code = %s "
                            "AND valid_to IS NULL)"), [self.grid])
        return _code_area(self.code)

    def centre_sql(self, storage_srid: int) -> tuple[sql.Composable, list]:
        """SQL of the centre of a point + radius area in the storage CRS."""
        return query_geometry(shapely.Point(self.point), self.crs, storage_srid,
                              "point").storage_sql(storage_srid)


def _code_area(code: str) -> tuple[sql.Composable, list]:
    """The current geometry of the feature with ``code``, whichever layer holds it."""
    parts = [sql.SQL("SELECT geom FROM {} WHERE code = %s AND valid_to IS NULL").format(
        sql.Identifier(d.table)) for d in LAYERS.values()]
    return (sql.SQL("(SELECT geom FROM ({}) u LIMIT 1)").format(sql.SQL(" UNION ALL ").join(parts)),
            [code] * len(parts))


def check_area_found(conn: psycopg.Connection, area: Area, area_sql: tuple | None) -> None:
    """An area named by code must exist: an unknown code is an input error, not 0 features."""
    if area_sql is None or (area.code, area.district, area.grid) == (None, None, None):
        return
    g, params = area_sql
    if conn.execute(sql.SQL("SELECT {} IS NULL").format(g), params).fetchone()[0]:
        what = ("district" if area.district is not None else
                "grid cell" if area.grid is not None else "feature")
        code = next(c for c in (area.district, area.grid, area.code) if c is not None)
        raise InputError(f"no current {what} has code {code!r}")


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _numbers(v: Any, n: int, name: str) -> tuple[float, ...]:
    """``v`` as ``n`` numbers (a bbox X0,Y0,X1,Y1; a point X,Y), or an InputError naming
    ``name``."""
    items = tuple(v) if isinstance(v, (list, tuple)) or hasattr(v, "__array__") else None
    if items is None or len(items) != n or not all(map(_is_number, items)):
        raise InputError(f"{name} {v!r}: {n} numbers expected", field=name)
    return tuple(float(x) for x in items)


def _geojson_text(v: Any) -> str:
    """A GeoJSON mapping, or an object with ``__geo_interface__`` (a GeoSeries, a
    GeoDataFrame: its features' union, as a file's), as GeoJSON text."""
    mapping = getattr(v, "__geo_interface__", v)
    if not isinstance(mapping, dict):
        raise InputError(f"polygon of type {type(v).__name__}: WKT, GeoJSON (text or a "
                         "mapping), a shapely geometry or an object with __geo_interface__ "
                         "expected", field="polygon")
    try:
        return json.dumps(mapping)
    except (TypeError, ValueError) as exc:
        raise InputError(f"polygon: not GeoJSON ({exc})", field="polygon") from exc

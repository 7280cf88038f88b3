"""The district and grid cell a point is coded in, as SQL: the one rule every writer of a
coded place uses (the loaders' staged join, cases, risk points, the gazetteer).

A current district covering the place, the lowest code when several do; of the grid cells
covering it, one of its own district first — a grid code spells its district, so a cell drawn
across a district line must not hand 370826's places a 370811 cell — then the lowest code.
(A feature no area covers is placed by its shares: :mod:`loaders.engine.places`.)
"""

from __future__ import annotations


def district_sql(geom: str) -> str:
    """SQL of the code of the current district covering ``geom`` (an SQL expression)."""
    return ("(SELECT d.code FROM admin_divisions d WHERE d.valid_to IS NULL AND d.level = 3 "
            f"AND ST_Covers(d.geom, {geom}) ORDER BY d.code LIMIT 1)")


def grid_sql(geom: str, district: str) -> str:
    """SQL of the code of the current grid cell covering ``geom``, one of district
    ``district`` (an SQL expression: the place's district code) first."""
    return ("(SELECT g.code FROM grid_cells g WHERE g.valid_to IS NULL "
            f"AND ST_Covers(g.geom, {geom}) ORDER BY "
            f"coalesce(g.district_code = {district}, false) DESC, g.code LIMIT 1)")


def asset_point_sql(geom: str) -> str:
    """SQL of the point an asset is placed at (a sensor without X/Y, a risk point, a case
    reported on it), 2D: a point itself, a line's middle (a multi-line's, where its parts
    join into one), else a point on its surface. ``ST_PointOnSurface`` of a 3D pipe kept its
    Z, which the 2D cases table refused: a problem reported on a pipe was an internal error."""
    g = f"ST_Force2D({geom})"
    return (f"(CASE WHEN GeometryType({g}) = 'POINT' THEN {g}"
            f" WHEN GeometryType({g}) = 'LINESTRING' THEN ST_LineInterpolatePoint({g}, 0.5)"
            f" WHEN GeometryType(ST_LineMerge({g})) = 'LINESTRING'"
            f"  THEN ST_LineInterpolatePoint(ST_LineMerge({g}), 0.5)"
            f" ELSE ST_PointOnSurface({g}) END)")

"""The placement rule written independently of the loaders, in PostGIS: the area covering a
feature (the lowest code), else the one holding its larger share — of its area, its length, or
its points — then the lowest code; a grid cell of the feature's own district first; an area
that only touches the feature (no share of it) does not hold it, unless it covers it within
1 mm (pipe segments: not this oracle's). Tests
compare the stored district and grid cell with it."""

from __future__ import annotations

_SHARE = ("CASE WHEN ST_Dimension({f}) = 2 THEN ST_Area(ST_Intersection({a}, {f})) "
          "WHEN ST_Dimension({f}) = 1 THEN ST_Length(ST_Intersection({a}, {f})) "
          "ELSE ST_NPoints(ST_Intersection({a}, {f})) END")


def district_sql(f: str) -> str:
    """SQL of the district code the rule gives feature geometry ``f`` (a column)."""
    share = _SHARE.format(a="d.geom", f=f)
    return ("(SELECT d.code FROM admin_divisions d WHERE d.valid_to IS NULL AND d.level = 3 "
            f"AND ST_Intersects(d.geom, {f}) AND (ST_Covers(d.geom, {f}) OR {share} > 0 "
            f"OR ST_Covers(ST_Buffer(d.geom, 0.001), {f})) "
            f"ORDER BY ST_Covers(d.geom, {f}) DESC, "
            f"{share} DESC, d.code LIMIT 1)")


def grid_sql(f: str, district: str) -> str:
    """SQL of the grid cell code the rule gives ``f`` placed in district ``district``."""
    share = _SHARE.format(a="g.geom", f=f)
    return ("(SELECT g.code FROM grid_cells g WHERE g.valid_to IS NULL "
            f"AND ST_Intersects(g.geom, {f}) AND (ST_Covers(g.geom, {f}) OR {share} > 0 "
            f"OR ST_Covers(ST_Buffer(g.geom, 0.001), {f})) "
            f"ORDER BY ST_Covers(g.geom, {f}) DESC, "
            f"(g.district_code = {district} AND {share} > 0) DESC, {share} DESC, g.code "
            "LIMIT 1)")

"""Every pipe point and segment lands in the right district and unit grid cell.

The pipe writer decides them beside the data (:class:`loaders.engine.places.AreaIndex`) by the
rule the staged writer's SQL join applies: an area covering the feature, its boundary
included, the lowest code when several do; else the area holding the larger share of it (a
segment's length; a grid cell of its own district first), then the lower code; none: rejected
(``outside_area``). Expected values come from the fixture's own polygons (shapely, one point
at a time) and from that rule run by PostGIS on the loaded geometries — never from the code
under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from loaders.engine.places import AreaIndex, Areas
from loaders.pipes.load import load_pipes_files

OUTSIDE = "feature lies outside every district of the city profile"


def _areas(db) -> tuple[dict[str, shapely.Geometry], dict[str, shapely.Geometry]]:
    read = ("SELECT code, ST_AsText(geom) FROM admin_divisions WHERE valid_to IS NULL AND "
            "level = 3", "SELECT code, ST_AsText(geom) FROM grid_cells WHERE valid_to IS NULL")
    return tuple({c: shapely.from_wkt(w) for c, w in db.rows(q)} for q in read)


def _holding(areas: dict[str, shapely.Geometry], pt: shapely.Point) -> list[str]:
    """Codes of the areas holding ``pt`` (boundary included), lowest first: one by one."""
    return sorted(c for c, g in areas.items() if g.intersects(pt))


def _shared_vertex(districts) -> tuple[float, float]:
    """A vertex of the border between the fixture's two districts, away from the box edge."""
    (a, ga), (b, gb) = sorted(districts.items())
    for x, y in shapely.get_coordinates(ga.boundary):
        if 39_460_100 < x < 39_467_900 and gb.intersects(shapely.Point(x, y)):
            return float(x), float(y)
    raise AssertionError("the fixture's districts share no vertex")


def _survey(districts) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    vx, vy = _shared_vertex(districts)
    corner = (39_461_000.0, 3_918_000.0)  # a corner of four 500 m cells, inside 任城区
    where = {  # point number -> (easting, northing)
        "JS001": (vx, vy + 30.0), "JS002": (vx, vy), "JS003": (vx, vy - 30.0),
        "JS004": corner, "JS005": (corner[0], corner[1] - 30.0),  # on an edge of two cells
        "JS006": (corner[0] - 20.0, corner[1] - 30.0),
        "JS009": (39_468_000.0, 3_916_000.0),  # on the city's east edge, at a row of cells
        "JS010": (39_467_970.0, 3_916_000.0),
        "JS007": (39_469_000.0, 3_915_000.0), "JS008": (39_469_030.0, 3_915_000.0),  # outside
    }
    nos = list(where)
    pts = pd.DataFrame({
        "物探点号": nos, "特征": ["预留口"] * len(nos), "附属物": [None] * len(nos),
        "X": [where[n][1] for n in nos], "Y": [where[n][0] for n in nos],  # X is the northing
        "地面高程": [36.0] * len(nos)})
    pairs = [("JS001", "JS002"), ("JS002", "JS003"), ("JS004", "JS005"), ("JS005", "JS006"),
             ("JS009", "JS010"), ("JS007", "JS008")]
    segs = pd.DataFrame({"起始点号": [a for a, _ in pairs], "终止点号": [b for _, b in pairs],
                         "起点埋深": [1.2] * len(pairs), "终点埋深": [1.2] * len(pairs),
                         "材质": ["PE"] * len(pairs), "管径": ["DN160"] * len(pairs)})
    return pts, segs, where


def _load(db, tmp_path, district=None):
    districts, grid = _areas(db)
    pts, segs, where = _survey(districts)
    pts.to_csv(tmp_path / "给水管线点.csv", index=False)
    segs.to_csv(tmp_path / "给水管线段.csv", index=False)
    r, _qa = load_pipes_files(db.conninfo, db.profile, [tmp_path], district=district)
    return r, districts, grid, where


def _sql_rule(db, table: str, batch: int) -> dict[str, tuple[str | None, str | None, str]]:
    """point number or segment ends -> (district, grid cell) by the rule, run by PostGIS on
    the loaded geometry (covering, else the larger share of length, rounded to 1e-9 of it, a
    cell of its district first, then the code), and the row's own (district, grid cell)."""
    ident = "point_no" if table == "pipe_points" else "start_point_no || '-' || end_point_no"
    share = ("floor(ST_Length(ST_Intersection(ST_Normalize(t.geom), {a}.geom)) / "
             "nullif(ST_Length(t.geom), 0) * 1e9 + 0.5)")
    district = ("coalesce((SELECT d.code FROM admin_divisions d WHERE d.valid_to IS NULL AND "
                "d.level = 3 AND ST_Covers(d.geom, t.geom) ORDER BY d.code LIMIT 1), "
                "(SELECT d.code FROM admin_divisions d WHERE d.valid_to IS NULL AND d.level = 3 "
                f"AND ST_Intersects(d.geom, t.geom) ORDER BY {share.format(a='d')} DESC "
                "NULLS LAST, d.code LIMIT 1))")
    return {r[0]: ((r[1], r[2]), (r[3], r[4])) for r in db.rows(
        f"SELECT {ident}, dd, (SELECT coalesce((SELECT g.code FROM grid_cells g WHERE "
        "g.valid_to IS NULL AND ST_Covers(g.geom, t.geom) ORDER BY g.code LIMIT 1), "
        "(SELECT g.code FROM grid_cells g WHERE g.valid_to IS NULL AND ST_Intersects(g.geom, "
        f"t.geom) ORDER BY g.district_code = dd AND {share.format(a='g')} > 0 DESC, "
        f"{share.format(a='g')} DESC NULLS LAST, g.code LIMIT 1))), district_code, grid_code "
        f"FROM (SELECT t.*, {district} AS dd FROM {table} t WHERE batch_id = %s) t", (batch,))}


def test_points_and_segments_land_in_their_district_and_grid_cell(fresh_db, tmp_path):
    r, districts, grid, where = _load(fresh_db, tmp_path)
    got = {no: (d, g) for no, d, g, e, n in fresh_db.rows(
        "SELECT point_no, district_code, grid_code, ST_X(geom), ST_Y(geom) FROM pipe_points "
        "WHERE batch_id = %s", (r.batch_id,))}
    assert set(got) == set(where) - {"JS007", "JS008"}
    for no, (e, n) in where.items():
        pt = shapely.Point(e, n)
        held = _holding(districts, pt)
        cells = _holding(grid, pt)
        if no in ("JS007", "JS008"):
            assert held == [] and no not in got
            continue
        assert got[no] == (held[0], cells[0]), no
    # the ties are real: the border vertex lies in both districts, the corner in four cells,
    # the edge point in two; the lowest code wins
    assert _holding(districts, shapely.Point(*where["JS002"])) == sorted(districts)
    assert got["JS002"][0] == min(districts) == "370811"
    assert len(_holding(grid, shapely.Point(*where["JS004"]))) == 4
    assert len(_holding(grid, shapely.Point(*where["JS005"]))) == 2
    assert got["JS003"][0] == "370826" and got["JS001"][0] == "370811"
    # every loaded row agrees with the SQL join run by PostGIS on what was loaded
    for table, n in (("pipe_points", 8), ("pipe_segments", 5)):
        rule = _sql_rule(fresh_db, table, r.batch_id)
        assert len(rule) == n and all(v[0] == v[1] and v[0][0] for v in rule.values()), rule
    # the points outside every district are rejected with the SQL path's reason and message,
    # their geometry as delivered; the segment between them loses its end point
    rej = fresh_db.rows("SELECT source_key, reason, field, message, geom_wkt FROM load_rejects "
                        "WHERE batch_id = %s ORDER BY source_key", (r.batch_id,))
    outside = [x for x in rej if x[1] == "outside_area"]
    # (led by the reject's table and row, naming the columns at fault: README, Survey QA)
    assert [(k.rsplit(":", 1)[1], f, m.split(": ", 1)[1]) for k, _, f, m, _ in outside] == \
        [("JS007", "X/Y", OUTSIDE), ("JS008", "X/Y", OUTSIDE)]
    assert all(m.startswith("给水管线点.csv row ") for _k, _r, _f, m, _g in outside), outside
    for (_k, _r, _f, _m, wkt), no in zip(outside, ("JS007", "JS008")):
        assert shapely.get_coordinates(shapely.from_wkt(wkt)).tolist() == [list(where[no])]
    assert [x[1] for x in rej if x[1] != "outside_area"] == ["end_point_rejected"]
    assert r.rejected_by_reason["outside_area"] == 2


def test_a_forced_district_still_rejects_what_lies_outside(fresh_db, tmp_path):
    r, districts, grid, where = _load(fresh_db, tmp_path, district="370826")
    rows = fresh_db.rows("SELECT point_no, district_code, grid_code FROM pipe_points "
                         "WHERE batch_id = %s", (r.batch_id,))
    assert {d for _, d, _ in rows} == {"370826"} and len(rows) == 8
    # the grid cell is still where the point lies
    assert {no: g for no, _, g in rows} == {
        no: _holding(grid, shapely.Point(*where[no]))[0] for no, _, _ in rows}
    assert fresh_db.scalar("SELECT count(*) FROM load_rejects WHERE batch_id = %s AND reason "
                           "= 'outside_area'", (r.batch_id,)) == 2


def _squares() -> AreaIndex:
    """Districts A (0–10) and B (10–20) side by side; grid cells g1..g4 of 5 × 10 (g1, g2 in
    A; g3, g4 above A, in no district) and g5 of 5 × 10 in B."""
    d = [shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)]
    g = [shapely.box(x, 0, x + 5, 10) for x in (0, 5)] + [shapely.box(x, 10, x + 5, 20)
                                                         for x in (0, 5)] + \
        [shapely.box(10, 0, 15, 10)]
    return AreaIndex(Areas(["370801", "370802"], np.array(d), ["g1", "g2", "g3", "g4", "g5"],
                           np.array(g), ["370801", "370801", "", "", "370802"]))


def test_pipe_segments_are_placed_by_touch():
    """A segment between two nodes on the city's boundary is placed where it touches
    (``LayerDef.placed_by_touch``): its nodes are loaded, it is never outside itself."""
    idx = _squares()
    di, gi = idx.place(np.array([shapely.LineString([(-5, 5), (0, 5)])], dtype=object),
                       touching=True)
    assert (di[0], gi[0]) == (0, 0)


def test_a_line_along_the_boundary_a_hair_outside_is_inside():
    """Vertices snapped onto the boundary lie a few 1e-10 m off it, half of them outside: a
    share of 0, but covered within a millimetre."""
    idx = _squares()
    line = shapely.LineString([(0, 2), (-3e-10, 5), (0, 8)])
    assert not shapely.box(0, 0, 10, 10).covers(line)
    di, gi = idx.place(np.array([line], dtype=object))
    assert (di[0], gi[0]) == (0, 0)


@pytest.mark.parametrize("geom, district, cell", [
    (shapely.Point(10, 5, 1), "370801", "g2"),  # on the shared edge: the lower code
    (shapely.Point(5, 10), "370801", "g1"),  # a corner of four cells: the lowest code
    (shapely.Point(17, 5), "370802", None),
    (shapely.Point(30, 5), None, None),  # outside
    (shapely.from_wkt("POINT EMPTY"), None, None),
    # wholly in g2, one end on g1's edge (the point on surface of a 2-vertex line is an end)
    (shapely.LineString([(5, 3), (9, 3)]), "370801", "g2"),
    # along the edge of g1 and g2: both cover it, the lower code
    (shapely.LineString([(5, 2), (5, 8)]), "370801", "g1"),
    # 8 in A, 4 in B: A; in A's cells 3 in g1, 5 in g2: g2
    (shapely.LineString([(2, 5), (14, 5)]), "370801", "g2"),
    # 1 in A, 3 in B (its 2 vertices: its point on surface, an end, in A): B, g5
    (shapely.LineString([(9, 5), (13, 5)]), "370802", "g5"),
    # 2 and 2: a tie, the lower code, and in A's cells, g2
    (shapely.LineString([(8, 5), (12, 5)]), "370801", "g2"),
    # 5 in A, 5 in B, 20 in neither: A (tie); cells: g4 holds 10, g5 5, g2 and g1 2.5 on
    # their shared edge and g3 5 on its edge with g4 — A's cells first: g1 (tie with g2)
    (shapely.LineString([(5, 5), (5, 15), (15, 15), (15, 5)]), "370801", "g1"),
    # outside A, touching it at one end only: a share of 0 — outside (README: a feature
    # outside every district is rejected outside_area)
    (shapely.LineString([(-5, 5), (0, 5)]), None, None),
    # a footprint outside A along its edge, and one in no district touching g3's corner
    (shapely.box(-5, 2, 0, 4), None, None),
    (shapely.box(-5, 10, 0, 15), None, None),
    # an L whose point on surface, (7.5, 17), lies outside: the district holding the larger
    # share of it (B: 8 × 1 against A: 4 × 1), not the lower code; g4 holds most of it, but
    # B's cell g5 holds a share (5 × 1): B's cell first
    (shapely.Polygon([(6, 9), (18, 9), (18, 10.5), (9, 10.5), (9, 25), (6, 25)]), "370802",
     "g5"),
])
def test_area_index_follows_the_rule(geom, district, cell):
    idx = _squares()
    codes = idx.areas.district_codes + [None], idx.areas.grid_codes + [None]
    for g in (geom, shapely.reverse(geom)):  # digitised either way
        di, gi = idx.place(np.array([g], dtype=object))
        assert (codes[0][di[0]], codes[1][gi[0]]) == (district, cell)

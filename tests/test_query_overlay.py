"""Overlay on the hand-drawn city: each piece's area/length from shapely on the fixture."""

from __future__ import annotations

import json

import pytest
import shapely

from cim.errors import InputError
from layers.query.area import Area
from layers.query.overlay import overlay, run
from tests import query_fixture
from tests.conftest import run_cli
from tests.query_fixture import BUILDINGS, D1, D2, DISTRICTS, GRID, PIPES, X0, Y0

qdb = query_fixture.qdb  # the hand-drawn city, a database per module


def pieces(a: dict, b: dict, measure: str, clip: shapely.Geometry | None = None) -> dict:
    """(a_code, b_code) → area or length of a ∩ b (∩ clip), pieces of positive size only."""
    out = {}
    for ac, (ag, *_r) in a.items():
        for bc, bg in b.items():
            g = ag.intersection(bg)
            if clip is not None:
                g = g.intersection(clip)
            m = g.area if measure == "area" else g.length
            if m > 0:
                out[(ac, bc)] = m
    return out


def test_buildings_by_grid_cells(qdb, tmp_path):
    want = pieces(BUILDINGS, GRID, "area")
    out = tmp_path / "pieces.geojson"
    res = json.loads(run_cli(["query", "overlay", "buildings", "grid_cells", "--json",
                              "--geojson", str(out)], qdb.env(), check=True).stdout)
    got = {(r["a_code"], r["b_code"]): r["area_m2"] for r in res["rows"]}
    assert got == pytest.approx(want, abs=1e-6)
    # B7 only touches G4 along an edge: no piece; B2 and B3 are cut in two
    assert not any(a == "B7" for a, _ in got) and len(want) == 6
    assert res["pieces"] == 6 and "length_m" not in res["rows"][0]
    # the areas sum to the area of the buildings inside the grid
    inside = shapely.union_all(list(GRID.values()))
    assert res["total_area_m2"] == pytest.approx(
        sum(g.intersection(inside).area for g, *_r in BUILDINGS.values()), abs=1e-6)
    assert "features" not in res
    feats = json.loads(out.read_text())["features"]
    assert len(feats) == 6
    f = next(f for f in feats if f["properties"]["a_code"] == "B3"
             and f["properties"]["b_code"] == sorted(GRID)[2])
    assert f["properties"]["a_floors_above"] == 15
    assert f["properties"]["b_district_code"] == D2
    assert f["properties"]["area_m2"] == pytest.approx(100.0)


def test_pipes_by_districts_in_plan(qdb):
    res = overlay(qdb.conninfo, "pipe_segments", "admin_divisions")
    got = {(r["a_code"], r["b_code"]): r["length_m"] for r in res["rows"]}
    # shapely's length is planar: the 3D pipes measured in plan
    want = pieces(PIPES, DISTRICTS, "length")
    assert got == pytest.approx(want, abs=1e-6)
    assert got[("P1", D2)] == pytest.approx(200.0)  # not the sloping 3D length
    assert res["total_length_m"] == pytest.approx(sum(want.values()))
    assert res["total_area_m2"] == 0.0 and "area_m2" not in res["rows"][0]


def test_area_clips_the_pieces(qdb):
    clip = shapely.box(50, 0, 350, 100)
    wkt = shapely.affinity.translate(clip, X0, Y0)
    wkt = shapely.transform(wkt, lambda c: c[:, ::-1]).wkt  # EPSG:4527 is northing first
    res = run(qdb.conninfo, {"a": "pipe_segments", "b": "grid_cells", "polygon": wkt,
                             "crs": "EPSG:4527"})
    want = pieces(PIPES, GRID, "length", clip)
    assert {(r["a_code"], r["b_code"]): r["length_m"] for r in res["rows"]} == \
        pytest.approx(want, abs=1e-6)
    assert res["total_length_m"] == pytest.approx(sum(want.values()), abs=1e-6)
    res = overlay(qdb.conninfo, "buildings", "grid_cells", Area(district=D2))
    want = pieces(BUILDINGS, GRID, "area", DISTRICTS[D2])
    assert {(r["a_code"], r["b_code"]): r["area_m2"] for r in res["rows"]} == \
        pytest.approx(want, abs=1e-6)


def test_b_must_have_polygons(qdb):
    with pytest.raises(InputError, match="has no polygons"):
        overlay(qdb.conninfo, "buildings", "pipe_segments")


def test_a_line_along_a_common_edge_is_one_piece(qdb):
    """E1 runs 40 m along the edge of G1 and G2 (x = 100): both pieces held that stretch,
    and the pieces summed to 40 m more than the pipe. It belongs to the lower code's piece.
    Where two polygons of B overlap (two planning zones), what lies inside both stays in
    both: X1 crosses a 10 m overlap of Z1 and Z2."""
    import psycopg
    from shapely.geometry import LineString, box

    e1 = LineString([(50, 50, 1), (100, 50, 1), (100, 90, 1), (150, 90, 1)])
    x1 = LineString([(2050, 50, 1), (2150, 50, 1)])
    zones = {"Z1": box(2000, 0, 2110, 100), "Z2": box(2100, 0, 2200, 100)}
    g1, g2 = sorted(GRID)[:2]
    with psycopg.connect(qdb.conninfo) as conn:  # added in a transaction rolled back below
        for code, g in (("E1", e1), ("X1", x1)):
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, geom) VALUES (%s, '07', "
                "'07', '00', '54000000', %s, %s, ST_GeomFromWKB(%s, 4527))",
                (code, code + "a", code + "b",
                 shapely.to_wkb(shapely.affinity.translate(g, X0, Y0))))
        for code, g in zones.items():
            conn.execute("INSERT INTO planning_parcels (code, geom) VALUES "
                         "(%s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, shapely.to_wkb(shapely.affinity.translate(g, X0, Y0))))
        # a layer of mixed geometry (components): a line along the same edge, a polygon
        # across it — only the line's pieces are taken off what earlier pieces hold
        c1 = LineString([(60, 20), (100, 20), (100, 80), (130, 80)])
        c2 = box(80, 85, 120, 95)
        for code, g in (("C1", c1), ("C2", c2)):
            conn.execute(
                "INSERT INTO components (code, subclass_code, subclass_name, major_code, "
                "district_code, grid_code, geom) VALUES (%s, '0302', '化粪池', '03', %s, %s, "
                "ST_GeomFromWKB(%s, 4527))",
                (code, D1, g1, shapely.to_wkb(shapely.affinity.translate(g, X0, Y0))))
        cells = overlay(conn, "pipe_segments", "grid_cells")
        parcels = overlay(conn, "pipe_segments", "planning_parcels")
        parts = overlay(conn, "components", "grid_cells")
        conn.rollback()
    got = {r["b_code"]: r["length_m"] for r in parts["rows"] if r["a_code"] == "C1"}
    c1_g1 = c1.intersection(GRID[g1])  # 40 m + the 60 m along the edge
    assert got == {g1: pytest.approx(c1_g1.length),
                   g2: pytest.approx(c1.intersection(GRID[g2]).difference(c1_g1).length)}
    assert sum(got.values()) == pytest.approx(c1.length)
    got = {r["b_code"]: r["area_m2"] for r in parts["rows"] if r["a_code"] == "C2"}
    assert got == {g: pytest.approx(c2.intersection(GRID[g]).area) for g in (g1, g2)}
    got = {r["b_code"]: r["length_m"] for r in cells["rows"] if r["a_code"] == "E1"}
    in_g1 = e1.intersection(GRID[g1])  # shapely: the edge is in both closed cells
    assert in_g1.length == pytest.approx(90) \
        and e1.intersection(GRID[g2]).length == pytest.approx(90)
    assert got == {g1: pytest.approx(90), g2: pytest.approx(
        e1.intersection(GRID[g2]).difference(in_g1).length)}
    assert sum(got.values()) == pytest.approx(e1.length)
    got = {r["b_code"]: r["length_m"] for r in parcels["rows"] if r["a_code"] == "X1"}
    assert got == {c: pytest.approx(x1.intersection(g).length) for c, g in zones.items()}
    assert sum(got.values()) == pytest.approx(x1.length + 10)  # the overlap, in both

"""Statistics on the hand-drawn city: shares from shapely; totals add up to the layer."""

from __future__ import annotations

import json
from collections import defaultdict

import psycopg
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from cim.errors import InputError
from layers.query.stats import run, stats
from tests import query_fixture
from tests.conftest import run_cli
from tests.query_fixture import BUILDINGS, D1, DISTRICTS, GRID, PIPES, X0, Y0, to_storage

qdb = query_fixture.qdb  # the hand-drawn city, a database per module


def expected(features: dict, units: dict, unit_of, class_of, measure) -> dict:
    """(unit, class) → [count by assigned unit, measure split by intersection]."""
    out: dict = defaultdict(lambda: [0, 0.0])
    for f in features.values():
        g = f[0]
        out[(unit_of(f), class_of(f))][0] += 1
        inside = 0.0
        for u, ug in units.items():
            m = measure(g.intersection(ug))
            if m > 0:
                out[(u, class_of(f))][1] += m
                inside += m
        if measure(g) - inside > 1e-9:
            out[(None, class_of(f))][1] += measure(g) - inside
    return dict(out)


def same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in want.items()}
    assert {k: v[1] for k, v in got.items()} == \
        pytest.approx({k: v[1] for k, v in want.items()}, abs=1e-6)


def test_pipes_per_grid_cell_and_class(qdb):
    res = json.loads(run_cli(["query", "stats", "pipe_segments", "--by", "grid", "--class",
                              "pipe_class", "--json"], qdb.env(), check=True).stdout)
    got = {(r["unit_code"], r["class"]): (r["count"], r["length_m"]) for r in res["rows"]}
    want = expected(PIPES, GRID, lambda f: f[2], lambda f: f[1], lambda g: g.length)
    same(got, want)
    assert all(r["area_m2"] is None for r in res["rows"])
    # totals add up to the layer
    assert sum(r["count"] for r in res["rows"]) == len(PIPES)
    assert sum(r["length_m"] for r in res["rows"]) == \
        pytest.approx(sum(g.length for g, *_r in PIPES.values()), abs=1e-6)
    # P4 runs 50 m beyond the grid: the remainder row
    assert got[(None, "01")] == (0, pytest.approx(50.0))


def test_buildings_per_district(qdb):
    res = stats(qdb.conninfo, "buildings", by="district")
    got = {(r["unit_code"], r["class"]): (r["count"], r["area_m2"]) for r in res["rows"]}
    want = expected(BUILDINGS, DISTRICTS, lambda f: f[2], lambda f: None, lambda g: g.area)
    same(got, want)
    assert sum(r["count"] for r in res["rows"]) == len(BUILDINGS)  # not the retired one
    assert sum(r["area_m2"] for r in res["rows"]) == \
        pytest.approx(sum(g.area for g, *_r in BUILDINGS.values()))
    assert all(r["length_m"] is None for r in res["rows"])
    assert run(qdb.conninfo, {"layer": "buildings", "by": "district"}) == res


def test_bad_inputs(qdb):
    with pytest.raises(InputError, match="--by"):
        stats(qdb.conninfo, "buildings", by="street")
    with pytest.raises(InputError, match="no column 'nope'"):
        stats(qdb.conninfo, "buildings", class_field="nope")
    with pytest.raises(InputError, match="not assigned"):
        stats(qdb.conninfo, "grid_cells", by="grid")
    # the geometry (a class per feature named by its WKB) and unpublished columns (attrs,
    # source keys) were grouped by and shown, over HTTP too
    for hidden in ("geom", "attrs", "source_key", "row_hash"):
        with pytest.raises(InputError, match=f"--class {hidden}: not a published column"):
            run(qdb.conninfo, {"layer": "buildings", "by": "district", "class": hidden})


# Two more units beside the city: an L-shaped cell and the square in its notch. A pipe whose
# bounding box lies inside the L's bounding box can still leave the L (a test by boxes alone
# would give the L all of it); a pipe assigned to the square but lying in the L counts in the
# square and measures in the L.
GL, GS = "370811001001008", "370811001001009"
MORE_GRID = {GL: Polygon([(1000, 0), (1200, 0), (1200, 100), (1100, 100), (1100, 200),
                          (1000, 200)]),
             GS: box(1100, 100, 1200, 200)}
MORE_PIPES = {"X1": (LineString([(1010, 10, 1), (1090, 190, 1)]), "09", GL, D1),  # in the L
              "X2": (LineString([(1050, 50, 1), (1150, 150, 1)]), "09", GL, D1),  # L and square
              "X3": (LineString([(1010, 20, 1), (1050, 20, 1)]), "09", GS, D1)}  # assigned wrong


def _wkb(g):
    return shapely.to_wkb(to_storage(g), include_srid=False)


def test_units_of_any_shape_split_by_geometry(qdb):
    with psycopg.connect(qdb.conninfo) as conn:  # added in a transaction rolled back below
        for code, g in MORE_GRID.items():
            conn.execute("INSERT INTO grid_cells (code, district_code, geom) VALUES "
                         "(%s, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))", (code, D1, _wkb(g)))
        for code, (g, cls, grid, district) in MORE_PIPES.items():
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, grid_code, district_code, "
                "geom) VALUES (%s, %s, %s, '00', '54000000', %s, %s, %s, %s, "
                "ST_GeomFromWKB(%s, 4527))",
                (code, cls, cls, code + "a", code + "b", grid, district, _wkb(g)))
        res = stats(conn, "pipe_segments", by="grid", class_field="pipe_class")
        conn.rollback()
    got = {(r["unit_code"], r["class"]): (r["count"], r["length_m"]) for r in res["rows"]}
    same(got, expected({**PIPES, **MORE_PIPES}, {**GRID, **MORE_GRID}, lambda f: f[2],
                       lambda f: f[1], lambda g: g.length))
    half = MORE_PIPES["X2"][0].length / 2  # the fixture does what it says
    assert got[(GL, "09")] == (2, pytest.approx(MORE_PIPES["X1"][0].length + half + 40))
    assert got[(GS, "09")] == (1, pytest.approx(half))


def test_rounding_is_not_an_outside_remainder(qdb):
    """A 4,000 km² polygon cut in two: its area minus its two pieces' is 5.7e-6 m² in PostGIS
    (found by search), rounding and no geometry outside the units: no unit-null row."""
    x, y, r, cut = X0 + 200_000, Y0, 36398.49121710152, -0.494
    split = x + cut * r
    halves = {"370812": box(x - 1e5, y - 1e5, split, y + 1e5),
              "370813": box(split, y - 1e5, x + 1e5, y + 1e5)}
    with psycopg.connect(qdb.conninfo) as conn:  # added in a transaction rolled back below
        for code, g in halves.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, code, shapely.to_wkb(g)))
        conn.execute("INSERT INTO buildings (code, district_code, floors_above, geom) VALUES "
                     "('BIG', '370812', 99, ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(%s, %s),"
                     " 4527), %s, 64)))", (x, y, r))
        residue = conn.execute(
            "SELECT ST_Area(b.geom) - sum(ST_Area(ST_Intersection(b.geom, d.geom))) FROM "
            "buildings b JOIN admin_divisions d ON d.code IN ('370812', '370813') "
            "WHERE b.code = 'BIG' GROUP BY b.geom").fetchone()[0]
        res = stats(conn, "buildings", by="district", class_field="floors_above")
        conn.rollback()
    assert abs(residue) > 1e-6  # the case this test is about
    got = {(r["unit_code"], r["class"]): (r["count"], r["area_m2"]) for r in res["rows"]
           if r["class"] == "99"}
    circle = Point(x, y).buffer(r, 64)
    area = {code: pytest.approx(circle.intersection(g).area) for code, g in halves.items()}
    assert got == {("370812", "99"): (1, area["370812"]), ("370813", "99"): (0, area["370813"])}


def test_what_two_units_share_is_counted_once(qdb):
    """E1 runs along the edge of G1 and G2 for 40 m (x = 100): that stretch was counted in
    both, and the unit-null row went to −40 m. Two districts digitised with a 10 m overlap:
    a building across it gave both the overlap's area. What two units share now goes to the
    unit the feature is assigned to, else to the lower code; totals add up, nothing is
    negative."""
    e1 = LineString([(50, 50, 1), (100, 50, 1), (100, 90, 1), (150, 90, 1)])
    g1, g2 = sorted(GRID)[:2]
    # E2 along the same edge, assigned to G2, the higher code: its own unit takes the edge
    # (with E1 alone, assigned to G1, 'own unit first' and 'lowest code first' agreed)
    e2 = LineString([(60, 30, 1), (100, 30, 1), (100, 70, 1), (140, 70, 1)])
    # districts beside the city: 370812 = x 2000..2110, 370813 = x 2100..2200 (overlap 10 m)
    over = {"370812": box(2000, 0, 2110, 100), "370813": box(2100, 0, 2200, 100)}
    wide = box(2050, 10, 2150, 20)  # assigned to 370813
    with psycopg.connect(qdb.conninfo) as conn:  # added in a transaction rolled back below
        conn.execute(
            "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
            "feature_code, start_point_code, end_point_code, grid_code, district_code, geom) "
            "VALUES ('E1', '07', '07', '00', '54000000', 'E1a', 'E1b', %s, %s, "
            "ST_GeomFromWKB(%s, 4527))", (g1, D1, _wkb(e1)))
        conn.execute(
            "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
            "feature_code, start_point_code, end_point_code, grid_code, district_code, geom) "
            "VALUES ('E2', '08', '08', '00', '54000000', 'E2a', 'E2b', %s, %s, "
            "ST_GeomFromWKB(%s, 4527))", (g2, D1, _wkb(e2)))
        for code, g in over.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))", (code, code, _wkb(g)))
        conn.execute("INSERT INTO buildings (code, district_code, floors_above, geom) VALUES "
                     "('W1', '370813', 77, ST_Multi(ST_GeomFromWKB(%s, 4527)))", (_wkb(wide),))
        pipes = stats(conn, "pipe_segments", by="grid", class_field="pipe_class")["rows"]
        buildings = stats(conn, "buildings", by="district", class_field="floors_above")["rows"]
        conn.rollback()
    got = {r["unit_code"]: r["length_m"] for r in pipes if r["class"] == "07"}
    # by shapely: G1 (assigned) takes its own piece with the shared edge, G2 the rest of it
    in_g1 = e1.intersection(GRID[g1])
    assert in_g1.length == pytest.approx(90)  # 50 along y = 50, 40 along the edge
    assert got == {g1: pytest.approx(in_g1.length),
                   g2: pytest.approx(e1.intersection(GRID[g2]).difference(in_g1).length)}
    assert sum(got.values()) == pytest.approx(e1.length)
    got = {r["unit_code"]: r["length_m"] for r in pipes if r["class"] == "08"}
    in_g2 = e2.intersection(GRID[g2])  # G2 (assigned, the higher code) takes the edge
    assert in_g2.length == pytest.approx(80)  # 40 along the edge, 40 along y = 70
    assert got == {g2: pytest.approx(in_g2.length),
                   g1: pytest.approx(e2.intersection(GRID[g1]).difference(in_g2).length)}
    assert got[g1] == pytest.approx(40)
    assert sum(got.values()) == pytest.approx(e2.length)
    got = {r["unit_code"]: r["area_m2"] for r in buildings if r["class"] == "77"}
    own = wide.intersection(over["370813"])
    assert got == {"370813": pytest.approx(own.area),
                   "370812": pytest.approx(wide.intersection(over["370812"])
                                           .difference(own).area)}
    assert sum(got.values()) == pytest.approx(wide.area)
    assert all((r["length_m"] or 0) >= 0 and (r["area_m2"] or 0) >= 0
               for r in pipes + buildings)

"""`cim query stats`, probe 10: a unit-null row of features a current unit holds says so (and
which command places them again); a line that doubles back on itself across a unit boundary
is split by units to its whole length, nothing spurious in the unit-null row.

Expected answers are known by construction (the hand-drawn city of tests/query_fixture.py)
and checked with shapely, segment by segment, on the real QWAT network."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
import shapely
from shapely.geometry import LineString, box

from layers.query.stats import stats
from tests import query_fixture
from tests.conftest import make_db, run_cli, server_url
from tests.query_fixture import BUILDINGS, D1, GRID, to_storage

G1, G2, G3, G4 = sorted(GRID)


@pytest.fixture(scope="module")
def sdb(jining_profile):
    """The hand-drawn city in a database of this module's own."""
    from cim.db.engine import drop_database

    d = make_db("qstats10", jining_profile, apply_profile=False)
    query_fixture.build(d.conninfo)
    yield d
    drop_database(server_url(), d.name)


def _wkb(g):
    return shapely.to_wkb(to_storage(g), include_srid=False)


def _pipe(conn, code: str, g: LineString, grid: str | None, cls: str = "09") -> None:
    conn.execute(
        "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
        "feature_code, start_point_code, end_point_code, grid_code, district_code, geom) "
        "VALUES (%s, %s, %s, '00', '54000000', %s, %s, %s, %s, ST_GeomFromWKB(%s, 4527))",
        (code, cls, cls, code + "a", code + "b", grid, D1, _wkb(g)))


def _null_row(rows):
    return [r for r in rows if r["unit_code"] is None]


def test_features_truly_outside_get_no_warning(sdb):
    """B5 lies outside everything, B7 touches G4 along an edge only (no share of it): the
    null row counts both, and that is no sign of stale codes."""
    res = stats(sdb.conninfo, "buildings", by="grid")
    assert _null_row(res["rows"])[0]["count"] == 2
    assert res["warnings"] == []
    assert stats(sdb.conninfo, "pipe_segments", by="district")["warnings"] == []


def test_null_row_of_features_a_unit_holds_says_so(sdb):
    """Codes decided before the grid cells were there (NULL) or against a cell since retired:
    the warning counts the features a current cell holds a share of — B1 (inside G1), B4 (half
    in G4), B2 (in a retired cell, lying in G1/G2) — not B5/B7 (outside, touching), and names
    the command that places them again."""
    retired = "370811001001099"
    with psycopg.connect(sdb.conninfo) as conn:  # rolled back below
        conn.execute("INSERT INTO grid_cells (code, district_code, valid_to, geom) VALUES "
                     "(%s, %s, now(), ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                     (retired, D1, _wkb(box(0, 0, 200, 100))))
        conn.execute("UPDATE buildings SET grid_code = NULL WHERE code IN ('B1', 'B4')")
        conn.execute("UPDATE buildings SET grid_code = %s WHERE code = 'B2'", (retired,))
        # pipes without a code: one along G4's outer edge (the cell covers it: its share is
        # its length), one touching G4 at an end point only (no share), a point of each kind
        _pipe(conn, "N1", LineString([(400, 60, 1), (400, 90, 1)]), None)
        _pipe(conn, "N2", LineString([(400, 50, 1), (450, 50, 1)]), None)
        buildings = stats(conn, "buildings", by="grid")
        pipes = stats(conn, "pipe_segments", by="grid")
        outside_only = stats(conn, "pipe_segments", by="district")  # N1, N2 have districts
        conn.rollback()
    # by shapely: which of the changed features a current cell holds a share of
    held = [c for c in ("B1", "B4", "B5", "B7")
            if any(BUILDINGS[c][0].intersection(g).area > 0 for g in GRID.values())]
    assert held == ["B1", "B4"]
    assert _null_row(buildings["rows"])[0]["count"] == 4  # B1, B4, B5, B7
    assert buildings["warnings"] == [
        "2 buildings counted in the unit-null row (no grid_code) lie in current grid cells: "
        "their grid_code was decided before the grid cells were loaded; "
        "`cim places refresh --layer buildings` places them again",
        "1 buildings counted in a grid cell no longer current lie in current grid cells; "
        "`cim places refresh --layer buildings` places them again"]
    assert len(pipes["warnings"]) == 1
    assert pipes["warnings"][0].startswith("1 pipe_segments counted in the unit-null row")
    assert "`cim places refresh --layer pipe_segments`" in pipes["warnings"][0]
    assert outside_only["warnings"] == []


def test_cli_prints_the_warning(sdb):
    """The text output says it too (on stderr, beside the rows), and --json carries it."""
    with psycopg.connect(sdb.conninfo) as conn:
        conn.execute("UPDATE buildings SET grid_code = NULL WHERE code = 'B1'")
    try:
        text = run_cli(["query", "stats", "buildings", "--by", "grid"], sdb.env(), check=True)
        js = run_cli(["query", "stats", "buildings", "--by", "grid", "--json"], sdb.env(),
                     check=True)
    finally:
        with psycopg.connect(sdb.conninfo) as conn:
            conn.execute("UPDATE buildings SET grid_code = %s WHERE code = 'B1'", (G1,))
    want = ("1 buildings counted in the unit-null row (no grid_code) lie in current grid "
            "cells: their grid_code was decided before the grid cells were loaded; "
            "`cim places refresh --layer buildings` places them again")
    assert f"warning: {want}" in text.stderr
    assert text.stdout.splitlines()[-1].split()[:2] == ["-", "3"]  # the null row: B1, B5, B7
    assert f'"{want}"' in js.stdout


# D1 goes east from G1 into G2 and comes back over its own track into G1: 60 → 130 → 80
# along y = 20, then 10 m north. By construction G1 holds 40 + 20 + 10 = 70 m, G2 30 + 30 =
# 60 m, nothing lies outside. Cut whole, the doubled stretch 80..130 counts once: G1 50, G2 30.
DOUBLED = LineString([(60, 20, 1), (130, 20, 1), (80, 20, 1), (80, 30, 1)])
# D2 runs up G1/G2's common edge (x = 100) and back down part of it: 30 + 20 = 50 m along the
# edge, assigned to G2, which takes all of it (own unit first); cut whole, 30.
ALONG = LineString([(100, 10, 1), (100, 40, 1), (100, 20, 1)])


def _by_segment(line, units: dict) -> dict:
    """Length of ``line`` in each unit, segment by segment (shapely, 2D)."""
    out: dict = {}
    xy = shapely.get_coordinates(line)
    for a, b in zip(xy[:-1], xy[1:]):
        seg = LineString([a, b])
        for code, g in units.items():
            m = seg.intersection(g).length
            if m > 0:
                out[code] = out.get(code, 0.0) + m
    return out


def test_a_line_doubling_back_across_a_boundary_keeps_its_length(sdb):
    with psycopg.connect(sdb.conninfo) as conn:  # rolled back below
        _pipe(conn, "D1", DOUBLED, G1, cls="97")
        _pipe(conn, "D2", ALONG, G2, cls="98")
        rows = stats(conn, "pipe_segments", by="grid", class_field="pipe_class")["rows"]
        conn.rollback()
    # a unit whose pieces of a line the unit before it took shows 0 m: left out here
    got = {c: {r["unit_code"]: r["length_m"] for r in rows if r["class"] == c and r["length_m"]}
           for c in ("97", "98")}
    assert DOUBLED.length == pytest.approx(130)
    assert _by_segment(DOUBLED, GRID) == pytest.approx({G1: 70.0, G2: 60.0})
    assert shapely.length(shapely.intersection(DOUBLED, GRID[G1])) == pytest.approx(50)
    assert got["97"] == {G1: pytest.approx(70.0), G2: pytest.approx(60.0)}
    assert ALONG.length == pytest.approx(50)
    assert got["98"] == {G2: pytest.approx(50.0)}


@pytest.fixture(scope="module")
def qwat(tmp_path_factory):
    """The real QWAT water network loaded in two synthetic districts (read only)."""
    from tests.test_pipes_real import loaded_qwat

    yield from loaded_qwat(tmp_path_factory, "qwat_stats10", "stats test")


def test_real_qwat_pipes_split_by_100m_cells_add_up(qwat):
    """100 m cells over the network (an origin off its bounds by odd metres), each pipe
    assigned the cell of its point on surface: each cell's length is shapely's, segment by
    segment, and nothing goes to the unit-null row (there were 2.39 m: pipes doubling back
    across a cell edge)."""
    with psycopg.connect(qwat.conninfo) as conn:  # rolled back below
        rows = conn.execute("SELECT ST_AsBinary(ST_Force2D(geom)) FROM pipe_segments "
                            "WHERE valid_to IS NULL").fetchall()
        pipes = shapely.from_wkb([bytes(r[0]) for r in rows])
        srid = conn.execute("SELECT value FROM cim_properties WHERE key = 'storage_srid'"
                            ).fetchone()[0]
        x0, y0, x1, y1 = shapely.total_bounds(pipes)
        cells = {}
        for i, x in enumerate(np.arange(x0 - 13.7, x1 + 100, 100)):
            for j, y in enumerate(np.arange(y0 - 7.3, y1 + 100, 100)):
                cells[f"990701{i:04d}{j:05d}"] = box(x, y, x + 100, y + 100)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO grid_cells (code, district_code, geom) VALUES "
                            "(%s, '990701', ST_Multi(ST_GeomFromWKB(%s, %s::int)))",
                            [(c, shapely.to_wkb(g), srid) for c, g in cells.items()])
        conn.execute("UPDATE pipe_segments p SET grid_code = g.code FROM grid_cells g "
                     "WHERE p.valid_to IS NULL AND g.valid_to IS NULL "
                     "AND ST_Intersects(ST_PointOnSurface(p.geom), g.geom)")
        got = stats(conn, "pipe_segments", by="grid")
        conn.rollback()
    codes, geoms = list(cells), np.array(list(cells.values()))
    tree = shapely.STRtree(geoms)
    want: dict = {}
    whole = 0.0  # the same cut whole, as GEOS does: less than the total
    for line in pipes:
        for part in shapely.get_parts(line):
            near = {codes[k]: geoms[k] for k in tree.query(part)}
            for c, m in _by_segment(part, near).items():
                want[c] = want.get(c, 0.0) + m
            whole += sum(part.intersection(g).length for g in near.values())
    total = float(shapely.length(pipes).sum())
    assert sum(want.values()) == pytest.approx(total, abs=1e-6)
    assert total - whole > 1.0  # the network holds the case this test is about
    assert _null_row(got["rows"]) == []
    assert {r["unit_code"]: r["length_m"] for r in got["rows"]} == \
        {c: pytest.approx(m, abs=1e-6) for c, m in want.items()}
    assert got["warnings"] == []

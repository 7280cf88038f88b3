"""`cim query overlay` of a line that doubles back over itself across a polygon edge: each
piece keeps the whole length the line runs in its polygon, as `cim query stats` does since
session 10 (GEOS nodes a line's stretches lying on each other into one when it cuts the line
whole, so the doubled stretch was lost).

Expected lengths are known by construction (the hand-drawn city of tests/query_fixture.py)
and computed independently with shapely, segment by segment, on the real QWAT network."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
import shapely
from shapely.geometry import LineString, box

from layers.query.overlay import overlay, run
from tests import query_fixture
from tests.conftest import make_db, server_url
from tests.query_fixture import D1, GRID, to_storage

G1, G2, G3, G4 = sorted(GRID)
CLIP = box(50, 0, 120, 100)
# the area in EPSG:4527's own axis order, northing first
CLIP_WKT = shapely.transform(to_storage(CLIP), lambda c: c[:, ::-1]).wkt


@pytest.fixture(scope="module")
def odb(jining_profile):
    """The hand-drawn city in a database of this module's own."""
    from cim.db.engine import drop_database

    d = make_db("struct11_overlay", jining_profile, apply_profile=False)
    query_fixture.build(d.conninfo)
    yield d
    drop_database(server_url(), d.name)


def _pipe(conn, code: str, g: LineString, grid: str | None) -> None:
    conn.execute(
        "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
        "feature_code, start_point_code, end_point_code, grid_code, district_code, geom) "
        "VALUES (%s, '97', '97', '00', '54000000', %s, %s, %s, %s, ST_GeomFromWKB(%s, 4527))",
        (code, code + "a", code + "b", grid, D1,
         shapely.to_wkb(to_storage(g), include_srid=False)))


def _by_segment(line, polygons: dict) -> dict:
    """Length of ``line`` in each polygon, segment by segment (shapely, 2D): a straight
    segment cannot lie on itself, so no stretch is merged with another."""
    out: dict = {}
    xy = shapely.get_coordinates(line)
    for a, b in zip(xy[:-1], xy[1:]):
        seg = LineString([a, b])
        for code, g in polygons.items():
            m = seg.intersection(g).length
            if m > 0:
                out[code] = out.get(code, 0.0) + m
    return out


# D1 runs east from G1 into G2 and back over its own track into G1: 60 → 130 → 80 along
# y = 20, then 10 m north. By construction G1 holds 40 + 20 + 10 = 70 m, G2 30 + 30 = 60 m.
# Cut whole, the doubled stretch counts once: G1 50, G2 30.
DOUBLED = LineString([(60, 20, 1), (130, 20, 1), (80, 20, 1), (80, 30, 1)])
# D2 runs up G1/G2's common edge (x = 100) and back down part of it: 30 + 20 = 50 m along
# the edge, which counts once, in the lower code's piece (G1); cut whole, 30.
ALONG = LineString([(100, 10, 1), (100, 40, 1), (100, 20, 1)])


def test_a_line_doubling_back_across_an_edge_keeps_its_length(odb):
    assert DOUBLED.length == pytest.approx(130)
    assert _by_segment(DOUBLED, GRID) == pytest.approx({G1: 70.0, G2: 60.0})
    assert shapely.intersection(DOUBLED, GRID[G1]).length == pytest.approx(50)  # the premise
    with psycopg.connect(odb.conninfo) as conn:  # rolled back below
        _pipe(conn, "D1", DOUBLED, G1)
        _pipe(conn, "D2", ALONG, G2)
        res = overlay(conn, "pipe_segments", "grid_cells")
        feats = overlay(conn, "pipe_segments", "grid_cells", features=True,
                        out_crs="EPSG:4527")
        clipped = run(conn, {"a": "pipe_segments", "b": "grid_cells", "polygon": CLIP_WKT,
                             "crs": "EPSG:4527"})
        conn.rollback()
    got = {(r["a_code"], r["b_code"]): r["length_m"] for r in res["rows"]
           if r["a_code"] in ("D1", "D2")}
    assert got == {("D1", G1): pytest.approx(70.0), ("D1", G2): pytest.approx(60.0),
                   ("D2", G1): pytest.approx(50.0)}
    # the piece drawn is the piece measured: its geometry holds the doubled stretch too
    f = next(f for f in feats["features"] if f["properties"]["a_code"] == "D1"
             and f["properties"]["b_code"] == G2)
    assert shapely.geometry.shape(f["geometry"]).length == pytest.approx(60.0)
    # clipped to x ≤ 120 the doubled stretch is cut twice: G2 holds 20 + 20 m of it
    want = _by_segment(DOUBLED,
                       {c: g.intersection(CLIP) for c, g in GRID.items()})
    assert want == pytest.approx({G1: 70.0, G2: 40.0})
    got = {r["b_code"]: r["length_m"] for r in clipped["rows"] if r["a_code"] == "D1"}
    assert got == pytest.approx(want)


@pytest.fixture(scope="module")
def qwat(tmp_path_factory):
    """The real QWAT water network loaded in two synthetic districts (read only)."""
    from tests.test_pipes_real import loaded_qwat

    yield from loaded_qwat(tmp_path_factory, "struct11_qwat_overlay", "overlay test")


def test_real_qwat_pipes_cut_by_100m_cells_keep_their_length(qwat):
    """100 m cells over the real network (an origin off its bounds by odd metres): each
    (pipe, cell) piece's length is shapely's, segment by segment, and the pieces add up to
    the network's length (cut whole, pipes doubling back across a cell edge lost some)."""
    with psycopg.connect(qwat.conninfo) as conn:  # rolled back below
        rows = conn.execute("SELECT code, ST_AsBinary(ST_Force2D(geom)) FROM pipe_segments "
                            "WHERE valid_to IS NULL").fetchall()
        pipes = {c: shapely.from_wkb(bytes(w)) for c, w in rows}
        srid = conn.execute("SELECT value FROM cim_properties WHERE key = 'storage_srid'"
                            ).fetchone()[0]
        x0, y0, x1, y1 = shapely.total_bounds(np.array(list(pipes.values())))
        cells = {}
        for i, x in enumerate(np.arange(x0 - 13.7, x1 + 100, 100)):
            for j, y in enumerate(np.arange(y0 - 7.3, y1 + 100, 100)):
                cells[f"990701{i:04d}{j:05d}"] = box(x, y, x + 100, y + 100)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO grid_cells (code, district_code, geom) VALUES "
                            "(%s, '990701', ST_Multi(ST_GeomFromWKB(%s, %s::int)))",
                            [(c, shapely.to_wkb(g), srid) for c, g in cells.items()])
        got = overlay(conn, "pipe_segments", "grid_cells")
        conn.rollback()
    codes, geoms = list(cells), np.array(list(cells.values()))
    tree = shapely.STRtree(geoms)
    want: dict = {}
    whole = 0.0  # the same cut whole, as GEOS does: less than the total
    for code, line in pipes.items():
        for part in shapely.get_parts(line):
            near = {codes[k]: geoms[k] for k in tree.query(part)}
            for c, m in _by_segment(part, near).items():
                want[(code, c)] = want.get((code, c), 0.0) + m
            whole += sum(part.intersection(g).length for g in near.values())
    total = float(sum(g.length for g in pipes.values()))
    assert sum(want.values()) == pytest.approx(total, abs=1e-6)
    assert total - whole > 1.0  # the network holds the case this test is about
    rows_got = {(r["a_code"], r["b_code"]): r["length_m"] for r in got["rows"]}
    assert rows_got == {k: pytest.approx(m, abs=1e-6) for k, m in want.items()}
    assert got["total_length_m"] == pytest.approx(total, abs=1e-6)

"""The one segment-by-segment cut (layers.query.sqlparts.segment_cut) that `cim query stats`
and `cim query overlay` share: a line doubling back over itself across a polygon's edge keeps
the length it runs inside (GEOS nodes the doubled stretch into one when it cuts the line
whole: half of it was lost). Lengths are known by construction.

The polygon is the box x 5..20, y -1..1. LINE runs (0,0) → (10,0) → (2,0) → (2,3): inside
it runs 5..10 out and 10..5 back, 10 m (cut whole: 5 m). INSIDE runs (6,0) → (9,0) → (7,0),
all in the box: 3 + 2 = 5 m, its own piece when the caller knows the box covers it."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from layers.query.sqlparts import segment_cut
from tests.conftest import drop_database, make_db, server_url

BOX = "ST_MakeEnvelope(5, -1, 20, 1)"
LINE = "LINESTRING(0 0, 10 0, 2 0, 2 3)"
INSIDE = "LINESTRING(6 0, 9 0, 7 0)"


@pytest.fixture(scope="module")
def conn(jining_profile):
    d = make_db("struct2_cut", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as c:
        yield c
    drop_database(server_url(), d.name)


def _pieces(conn, wkt: str, inside: str | None) -> list[tuple]:
    """(seg, length of the piece) of ``wkt`` cut by the box, in segment order."""
    q = sql.SQL("SELECT s.seg, ST_Length(c.g0) FROM (SELECT ST_GeomFromText(%s) AS geom, "
                "{box} AS geom2) a CROSS JOIN LATERAL (SELECT a.geom2 AS geom) b "
                "CROSS JOIN LATERAL (SELECT {inside} AS inside) w {cut} "
                "ORDER BY s.seg").format(
        box=sql.SQL(BOX), inside=sql.SQL(inside or "NULL::boolean"),
        cut=segment_cut(sql.SQL("a.geom"), sql.SQL("b.geom"),
                        sql.SQL("w.inside") if inside else None))
    return [(seg, round(length, 9)) for seg, length in conn.execute(q, (wkt,)).fetchall()]


@pytest.mark.parametrize("inside", [None, "ST_CoveredBy(a.geom, a.geom2)"])
def test_a_line_doubling_back_keeps_the_length_it_runs_inside(conn, inside):
    pieces = _pieces(conn, LINE, inside)
    # segments 1 and 2 meet the box (5 m each), segment 3 (x = 2) does not reach its box
    assert pieces == [([1], 5.0), ([2], 5.0)]
    whole = conn.execute(f"SELECT ST_Length(ST_Intersection(ST_GeomFromText(%s), {BOX}))",
                         (LINE,)).fetchone()[0]
    assert whole == pytest.approx(5.0)  # why the line is cut segment by segment


def test_a_line_the_caller_knows_covered_is_its_own_piece(conn):
    assert _pieces(conn, INSIDE, "ST_CoveredBy(a.geom, a.geom2)") == [(None, 5.0)]
    # not known: asked of each segment, the same length
    assert sum(n for _, n in _pieces(conn, INSIDE, None)) == 5.0


def test_a_polygon_is_cut_whole(conn):
    q = sql.SQL("SELECT s.seg, ST_Area(c.g0) FROM (SELECT ST_MakeEnvelope(0, 0, 10, 10) AS geom) "
                "a CROSS JOIN LATERAL (SELECT {box} AS geom) b {cut}").format(
        box=sql.SQL(BOX), cut=segment_cut(sql.SQL("a.geom"), sql.SQL("b.geom")))
    assert conn.execute(q).fetchall() == [(None, 5.0)]  # x 5..10, y 0..1

"""Traces from a point along a sewer (a gully or outlet of a GIS network: no node, a point on
the pipe), whose answers are known by construction.

Metres from (E0, N0), EPSG:4527; inverts in brackets; ▼ gullies (雨水箅) along the pipes::

    M4(0,0)[10.0] -s1- ▼G1(25) - T(50) - ▼G2(75) - M5(100,0)[9.0] -s3- M8(150,0)[8.5]
                                 |
                                 s2 lateral from M6(50,50)[10.5], its end T on s1 (s1 not
                                 split there)
    B(100,100)[10.0] -s4- ▼G3(70,100) - A(0,100)[9.0] -s5- C(-50,100)[8.5]
    (s4 drawn A → B, against the flow: it flows B → A)
"""

from __future__ import annotations

import psycopg
import pytest
import shapely

from tests.conftest import drop_database, make_db, run_cli, server_url

E0, N0 = 39_480_000.0, 3_920_000.0


def _seg(conn, code, a, b, pa, pb, za, zb):
    line = shapely.LineString([(E0 + a[0], N0 + a[1], za), (E0 + b[0], N0 + b[1], zb)])
    conn.execute(
        "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, feature_code, "
        "start_point_code, end_point_code, start_elevation, end_elevation, geom) VALUES (%s, "
        "'02', '排水', '01', '52001000', %s, %s, %s, %s, ST_GeomFromWKB(%s, 4527))",
        (code, pa, pb, za, zb, shapely.to_wkb(line)))


def _pt(conn, code, xy, on=None):
    conn.execute(
        "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
        "feature_code, appurtenance, segment_code, attrs, geom) VALUES (%s, %s, '02', '排水', "
        "'01', '52002200', %s, %s, '{}', ST_GeomFromWKB(%s, 4527))",
        (code, code, "雨水箅" if on else None, on,
         shapely.to_wkb(shapely.Point(E0 + xy[0], N0 + xy[1], 0.0))))


@pytest.fixture(scope="module")
def sewer(jining_profile):
    d = make_db("net_trace11", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        for k, xy in (("M4", (0, 0)), ("M5", (100, 0)), ("M8", (150, 0)), ("M6", (50, 50)),
                      ("T", (50, 0)), ("A", (0, 100)), ("B", (100, 100)), ("C", (-50, 100))):
            _pt(conn, k, xy)
        _seg(conn, "s1", (0, 0), (100, 0), "M4", "M5", 10.0, 9.0)
        _seg(conn, "s2", (50, 50), (50, 0), "M6", "T", 10.5, 9.5)
        _seg(conn, "s3", (100, 0), (150, 0), "M5", "M8", 9.0, 8.5)
        _seg(conn, "s4", (0, 100), (100, 100), "A", "B", 9.0, 10.0)
        _seg(conn, "s5", (0, 100), (-50, 100), "A", "C", 9.0, 8.5)
        _pt(conn, "G1", (25, 0), on="s1")
        _pt(conn, "G2", (75, 0), on="s1")
        _pt(conn, "G3", (70, 100), on="s4")
    yield d
    drop_database(server_url(), d.name)


@pytest.mark.parametrize("start,direction,segments,points,length", [
    # below G1: s1 from 25 m on (the lateral's tee, G2), then s3; not M4 above it (the whole
    # of s1 was traced, 150 m, M4 listed downstream of a gully below it)
    ("G1", "down", ["s1", "s3"], ["G1", "G2", "M5", "M8", "T"], 75 + 50),
    # above G1: s1 up to it only; the lateral s2 joins below G1 (it was listed, 150 m)
    ("G1", "up", ["s1"], ["G1", "M4"], 25),
    # above G2: s1 up to it, and the lateral joining at T above it
    ("G2", "up", ["s1", "s2"], ["G1", "G2", "M4", "M6", "T"], 75 + 50),
    ("G2", "down", ["s1", "s3"], ["G2", "M5", "M8"], 25 + 50),
    # s4 is drawn against the flow (A 9.0 → B 10.0 flows B → A): below G3 is A's side
    ("G3", "down", ["s4", "s5"], ["A", "C", "G3"], 70 + 50),
    ("G3", "up", ["s4"], ["B", "G3"], 30),
])
def test_trace_from_a_point_along_a_sewer_starts_at_its_place(sewer, start, direction,
                                                              segments, points, length):
    from layers.query.trace import trace

    r = trace(sewer.conninfo, start, direction)
    assert (r["segments"], r["points"]) == (segments, points)
    assert r["length_m"] == pytest.approx(length, abs=1e-3)


def test_trace_from_a_manhole_and_a_segment_unchanged(sewer):
    from layers.query.trace import trace

    # a node and a whole segment trace as before
    r = trace(sewer.conninfo, "M4", "down")
    assert r["segments"] == ["s1", "s3"] and r["length_m"] == pytest.approx(150, abs=1e-3)
    r = trace(sewer.conninfo, "s4", "down")
    assert r["segments"] == ["s4", "s5"] and r["length_m"] == pytest.approx(150, abs=1e-3)
    out = run_cli(["query", "trace", "G1", "--direction", "up"], sewer.env(), check=True)
    assert "1 segments, 2 points, 25.000 m upstream of G1" in out.stdout


def test_trace_geojson_draws_the_stretch_traced(sewer, tmp_path):
    import json

    # below G1: s1 from 25 m on (drawn whole, from M4, before), s3 whole
    out = tmp_path / "down.geojson"
    r = run_cli(["query", "trace", "G1", "--geojson", str(out), "--out-crs", "EPSG:4527",
                 "--json"], sewer.env(), check=True)
    assert json.loads(r.stdout)["parts"] == {"segment": {"s1": [[0.25, 1.0]]}}
    segs = {f["properties"]["code"]: f for f in json.loads(out.read_text(encoding="utf-8"))[
        "features"] if f["properties"]["layer"] == "pipe_segments"}
    for code, (x0, x1) in (("s1", (25, 100)), ("s3", (100, 150))):
        xs = [round(c[0] - E0, 3) for c in segs[code]["geometry"]["coordinates"]]
        assert (xs[0], xs[-1]) == (x0, x1), code

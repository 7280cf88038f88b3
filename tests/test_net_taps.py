"""Taps (a segment end on another segment's interior) join only one network: same class and
same subclass. Answers by construction, written here by hand.

Class 02 holds storm (01), foul (02) and combined (03) sewers, class 01 drinking (04 配水) and
reclaimed water (03 中水): a storm pipe drawn with its end on a foul sewer, or reclaimed water on
a drinking main, are two networks crossing in plan (a cross-connection if joined), not a tee.
Coordinates in metres from (E0, N0), EPSG:4527::

    foul   f1  F1(0,600) 10.0 → F2(100,600) 9.0;   foul lateral fl FL(25,650) → FT(25,600) on f1
    storm  s1  SA(50,650) 10.5 → ST(50,600) 10.0 (its end on f1's interior), s2 ST → SB(50,500)
    water  w0  WS(-50,200) → ●WV1(0,200),  w1 WV1 → W2(100,200)          (配水, subclass 04)
    reclaimed r0 RB(50,300) → ●RA(50,250), r1 RA → RT(50,200) on w1's interior (中水, 03)

● valves that are nodes.
"""

from __future__ import annotations

import psycopg
import pytest
import shapely

from tests.conftest import drop_database, make_db, server_url

E0, N0 = 39_480_000.0, 3_920_000.0


def _seg(conn, code, cls, sub, a, b, pa, pb, za, zb, *, d=None, no_z=False):
    line = shapely.LineString([(E0 + a[0], N0 + a[1], 0.0 if no_z else za),
                               (E0 + b[0], N0 + b[1], 0.0 if no_z else zb)])
    conn.execute(
        "INSERT INTO pipe_segments (code, flags, pipe_class, class_name, subclass_code, "
        "feature_code, start_point_code, end_point_code, start_elevation, end_elevation, "
        "diameter_mm, geom) VALUES (%s, %s, %s, 'x', %s, '5' || %s || '001000', %s, %s, %s, "
        "%s, %s, ST_GeomFromWKB(%s, 4527))",
        (code, ["no_z"] if no_z else [], cls, sub, cls[1], pa, pb,
         None if no_z else za, None if no_z else zb, d, shapely.to_wkb(line)))


def _valve(conn, code, cls, sub, xy):
    conn.execute(
        "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
        "feature_code, appurtenance, attrs, geom) VALUES (%s, %s, %s, 'x', %s, '51002200', "
        "'阀门', '{}', ST_GeomFromWKB(%s, 4527))",
        (code, code, cls, sub, shapely.to_wkb(shapely.Point(E0 + xy[0], N0 + xy[1], 0.0))))


@pytest.fixture(scope="module")
def nets(jining_profile):
    d = make_db("net_taps", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        _seg(conn, "f1", "02", "02", (0, 600), (100, 600), "F1", "F2", 10.0, 9.0)
        _seg(conn, "fl", "02", "02", (25, 650), (25, 600), "FL", "FT", 10.5, 10.2)
        _seg(conn, "s1", "02", "01", (50, 650), (50, 600), "SA", "ST", 10.5, 10.0)
        _seg(conn, "s2", "02", "01", (50, 600), (50, 500), "ST", "SB", 10.0, 9.5)
        _valve(conn, "WV1", "01", "04", (0, 200))
        _valve(conn, "RA", "01", "03", (50, 250))
        _seg(conn, "w0", "01", "04", (-50, 200), (0, 200), "WS", "WV1", 35.0, 35.0)
        _seg(conn, "w1", "01", "04", (0, 200), (100, 200), "WV1", "W2", 35.0, 35.0)
        _seg(conn, "r0", "01", "03", (50, 300), (50, 250), "RB", "RA", 35.0, 35.0)
        _seg(conn, "r1", "01", "03", (50, 250), (50, 200), "RA", "RT", 35.0, 35.0)
    yield d
    drop_database(server_url(), d.name)


def test_a_storm_pipe_ending_on_a_foul_sewer_is_not_joined_to_it(nets):
    from layers.query.trace import trace

    # downstream of the storm pipe: the storm network only (it was f1's rest from x = 50 too)
    assert trace(nets.conninfo, "s1", "down")["segments"] == ["s1", "s2"]
    # upstream of the foul sewer: its own lateral (same subclass: a tee), not the storm pipe
    assert trace(nets.conninfo, "f1", "up")["segments"] == ["f1", "fl"]
    # the foul lateral is tapped: downstream of it, f1 from x = 25 on (75 m) — 50 m of fl
    r = trace(nets.conninfo, "fl", "down")
    assert r["segments"] == ["f1", "fl"] and r["length_m"] == pytest.approx(50 + 75)


def test_reclaimed_water_ending_on_a_drinking_main_is_isolated_apart(nets):
    from layers.query.isolation import isolate

    # a burst on the reclaimed branch closes its own valve; the drinking main stays in service
    r = isolate(nets.conninfo, "r1")
    assert r["valves"] == ["RA"] and r["isolated_segments"] == ["r1"]
    r = isolate(nets.conninfo, "w1")
    assert r["valves"] == ["WV1"] and r["isolated_segments"] == ["w1"]


@pytest.fixture(scope="module")
def crossings(jining_profile):
    """Water (class 01, elevations are the pipe tops) at 1000 m north of the nets above:

    - W DN200 配水 (04) along y = 1000, top 35.0 (section 34.8–35.0);
    - P DN100 配水 ending on W's interior at x = 20 with top 34.7 (34.6–34.7): the same
      subclass, but passing below W's bottom — a crossing, clear 34.8 − 34.7 = 0.10 < 0.15;
    - Q DN100 配水 ending on W at x = 30, top 35.0 (34.9–35.0): the sections meet, a joint;
    - R DN100 中水 (03) ending on W at x = 40, top 35.0: another network, a collision:
      centres 34.9 and 34.95, half heights' sum 0.15 → 0.05 − 0.15 = −0.10 (rule 0.50);
    - U DN100 中水 without heights ending on W at x = 50: a crossing whose height is unknown;
    - F DN100 消防 (06) ending on W at x = 60, top 35.0: a fire branch off the main (one
      network: pipe_subclasses.csv keeps only 中水 apart), the sections meet — a joint;
    - G DN100 配水 ending on W at x = 70, top 35.13 (35.03–35.13): its bottom 3 cm above W's
      top, within a surveyed height's ±5 cm — a joint, not a 0.03 m crossing.
    """
    d = make_db("net_taps_x", jining_profile, apply_profile=False)
    y = 1000
    with psycopg.connect(d.conninfo) as conn:
        _seg(conn, "W", "01", "04", (0, y), (100, y), "W-s", "W-e", 35.0, 35.0, d=200)
        _seg(conn, "P", "01", "04", (20, y), (20, y + 20), "P-s", "P-e", 34.7, 34.7, d=100)
        _seg(conn, "Q", "01", "04", (30, y), (30, y + 20), "Q-s", "Q-e", 35.0, 35.0, d=100)
        _seg(conn, "R", "01", "03", (40, y), (40, y + 20), "R-s", "R-e", 35.0, 35.0, d=100)
        _seg(conn, "U", "01", "03", (50, y), (50, y + 20), "U-s", "U-e", 0, 0, d=100,
             no_z=True)
        _seg(conn, "F", "01", "06", (60, y), (60, y + 20), "F-s", "F-e", 35.0, 35.0, d=100)
        _seg(conn, "G", "01", "04", (70, y), (70, y + 20), "G-s", "G-e", 35.13, 35.13, d=100)
    yield d
    drop_database(server_url(), d.name)


def test_a_crossing_within_a_class_at_another_depth_or_subclass_is_checked(crossings):
    from layers.query.clearance import clearance

    res = clearance(crossings.conninfo, kind="vertical")
    rows = {tuple(sorted((r["a_code"], r["b_code"]))): (r["clearance_m"], r["required_m"])
            for r in res["rows"]}
    assert rows == {("P", "W"): (pytest.approx(0.10, abs=1e-3), 0.15),
                    ("R", "W"): (pytest.approx(-0.10, abs=1e-3), 0.50)}
    assert res["unchecked"] == 1  # U: no height, and no joint of W's network


@pytest.fixture(scope="module")
def joins(jining_profile):
    """Tees between subclasses that are one network (pipe_subclasses.csv names only 雨水/污水
    and 中水/drinking water apart):

    - combined sewer c1 (02/03) C1(0,1500) 10.0 → C2(100,1500) 9.0; a storm pipe s3 (02/01)
      S3(50,1550) 10.5 → S4(50,1500) 10.0 ending on c1's interior: storm water into a 合流
      sewer, downstream of s3 = s3 and c1 from x = 50 (50 + 50 m);
    - a 配水 main (01/04) m0 (-50,1800) → ●V1(0,1800), m1 V1 → ●V2(100,1800), m2 V2 → (150,1800);
      a 消防 branch h1 (01/06) (50,1850) → (50,1800) and one of unknown subclass u1 (01/00)
      (70,1850) → (70,1800), both ending on m1's interior: a burst on m1 closes V1 and V2 and
      empties m1, h1 and u1.
    """
    d = make_db("net_taps_j", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        _seg(conn, "c1", "02", "03", (0, 1500), (100, 1500), "C1", "C2", 10.0, 9.0)
        _seg(conn, "s3", "02", "01", (50, 1550), (50, 1500), "S3", "S4", 10.5, 10.0)
        _valve(conn, "V1", "01", "04", (0, 1800))
        _valve(conn, "V2", "01", "04", (100, 1800))
        _seg(conn, "m0", "01", "04", (-50, 1800), (0, 1800), "M0", "V1", 35.0, 35.0)
        _seg(conn, "m1", "01", "04", (0, 1800), (100, 1800), "V1", "V2", 35.0, 35.0)
        _seg(conn, "m2", "01", "04", (100, 1800), (150, 1800), "V2", "M3", 35.0, 35.0)
        _seg(conn, "h1", "01", "06", (50, 1850), (50, 1800), "H1", "H2", 35.0, 35.0)
        _seg(conn, "u1", "01", "00", (70, 1850), (70, 1800), "U1", "U2", 35.0, 35.0)
    yield d
    drop_database(server_url(), d.name)


def test_tees_between_subclasses_of_one_network_are_joined(joins):
    from layers.query.isolation import isolate
    from layers.query.trace import trace

    r = trace(joins.conninfo, "s3", "down")
    assert r["segments"] == ["c1", "s3"] and r["length_m"] == pytest.approx(50 + 50)
    r = isolate(joins.conninfo, "m1")
    assert r["valves"] == ["V1", "V2"]
    assert r["isolated_segments"] == ["h1", "m1", "u1"]

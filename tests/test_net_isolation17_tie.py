"""A valve along a main and a branch's end at the very same point (QWAT's valves share their
node's place): the README says the valve comes first along the main. The valve's position
came from PostGIS, the branch end's from shapely; their last digits differ, and the branch
was joined to the main on either side of the valve by that noise — a burst closed other
valves. The point is chosen here where PostGIS puts it further along than shapely does.

Metres, EPSG:4527; the main m runs diagonally A → B, not split at P; valves VA, VP, VB lie
along it (VP at P), the branch br runs from K (a node at P) to C with its valve VC::

    A -VA- P(VP, K) -VB- B          br: K → C, VC at 80 %

A burst on br (the whole pipe, VC within it: C is a dead end): the zone is br and the main
from P (after VP) to VB. Expected by construction: close VB and VP (not VA: the branch is on
VB's side of VP)."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
import shapely

from tests.conftest import drop_database, make_db, server_url

E0, N0 = 39_480_000.0, 3_920_000.0
A = (E0 + 0.1234567, N0 + 0.7654321)
B = (E0 + 123.456789, N0 + 98.7654321)


def _noisy_point(conn) -> tuple[float, float]:
    """A point of the main where PostGIS's position along it exceeds shapely's."""
    main = shapely.LineString([A, B])
    for f in np.linspace(0.3, 0.7, 401):
        p = main.interpolate(f, normalized=True)
        a = shapely.line_locate_point(main, p, normalized=True)
        b = conn.execute("SELECT ST_LineLocatePoint(ST_GeomFromWKB(%s), ST_GeomFromWKB(%s))",
                         (shapely.to_wkb(main), shapely.to_wkb(p))).fetchone()[0]
        if b > a:
            return p.x, p.y
    pytest.skip("no point of this main where PostGIS and shapely disagree")


@pytest.fixture(scope="module")
def tee(jining_profile):
    d = make_db("net_iso17", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        px, py = _noisy_point(conn)
        c = (px + 30.0, py - 40.0)
        nodes = {"A": A, "B": B, "K": (px, py), "C": c}
        main = shapely.LineString([A, B])
        along = {"VA": ("m", main.interpolate(0.1, normalized=True).coords[0]),
                 "VP": ("m", (px, py)), "VB": ("m", main.interpolate(0.9, normalized=True)
                                               .coords[0]),
                 "VC": ("br", (px + 0.8 * 30.0, py - 0.8 * 40.0))}
        for k, (x, y) in nodes.items():
            conn.execute(
                "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
                "feature_code, attrs, geom) VALUES (%s, %s, '01', '给水', '00', '51002200', "
                "'{}', ST_GeomFromWKB(%s, 4527))",
                (k, k, shapely.to_wkb(shapely.Point(x, y, 0.0))))
        for k, (pipe, (x, y)) in along.items():
            conn.execute(
                "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
                "feature_code, appurtenance, segment_code, attrs, geom) VALUES (%s, %s, '01', "
                "'给水', '00', '51002200', '阀门', %s, '{}', ST_GeomFromWKB(%s, 4527))",
                (k, k, pipe, shapely.to_wkb(shapely.Point(x, y, 0.0))))
        for code, a, b in (("m", "A", "B"), ("br", "K", "C")):
            line = shapely.LineString([(*nodes[a], 0.0), (*nodes[b], 0.0)])
            conn.execute(
                "INSERT INTO pipe_segments (code, flags, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, geom) VALUES (%s, '{no_z}', "
                "'01', '给水', '00', '51001000', %s, %s, ST_GeomFromWKB(%s, 4527))",
                (code, a, b, shapely.to_wkb(line)))
    yield d
    drop_database(server_url(), d.name)


def test_the_valve_comes_first_where_a_branch_meets_the_main(tee):
    from layers.query.isolation import isolate

    r = isolate(tee.conninfo, "br")
    assert r["valves"] == ["VB", "VP"], r["valves"]


def test_an_empty_list_of_sources_is_refused(tee):
    """`"sources": []` (or blank codes) over HTTP ran an isolation without the supply check
    it asked for, silently; the CLI's `--sources ,` is refused so already."""
    from cim.errors import InputError
    from layers.query.isolation import isolate

    for given in ([], ["  "]):
        with pytest.raises(InputError) as exc:
            isolate(tee.conninfo, "br", given)
        assert exc.value.field == "sources" and "names no code" in exc.value.message

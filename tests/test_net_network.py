"""Network analysis on a small network inserted row by row, whose answers are written here by
hand: a survey-style ring main whose valves are pipe points between segments, and drainage
manholes no live segment reaches.

Water (metres from E0, N0; ● valves that are nodes; S the plant)::

    S(0,0) -r0- A(100,0) -r1- ●V1(150,0) -r2- B(200,0)
                  |                             |
                  r6                            r3
                  |                             |
               D(100,-100) -r5- ●V2(150,-100) -r4- C(200,-100) -r7- ●V3(250,-100) -r8- K(300,-100)

T is a tank on r8, a point along the pipe (not a node). V1's note is 待修 ("awaiting repair"): the platform's valve_states.csv does not know the word
(open), a city's list says it is broken.
"""

from __future__ import annotations

import json

import psycopg
import pytest
import shapely

from tests.conftest import drop_database, make_db, server_url

E0, N0 = 39_480_000.0, 3_920_000.0
NODES = {"S": (0, 0), "A": (100, 0), "V1": (150, 0), "B": (200, 0), "C": (200, -100),
         "V2": (150, -100), "D": (100, -100), "V3": (250, -100), "K": (300, -100)}
PIPES = {"r0": "S A", "r1": "A V1", "r2": "V1 B", "r3": "B C", "r4": "C V2", "r5": "V2 D",
         "r6": "D A", "r7": "C V3", "r8": "V3 K"}


def _seg(conn, code, cls, a, b, pa, pb, *, status=None, se=None, ee=None):
    line = shapely.LineString([(E0 + a[0], N0 + a[1], 0.0), (E0 + b[0], N0 + b[1], 0.0)])
    conn.execute(
        "INSERT INTO pipe_segments (code, flags, pipe_class, class_name, subclass_code, "
        "feature_code, start_point_code, end_point_code, status_code, start_elevation, "
        "end_elevation, geom) VALUES (%s, '{no_z}', %s, 'x', '00', '51001000', %s, %s, %s, %s, "
        "%s, ST_GeomFromWKB(%s, 4527))",
        (code, cls, pa, pb, status, se, ee, shapely.to_wkb(line)))


def _pt(conn, code, cls, xy, *, app=None, on=None, note=None):
    conn.execute(
        "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
        "feature_code, appurtenance, segment_code, note, attrs, geom) VALUES (%s, %s, %s, 'x', "
        "'00', '51002200', %s, %s, %s, '{}', ST_GeomFromWKB(%s, 4527))",
        (code, code, cls, app, on, note, shapely.to_wkb(shapely.Point(E0 + xy[0],
                                                                      N0 + xy[1], 0.0))))


@pytest.fixture(scope="module")
def ring(jining_profile):
    d = make_db("net_ring", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        for k, xy in NODES.items():
            _pt(conn, k, "01", xy, app="阀门" if k.startswith("V") else None,
                note="待修" if k == "V1" else None)
        for code, ends in PIPES.items():
            a, b = ends.split()
            _seg(conn, code, "01", NODES[a], NODES[b], a, b)
        # a tank snapped onto r8 (a GIS network's point along a pipe, no node of it)
        _pt(conn, "T", "01", (275, -100), app="水池", on="r8")
        # gas: a main g1–g2 (GV1 a valve node) and a branch g3 tapped into g2 at x = 100 (its
        # start GT lies on g2's interior; g2 is not split there), GV2 a valve along g3 halfway
        for k, xy in (("GS", (0, 1000)), ("GV1", (50, 1000)), ("GB", (150, 1000)),
                      ("GT", (100, 1000)), ("GK", (100, 1050))):
            _pt(conn, k, "03", xy, app="阀门" if k == "GV1" else None)
        _seg(conn, "g1", "03", (0, 1000), (50, 1000), "GS", "GV1")
        _seg(conn, "g2", "03", (50, 1000), (150, 1000), "GV1", "GB")
        _seg(conn, "g3", "03", (100, 1000), (100, 1050), "GT", "GK")
        _pt(conn, "GV2", "03", (100, 1025), app="阀门", on="g3")
        # drainage: a manhole no segment names; a chain m1 → m2 (d1), then m2 → m3 abandoned
        _pt(conn, "lone", "02", (0, 500))
        for k, x in (("m1", 0), ("m2", 50), ("m3", 100)):
            _pt(conn, k, "02", (x, 600))
        _seg(conn, "d1", "02", (0, 600), (50, 600), "m1", "m2", se=10.0, ee=9.5)
        _seg(conn, "d2", "02", (50, 600), (100, 600), "m2", "m3", status="1", se=9.5, ee=9.0)
        # a sewer d3 m4 → m5 (10.0 → 9.0), on to m8 by d5 (9.0 → 8.5); a lateral d4 from m6
        # (10.5) drawn onto d3's interior at x = 50 (m7, 10.0; d3 not split there)
        for k, xy in (("m4", (0, 700)), ("m5", (100, 700)), ("m6", (50, 750)),
                      ("m7", (50, 700)), ("m8", (150, 700))):
            _pt(conn, k, "02", xy)
        _seg(conn, "d3", "02", (0, 700), (100, 700), "m4", "m5", se=10.0, ee=9.0)
        _seg(conn, "d4", "02", (50, 750), (50, 700), "m6", "m7", se=10.5, ee=10.0)
        _seg(conn, "d5", "02", (100, 700), (150, 700), "m5", "m8", se=9.0, ee=8.5)
        # gullies (雨水箅) along d3, above and below the lateral's tee
        _pt(conn, "y1", "02", (25, 700), app="雨水箅", on="d3")
        _pt(conn, "y2", "02", (75, 700), app="雨水箅", on="d3")
        # a water segment a later load removed (its only version ended)
        _seg(conn, "gone1", "01", (0, 0), (0, -50), "S", "X")
        conn.execute("UPDATE pipe_segments SET valid_to = '2026-03-01 08:00+00' "
                     "WHERE code = 'gone1'")
        # … whose code a load registered, as every load does (cim.coding.registry)
        conn.execute("INSERT INTO code_registry (code, layer, source_key) "
                     "VALUES ('gone1', 'pipe_segments', 'gone1')")
    yield d
    drop_database(server_url(), d.name)


def test_trace_from_a_manhole_on_no_live_segment_is_an_input_error(ring):
    from cim.errors import InputError
    from layers.query.trace import trace

    # was KeyError (an internal error over HTTP) for a point that is no node of the graph
    for code in ("lone", "m3"):  # named by no segment / only by an abandoned one
        with pytest.raises(InputError, match=f"point {code} is on no current segment"):
            trace(ring.conninfo, code, "up")
    assert trace(ring.conninfo, "m1", "down")["segments"] == ["d1"]
    assert trace(ring.conninfo, "m2", "up")["segments"] == ["d1"]


def _city_profile(tmp_path, jining_profile):
    """The sample profile with a valve_states.csv of the city's that says 待修 is broken."""
    import yaml

    from cim.profile import load_profile

    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    raw["boundaries"] = str(jining_profile.boundaries)
    raw["grid"] = str(jining_profile.grid)
    states = tmp_path / "valve_states.csv"
    states.write_text("state,name,aliases\nopen,开启,\nclosed,关闭,\nbroken,损坏,待修\n",
                      encoding="utf-8")
    raw["dictionaries"] = {"valve_states": str(states)}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path, load_profile(path)


def test_isolation_processes_read_the_configured_city_profile(ring, tmp_path, jining_profile,
                                                              monkeypatch):
    from layers.query.isolation import isolate
    from layers.query.network import ISOLATE_PROCESS

    # the platform's states: V1 (待修) is open, B–C is bounded by V1, V2, V3
    r = isolate(ring.conninfo, "r3")
    assert r["valves"] == ["V1", "V2", "V3"]
    assert r["isolated_segments"] == ["r2", "r3", "r4", "r7"]
    # the city's: V1 is broken, so the zone runs on through A to V2's far side and the plant:
    # V2 has the zone on both sides, only V3 bounds it
    path, city = _city_profile(tmp_path, jining_profile)
    want_valves, want_segs = ["V3"], ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"]
    r = isolate(ring.conninfo, "r3", profile=city)
    assert (r["valves"], r["isolated_segments"]) == (want_valves, want_segs)
    # the OGC API process (what HTTP runs) has no profile argument: it must read the one the
    # server is configured with, as the section and clearance processes do (it read the
    # platform's dictionary and answered V1, V2, V3)
    monkeypatch.setenv("CIM_PROFILE", str(path))
    r = ISOLATE_PROCESS["run"](ring.conninfo, {"code": "r3"})
    assert (r["valves"], r["isolated_segments"]) == (want_valves, want_segs)
    json.dumps(r)


def test_a_source_along_a_pipe_feeds_its_side(ring):
    from layers.query.isolation import isolate

    # B–C bursts with the tank T on r8 (beyond V3) the only source: V3 must close, V1 and V2
    # need not (nothing flows in behind them), S–A–D loses supply. T was refused ("sources
    # not in the network") for being no node.
    r = isolate(ring.conninfo, "r3", sources=["T"])
    assert r["valves"] == ["V3"] and r["valves_not_needed"] == ["V1", "V2"]
    assert r["unsupplied_segments"] == ["r0", "r1", "r5", "r6"]
    assert r["unsupplied_length_m"] == 100 + 50 + 50 + 100


def test_a_source_inside_the_emptied_zone_is_named(ring, tmp_path):
    from layers.query.isolation import isolate
    from tests.conftest import run_cli

    # B–C bursts with the plant at B, inside the zone V1, V2, V3 enclose: whatever closes,
    # B feeds the burst; everything else is dry, no valve needs closing — the answer said
    # "close 0 valves" and nothing of the source: it must name B to be shut off
    r = isolate(ring.conninfo, "r3", sources=["B"])
    assert r["sources_in_zone"] == ["B"]
    assert r["valves"] == [] and r["valves_not_needed"] == ["V1", "V2", "V3"]
    # r8 bursts with the tank T on it; S outside the zone
    r = isolate(ring.conninfo, "r8", sources=["S", "T"])
    assert r["sources_in_zone"] == ["T"] and r["valves"] == ["V3"]
    assert isolate(ring.conninfo, "r3", sources=["S"])["sources_in_zone"] == []
    out = run_cli(["query", "isolate", "r3", "--sources", "B"], ring.env(), check=True)
    assert "shut them off): B" in out.stdout


def test_a_branch_tapped_into_a_main_is_joined_to_it(ring):
    from layers.query.isolation import isolate

    # g2 bursts: the branch g3 up to GV2 is emptied with it (it was a separate network part:
    # only GV1 closed, g3 left out, its supply never in question)
    r = isolate(ring.conninfo, "g2")
    assert r["valves"] == ["GV1", "GV2"] and r["isolated_segments"] == ["g2", "g3"]
    assert r["length_m"] == 100 + 25
    # with the station at GS: beyond GV2 goes dry, so GV2 need not close
    r = isolate(ring.conninfo, "g2", sources=["GS"])
    assert r["valves"] == ["GV1"] and r["valves_not_needed"] == ["GV2"]
    assert r["unsupplied_segments"] == ["g3"] and r["unsupplied_length_m"] == 25
    # the branch's far side bursts: GV2 alone; its near side: the main's zone
    r = isolate(ring.conninfo, "g3", at=0.75)
    assert (r["valves"], r["length_m"]) == (["GV2"], 25)
    r = isolate(ring.conninfo, "g3", at=0.25, sources=["GS"])
    assert r["valves"] == ["GV1"] and r["isolated_segments"] == ["g2", "g3"]
    # the tee itself as the burst, and as the source
    assert isolate(ring.conninfo, "GT")["valves"] == ["GV1", "GV2"]
    r = isolate(ring.conninfo, "g1", sources=["GT"])
    assert r["valves"] == ["GV1"] and r["unsupplied_segments"] == []


def test_the_configured_profile_is_read_once_until_its_file_changes(tmp_path, jining_profile,
                                                                     monkeypatch):
    import os

    import cim.profile
    import layers.query.pipes as pipes

    path, _ = _city_profile(tmp_path, jining_profile)
    monkeypatch.setenv("CIM_PROFILE", str(path))
    monkeypatch.setattr(pipes, "_RESOLVED", {})  # nothing kept from earlier tests
    reads = []
    real = pipes.load_profile
    monkeypatch.setattr(pipes, "load_profile", lambda p: reads.append(p) or real(p))
    first = pipes.resolve_profile(None)
    # every OGC process call resolves it: the settings and the YAML were read each time
    assert all(pipes.resolve_profile(None) is first for _ in range(5)) and len(reads) == 1
    # the file edited (its modification time moves): read again
    raw = path.read_text(encoding="utf-8").replace("济宁市", "济宁")
    path.write_text(raw, encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert pipes.resolve_profile(None).city_name == "济宁" and len(reads) == 2
    # another CIM_PROFILE: its own
    monkeypatch.setenv("CIM_PROFILE", str(jining_profile.path))
    assert pipes.resolve_profile(None).path == cim.profile.load_profile(jining_profile.path).path
    assert len(reads) == 3


@pytest.mark.parametrize("start,direction,segments,points,length", [
    # the lateral's water enters d3 halfway: the rest of d3 and d5 (it stopped at m7)
    # (and of d3's gullies only y2, below the tee: y1 was listed too)
    ("d4", "down", ["d3", "d4", "d5"], ["m5", "m6", "m7", "m8", "y2"], 50 + 50 + 50),
    ("m5", "up", ["d3", "d4"], ["m4", "m5", "m6", "m7", "y1", "y2"], 100 + 50),
    ("d3", "up", ["d3", "d4"], ["m4", "m5", "m6", "m7", "y1", "y2"], 100 + 50),
    ("m4", "down", ["d3", "d5"], ["m4", "m5", "m7", "m8", "y1", "y2"], 100 + 50),
])
def test_trace_follows_a_lateral_tapped_into_a_sewer(ring, start, direction, segments, points,
                                                     length):
    from layers.query.trace import trace

    r = trace(ring.conninfo, start, direction)
    assert (r["segments"], r["points"], r["length_m"]) == (segments, points, length)


def test_codes_pasted_with_spaces_old_codes_and_at_on_a_point(ring):
    from cim.errors import InputError
    from layers.query.isolation import isolate
    from layers.query.trace import trace

    assert isolate(ring.conninfo, " r3\t")["valves"] == ["V1", "V2", "V3"]
    assert trace(ring.conninfo, "m1 ", "down")["segments"] == ["d1"]
    # a code of an earlier load: said so, not merely "no current … has code"
    with pytest.raises(InputError, match=r"'gone1' is no longer current: its last version "
                                         r"ended 2026-03-01"):
        isolate(ring.conninfo, "gone1")
    with pytest.raises(InputError, match="no current pipe segment or pipe point has code "
                                         "'nope'"):
        trace(ring.conninfo, "nope")
    # --at places a burst along a segment: with a point it was ignored silently
    with pytest.raises(InputError, match="at 0.5: a position along a segment"):
        isolate(ring.conninfo, "B", at=0.5)


def test_a_mistyped_code_reads_no_pipe_history(ring):
    """The 'ended' look-up of a code no current pipe has goes through the code registry's
    index; the pipe tables' history (no index on code over all versions) is not read for a
    code the registry never issued (it was a sequential scan of both tables per request)."""
    from layers.query.network_locate import _ENDED

    with psycopg.connect(ring.conninfo) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + _ENDED,
                                           ("nope",) * _ENDED.count("%s"))]
    text = "\n".join(plan)
    on_history = [ln for ln in plan if " on pipe_segments" in ln or " on pipe_points" in ln]
    assert on_history and all("never executed" in ln for ln in on_history), text
    assert any("Index" in ln and "code_registry" in ln for ln in plan), text

"""Network analysis on small hand-drawn networks whose answers are written here by hand:
drainage traces up and down (flow by invert elevations, else digitised direction) and valve
isolation with open, closed and broken valves, valves along pipes and sources cut off.

Water network (metres from X0, Y0; valves ● along pipes, S and H are sources)::

    S(0,0) -p1- A(100,0) -p2-●V2(150,0)- B(200,0) -p3- C(300,0) -p4-●V3(350,0)- D(400,0)
                  |                                      |
                 p5 ●V7(100,-50) broken (备注 阀门损坏)       p6 ●V4(300,-50)
                  |                                      |
               E(100,-100) -p7-●V5(150,-100) closed- F(200,-100) -p8-●V6(250,-100)- G(300,-100)
                                                      |
                                                     p9
                                                      |
                                                   H(200,-200)
"""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from loaders.pipes.load import load_pipes_files
from tests.conftest import make_db, profile_around, run_cli, server_url

X0, Y0 = 2600000.0, 1200000.0
CRS = "EPSG:2056"


def _xy(x, y):
    return (X0 + x, Y0 + y)


NODES = {"S": (0, 0), "A": (100, 0), "B": (200, 0), "C": (300, 0), "D": (400, 0),
         "E": (100, -100), "F": (200, -100), "G": (300, -100), "H": (200, -200)}
PIPES = {"p1": "SA", "p2": "AB", "p3": "BC", "p4": "CD", "p5": "AE", "p6": "CG",
         "p7": "EF", "p8": "FG", "p9": "FH"}
# valve: (pipe, position, closed, note)
VALVES = {"V2": ("p2", (150, 0), False, None), "V3": ("p4", (350, 0), False, None),
          "V4": ("p6", (300, -50), False, None), "V5": ("p7", (150, -100), True, None),
          "V6": ("p8", (250, -100), False, None), "V7": ("p5", (100, -50), False, "阀门损坏")}

# drainage: (from, to as digitised, start elevation, end elevation)
DNODES = {"a": (0, 500), "b": (50, 500), "c": (100, 500), "o": (150, 500), "e": (100, 550),
          "f": (50, 450), "g": (100, 450)}
DRAINS = {"d1": ("a", "b", 10.0, 9.8), "d2": ("b", "c", 9.8, 9.6), "d3": ("c", "o", 9.6, 9.4),
          "d4": ("e", "c", None, None),  # no elevations: digitised e → c
          "d5": ("b", "f", 9.7, 9.9),  # drawn b → f, but f is higher: flows f → b
          "d6": ("c", "g", 9.6, 9.5)}

# drainage from a GIS file whose LineStringZ carries the inverts (no elevation columns):
# node → (x, y, z); z2 is digitised against the flow (k 9.6 → i 9.8 drawn, flows i → k)
ZNODES = {"h": (0, 800, 10.0), "i": (50, 800, 9.8), "k": (100, 800, 9.6), "m": (150, 800, 9.4)}
ZDRAINS = {"z1": "hi", "z2": "ki", "z3": "km"}

MAPPING = """\
lines: {source_id: id, start_no: node_a, end_no: node_b}
nodes: {point_no: id, feature: node_type}
valves: {point_no: id, segment_id: pipe_id, appurtenance: valve_type}
defaults: {valves: {appurtenance: 阀门}}
values: {feature: {pipe_end: 起讫点, junction: 三通}}
"""


def _write(d, nodes, pipes, valves=None, elev=None):
    ids = {n: i + 1 for i, n in enumerate(nodes)}
    lines = gpd.GeoDataFrame({
        "id": [100 + i for i in range(len(pipes))],
        "name": list(pipes),
        "node_a": [ids[p[0]] for p in pipes.values()],
        "node_b": [ids[p[1]] for p in pipes.values()],
        "start_elevation": [(elev or {}).get(k, (None, None))[0] for k in pipes],
        "end_elevation": [(elev or {}).get(k, (None, None))[1] for k in pipes]},
        geometry=[shapely.LineString([_xy(*nodes[p[0]]), _xy(*nodes[p[1]])])
                  for p in pipes.values()], crs=CRS)
    path = d / "net.gpkg"
    lines.to_file(path, layer="pipes")
    gpd.GeoDataFrame({"id": list(ids.values()), "name": list(ids),
                      "node_type": ["junction"] * len(ids)},
                     geometry=[shapely.Point(_xy(*nodes[n])) for n in ids], crs=CRS
                     ).to_file(path, layer="nodes")
    if valves:
        pid = {k: 100 + i for i, k in enumerate(pipes)}
        gpd.GeoDataFrame({"id": [500 + i for i in range(len(valves))], "name": list(valves),
                          "pipe_id": [pid[v[0]] for v in valves.values()],
                          "valve_type": ["valve"] * len(valves),
                          "closed": [v[2] for v in valves.values()],
                          "note": [v[3] for v in valves.values()]},
                         geometry=[shapely.Point(_xy(*v[1])) for v in valves.values()], crs=CRS
                         ).to_file(path, layer="valves")
    return path


def _write_z(d, nodes, pipes):
    ids = {n: i + 1 for i, n in enumerate(nodes)}
    xyz = {n: (*_xy(x, y), z) for n, (x, y, z) in nodes.items()}
    path = d / "net.gpkg"
    gpd.GeoDataFrame({"id": [700 + i for i in range(len(pipes))], "name": list(pipes),
                      "node_a": [ids[p[0]] for p in pipes.values()],
                      "node_b": [ids[p[1]] for p in pipes.values()]},
                     geometry=[shapely.LineString([xyz[p[0]], xyz[p[1]]])
                               for p in pipes.values()], crs=CRS).to_file(path, layer="pipes")
    gpd.GeoDataFrame({"id": list(ids.values()), "name": list(ids),
                      "node_type": ["junction"] * len(ids)},
                     geometry=[shapely.Point(xyz[n][:2]) for n in ids], crs=CRS
                     ).to_file(path, layer="nodes")
    return path


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from cim.db.engine import drop_database

    d = tmp_path_factory.mktemp("network")
    water = _write(d, NODES, PIPES, VALVES)
    dd = d / "drain"
    dd.mkdir()
    drain = _write(dd, DNODES, {k: v[:2] for k, v in DRAINS.items()},
                   elev={k: v[2:] for k, v in DRAINS.items()})
    dz = d / "drain_z"
    dz.mkdir()
    drain_z = _write_z(dz, ZNODES, ZDRAINS)
    profile = profile_around(water, "pipes", d, name="network test", admin_code="990300")
    (d / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    db = make_db("network", profile)
    for path, cls, ds in ((water, "给水", "w"), (drain, "雨水", "r"), (drain_z, "雨水", "z")):
        r, _ = load_pipes_files(db.conninfo, profile, None, lines=f"{path}:pipes",
                                points=f"{path}:nodes",
                                valves=f"{path}:valves" if cls == "给水" else None,
                                mapping=d / "mapping.yaml", class_opt=cls, dataset=ds)
        assert r.rejected == 0, r.to_dict()
    db.seg = dict(db.rows("SELECT attrs->>'name', code FROM pipe_segments WHERE valid_to IS NULL"))
    db.pt = dict(db.rows("SELECT attrs->>'name', code FROM pipe_points WHERE valid_to IS NULL"))
    db.name_of = {v: k for k, v in {**db.seg, **db.pt}.items()}
    yield db
    drop_database(server_url(), db.name)


def _names(db, codes):
    return sorted(db.name_of[c] for c in codes)


# -- trace -----------------------------------------------------------------------------------
@pytest.mark.parametrize("start,direction,segments,points,length", [
    ("b", "down", ["d2", "d3", "d6"], ["b", "c", "g", "o"], 150.0),
    ("c", "up", ["d1", "d2", "d4", "d5"], ["a", "b", "c", "e", "f"], 200.0),
    ("d2", "down", ["d2", "d3", "d6"], ["b", "c", "g", "o"], 150.0),
    ("d5", "up", ["d5"], ["b", "f"], 50.0),  # f is its top: nothing above
    ("d5", "down", ["d2", "d3", "d5", "d6"], ["b", "c", "f", "g", "o"], 200.0),
    ("a", "up", [], ["a"], 0.0),
])
def test_trace_follows_flow(net, start, direction, segments, points, length):
    from layers.query.trace import trace

    code = net.seg.get(start) or net.pt[start]
    res = trace(net.conninfo, code, direction)
    assert _names(net, res["segments"]) == segments
    assert _names(net, res["points"]) == points
    assert res["length_m"] == pytest.approx(length, abs=1e-3)


@pytest.mark.parametrize("start,direction,segments", [
    ("h", "down", ["z1", "z2", "z3"]), ("m", "up", ["z1", "z2", "z3"]), ("i", "up", ["z1"])])
def test_trace_follows_the_z_of_a_gis_network_without_elevation_columns(net, start, direction,
                                                                        segments):
    from layers.query.trace import trace

    res = trace(net.conninfo, net.pt[start], direction)
    assert _names(net, res["segments"]) == segments


def test_trace_refuses_water_and_unknown_codes(net):
    from cim.errors import InputError
    from layers.query.trace import trace

    with pytest.raises(InputError, match="gravity"):
        trace(net.conninfo, net.seg["p1"], "down")
    with pytest.raises(InputError, match="no current pipe"):
        trace(net.conninfo, "999999999999999999", "down")


# -- isolation ---------------------------------------------------------------------------------
def _iso(net, pipe, sources=None, at=None):
    from layers.query.isolation import isolate

    src = [net.pt[s] for s in sources] if sources else None
    res = isolate(net.conninfo, net.seg[pipe], src, at)
    return {k: (_names(net, v) if isinstance(v, list) else v) for k, v in res.items()}


def test_isolation_by_open_valves_along_pipes(net):
    # B–C bursts: V2, V3, V4 bound it; the pipes are isolated from the burst up to the valves
    r = _iso(net, "p3")
    assert r["valves"] == ["V2", "V3", "V4"] and r["closed_already"] == []
    assert r["isolated_segments"] == ["p2", "p3", "p4", "p6"]
    assert r["length_m"] == pytest.approx(50 + 100 + 50 + 50, abs=1e-3)
    assert r["unsupplied_segments"] == []  # no sources given: no supply check


def test_isolation_closed_valve_is_a_boundary_already(net):
    r = _iso(net, "p9")  # F–H: V6 to close, V5 is closed already
    assert r["valves"] == ["V6"] and r["closed_already"] == ["V5"]
    assert r["isolated_segments"] == ["p7", "p8", "p9"]
    assert r["length_m"] == pytest.approx(50 + 50 + 100, abs=1e-3)


def test_isolation_passes_through_a_broken_valve(net):
    # S–A: V7 on A–E is broken (备注 阀门损坏), so the isolation goes on to E and V5
    r = _iso(net, "p1")
    assert r["valves"] == ["V2"] and r["closed_already"] == ["V5"]
    assert r["broken_passed"] == ["V7"]  # said, so the crew knows why V5's side is emptied
    assert _iso(net, "p3")["broken_passed"] == []
    assert r["isolated_segments"] == ["p1", "p2", "p5", "p7"]
    assert r["length_m"] == pytest.approx(100 + 50 + 100 + 50, abs=1e-3)


def test_isolation_burst_position_along_a_valved_pipe(net):
    a = _iso(net, "p2", at=0.25)  # A side of V2: the S–A–E zone
    assert a["isolated_segments"] == ["p1", "p2", "p5", "p7"] and a["valves"] == ["V2"]
    b = _iso(net, "p2", at=0.75)  # B side of V2: the B–C zone
    assert b["valves"] == ["V2", "V3", "V4"] and b["length_m"] == pytest.approx(250, abs=1e-3)
    whole = _iso(net, "p2")  # anywhere on A–B: both zones, V2 inside needs no closing
    assert whole["valves"] == ["V3", "V4"] and whole["closed_already"] == ["V5"]
    assert whole["length_m"] == pytest.approx(300 + 250, abs=1e-3)


def test_isolation_with_sources_cuts_off_areas(net):
    # source S only: closing V2, V3, V4 for B–C leaves D and F–G–H without water (V5 is shut);
    # V3 and V4 need no closing then (nothing flows in behind them)
    r = _iso(net, "p3", sources=["S"])
    assert r["valves"] == ["V2"] and r["valves_not_needed"] == ["V3", "V4"]
    assert r["isolated_segments"] == ["p2", "p3", "p4", "p6"]
    assert r["unsupplied_segments"] == ["p4", "p6", "p7", "p8", "p9"]
    assert r["unsupplied_length_m"] == pytest.approx(50 + 50 + 50 + 100 + 100, abs=1e-3)
    # a second source at H feeds F–G through V6: V4 must close, only C–D's far part is dry
    r2 = _iso(net, "p3", sources=["S", "H"])
    assert r2["valves"] == ["V2", "V4"] and r2["valves_not_needed"] == ["V3"]
    assert r2["unsupplied_segments"] == ["p4"]
    assert r2["unsupplied_length_m"] == pytest.approx(50, abs=1e-3)


def test_isolation_cli_json_and_bad_input(net, tmp_path):
    src = tmp_path / "sources.txt"
    src.write_text(f"# the plant\n{net.pt['S']}\n", encoding="utf-8")
    out = run_cli(["query", "isolate", net.seg["p3"], "--sources", str(src), "--json",
                   "--geojson", str(tmp_path / "iso.geojson")], net.env(), check=True)
    res = json.loads(out.stdout)
    assert _names(net, res["valves"]) == ["V2"]
    assert set(res) >= {"valves", "closed_already", "isolated_segments",
                        "unsupplied_segments", "length_m"}
    fc = json.loads((tmp_path / "iso.geojson").read_text(encoding="utf-8"))
    roles = {(f["properties"]["role"], net.name_of[f["id"]]) for f in fc["features"]}
    assert ("valve", "V2") in roles and ("isolated", "p3") in roles
    bad = run_cli(["query", "isolate", net.seg["d1"], "--json"], net.env())
    assert bad.returncode != 0 and "pressure" in bad.stderr
    bad = run_cli(["query", "isolate", net.seg["p3"], "--sources", "nope", "--json"], net.env())
    assert bad.returncode != 0 and "nope" in bad.stderr
    out = run_cli(["query", "trace", net.pt["b"], "--direction", "down", "--json"], net.env(),
                  check=True)
    assert _names(net, json.loads(out.stdout)["segments"]) == ["d2", "d3", "d6"]


def test_valve_state_from_attributes_and_notes():
    from layers.query.valves import BROKEN, CLOSED, OPEN, valve_state

    assert valve_state(None, {"closed": True}) == CLOSED
    assert valve_state(None, {"closed": False}) == OPEN
    assert valve_state("阀门损坏", {}) == BROKEN
    assert valve_state("无法关闭", {}) == BROKEN  # contains 关闭, but says it cannot close
    assert valve_state(None, {"状态": "关闭"}) == CLOSED
    assert valve_state(None, {"status": "inaccessible"}) == BROKEN
    assert valve_state(None, {"operable": "否"}) == BROKEN
    assert valve_state(None, {"valve_type": "butterfly valve", "_table": "x"}) == OPEN
    # a disused valve is not one a crew can count on: the isolation goes on to the next one
    for disused in ("废弃", "停用", "已停用", "报废", "abandoned", "out of service"):
        assert valve_state(None, {"状态": disused}) == BROKEN, disused


@pytest.mark.parametrize("note", ["阀门开关正常", "未关闭", "valve close to hydrant", "无损坏",
                                  "not closed", "关闭阀门后无水", "阀门未损坏", "没有损坏",
                                  "not broken"])
def test_valve_note_that_merely_mentions_closing_or_damage_leaves_it_open(note):
    # 'opens and closes normally', 'not closed', 'no damage' …: no note names a state as a whole
    from layers.query.valves import OPEN, valve_state

    assert valve_state(note, {}) == OPEN
    assert valve_state(None, {"状态": note}) == OPEN


def test_valve_state_fields_first_then_a_whole_note_from_the_dictionary(tmp_path):
    from layers.query.valves import BROKEN, CLOSED, OPEN, valve_state, valve_states

    assert valve_state(" 关闭 ", {}) == CLOSED and valve_state("Closed", {}) == CLOSED
    assert valve_state("锈死", {}) == BROKEN
    # a note of several clauses: each said whole (a clause that merely mentions one says none)
    assert valve_state("阀门损坏，无法关闭", {}) == BROKEN
    assert valve_state("已关闭; 备用", {}) == CLOSED
    assert valve_state("开关正常，无损坏。", {}) == OPEN
    assert valve_state("已关闭，锈死", {}) == CLOSED  # stuck shut
    # damage said inside a clause, not negated: broken (passed over: the isolation closes
    # the next valve, the safe side — so is a repaired cover's note)
    for note in ("阀门已损坏", "阀门故障", "阀门锈死", "损坏严重", "已损坏无法关闭", "井被压占",
                 "阀门井被埋", "broken valve", "阀门井盖损坏已修复"):
        assert valve_state(note, {}) == BROKEN, note
    # closed only when a whole clause says it (read closed by mistake, an open valve would
    # stay open behind the burst)
    for note in ("阀门已关闭", "阀门处于关闭状态", "valve is closed"):
        assert valve_state(note, {}) == CLOSED, note
    assert valve_state(None, {"状态": "阀门已关闭"}) == CLOSED
    assert valve_state(None, {"状态": "关闭(常闭)"}) == CLOSED
    assert valve_state("关闭", {"closed": False}) == OPEN  # the field says open
    assert valve_state("关闭", {"状态": "开启"}) == OPEN
    assert valve_state("损坏", {"closed": False}) == BROKEN  # closed says nothing of damage
    assert valve_state(None, {"closed": True, "status": "broken"}) == CLOSED  # stuck shut
    # a city's own list: its word for a valve under repair, and 关 no longer a state
    path = tmp_path / "valve_states.csv"
    path.write_text("state,name,aliases\nbroken,待修,维修中\nclosed,关闭,\n", encoding="utf-8")
    states = valve_states(path)
    assert valve_state("维修中", {}, states) == BROKEN
    assert valve_state("关", {}, states) == OPEN and valve_state("关闭", {}, states) == CLOSED
    # a mistyped state is refused naming the file, row and field (its valves read open else)
    from cim.errors import ConfigError

    path.write_text("state,name,aliases\nbroken,待修,\nclosd,关闭,\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        valve_states(path)
    assert (e.value.path, e.value.row, e.value.field) == (str(path), 3, "state")

"""A real water network (QWAT sample, ../shared/data/real/qwat_network.gpkg) loaded as a generic
GIS pipe layer: node–edge topology from the node ids or rebuilt by snapping, valves attached."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely

from loaders.pipes.load import load_pipes_files
from tests.conftest import make_db, profile_around, real_file, run_cli, server_url

MAPPING = """\
# QWAT (value lists joined, English values) -> CJJ 61 dictionaries
class: 给水
lines: {source_id: id, start_no: node_a, end_no: node_b, size: dn, pressure: pressure_nominal}
nodes: {point_no: id, feature: node_type}
valves: {point_no: id, segment_id: pipe_id, appurtenance: valve_type}
defaults: {valves: {appurtenance: 阀门}}
values:
  feature: {T: 三通, pipe_end: 起讫点, couple_same: 直线点, couple_year: 直线点,
            couple_other: 直线点, couple_material: 变材, couple_diameter: 变径}
  appurtenance: {valve: 阀门, 1/4 of turn: 阀门, butterfly valve: 阀门,
                 flow control valve: 阀门, to be determined: 阀门}
  status: {in use: 在用, shut down: 废弃, disused: 废弃, destroyed: 废弃, fictional: 其他,
           other: 其他}
  material: {Unknown: "", To be determined: ""}
"""


def loaded_qwat(tmp_path_factory, suffix: str, title: str):
    """The real QWAT network loaded (lines, nodes, valves) in a database of its own, in two
    synthetic districts — a module fixture's body for the query tests that read it
    (``yield from``); the database is dropped afterwards."""
    from cim.db.engine import drop_database

    src = real_file("qwat_network.gpkg")
    d = tmp_path_factory.mktemp(suffix)
    profile = profile_around(src, "pipes", d, name=f"QWAT ({title})", admin_code="990700")
    (d / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    db = make_db(suffix, profile)
    try:
        load_pipes_files(db.conninfo, profile, None, lines=f"{src}:pipes",
                         points=f"{src}:nodes", valves=f"{src}:valves",
                         mapping=d / "mapping.yaml", dataset="qwat")
        yield db
    finally:
        drop_database(server_url(), db.name)


@pytest.fixture(scope="module")
def qwat(tmp_path_factory):
    """A test profile covering the QWAT network in EPSG:2056 with two synthetic districts."""
    from cim.db.engine import drop_database

    src = real_file("qwat_network.gpkg")
    d = tmp_path_factory.mktemp("qwat")
    profile = profile_around(src, "pipes", d, name="QWAT sample (test)", admin_code="990200")
    (d / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    db = make_db("qwat", profile)
    db.src, db.dir = src, d
    yield db
    drop_database(server_url(), db.name)


def test_qwat_network_loads_with_topology_and_valves(qwat):
    src = qwat.src
    r, qa = load_pipes_files(qwat.conninfo, qwat.profile, None, lines=f"{src}:pipes",
                             points=f"{src}:nodes", valves=f"{src}:valves",
                             mapping=qwat.dir / "mapping.yaml", dataset="qwat")
    assert r.read == 4223 + 9035 + 2312
    assert r.read == r.loaded + r.rejected
    assert r.source_crs == "EPSG:21781"
    reasons = dict(qwat.rows("SELECT reason, count(*) FROM load_rejects WHERE batch_id = %s "
                             "GROUP BY 1", (r.batch_id,)))
    assert sum(reasons.values()) == r.rejected
    assert set(reasons) <= {"self_loop", "duplicate_segment", "length_under_min"}
    assert reasons.get("self_loop") == 2  # two pipes whose node_a = node_b
    # the rejects export in the delivery's CRS (EPSG:21781, not the storage EPSG:2056), each
    # pipe exactly where the delivered file has it
    out = qwat.dir / "rejects.gpkg"
    run_cli(["rejects", str(r.batch_id), "--export", str(out)], qwat.env(), check=True)
    got = pyogrio.read_dataframe(out, layer="pipes")
    assert len(got) == r.rejected and got.crs.to_epsg() == 21781
    delivered = pyogrio.read_dataframe(src, layer="pipes").set_index("id")
    for pid, g in zip(got["id"], got.geometry):
        want = shapely.get_coordinates(delivered.geometry[pid])
        assert np.abs(shapely.get_coordinates(g) - want).max() <= 1e-3, pid
    # node–edge topology: every loaded pipe joins two current nodes at its ends
    assert qwat.scalar(
        "SELECT count(*) FROM pipe_segments s LEFT JOIN pipe_points a ON a.code = "
        "s.start_point_code AND a.valid_to IS NULL LEFT JOIN pipe_points b ON b.code = "
        "s.end_point_code AND b.valid_to IS NULL WHERE s.valid_to IS NULL AND (a.id IS NULL "
        "OR b.id IS NULL OR ST_Distance(ST_StartPoint(s.geom), a.geom) > 0.001 OR "
        "ST_Distance(ST_EndPoint(s.geom), b.geom) > 0.001)") == 0
    t = r.topology
    assert t["segments"] == 4223 - reasons.get("self_loop", 0) - reasons.get(
        "duplicate_segment", 0) - reasons.get("length_under_min", 0)
    assert t["nodes"] == 5610 and t["isolated_points"] == 9035 - 5610
    assert 1 <= t["connected_components"] < t["segments"]
    assert t["largest_component_segments"] > 1000 and t["dangling_ends"] > 0
    # valves: attached to their pipe by pipe_id, else to the nearest pipe
    a = r.appurtenances
    assert a["read"] == 2312 and a["unattached"] == 0
    assert a["attached_by_id"] + a["attached_nearest"] == 2312 and a["attached_nearest"] > 0
    far = dict(qwat.rows(
        "SELECT 'attached_nearest' = ANY(v.flags), max(ST_Distance(v.geom, s.geom)) "
        "FROM pipe_points v JOIN pipe_segments s ON s.code = v.segment_code "
        "AND s.valid_to IS NULL WHERE v.valid_to IS NULL AND v.appurtenance = '阀门' GROUP BY 1"))
    assert far[False] < 0.01  # on the pipe its pipe_id names
    assert far[True] <= 5.0  # the nearest pipe, within --attach
    assert qwat.scalar("SELECT count(*) FROM pipe_points WHERE 'attached_nearest' = ANY(flags)"
                       ) == a["attached_nearest"]
    assert qwat.scalar("SELECT count(*) FROM pipe_points WHERE appurtenance = '阀门' AND "
                       "feature_code <> '51002202'") == 0
    # 3D geometry, positions where QWAT has them (EPSG:21781 → 2056, to a millimetre)
    assert qwat.scalar("SELECT count(*) FROM pipe_segments WHERE ST_NDims(geom) <> 3") == 0
    pipes = pyogrio.read_dataframe(src, layer="pipes", max_features=50).to_crs("EPSG:2056")
    stored = dict(qwat.rows("SELECT source_key, ST_AsBinary(geom) FROM pipe_segments WHERE "
                            "valid_to IS NULL AND starts_with(source_key, 'qwat:')"))
    checked = 0
    for pid, geom in zip(pipes["id"], pipes.geometry):
        wkb = stored.get(f"qwat:JS:{pid}")
        if wkb is not None:
            assert shapely.hausdorff_distance(geom, shapely.from_wkb(bytes(wkb))) < 0.001
            checked += 1
    assert checked >= 45
    # the values were translated into the dictionaries
    status = dict(qwat.rows("SELECT status, count(*) FROM pipe_segments WHERE "
                            "starts_with(source_key, 'qwat:') GROUP BY 1"))
    assert status.get("在用", 0) > 3000 and status.get("废弃", 0) > 0
    # a node's Z of 0 among elevations of 400–1,050 m is no elevation: no ground, flagged
    # no_z, the 0 kept in attrs (it was a ground of 0 m, a cross-section sloping to sea
    # level); the others keep their Z as ground. Counted independently on the delivery
    nodes = pyogrio.read_dataframe(src, layer="nodes")
    nz = shapely.get_coordinates(nodes.geometry.values, include_z=True)[:, 2]
    zero_ids = {str(i) for i, z in zip(nodes["id"], nz) if z == 0}
    got = qwat.rows("SELECT point_no, ground_elevation, 'no_z' = ANY(flags), "
                    "attrs->>'_geometry_z' FROM pipe_points WHERE valid_to IS NULL AND "
                    "starts_with(source_key, 'qwat:') AND appurtenance IS NULL")
    zero = {p for p, g, nozf, gz in got if p in zero_ids}
    assert zero and all(g is None and nozf and gz == "0.0"
                        for p, g, nozf, gz in got if p in zero_ids)
    assert all(g is not None and g > 300 for p, g, _f, _z in got
               if p not in zero_ids and not p.startswith("N"))
    assert any("points with Z 0" in n for n in r.notes), r.notes
    # reloading changes nothing and keeps every code
    r2, _ = load_pipes_files(qwat.conninfo, qwat.profile, None, lines=f"{src}:pipes",
                             points=f"{src}:nodes", valves=f"{src}:valves",
                             mapping=qwat.dir / "mapping.yaml", dataset="qwat")
    assert r2.unchanged == r.loaded and r2.inserted == 0


def test_qwat_topology_rebuilt_by_snapping_without_node_ids(qwat):
    """Without node ids the ends are snapped (1 cm): nearly the same nodes as QWAT's own."""
    mapping = qwat.dir / "mapping_snap.yaml"
    mapping.write_text(MAPPING.replace("start_no: node_a, end_no: node_b",
                                       "start_no: null, end_no: null"), encoding="utf-8")
    out = run_cli(["load", "pipes", "--lines", f"{qwat.src}:pipes", "--valves",
                   f"{qwat.src}:valves", "--mapping", str(mapping), "--snap", "0.01",
                   "--dataset", "qwat_snapped", "--json"], qwat.env(), check=True)
    import json

    rep = json.loads(out.stdout)
    assert rep["read"] == rep["loaded"] + rep["rejected"]
    t = rep["topology"]
    assert abs(t["nodes"] - 5610) <= 0.01 * 5610
    assert t["connected_components"] >= 1 and t["dangling_ends"] > 0
    assert rep["appurtenances"]["unattached"] == 0
    # the snapped ends sit exactly on their nodes
    assert qwat.scalar(
        "SELECT count(*) FROM pipe_segments s JOIN pipe_points a ON a.code = "
        "s.start_point_code AND a.valid_to IS NULL WHERE s.valid_to IS NULL AND "
        "starts_with(s.source_key, 'qwat_snapped:') AND ST_Distance(ST_StartPoint(s.geom), a.geom) > 1e-6") == 0
    ends = np.array(qwat.rows("SELECT count(*) FROM pipe_points WHERE starts_with("
                              "source_key, 'qwat_snapped:') AND feature = '起讫点'"))
    assert ends[0][0] > 0

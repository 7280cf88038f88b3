"""Replace mode on a GIS pipe network with valves: one delivery is one retire scope.

The delivery writes pipe_points twice (nodes, then valves); replace mode must retire only what
the WHOLE delivery left out, never the nodes because the valves came in a second write.
The network is hand-built, so the expected sets are known by construction.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from tests.conftest import run_cli

E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527, easting/northing)
NODES = {f"N{i}": (E0 + 40.0 * i, N0 + 10.0 * i) for i in range(1, 5)}
NODES["N5"] = (E0 + 40.0, N0 + 60.0)  # a reserved outlet on no line (an isolated point)
PIPES = {"S1": ("N1", "N2"), "S2": ("N2", "N3"), "S3": ("N3", "N4")}
FEATURE = {"N1": "起讫点", "N2": "直线点", "N3": "直线点", "N4": "起讫点", "N5": "预留口"}
ALL_POINTS = {"N1", "N2", "N3", "N4", "N5", "V1"}
MAPPING = """\
class: 给水
lines: {source_id: id, start_no: node_a, end_no: node_b, size: dn}
nodes: {point_no: id, feature: node_type}
valves: {point_no: id, segment_id: pipe_id, appurtenance: valve_type}
"""


def _write_network(path, nodes: list[str]):
    """Lines S1–S3 through N1…N4, the given nodes as a point layer, valve V1 halfway on S2."""
    lines = gpd.GeoDataFrame(
        {"id": list(PIPES), "node_a": [a for a, _ in PIPES.values()],
         "node_b": [b for _, b in PIPES.values()], "dn": [200, 200, 150]},
        geometry=[shapely.LineString([NODES[a], NODES[b]]) for a, b in PIPES.values()],
        crs="EPSG:4527")
    pts = gpd.GeoDataFrame({"id": nodes, "node_type": [FEATURE[n] for n in nodes]},
                           geometry=[shapely.Point(NODES[n]) for n in nodes], crs="EPSG:4527")
    (e2, n2), (e3, n3) = NODES["N2"], NODES["N3"]
    valves = gpd.GeoDataFrame({"id": ["V1"], "pipe_id": ["S2"], "valve_type": ["阀门"]},
                              geometry=[shapely.Point((e2 + e3) / 2, (n2 + n3) / 2)],
                              crs="EPSG:4527")
    path.unlink(missing_ok=True)
    for name, gdf in (("pipes", lines), ("nodes", pts), ("valves", valves)):
        gdf.to_file(path, layer=name, engine="pyogrio")
    return path


def _load(db, tmp_path, net, valves: bool = True):
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    out = run_cli(["load", "pipes", "--lines", f"{net}:pipes", "--points", f"{net}:nodes",
                   *(["--valves", f"{net}:valves"] if valves else []),
                   "--mapping", str(tmp_path / "m.yaml"), "--dataset", "net",
                   "--mode", "replace", "--json"], db.env(), check=True)
    return json.loads(out.stdout)


def _current_points(db) -> set[str]:
    return {r[0] for r in db.rows("SELECT point_no FROM pipe_points WHERE valid_to IS NULL "
                                  "AND starts_with(source_key, 'net:')")}


def _dangling_ends(db) -> int:
    """Current segments whose start or end point code names no current point."""
    return db.scalar(
        "SELECT count(*) FROM pipe_segments s WHERE s.valid_to IS NULL AND ("
        " NOT EXISTS (SELECT 1 FROM pipe_points p WHERE p.code = s.start_point_code "
        "             AND p.valid_to IS NULL) OR"
        " NOT EXISTS (SELECT 1 FROM pipe_points p WHERE p.code = s.end_point_code "
        "             AND p.valid_to IS NULL))")


def test_replace_reload_of_a_network_with_valves_keeps_every_node(fresh_db, tmp_path):
    net = _write_network(tmp_path / "net.gpkg", list(NODES))
    first = _load(fresh_db, tmp_path, net)
    assert (first["read"], first["loaded"], first["inserted"]) == (6 + 3, 6 + 3, 6 + 3)
    assert _current_points(fresh_db) == ALL_POINTS
    assert _dangling_ends(fresh_db) == 0
    codes = dict(fresh_db.rows("SELECT source_key, code FROM pipe_points WHERE valid_to IS NULL"))

    again = _load(fresh_db, tmp_path, net)
    assert (again["unchanged"], again["inserted"], again["updated"], again["retired"]) == \
        (6 + 3, 0, 0, 0)
    assert _current_points(fresh_db) == ALL_POINTS
    assert dict(fresh_db.rows("SELECT source_key, code FROM pipe_points "
                              "WHERE valid_to IS NULL")) == codes
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments WHERE valid_to IS NULL") == 3
    assert _dangling_ends(fresh_db) == 0
    # nothing was versioned: still one row per feature
    assert fresh_db.scalar("SELECT count(*) FROM pipe_points") == 6
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments") == 3


@pytest.mark.parametrize("gone", ["N5", "V1"])
def test_replace_without_one_point_retires_exactly_that_point(fresh_db, tmp_path, gone):
    net = _write_network(tmp_path / "net.gpkg", list(NODES))
    _load(fresh_db, tmp_path, net)
    # N5 leaves the node layer; V1 goes with the valve layer (the delivery has none)
    net = _write_network(tmp_path / "net.gpkg", [n for n in NODES if n != gone])
    r = _load(fresh_db, tmp_path, net, valves=gone != "V1")
    assert (r["retired"], r["unchanged"], r["inserted"], r["updated"]) == (1, 5 + 3, 0, 0)
    assert _current_points(fresh_db) == ALL_POINTS - {gone}
    assert {row[0] for row in fresh_db.rows(
        "SELECT point_no FROM pipe_points WHERE valid_to IS NOT NULL")} == {gone}
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments WHERE valid_to IS NULL") == 3
    assert _dangling_ends(fresh_db) == 0

"""A GIS pipe network whose line names a node id its node layer does not have: a node was made
at the line's end without a word — in a probe it landed exactly on the delivered node K4 under
another id (K9), two nodes at one place and the network broken there. Now told: the line's
row and id column named, and the delivered node lying at that end (rejected: the id is
wrong), else a warning that the node is made. Files written with GDAL (pyogrio), loaded into
a fresh PostGIS; expected values by construction (the coordinates and ids written here)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
import yaml

from cim.profile import DICTIONARY_DIR
from loaders.pipes.load import load_pipes_files, qa_pipes
from loaders.pipes.qa_rules import Rules

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def _network(path: Path) -> tuple[str, str]:
    """K1–K4 delivered 30 m apart; P2 names K9 (no such node) and ends on K4; P4 names K8
    (no such node) and ends where no node is."""
    lines = gpd.GeoDataFrame(
        [{"管段编号": "P1", "起点号": "K1", "终点号": "K2"},
         {"管段编号": "P2", "起点号": "K2", "终点号": "K9"},   # row 2: drawn to K4's place
         {"管段编号": "P3", "起点号": "K3", "终点号": "K4"},
         {"管段编号": "P4", "起点号": "K4", "终点号": "K8"}],  # row 4: K8 nowhere delivered
        geometry=[shapely.LineString([(E, N), (E + 30, N)]),
                  shapely.LineString([(E + 30, N), (E + 90, N)]),
                  shapely.LineString([(E + 60, N), (E + 90, N)]),
                  shapely.LineString([(E + 90, N), (E + 90, N + 40)])], crs="EPSG:4527")
    pyogrio.write_dataframe(lines, path, layer="pipes")
    nodes = gpd.GeoDataFrame({"点号": ["K1", "K2", "K3", "K4"], "地面高程": [40.0] * 4},
                             geometry=[shapely.Point(E + 30 * k, N) for k in range(4)],
                             crs="EPSG:4527")
    pyogrio.write_dataframe(nodes, path, layer="nodes", append=True)
    return f"{path}:pipes", f"{path}:nodes"


def test_a_line_naming_an_absent_node_on_a_delivered_one_is_rejected_naming_it(fresh_db,
                                                                              tmp_path):
    lines, nodes = _network(tmp_path / "net.gpkg")
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                             class_opt="给水", dataset="absent")
    got = {(f.rule, f.severity, f.table, f.row, f.field) for f in qa.findings}
    assert got == {("node_at_other_point", "error", "net.gpkg:pipes", 2, "终点号"),
                   ("node_not_in_points", "warning", "net.gpkg:pipes", 4, "终点号")}, got
    (f,) = [f for f in qa.findings if f.rule == "node_at_other_point"]
    assert "K9" in f.message_en and "K4" in f.message_en and "net.gpkg:nodes row 4" in \
        f.message_en, f.message_en
    # P2 rejected naming its row and column; the node made for K9 (on K4) is not loaded
    assert fresh_db.rows("SELECT row_number, reason, field, attrs->>'管段编号' FROM "
                         "load_rejects WHERE batch_id = %s", (r.batch_id,)) == [
        (2, "node_at_other_point", "终点号", "P2")]
    segs = dict(fresh_db.rows("SELECT source_key, flags FROM pipe_segments WHERE "
                              "batch_id = %s", (r.batch_id,)))
    assert {k: "node_not_in_points" in f for k, f in segs.items()} == {
        "absent:JS:P1": False, "absent:JS:P3": False, "absent:JS:P4": True}, segs
    points = {no: (x, y) for no, x, y in fresh_db.rows(
        "SELECT point_no, ST_X(geom), ST_Y(geom) FROM pipe_points WHERE batch_id = %s",
        (r.batch_id,))}
    assert set(points) == {"K1", "K2", "K3", "K4", "K8"}, points
    assert points["K8"] == (E + 90, N + 40)


def test_without_a_point_layer_made_nodes_are_no_finding(tmp_path, jining_profile):
    """Lines with node ids and no --points: every node is made, as documented — nothing to
    tell per line."""
    lines, _nodes = _network(tmp_path / "net.gpkg")
    qa = qa_pipes(jining_profile, lines=lines, class_opt="给水")
    assert not [f for f in qa.findings if f.rule.startswith("node_")], qa.text()


def test_the_rules_are_the_citys_data(tmp_path, jining_profile):
    """The platform's rules file holds both rules (a city's copy edits them); a copy made
    before they were added gets them still — no check silently off."""
    r = Rules.load()
    assert (r.rules["node_at_other_point"]["severity"],
            r.rules["node_not_in_points"]["severity"]) == ("error", "warning")
    raw = yaml.safe_load((DICTIONARY_DIR / "pipe_qa_rules.yaml").read_text(encoding="utf-8"))
    old = {**raw, "rules": [x for x in raw["rules"] if not x["id"].startswith("node_")]}
    lenient = {**raw, "rules": [{**x, "severity": "warning"} if x["id"] ==
                                "node_at_other_point" else x for x in raw["rules"]]}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old, allow_unicode=True), "utf-8")
    (tmp_path / "lenient.yaml").write_text(yaml.safe_dump(lenient, allow_unicode=True),
                                           "utf-8")
    assert Rules.load(path=tmp_path / "old.yaml").enabled("node_at_other_point")
    assert Rules.load(path=tmp_path / "lenient.yaml").rules["node_at_other_point"][
        "severity"] == "warning"

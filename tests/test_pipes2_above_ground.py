"""A buried pipe given only its pipe elevation (高程, no 埋深) above its point's 地面高程 was loaded
above the ground without a word (in every cross-section and clearance). Now flagged
``above_ground`` naming the segment table's row and elevation column, the point and its
ground; a pipe laid above ground (架空, pipe_burial.csv JK) is not held to it. Survey CSVs and
a GIS layer written here; expected values by construction (the heights written here)."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import shapely

from loaders.pipes.load import load_pipes_files, qa_pipes

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def _survey(folder) -> list:
    folder.mkdir()
    pts = folder / "给水管线点.csv"
    pts.write_text("物探点号,特征,附属物,X,Y,地面高程\n" + "".join(
        f"JS{k},直线点,,{N},{E + 30 * (k - 1)},40.00\n" for k in range(1, 6)), encoding="utf-8")
    segs = folder / "给水管线段.csv"
    segs.write_text("起始点号,终止点号,起点埋深,终点埋深,起点高程,终点高程,埋设方式,材质,管径\n"
                    + "JS1,JS2,,,38.80,38.70,直埋,PE,200\n"    # row 2: below ground
                    + "JS2,JS3,,,38.70,40.60,,PE,200\n"         # row 3: its end 0.6 m above
                    + "JS3,JS4,,,40.60,40.60,架空,PE,200\n"     # row 4: aerial, not held
                    + "JS4,JS5,,,40.03,40.04,直埋,PE,200\n",    # row 5: within 0.05 m
                    encoding="utf-8")
    return [pts, segs]


def test_a_buried_pipe_above_the_ground_is_flagged_naming_row_and_column(fresh_db, tmp_path):
    files = _survey(tmp_path / "s")
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, dataset="ag")
    assert r.rejected == 0, r.text()
    (f,) = [f for f in qa.findings if f.rule == "above_ground"]
    assert (f.severity, f.table, f.row, f.field) == (
        "warning", "给水管线段.csv", 3, "终点高程"), f
    assert "JS3" in f.message_en and "0.600 m above 地面高程 40" in f.message_en, f.message_en
    assert "给水管线点.csv row 4" in f.message_en, f.message_en
    flags = dict(fresh_db.rows("SELECT start_point_no || '-' || end_point_no, flags FROM "
                               "pipe_segments WHERE batch_id = %s", (r.batch_id,)))
    assert {k: "above_ground" in v for k, v in flags.items()} == {
        "JS1-JS2": False, "JS2-JS3": True, "JS3-JS4": False, "JS4-JS5": False}, flags


def gis_pipe(path, heights: dict, ground: float = 40.0):
    """A GeoPackage GIS network of one 30 m pipe P1 (layer pipes, K1 → K2, ``heights`` its
    depth/elevation fields) and its two nodes (layer nodes, 地面高程 ``ground``)."""
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        [{"管段编号": "P1", "起点号": "K1", "终点号": "K2", **heights}],
        geometry=[shapely.LineString([(E, N), (E + 30, N)])], crs="EPSG:4527"), path,
        layer="pipes")
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        {"点号": ["K1", "K2"], "地面高程": [ground, ground]},
        geometry=[shapely.Point(E, N), shapely.Point(E + 30, N)], crs="EPSG:4527"), path,
        layer="nodes", append=True)
    return path


def test_a_gis_line_given_elevations_only_is_held_to_its_nodes_ground(tmp_path,
                                                                      jining_profile):
    """A GIS line with 起点高程/终点高程 and no depth, its start above its node's 地面高程."""
    path = gis_pipe(tmp_path / "g.gpkg", {"起点高程": 41.0, "终点高程": 38.5})
    qa = qa_pipes(jining_profile, lines=f"{path}:pipes", points=f"{path}:nodes",
                  class_opt="给水")
    (f,) = [f for f in qa.findings if f.rule == "above_ground"]
    assert (f.table, f.row, f.field) == ("g.gpkg:pipes", 1, "起点高程"), f
    assert "start point K1" in f.message_en and "1.000 m above" in f.message_en, f.message_en


def test_a_citys_rule_may_name_one_burial_code_as_a_text():
    """``above_ground_burial: JK`` (one code, no list) was read as the codes J and K: every
    架空 pipe flagged."""
    from loaders.pipes.heights import aerial_burials
    from loaders.pipes.qa_rules import Rules

    rule = {"id": "above_ground", "severity": "warning"}
    for given, want in (("JK", {"JK"}), (["JK", "GG"], {"JK", "GG"}), (None, set())):
        r = Rules(rules={"above_ground": {**rule, "above_ground_burial": given}},
                  tolerances={}, path="city.yaml")
        assert aerial_burials(r) == want, given

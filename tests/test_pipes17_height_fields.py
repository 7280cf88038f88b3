"""A segment end's heights that disagree with its point's ground (elevation_mismatch, a
survey's error; heights_disagree, a GIS network's warning) or that are missing
(missing_height) named no field: the reject and the QA report gave the row but not which
columns to look at. They now name that end's depth and elevation columns as the table has
them. Deliveries written here; the expected columns are the headers written here."""

from __future__ import annotations

from loaders.pipes.load import qa_pipes
from tests.test_pipes2_above_ground import gis_pipe

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def test_survey_height_findings_name_the_ends_columns(tmp_path, jining_profile):
    pts = tmp_path / "给水管线点.csv"
    pts.write_text("物探点号,特征,附属物,X,Y,地面高程\n" + "".join(
        f"JS{k},直线点,,{N},{E + 30 * (k - 1)},40.00\n" for k in range(1, 5)), encoding="utf-8")
    segs = tmp_path / "给水管线段.csv"
    segs.write_text("起始点号,终止点号,起点埋深,终点埋深,起点管顶高程,终点管顶高程,材质,管径\n"
                    + "JS1,JS2,1.20,1.20,38.80,38.80,PE,200\n"   # row 2: consistent
                    + "JS2,JS3,1.20,1.20,38.80,37.00,PE,200\n"   # row 3: end off by 1.8 m
                    + "JS3,JS4,,1.20,,38.80,PE,200\n",           # row 4: start has neither
                    encoding="utf-8")
    qa = qa_pipes(jining_profile, [pts, segs])
    got = {(f.rule, f.table, f.row, f.field) for f in qa.findings
           if f.rule in ("elevation_mismatch", "missing_height")}
    assert got == {("elevation_mismatch", "给水管线段.csv", 3, "终点埋深/终点管顶高程"),
                   ("missing_height", "给水管线段.csv", 4, "起点埋深/起点管顶高程")}, got


def test_gis_heights_disagree_names_the_ends_columns(tmp_path, jining_profile):
    path = gis_pipe(tmp_path / "g.gpkg", {"起点埋深": 1.0, "终点埋深": 1.0,
                                          "起点高程": 39.0, "终点高程": 35.0})
    qa = qa_pipes(jining_profile, lines=f"{path}:pipes", points=f"{path}:nodes",
                  class_opt="给水")
    got = {(f.rule, f.table, f.row, f.field) for f in qa.findings
           if f.rule == "heights_disagree"}
    assert got == {("heights_disagree", "g.gpkg:pipes", 1, "终点埋深/终点高程")}, got


def test_heights_worked_out_from_the_ground_are_stored_as_surveyed(tmp_path, fresh_db):
    """An end given its 埋深 only is stored at 地面高程 − 埋深, one given its 管线高程 only at
    that depth: 36.40 − 1.20 was stored as 35.199999999999996 and 36.40 − 35.20 as
    1.1999999999999957, in the columns and the line's Z, and served so. Expected: the decimal
    differences of the values written here."""
    from loaders.pipes.load import load_pipes_files

    pts = tmp_path / "给水管线点.csv"
    pts.write_text("物探点号,特征,附属物,X,Y,地面高程\n"
                   f"JS1,直线点,,{N},{E},36.40\nJS2,直线点,,{N},{E + 30},36.40\n",
                   encoding="utf-8")
    segs = tmp_path / "给水管线段.csv"
    segs.write_text("起始点号,终止点号,起点埋深,终点埋深,起点高程,终点高程,材质,管径\n"
                    "JS1,JS2,1.20,,,35.20,PE,200\n", encoding="utf-8")
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [pts, segs], dataset="hd")
    assert r.rejected == 0, r.text()
    (row,) = fresh_db.rows(
        "SELECT start_elevation, end_depth, ST_Z(ST_StartPoint(geom)), ST_Z(ST_EndPoint(geom)),"
        " start_depth, end_elevation FROM pipe_segments WHERE batch_id = %s", (r.batch_id,))
    assert row == (35.2, 1.2, 35.2, 35.2, 1.2, 35.2), row

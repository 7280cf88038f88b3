"""Pipe surveys (地下管线普查): survey tables in every delivery format, QA, 3D geometry, topology,
codes and the OGC API — against the real PostGIS and real files."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pyproj
import pytest
import requests

from cim.coding.scheme import decode
from cim.errors import ConfigError, InputError
from loaders.pipes.attrs_json import attrs_texts as _attrs_texts
from loaders.pipes.load import load_pipes_files, qa_pipes, read_delivery
from loaders.sources.tables import read_tables
from tests.conftest import SAMPLES, run_cli

PIPES = SAMPLES / "pipes"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"

# the deliberate survey errors of the sample (data_samples/README.md): rule -> point/segment ids
SEEDED = {
    ("duplicate_point", ("JS0094",)),
    ("point_inconsistent", ("JS0261",)),
    ("length_under_min", ("JS0184", "JS0425")),
    ("elevation_mismatch", ("YS0015", "YS0016")),
    ("reverse_slope", ("YS0058", "YS0059")),
    ("missing_point", ("WS9001", "WS0194")),
    ("depth_over_max", ("WS0044", "WS0045")),
    ("steep_slope", ("RQ0232", "RQ0280")),
    ("feature_and_appurtenance", ("RQ0047",)),
    ("orphan_point", ("RQ0281",)),
    ("reversed_segment", ("RL0110", "RL0109")),
    ("junction_degree", ("RL0036",)),
    ("self_loop", ("DL0291", "DL0291")),
    ("duplicate_segment", ("TX0238", "TX0239")),
    ("length_over_max", ("TX0057", "TX0058")),
}
ERROR_RULES = {"duplicate_point", "length_under_min", "elevation_mismatch", "missing_point",
               "reversed_segment", "self_loop", "duplicate_segment"}


def _found(qa) -> set:
    out = set()
    for f in qa.findings:
        n = 1 if f.layer == "points" else 2
        out.add((f.rule, tuple(f.ids[:n])))
    return out


# -- QA ----------------------------------------------------------------------------------------
def test_qa_finds_exactly_the_seeded_errors(jining_profile):
    qa = qa_pipes(jining_profile, [PIPES])
    assert _found(qa) == SEEDED
    assert qa.points > 2000 and qa.segments > 2000
    for f in qa.findings:
        assert f.table and f.row > 0 and f.message_zh and f.message_en
        assert f.severity == ("error" if f.rule in ERROR_RULES else "warning"), f.rule
        assert "{" not in f.message_zh + f.message_en, f  # every placeholder filled
    # the row is the one a person finds in the file (Excel row / CSV line)
    dup = next(f for f in qa.findings if f.rule == "duplicate_point")
    ws = openpyxl.load_workbook(PIPES / "管线普查成果表.xlsx")["给水管线点"]
    assert ws.cell(dup.row, 2).value == "JS0094"
    rev = next(f for f in qa.findings if f.rule == "reversed_segment")
    lines = (PIPES / "热力_管线段成果表.csv").read_bytes().decode("gbk").splitlines()
    assert lines[rev.row - 1].startswith("RL0110,RL0109,")


def test_qa_cli_writes_json_csv_and_html(jining_profile, tmp_path):
    env = {**os.environ, "CIM_PROFILE": str(jining_profile.path)}
    html = tmp_path / "qa.html"
    out = run_cli(["qa", "pipes", str(PIPES), "--json", "--report", str(html)], env, check=True)
    data = json.loads(out.stdout)
    assert data["errors"] == 7 and data["warnings"] == 8 and len(data["findings"]) == 15
    assert "管线普查成果质量检查报告" in html.read_text(encoding="utf-8")
    out = run_cli(["qa", "pipes", str(PIPES), "--report", str(tmp_path / "qa.csv")], env,
                  check=True)
    assert "reversed_segment" in out.stdout and "7 errors, 8 warnings" in out.stdout
    with open(tmp_path / "qa.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["rule"] for r in rows} == {rule for rule, _ in SEEDED}
    assert all(r["message_zh"] and r["message_en"] for r in rows)


# -- the sample survey loaded into the session database ----------------------------------------
def test_sample_load_accounts_for_every_row(db):
    r = db.pipes_report
    assert r.status == "succeeded"
    assert r.read == r.loaded + r.rejected
    assert r.read == db.pipes_qa.points + db.pipes_qa.segments
    reasons = dict(db.rows("SELECT reason, count(*) FROM load_rejects WHERE batch_id = %s "
                           "GROUP BY 1", (r.batch_id,)))
    assert reasons == {rule: 1 for rule in ERROR_RULES}
    # rejects keep the row and where it came from, so an engineer can fix and reload it
    attrs = db.scalar("SELECT attrs FROM load_rejects WHERE batch_id = %s AND reason = "
                      "'self_loop'", (r.batch_id,))
    assert attrs["_table"] == "电力通信_管线段成果表.csv" and attrs["起始点号"] == "DL0291"
    # warnings load with the rule id as a flag
    flagged = dict(db.rows(
        "SELECT f, count(*) FROM (SELECT unnest(flags) f FROM pipe_points WHERE batch_id = %s "
        "UNION ALL SELECT unnest(flags) FROM pipe_segments WHERE batch_id = %s) q GROUP BY 1",
        (r.batch_id, r.batch_id)))
    assert flagged == {rule: 1 for rule, _ in SEEDED if rule not in ERROR_RULES}
    # the batch's checksum covers every file of the delivery, not only the first
    from loaders.engine.checksum import files_sha256

    files = sorted((SAMPLES / "pipes").iterdir())
    assert len(files) > 1
    assert db.scalar("SELECT source_sha256 FROM load_batches WHERE id = %s",
                     (r.batch_id,)) == files_sha256(files)


def test_every_segment_is_3d_at_ground_minus_depth(db):
    n = db.scalar("SELECT count(*) FROM pipe_segments WHERE valid_to IS NULL")
    assert n > 2400
    assert db.scalar("SELECT count(*) FROM pipe_segments WHERE ST_NDims(geom) <> 3 "
                     "OR ST_Z(ST_StartPoint(geom)) IS NULL") == 0
    assert db.scalar("SELECT DISTINCT GeometryType(geom) FROM pipe_segments") == "LINESTRING"
    assert db.scalar("SELECT coord_dimension FROM geometry_columns WHERE f_table_name = "
                     "'pipe_segments'") == 3
    rows = db.rows(
        "SELECT s.code, ST_Z(ST_StartPoint(s.geom)), ST_Z(ST_EndPoint(s.geom)), s.start_depth, "
        "s.end_depth, a.ground_elevation, b.ground_elevation, "
        "ST_Distance(ST_StartPoint(s.geom), a.geom), ST_Distance(ST_EndPoint(s.geom), b.geom) "
        "FROM pipe_segments s JOIN pipe_points a ON a.code = s.start_point_code "
        "AND a.valid_to IS NULL JOIN pipe_points b ON b.code = s.end_point_code "
        "AND b.valid_to IS NULL WHERE s.valid_to IS NULL")
    assert len(rows) == n, "every segment references current start and end points"
    for code, zs, ze, ds, de, gs, ge, dist_s, dist_e in rows:
        assert abs(zs - (gs - ds)) <= 0.05 + 1e-9, code
        assert abs(ze - (ge - de)) <= 0.05 + 1e-9, code
        assert dist_s < 1e-6 and dist_e < 1e-6, code  # the segment runs point to point
    # points are PointZ at ground elevation
    assert db.scalar("SELECT count(*) FROM pipe_points WHERE valid_to IS NULL AND "
                     "abs(ST_Z(geom) - ground_elevation) > 1e-9") == 0


def test_codes_classes_and_feature_codes(db):
    rows = db.rows("SELECT code, pipe_class, class_name, subclass_code, subclass_name, "
                   "feature_code, district_code FROM pipe_segments WHERE valid_to IS NULL")
    classes = {(r[2], r[4]) for r in rows}
    assert {("给水", None), ("排水", "雨水"), ("排水", "污水"), ("燃气", None), ("热力", None),
            ("电力", None), ("通信", None)} == classes
    for code, pclass, name, sub, _subname, feature, district in rows:
        d = decode(code, db.profile)
        assert (d.layer, d.layer_code, d.class_code, d.district_code) == \
            ("pipe_segments", "83", pclass, district)
        assert d.class_name == name
        assert feature == f"5{int(pclass)}{sub}1000"
    points = dict(db.rows("SELECT point_no, feature_code FROM pipe_points "
                          "WHERE valid_to IS NULL AND point_no IN ('YS0001', 'JS0002', 'RQ0047')"))
    assert points["YS0001"] == "52012201"  # 窨井 of the storm sewer (CJJ 61 example)
    assert points["JS0002"] == "51002104"  # 四通 of the water supply
    assert points["RQ0047"] == "53002202"  # 阀门: the appurtenance wins when both are filled
    pcodes = db.rows("SELECT code FROM pipe_points WHERE valid_to IS NULL")
    assert all(decode(c, db.profile).layer_code == "82" for (c,) in pcodes)
    # box sections keep width × height, round pipes their diameter
    box = db.rows("SELECT DISTINCT width_mm, height_mm, diameter_mm FROM pipe_segments "
                  "WHERE class_name = '电力'")
    assert (600.0, 400.0, None) in box
    assert db.scalar("SELECT count(*) FROM pipe_segments WHERE class_name = '给水' AND "
                     "diameter_mm IS NULL") == 0
    # dictionaries: 球墨铸铁 → QM, 直埋 → ZM
    assert ("QM", "ZM") in set(db.rows("SELECT DISTINCT material_code, burial_code FROM "
                                       "pipe_segments WHERE class_name = '给水'"))


def test_topology_report_of_the_sample(db):
    t = db.pipes_report.topology
    assert t["segments"] == db.pipes_report.loaded - db.scalar(
        "SELECT count(*) FROM pipe_points WHERE batch_id = %s", (db.pipes_report.batch_id,))
    # each class network is one connected piece; the dangling ends are the stubs and laterals
    assert t["connected_components"] == 7
    assert set(t["by_class"]) == {"01", "02", "03", "04", "05", "06"}
    assert t["isolated_points"] == 1  # the orphan point RQ0281
    assert t["dangling_ends"] > 0


def test_reload_keeps_codes_and_changes_nothing(db):
    before = dict(db.rows("SELECT source_key, code FROM pipe_segments WHERE valid_to IS NULL"))
    r, _ = load_pipes_files(db.conninfo, db.profile, [PIPES])
    assert r.inserted == 0 and r.updated == 0 and r.unchanged == r.loaded
    assert dict(db.rows("SELECT source_key, code FROM pipe_segments WHERE valid_to IS NULL")) \
        == before


def test_api_serves_pipe_collections_with_z(api, db):
    ids = {c["id"] for c in requests.get(f"{api}/collections?f=json", timeout=30)
           .json()["collections"]}
    assert {"pipe_points", "pipe_segments", "components"} <= ids
    code, z0, z1, x, y = db.rows(
        "SELECT code, ST_Z(ST_StartPoint(geom)), ST_Z(ST_EndPoint(geom)), "
        "ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM pipe_segments "
        "WHERE valid_to IS NULL ORDER BY code LIMIT 1")[0]
    f = requests.get(f"{api}/collections/pipe_segments/items/{code}?f=json", timeout=30).json()
    coords = f["geometry"]["coordinates"]
    assert f["geometry"]["type"] == "LineString" and all(len(c) == 3 for c in coords)
    assert abs(coords[0][2] - z0) < 1e-6 and abs(coords[-1][2] - z1) < 1e-6
    lon, lat = pyproj.Transformer.from_crs("EPSG:4527", "OGC:CRS84", always_xy=True) \
        .transform(x, y)
    assert abs(coords[0][0] - lon) < 1e-8 and abs(coords[0][1] - lat) < 1e-8
    # in the storage CRS (northing, easting per its axis order) with the same heights
    r = requests.get(f"{api}/collections/pipe_segments/items/{code}",
                     params={"f": "json", "crs": EPSG + "4527"}, timeout=30).json()
    n, e, z = r["geometry"]["coordinates"][0]
    assert abs(e - x) < 1e-3 and abs(n - y) < 1e-3 and abs(z - z0) < 1e-6
    fc = requests.get(f"{api}/collections/pipe_points/items",
                      params={"f": "json", "limit": 5, "filter": "class_name = '燃气'"},
                      timeout=30).json()
    assert fc["numberReturned"] == 5
    assert all(len(ft["geometry"]["coordinates"]) == 3 and ft["properties"]["class_name"] == "燃气"
               for ft in fc["features"])


# -- delivery formats -----------------------------------------------------------------------------
E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527)


def _survey(prefix="JS", n=5, step=30.0):
    pts = pd.DataFrame({
        "物探点号": [f"{prefix}{i:03d}" for i in range(1, n + 1)],
        "特征": ["预留口"] + ["直线点"] * (n - 2) + ["预留口"],
        "附属物": [None] * n,
        "X": [N0 + i * step for i in range(n)],  # northing
        "Y": [E0 + i * 5.0 for i in range(n)],  # zone-prefixed easting
        "地面高程": [36.0 - 0.01 * i for i in range(n)],
    })
    segs = pd.DataFrame({
        "起始点号": pts["物探点号"][:-1].to_list(), "终止点号": pts["物探点号"][1:].to_list(),
        "起点埋深": [1.2] * (n - 1), "终点埋深": [1.2] * (n - 1),
        "材质": ["PE"] * (n - 1), "管径": ["DN160"] * (n - 1),
    })
    return pts, segs


def _check_loaded(db, r, n_points=5, n_segments=4, e0=E0, n0=N0):
    assert r.read == r.loaded + r.rejected == n_points + n_segments, r.text()
    x, y, z = db.rows("SELECT ST_X(geom), ST_Y(geom), ST_Z(geom) FROM pipe_points "
                      "WHERE batch_id = %s ORDER BY point_no LIMIT 1", (r.batch_id,))[0]
    assert abs(x - e0) < 1e-3 and abs(y - n0) < 1e-3 and abs(z - 36.0) < 1e-9
    assert db.scalar("SELECT count(*) FROM pipe_segments WHERE batch_id = %s",
                     (r.batch_id,)) == n_segments


def test_csv_gbk_utf8_and_bom_with_class_from_name_option_or_column(fresh_db, tmp_path):
    pts, segs = _survey()
    pts.to_csv(tmp_path / "给水管线点.csv", index=False, encoding="gbk")
    segs.to_csv(tmp_path / "给水管线段.csv", index=False, encoding="gbk")
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                             [tmp_path / "给水管线点.csv", tmp_path / "给水管线段.csv"])
    _check_loaded(fresh_db, r)
    assert qa.findings == []
    assert any("GB18030" in n for n in r.notes)
    assert fresh_db.scalar("SELECT DISTINCT class_name FROM pipe_points WHERE batch_id = %s",
                           (r.batch_id,)) == "给水"
    # no class in the names: --class, or a class column (UTF-8 with BOM, header variants)
    d = tmp_path / "plain"
    d.mkdir()
    pts2, segs2 = _survey("P")
    pts2.to_csv(d / "points.csv", index=False, encoding="utf-8")
    segs2.rename(columns={"起始点号": "起点号", "终止点号": "终点号", "起点埋深": "起点埋深(m)"}
                 ).to_csv(d / "segments.csv", index=False, encoding="utf-8")
    with pytest.raises(InputError, match="--class"):
        read_delivery(fresh_db.profile, [d])
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [d], class_opt="燃气")
    _check_loaded(fresh_db, r2)
    pts3, segs3 = _survey("Q")
    pts3.insert(0, "管线类别", "热力")
    segs3.insert(0, "管线类别", "RL")
    pts3.to_csv(tmp_path / "a_points.csv", index=False, encoding="utf-8-sig")
    segs3.to_csv(tmp_path / "a_segments.csv", index=False, encoding="utf-8-sig")
    r3, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                             [tmp_path / "a_points.csv", tmp_path / "a_segments.csv"])
    _check_loaded(fresh_db, r3)
    assert fresh_db.scalar("SELECT DISTINCT class_name FROM pipe_segments WHERE batch_id = %s",
                           (r3.batch_id,)) == "热力"


def test_a_delivered_row_column_is_kept_and_the_table_added(jining_profile, tmp_path):
    # where a row came from (_table, _row) is added to its attributes unless the delivery
    # has such a column, which is never overwritten
    pts, segs = _survey()
    pts["_row"] = [f"r{i}" for i in range(len(pts))]
    pts.to_csv(tmp_path / "给水管线点.csv", index=False, encoding="utf-8")
    segs.to_csv(tmp_path / "给水管线段.csv", index=False, encoding="utf-8")
    d = read_delivery(jining_profile, [tmp_path / "给水管线点.csv", tmp_path / "给水管线段.csv"])
    p = {x.point_no: x for x in d.points}["JS002"]
    # each name once, in order: the JSON written (its last "_row" would win) keeps the delivered
    assert list(p.attrs) == ["物探点号", "特征", "附属物", "X", "Y", "地面高程", "_row", "_table"]
    assert json.loads(_attrs_texts([p.attrs] * 20)[0])["_row"] == "r1"
    assert dict(p.attrs) == {"物探点号": "JS002", "特征": "直线点", "附属物": None,
                             "X": str(N0 + 30.0), "Y": str(E0 + 5.0),  # as delivered
                             "地面高程": str(36.0 - 0.01),
                             "_row": "r1", "_table": "给水管线点.csv"}
    s = d.segments[0]
    assert (s.attrs["_table"], s.attrs["_row"], s.attrs["起始点号"]) == \
        ("给水管线段.csv", 2, "JS001")


def test_repeated_and_blank_headers_keep_every_column(tmp_path):
    # a repeated header is renamed, never onto a header the table already has: every cell of
    # the row stays in its attributes
    f = tmp_path / "给水管线点.csv"
    f.write_text("物探点号,X,Y,X,X_2,,column_1\nJS1,1,2,3,4,5,6\n", encoding="utf-8")
    (t,) = read_tables(f, {"物探点号", "x", "y"})
    assert t.headers == ["物探点号", "X", "Y", "X_3", "X_2", "column_6", "column_1"]
    assert dict(zip(t.headers, t.rows[0])) == {
        "物探点号": "JS1", "X": "1", "Y": "2", "X_3": "3", "X_2": "4", "column_6": "5",
        "column_1": "6"}


def test_excel_xls_dbf_and_geopackage_tables(fresh_db, tmp_path):
    pts, segs = _survey("W")
    # one workbook, a sheet pair per class (雨水 and a second class)
    with pd.ExcelWriter(tmp_path / "survey.xlsx") as xw:
        pts.to_excel(xw, sheet_name="雨水管线点", index=False)
        segs.assign(起点高程=34.8).to_excel(xw, sheet_name="雨水管线段", index=False)
        p2, s2 = _survey("G")
        p2["Y"] += 40.0
        p2.to_excel(xw, sheet_name="燃气点", index=False)
        s2.to_excel(xw, sheet_name="燃气段", index=False)
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "survey.xlsx"])
    assert r.read == r.loaded + r.rejected == 18
    assert qa.findings == []
    assert dict(fresh_db.rows("SELECT class_name || coalesce(subclass_name, ''), count(*) FROM "
                              "pipe_segments WHERE batch_id = %s GROUP BY 1", (r.batch_id,))) \
        == {"排水雨水": 4, "燃气": 4}
    # DBF attribute tables (no geometry) and a GeoPackage with two attribute tables
    d = tmp_path / "dbf"
    d.mkdir()
    p3, s3 = _survey("T")
    pyogrio.write_dataframe(p3, d / "TX_points.dbf", driver="ESRI Shapefile", encoding="GBK")
    pyogrio.write_dataframe(s3, d / "TX_lines.dbf", driver="ESRI Shapefile", encoding="GBK")
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [d])
    _check_loaded(fresh_db, r2)
    assert fresh_db.scalar("SELECT DISTINCT class_name FROM pipe_points WHERE batch_id = %s",
                           (r2.batch_id,)) == "通信"
    p4, s4 = _survey("E")
    gpkg = tmp_path / "power.gpkg"
    pyogrio.write_dataframe(p4, gpkg, layer="电力管线点")
    pyogrio.write_dataframe(s4, gpkg, layer="电力管线段", append=False)
    r3, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [gpkg])
    _check_loaded(fresh_db, r3)


def test_old_excel_xls(fresh_db, tmp_path):
    """Old Excel (.xls), as many survey offices still deliver (written with xlwt)."""
    xlwt = pytest.importorskip("xlwt", reason="xlwt (test-only writer of .xls) not installed")
    p4, s4 = _survey("E")
    book = xlwt.Workbook(encoding="utf-8")
    for name, df in (("热力管线点成果表", p4), ("热力管线段成果表", s4)):
        sh = book.add_sheet(name)
        sh.write(0, 0, f"{name}（测试）")  # a title row above the header
        for j, c in enumerate(df.columns):
            sh.write(1, j, c)
        for i, rec in enumerate(df.itertuples(index=False), start=2):
            for j, v in enumerate(rec):
                if v is not None and not (isinstance(v, float) and np.isnan(v)):
                    sh.write(i, j, v)
    book.save(str(tmp_path / "heat.xls"))
    tables = read_tables(tmp_path / "heat.xls", {"物探点号", "x", "y", "起始点号", "终止点号"})
    assert [t.row_numbers[0] for t in tables] == [3, 3]
    r4, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "heat.xls"],
                             dataset="heat")
    _check_loaded(fresh_db, r4)


def test_mapping_file_six_digit_eastings_and_clear_errors(fresh_db, tmp_path):
    pts, segs = _survey("M")
    # the surveyor's own headers and six-digit (central-meridian) eastings, EPSG:4548
    t = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4548", always_xy=True)
    e, n = t.transform(pts["Y"].to_numpy(), pts["X"].to_numpy())
    pts = pts.assign(Y=e, X=n).rename(columns={"物探点号": "测点编号", "X": "北坐标H",
                                                "Y": "东坐标H", "地面高程": "地面"})
    pts.to_csv(tmp_path / "给水点.csv", index=False)
    segs.rename(columns={"起始点号": "上游点", "终止点号": "下游点"}).to_csv(
        tmp_path / "给水段.csv", index=False)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("points: {point_no: 测点编号, x: 北坐标H, y: 东坐标H, ground_elevation: 地面}\n"
                       "segments: {start_no: 上游点, end_no: 下游点}\n", encoding="utf-8")
    files = [tmp_path / "给水点.csv", tmp_path / "给水段.csv"]
    with pytest.raises(InputError):  # six-digit eastings outside the storage zone: say so
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, mapping=mapping,
                         crs="EPSG:4527")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, mapping=mapping,
                            crs="EPSG:4548")
    _check_loaded(fresh_db, r)
    assert r.source_crs == "EPSG:4548"
    # a mapping naming a column the table lacks names the table and the column
    bad = tmp_path / "bad.yaml"
    bad.write_text("points: {point_no: 点号XX}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="点号XX"):
        read_delivery(fresh_db.profile, files, mapping=bad)
    # X and Y exchanged (X holds the eastings): a clear error, not points in the sea
    p0, _ = _survey("S")
    p0.rename(columns={"X": "Y", "Y": "X"}).to_csv(tmp_path / "热力点.csv", index=False)
    _survey("S")[1].to_csv(tmp_path / "热力段.csv", index=False)
    with pytest.raises(InputError, match="exchanged"):
        read_delivery(fresh_db.profile, [tmp_path / "热力点.csv", tmp_path / "热力段.csv"])


def test_cli_load_pipes_json(fresh_db, tmp_path):
    pts, segs = _survey("C")
    pts.to_csv(tmp_path / "通信管线点.csv", index=False)
    segs.to_csv(tmp_path / "通信管线段.csv", index=False)
    out = run_cli(["load", "pipes", str(tmp_path / "通信管线点.csv"),
                   str(tmp_path / "通信管线段.csv"), "--json"], fresh_db.env(), check=True)
    rep = json.loads(out.stdout)
    assert rep["read"] == rep["loaded"] == 9 and rep["topology"]["connected_components"] == 1
    assert rep["topology"]["dangling_ends"] == 2
    bad = run_cli(["load", "pipes", str(tmp_path / "nope.csv")], fresh_db.env())
    assert bad.returncode != 0 and "nope.csv" in bad.stderr and "Traceback" not in bad.stderr


def test_a_survey_outside_the_city_fails_whole(fresh_db, tmp_path):
    from cim.errors import OutOfAreaError

    pts, segs = _survey("F")
    pts["X"] -= 200_000.0  # 200 km south: still zone 39, but not 济宁
    pts.to_csv(tmp_path / "燃气管线点.csv", index=False)
    segs.to_csv(tmp_path / "燃气管线段.csv", index=False)
    with pytest.raises(OutOfAreaError, match="X is the northing"):
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    assert fresh_db.scalar("SELECT count(*) FROM pipe_points") == 0
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments") == 0
    assert fresh_db.scalar("SELECT status FROM load_batches ORDER BY id DESC LIMIT 1") == "failed"


def test_bad_values_are_rejected_naming_table_row_and_field(fresh_db, tmp_path):
    pts, segs = _survey("B", n=6)
    pts = pts.astype({"X": object, "地面高程": object})
    pts.loc[5, "X"] = "3915abc"  # a typo in the northing
    segs = segs.astype({"起点埋深": object})
    segs.loc[1, "起点埋深"] = "一米二"
    pts.to_csv(tmp_path / "给水管线点.csv", index=False)
    segs.to_csv(tmp_path / "给水管线段.csv", index=False)
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    bad = {(f.rule, f.table, f.row, f.field) for f in qa.findings if f.rule == "bad_value"}
    assert bad == {("bad_value", "给水管线点.csv", 7, "X"), ("bad_value", "给水管线段.csv", 3, "起点埋深")}
    assert r.read == 11 and r.loaded + r.rejected == 11
    reasons = dict(fresh_db.rows("SELECT reason, count(*) FROM load_rejects WHERE batch_id = %s "
                                 "GROUP BY 1", (r.batch_id,)))
    # the bad point, the bad segment and the segment that ends at the bad point
    assert reasons == {"bad_value": 2, "end_point_rejected": 1}
    msg = fresh_db.scalar("SELECT message FROM load_rejects WHERE batch_id = %s AND reason = "
                          "'end_point_rejected'", (r.batch_id,))
    assert "B006" in msg and "bad_value" in msg


def test_a_survey_workbook_with_a_doctype_is_refused_before_parsing(jining_profile):
    """openpyxl would parse the sheets' XML: the same XXE guard as for GDAL sources applies."""
    from tests.conftest import PROJECT_ROOT

    bad = PROJECT_ROOT / "tests" / "data" / "bad" / "xlsx_xxe.xlsx"
    with pytest.raises(InputError, match="DOCTYPE"):
        read_tables(bad)
    with pytest.raises(InputError, match="DOCTYPE"):
        qa_pipes(jining_profile, [bad])

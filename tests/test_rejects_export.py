"""Rejects export (``cim rejects BATCH --export``): every batch exports, in the delivery's CRS.

An engineer exports a batch's rejects, fixes them in QGIS or a spreadsheet and loads the file
again. So the export must (1) work for any batch — pipe survey tables, GIS pipes, buildings,
whatever keys the delivered attributes have — with one column per name and the platform's
columns prefixed, and (2) give the geometry exactly as delivered: the delivery's CRS and axis
order, whichever step (Python converter, set-based SQL, survey QA) rejected the row. Expected
coordinates come from the source files read with pyogrio/pandas and projected with pyproj.
"""

from __future__ import annotations

import csv
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pyproj
import shapely
from psycopg.types.json import Jsonb

from tests.conftest import SAMPLE_BUILDINGS, run_cli

E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527 easting/northing)
TO_4527 = {}


def _metres(crs, xy: np.ndarray) -> np.ndarray:
    """Coordinates in ``crs`` → EPSG:4527 metres (an independent pyproj transformation)."""
    key = str(crs)
    if key not in TO_4527:
        TO_4527[key] = pyproj.Transformer.from_crs(crs, "EPSG:4527", always_xy=True)
    x, y = TO_4527[key].transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _same_place(a, b, crs, tol=1e-3) -> bool:
    ca = shapely.get_coordinates(a)
    cb = shapely.get_coordinates(b)
    return ca.shape == cb.shape and bool(
        np.all(np.abs(_metres(crs, ca) - _metres(crs, cb)) <= tol))


def _export(db, batch_id, out):
    run_cli(["rejects", str(batch_id), "--export", str(out)], db.env(), check=True)
    return out


def _load_json(db, args):
    return json.loads(run_cli(["load", *args, "--json"], db.env(), check=True).stdout)


# -- GIS pipe network in lon/lat ----------------------------------------------------------------
MAPPING = """\
class: 给水
lines: {source_id: id, start_no: node_a, end_no: node_b, size: dn}
"""
LONLAT = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True)


def _ll(e, n):
    return LONLAT.transform(e, n)


def _network(path):
    """S1, S3 good; S2 in two separate parts (rejected in Python); S4 50 km away (its line-end
    nodes are rejected by the SQL step as outside the city, then S4 as end_point_rejected)."""
    nodes = {f"N{i}": (E0 + 40.0 * i, N0 + 10.0 * i) for i in range(1, 5)}
    nodes["X1"], nodes["X2"] = (E0 + 50_000, N0), (E0 + 50_040, N0 + 10)
    ll = {k: _ll(*v) for k, v in nodes.items()}
    mid = _ll(E0 + 100.0, N0 + 25.0)
    mid2 = _ll(E0 + 101.0, N0 + 26.0)
    geoms = [shapely.LineString([ll["N1"], ll["N2"]]),
             shapely.MultiLineString([[ll["N2"], mid], [mid2, ll["N3"]]]),
             shapely.LineString([ll["N3"], ll["N4"]]),
             shapely.LineString([ll["X1"], ll["X2"]])]
    gdf = gpd.GeoDataFrame({"id": ["S1", "S2", "S3", "S4"], "node_a": ["N1", "N2", "N3", "X1"],
                            "node_b": ["N2", "N3", "N4", "X2"], "dn": [200, 200, 150, 100],
                            "_row": ["a", "b", "c", "d"]},  # a delivered column named _row
                           geometry=geoms, crs="EPSG:4490")
    gdf.to_file(path, layer="pipes", engine="pyogrio")
    return path


def test_gis_pipe_rejects_round_trip_in_the_delivered_lonlat(fresh_db, tmp_path):
    net = _network(tmp_path / "net.gpkg")
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    args = ["--mapping", str(tmp_path / "m.yaml"), "--dataset", "net"]
    rep = _load_json(fresh_db, ["pipes", "--lines", f"{net}:pipes", *args])
    assert rep["rejected_by_reason"] == {"bad_value": 1, "outside_area": 2,
                                         "end_point_rejected": 1}
    assert fresh_db.scalar("SELECT source_crs FROM load_batches WHERE id = %s",
                           (rep["batch_id"],)) == "EPSG:4490"
    # CSV: one column per name; the platform's own columns cannot collide with _row
    _export(fresh_db, rep["batch_id"], tmp_path / "rej.csv")
    with open(tmp_path / "rej.csv", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh))
    assert len(header) == len(set(header))
    assert {"cim_row", "cim_reason", "cim_field", "cim_message", "_row", "id"} <= set(header)
    # GeoPackage: one layer per delivered table, in the delivery's CRS
    out = _export(fresh_db, rep["batch_id"], tmp_path / "rej.gpkg")
    layers = [str(x) for x in pyogrio.list_layers(out)[:, 0]]
    assert "pipes" in layers
    got = pyogrio.read_dataframe(out, layer="pipes")
    assert pyproj.CRS(got.crs).to_epsg() == 4490
    src = pyogrio.read_dataframe(net, layer="pipes").set_index("id")
    assert sorted(got["id"]) == ["S2", "S4"]
    for _, r in got.iterrows():
        assert _same_place(r.geometry, src.geometry[r["id"]], "EPSG:4490"), r["id"]
    # the nodes the SQL step rejected are at the delivered line ends of S4
    ends = pyogrio.read_dataframe(out, layer=next(n for n in layers if n != "pipes"))
    s4 = shapely.get_coordinates(src.geometry["S4"])
    assert len(ends) == 2
    for g in ends.geometry:
        d = np.abs(_metres("EPSG:4490", shapely.get_coordinates(g)) - _metres("EPSG:4490", s4))
        assert (d.max(axis=1) <= 1e-3).any()
    # fix S2 in the export (one line through its parts) and reload it as a delivery
    fixed = got[got["id"] == "S2"].copy()
    parts = shapely.get_parts(fixed.geometry.iloc[0])
    line = shapely.LineString(np.vstack([shapely.get_coordinates(p) for p in parts]))
    fixed = fixed.set_geometry([line], crs=got.crs)
    fixed.to_file(tmp_path / "fixed.gpkg", layer="pipes", engine="pyogrio")
    rep2 = _load_json(fresh_db, ["pipes", "--lines", f"{tmp_path / 'fixed.gpkg'}:pipes",
                                 *args])
    assert rep2["status"] == "succeeded" and rep2["rejected"] == 0
    g = shapely.from_wkb(bytes(fresh_db.scalar(
        "SELECT ST_AsBinary(ST_Force2D(geom)) FROM pipe_segments WHERE valid_to IS NULL "
        "AND source_key = 'net:JS:S2'")))
    want = _metres("EPSG:4490", shapely.get_coordinates(line))
    assert np.abs(shapely.get_coordinates(g) - want).max() <= 1e-3


# -- buildings in a CRS other than the storage CRS -----------------------------------------------
CUSTOM_TM = ("+proj=tmerc +lat_0=0 +lon_0=116.5 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 "
             "+units=m +no_defs")  # no EPSG code: PostGIS cannot transform back to it


def _building_round_trip(db, tmp_path, crs):
    gdf = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=5).to_crs(crs)
    gdf["地上层数"] = gdf["地上层数"].astype(object)
    gdf.loc[1, "地上层数"] = "十二层"  # rejected in Python
    gdf.loc[3, "编号"] = gdf.loc[2, "编号"]  # rejected by the SQL step (duplicate source id)
    src = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gdf, src)
    rep = _load_json(db, ["buildings", str(src)])
    assert rep["rejected_by_reason"] == {"bad_value": 1, "duplicate_source_id": 1}
    out = _export(db, rep["batch_id"], tmp_path / "rej.gpkg")
    got = pyogrio.read_dataframe(out)
    assert pyproj.CRS(got.crs).equals(pyproj.CRS(crs), ignore_axis_order=True)
    delivered = pyogrio.read_dataframe(src)
    assert got["cim_row"].tolist() == [2, 4]
    for _, r in got.iterrows():
        assert _same_place(r.geometry, delivered.geometry[r["cim_row"] - 1], crs), r["cim_row"]
    fixed = got.iloc[:1].copy()
    fixed.loc[fixed.index[0], "地上层数"] = "12"
    pyogrio.write_dataframe(fixed, tmp_path / "b.gpkg")  # same dataset name: b
    rep2 = _load_json(db, ["buildings", str(tmp_path / "b.gpkg")])
    assert (rep2["status"], rep2["inserted"], rep2["rejected"]) == ("succeeded", 1, 0)
    assert db.scalar("SELECT floors_above FROM buildings WHERE source_key = 'b:JZ000002' "
                     "AND valid_to IS NULL") == 12


def test_building_rejects_round_trip_in_lonlat(fresh_db, tmp_path):
    _building_round_trip(fresh_db, tmp_path, "EPSG:4490")


def test_building_rejects_round_trip_in_a_crs_without_epsg_code(fresh_db, tmp_path):
    _building_round_trip(fresh_db, tmp_path, CUSTOM_TM)


# -- survey tables: X = northing, as delivered ---------------------------------------------------
def _survey_tables(folder):
    """Six-digit eastings (EPSG:4548 once detected, not the storage CRS): JS003 has a typo in
    its ground elevation, JS009 lies 50 km away (outside the city: rejected in SQL)."""
    e0 = E0 - 39_000_000
    pts = pd.DataFrame({
        "物探点号": ["JS001", "JS002", "JS003", "JS004", "JS009"],
        "特征": ["预留口", "直线点", "直线点", "预留口", "预留口"],
        "X": [f"{N0 + 30.0 * i:.3f}" for i in range(4)] + [f"{N0:.3f}"],
        "Y": [f"{e0 + 5.0 * i:.3f}" for i in range(4)] + [f"{e0 + 50_000:.3f}"],
        "地面高程": ["36.00", "35.99", "35.9八", "35.97", "36.00"],
    })
    segs = pd.DataFrame({"起始点号": ["JS001", "JS002", "JS003"],
                         "终止点号": ["JS002", "JS003", "JS004"],
                         "起点埋深": [1.2] * 3, "终点埋深": [1.2] * 3, "管径": ["DN160"] * 3})
    folder.mkdir()
    pts.to_csv(folder / "给水管线点.csv", index=False)
    segs.to_csv(folder / "给水管线段.csv", index=False)
    return pts


def test_survey_rejects_keep_x_northing_as_delivered_and_reload(fresh_db, tmp_path):
    pts = _survey_tables(tmp_path / "d")
    rep = _load_json(fresh_db, ["pipes", str(tmp_path / "d"), "--dataset", "d"])
    assert rep["rejected_by_reason"] == {"bad_value": 1, "outside_area": 1,
                                         "end_point_rejected": 2}
    out = _export(fresh_db, rep["batch_id"], tmp_path / "rej.gpkg")
    layers = [str(x) for x in pyogrio.list_layers(out)[:, 0]]
    assert sorted(layers) == ["给水管线段.csv", "给水管线点.csv"]
    got = pyogrio.read_dataframe(out, layer="给水管线点.csv")
    assert pyproj.CRS(got.crs).to_epsg() == 4548
    assert sorted(got["物探点号"]) == ["JS003", "JS009"]
    src = pts.set_index("物探点号")
    for _, r in got.iterrows():
        assert (r["X"], r["Y"]) == (src.X[r["物探点号"]], src.Y[r["物探点号"]])  # as typed
        # the geometry is the same point, easting first as GIS files hold it
        assert abs(r.geometry.x - float(src.Y[r["物探点号"]])) <= 1e-3
        assert abs(r.geometry.y - float(src.X[r["物探点号"]])) <= 1e-3
    # fix JS003's elevation in the export and reload it as a point table (the point from
    # another city is left out); segments need their end points in the same delivery (QA)
    fixed = got[got["物探点号"] == "JS003"].copy()
    fixed["地面高程"] = "35.98"
    fixed.to_file(tmp_path / "fixed.gpkg", layer="给水管线点.csv", engine="pyogrio")
    rep2 = _load_json(fresh_db, ["pipes", str(tmp_path / "fixed.gpkg"), "--dataset", "d"])
    assert rep2["status"] == "succeeded" and (rep2["inserted"], rep2["rejected"]) == (1, 0)
    x, y = fresh_db.rows("SELECT ST_X(geom), ST_Y(geom) FROM pipe_points WHERE valid_to IS NULL "
                         "AND point_no = 'JS003'")[0]
    want = pyproj.Transformer.from_crs("EPSG:4548", "EPSG:4527", always_xy=True).transform(
        float(src.Y["JS003"]), float(src.X["JS003"]))
    assert abs(x - want[0]) <= 1e-3 and abs(y - want[1]) <= 1e-3


# -- any attributes: a hand-built batch whose answer is known by construction ---------------------
ODD = [
    {"_row": 7, "row": "r", "reason": "delivered reason", "cim_row": "x", "fid": "F-1",
     "geom": "g", "wkt": "w", "Name": "A", "name": "a", "nested": {"k": [1, 2]},
     "n": 3, "f": 2.5, "ok": True, "none": None},
    {"_row": 8, "n": 4, "f": None, "name": "b", "text": "中文"},
]


def test_any_attributes_export_to_csv_and_gpkg_without_collisions(fresh_db, tmp_path):
    with psycopg.connect(fresh_db.conninfo) as conn:
        bid = conn.execute("INSERT INTO load_batches (layer, source_path, status, source_crs) "
                           "VALUES ('buildings', 'x.gpkg', 'succeeded', 'EPSG:4490') "
                           "RETURNING id").fetchone()[0]
        for i, attrs in enumerate(ODD):
            conn.execute("INSERT INTO load_rejects (batch_id, row_number, reason, field, "
                         "message, attrs, geom_wkt) VALUES (%s, %s, 'bad_value', 'n', 'm', %s, "
                         "%s)", (bid, i + 1, Jsonb(attrs),
                                 "POINT (116.6 35.4)" if i == 0 else None))
    _export(fresh_db, bid, tmp_path / "o.csv")
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
        fh.seek(0)
    with open(tmp_path / "o.csv", "rb") as fh:
        assert fh.read(3) == b"\xef\xbb\xbf"
    header = list(rows[0])
    names = list(dict.fromkeys(k for a in ODD for k in a))
    assert len(header) == len(set(header))
    assert sorted(h for h in header if h in names) == sorted(names)  # jsonb keeps no order
    assert {"_cim_row", "_cim_reason", "_cim_field", "_cim_message"} <= set(header)
    assert rows[0]["_row"] == "7" and rows[0]["reason"] == "delivered reason"
    assert rows[0]["cim_row"] == "x" and rows[0]["_cim_row"] == "1"
    assert json.loads(rows[0]["nested"]) == {"k": [1, 2]} and rows[1]["text"] == "中文"
    assert rows[1]["none"] == "" and rows[1]["f"] == ""
    out = _export(fresh_db, bid, tmp_path / "o.gpkg")
    got = pyogrio.read_dataframe(out)
    assert pyproj.CRS(got.crs).to_epsg() == 4490
    assert got.geometry.iloc[0].equals(shapely.Point(116.6, 35.4))
    assert got.geometry.iloc[1] is None
    assert got["_cim_row"].tolist() == [1, 2] and got["reason"].iloc[0] == "delivered reason"
    assert got["fid"].iloc[0] == "F-1" and got["geom"].iloc[0] == "g"
    assert got["n"].tolist() == [3, 4] and got["_row"].tolist() == [7, 8]
    assert got["Name"].iloc[0] == "A" and got["name_2"].tolist() == ["a", "b"]
    assert json.loads(got["nested"].iloc[0]) == {"k": [1, 2]}

"""A component census delivered as a survey table (CSV saved by Excel on Chinese Windows, in
GBK; a workbook with a title row), its points given as X (northing) and Y (easting) columns:
it was refused ("has no geometry column"); it loads as the pipe point tables do, through the
survey tables' one reader, every row loaded or rejected naming file, row (the line or Excel
row a person finds it on) and field, the X/Y as typed kept. Expected values by construction:
the points are written here from a grid cell's centre (asked of PostGIS), X and Y swapped by
hand."""

from __future__ import annotations

import datetime

import openpyxl
import pytest
import shapely

from cim.errors import InputError
from loaders.buildings import load_buildings
from loaders.components import load_components


def _mm(v: float):
    """A coordinate to the millimetre (pytest.approx alone is relative: ±39 m of an easting)."""
    return pytest.approx(v, abs=1e-3)


def _rejects(d, batch_id: int) -> list[tuple]:
    return d.rows("SELECT row_number, reason, field, attrs, geom_wkt FROM load_rejects "
                  "WHERE batch_id = %s ORDER BY row_number", (batch_id,))


def _loaded(d, batch_id: int) -> dict[str, tuple]:
    return {k.split(":", 1)[1]: (c, x, y, a) for k, c, x, y, a in d.rows(
        "SELECT source_key, subclass_code, ST_X(geom), ST_Y(geom), attrs FROM components "
        "WHERE batch_id = %s", (batch_id,))}


def _outside_northing(d, x: float, y: float) -> float:
    """A northing north of (x, y) that no current district covers (asked of PostGIS)."""
    for dy in range(5_000, 200_001, 5_000):
        if not d.scalar("SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE valid_to IS NULL "
                        "AND level = 3 AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), "
                        "4527)))", (x, y + dy)):
            return y + dy
    raise AssertionError("no point outside the districts north of the cell")


def test_a_gbk_csv_census_with_x_y_columns_loads_each_row_or_names_its_problem(fresh_db,
                                                                               tmp_path):
    _code, e, n = fresh_db.big_cell()
    far = _outside_northing(fresh_db, e, n)
    lines = ["部件编码,部件小类,X坐标,Y坐标,备注",  # line 1
             f"B1,0101,{n},{e},井盖完好",          # 2
             "",                                    # 3: a blank line is no row
             f"B2,0102,{n + 5},{e + 5},",           # 4
             f"B3,0101,{n},,",                      # 5: Y blank
             f"B4,0101,3918abc,{e},",               # 6: X no number
             f"B1,0101,{n + 9},{e},重复",           # 7: B1 again
             f"B5,0101,{far},{e},"]                 # 8: north of every district
    path = tmp_path / "部件普查.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (6, 2, 4), r.text()
    assert r.read == r.loaded + r.rejected
    loaded = _loaded(fresh_db, r.batch_id)
    # easting from Y, northing from X, the X/Y kept as typed
    assert {k: v[:3] for k, v in loaded.items()} == {
        "B1": ("0101", _mm(e), _mm(n)),
        "B2": ("0102", _mm(e + 5), _mm(n + 5))}
    assert loaded["B1"][3]["X坐标"] == str(n) and loaded["B1"][3]["Y坐标"] == str(e)
    got = _rejects(fresh_db, r.batch_id)
    assert [(row, reason, field) for row, reason, field, _a, _g in got] == [
        (5, "empty_geometry", "Y坐标"), (6, "bad_value", "X坐标"),
        (7, "duplicate_source_id", "部件编码"), (8, "outside_area", "X坐标/Y坐标")]
    # every reject keeps the row as delivered
    assert [a["部件编码"] for *_x, a, _g in got] == ["B3", "B4", "B1", "B5"]
    assert got[1][3]["X坐标"] == "3918abc" and got[3][3]["X坐标"] == str(far)
    # a point rejected keeps it easting first, in the delivery's CRS
    assert shapely.from_wkt(got[3][4]).coords[0] == (_mm(e), _mm(far))
    # reloading the same table changes nothing
    again = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (again.read, again.unchanged, again.inserted, again.updated) == (6, 2, 0, 0)


def test_x_y_columns_exchanged_are_refused_naming_the_x_column(fresh_db, tmp_path):
    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_text(f"部件编码,部件小类,X坐标,Y坐标\nS1,0101,{e},{n}\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert exc.value.field == "X坐标" and "exchanged" in exc.value.message
    assert fresh_db.scalar("SELECT count(*) FROM components") == 0


def test_coordinates_without_the_zone_prefix_are_the_same_points(fresh_db, tmp_path):
    """Six-digit eastings (the central-meridian form, EPSG:4548 for Jining's 117°E): the
    same projection as EPSG:4527 without the 39,000,000 of the zone prefix."""
    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_text(f"部件编码,部件小类,X,Y\nN1,0101,{n},{e - 39_000_000}\n", encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0,
                        crs="EPSG:4548")
    assert (r.read, r.loaded) == (1, 1), r.text()
    [(_c, x, y, _a)] = _loaded(fresh_db, r.batch_id).values()
    assert (x, y) == (_mm(e), _mm(n))


def test_a_workbook_with_a_title_row_names_excel_rows(fresh_db, tmp_path):
    _code, e, n = fresh_db.big_cell()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "部件普查"
    ws.append(["城市部件普查成果表"])                                   # row 1
    ws.append(["部件编码", "部件小类", "X坐标", "Y坐标", "初始时间"])    # row 2
    ws.append(["W1", "0101", n, e, datetime.date(2020, 1, 2)])         # row 3
    ws.append(["W2", "0101", n + 1, e + 1, None])                      # row 4
    ws.append([])                                                      # row 5
    ws.append(["W3", "0101", None, e, None])                           # row 6
    path = tmp_path / "census.xlsx"
    wb.save(path)
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1), r.text()
    assert sorted(_loaded(fresh_db, r.batch_id)) == ["W1", "W2"]
    assert fresh_db.rows("SELECT initial_date FROM components WHERE source_key = 'census:W1'"
                         ) == [(datetime.date(2020, 1, 2),)]
    [(row, reason, field, attrs, _g)] = _rejects(fresh_db, r.batch_id)
    assert (row, reason, field, attrs["部件编码"]) == (6, "empty_geometry", "X坐标", "W3")


def test_buildings_are_still_refused_a_table_of_points(fresh_db, tmp_path):
    """Reading points from X/Y is the census loader's: a footprint layer given such a table
    is refused whole, as before, not rejected row by row."""
    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "buildings.csv"
    path.write_text(f"编号,X坐标,Y坐标\nH1,{n},{e}\n", encoding="utf-8")
    with pytest.raises(InputError, match="no geometry column"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, path)


@pytest.mark.parametrize("suffix", [".csv", ".gpkg"])
def test_a_rejects_export_fixed_reloads_from_its_x_y(fresh_db, tmp_path, suffix):
    """Fix and reload: the export keeps X and Y as typed beside the point it was rejected
    with (none, for a coordinate that was no number); the X fixed, the export loads from its
    X/Y — not from that point — its own columns no attributes, so the row is the delivery's."""
    import geopandas as gpd

    from layers.rejects import export_rejects

    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_bytes(("部件编码,部件小类,X坐标,Y坐标\r\n"
                      f"K1,0101,{n},{e}\r\nK2,0101,{n}x,{e + 3}\r\n").encode("gbk"))
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.loaded, r.rejected) == (1, 1), r.text()
    out = tmp_path / f"census_rejects{suffix}"
    assert export_rejects(fresh_db.conninfo, r.batch_id, out) == 1
    if suffix == ".csv":
        text = out.read_text(encoding="utf-8-sig")
        assert f"{n}x" in text
        out.write_text(text.replace(f"{n}x", str(n + 3)), encoding="utf-8-sig")
    else:
        [layer] = gpd.list_layers(out)["name"]
        df = gpd.read_file(out, layer=layer)
        assert df["X坐标"].tolist() == [f"{n}x"] and df.geometry.isna().all()
        df["X坐标"] = [str(n + 3)]
        out.unlink()
        df.to_file(out, layer=layer, engine="pyogrio")
    fixed = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0,
                            dataset="census")
    assert (fixed.read, fixed.loaded, fixed.rejected) == (1, 1, 0), fixed.text()
    [(code, x, y, attrs)] = _loaded(fresh_db, fixed.batch_id).values()
    assert (code, x, y) == ("0101", _mm(e + 3), _mm(n + 3))
    assert attrs == {"部件编码": "K2", "部件小类": "0101", "X坐标": str(n + 3),
                     "Y坐标": str(e + 3)}


def test_a_workbook_of_two_census_sheets_loads_the_sheet_named(fresh_db, tmp_path):
    _code, e, n = fresh_db.big_cell()
    wb = openpyxl.Workbook()
    for title, ids in (("一期", ["A1", "A2"]), ("二期", ["B1"])):
        ws = wb.create_sheet(title)
        ws.append(["部件编码", "部件小类", "X坐标", "Y坐标"])
        for i, k in enumerate(ids):
            ws.append([k, "0101", n + i, e])
    del wb["Sheet"]
    path = tmp_path / "census.xlsx"
    wb.save(path)
    with pytest.raises(InputError, match="一期, census.xlsx:二期.*--layer"):
        load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0,
                        source_layer="二期")
    assert (r.read, r.loaded) == (1, 1) and sorted(_loaded(fresh_db, r.batch_id)) == ["B1"]


def test_a_census_table_without_points_is_told_what_it_lacks(fresh_db, tmp_path):
    """Longitude and latitude columns (经度, 纬度) are no survey X/Y: refused, saying what a
    census table needs — the footprints' hint ("X/Y columns give points, not footprints")
    told a census the opposite of what it may hold."""
    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,经度,纬度\nA1,0101,116.56,35.39\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert "X (northing) and Y (easting)" in exc.value.message
    assert "not footprints" not in exc.value.message


def test_a_table_with_fid_and_geometry_headers_keeps_them_as_attributes(fresh_db, tmp_path):
    """An ArcGIS table saved as CSV carries FID (and an empty geometry column): GDAL refused
    to write them into the reader's copy (FID is a GeoPackage's key), an error for the
    whole file; they are attributes as delivered."""
    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_text("FID,部件编码,部件小类,X坐标,Y坐标,geometry\n"
                    f"0,A1,0101,{n},{e},\nx,A2,0101,{n + 1},{e},\n", encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded) == (2, 2), r.text()
    assert {k: (a["FID"], a["geometry"]) for k, (_c, _x, _y, a) in
            _loaded(fresh_db, r.batch_id).items()} == {"A1": ("0", None), "A2": ("x", None)}


def test_a_gis_census_export_with_x_y_attributes_keeps_its_points(fresh_db, tmp_path):
    """A GeoPackage census whose features carry X/Y attributes too: its rejects export, a
    point moved in QGIS to fix it, reloads from its points, not from the X/Y beside them."""
    import geopandas as gpd
    from shapely.geometry import Point

    from layers.rejects import export_rejects

    _code, e, n = fresh_db.big_cell()
    df = gpd.GeoDataFrame({"部件编码": ["G1", "G2"], "部件小类": ["0101", "不存在"],
                           "X坐标": [str(n), str(n + 1)], "Y坐标": [str(e), str(e)]},
                          geometry=[Point(e, n), Point(e, n + 1)], crs="EPSG:4527")
    path = tmp_path / "census.gpkg"
    df.to_file(path, engine="pyogrio")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.loaded, r.rejected) == (1, 1), r.text()
    out = tmp_path / "fix.gpkg"
    assert export_rejects(fresh_db.conninfo, r.batch_id, out) == 1
    [layer] = gpd.list_layers(out)["name"]
    fix = gpd.read_file(out, layer=layer)
    fix["部件小类"] = ["0101"]
    fix.geometry = [Point(e + 4, n + 1)]  # moved; its X/Y attributes left as they were
    out.unlink()
    fix.to_file(out, layer=layer, engine="pyogrio")
    again = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0,
                            dataset="census")
    assert (again.read, again.loaded) == (1, 1), again.text()
    [(_c, x, y, _a)] = _loaded(fresh_db, again.batch_id).values()
    assert (x, y) == (_mm(e + 4), _mm(n + 1))


def test_a_census_with_wkt_and_x_y_headers_is_left_to_gdal(tmp_path):
    """A census CSV holding WKT beside X/Y attribute columns is GDAL's to read (its geometry
    the WKT): told from the file's first lines, not by reading all its rows in Python first;
    and no table at all is looked at outside a loader of points from X/Y."""
    from loaders.sources.xy_table import _may_hold_xy, may_read

    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,X坐标,Y坐标,WKT\n"
                    'A1,0101,3913350.1,39463983.6,"POINT (39463983.6 3913350.1)"\n',
                    encoding="utf-8")
    aliases = {"x": ["X坐标"], "y": ["Y坐标"]}
    assert _may_hold_xy(path, aliases) is False
    plain = tmp_path / "plain.csv"
    plain.write_text("部件编码,部件小类,X坐标,Y坐标\nA1,0101,3913350.1,39463983.6\n",
                     encoding="utf-8")
    assert _may_hold_xy(plain, aliases) is True
    assert may_read(plain) is False  # no loader of points from X/Y here


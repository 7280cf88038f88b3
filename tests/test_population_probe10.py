"""Population deliveries as statistics offices hand them over (review 10): a CSV in UTF-8 or
Excel's GBK and a workbook with a title row and Chinese headers, none with geometry (GDAL read
no such table: every one was refused "has no geometry column"); a unit twice in a delivery
refused naming its field and the first row (the writer's reject named no field); a stray year
and a delivery for part of the city told in the report; a reload versions nothing; a failed
load leaves the layer as it was. Expected values are known by construction or counted here
in SQL on the units, not by the loader."""

from __future__ import annotations

import json

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box

from loaders.buildings import load_buildings
from loaders.population import load_population
from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def pdb(jining_profile, tmp_path_factory):
    with scratch_db("pop10", jining_profile) as d:
        x, y = d.x0, d.y0
        path = tmp_path_factory.mktemp("blds") / "blds10.gpkg"
        gpd.GeoDataFrame([{"编号": "H1", "建筑用途": "住宅", "地上层数": 6},
                          {"编号": "H2", "建筑用途": "住宅", "地上层数": 11}],
                         geometry=[box(x, y, x + 20, y + 12), box(x + 40, y, x + 60, y + 12)],
                         crs="EPSG:4527").to_file(path, driver="GPKG")
        assert load_buildings(d.conninfo, d.profile, path).loaded == 2
        d.b = dict(d.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL "
                          "AND source_key LIKE 'blds10:%%'"))
        d.cells = [c for (c,) in d.rows("SELECT code FROM grid_cells WHERE valid_to IS NULL "
                                        "AND district_code = '370811' ORDER BY code")]
        yield d


def rejects(db, batch_id):
    return db.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s "
                   "ORDER BY row_number", (batch_id,))


def current(db, dataset):
    return {(k, c, y): n for k, c, y, n in db.rows(
        "SELECT unit_kind, unit_code, year, residents FROM population WHERE valid_to IS NULL "
        "AND source_key LIKE %s", (dataset + ":%",))}


def test_a_gbk_csv_loads_through_the_cli_and_its_rejects_name_line_and_field(pdb, tmp_path):
    c = pdb.cells
    path = tmp_path / "人口统计.csv"
    path.write_bytes(("网格编码,常住人口,年份\n"
                      f"{c[0]},1200,2025\n"
                      f"{c[1]},,2025\n"          # line 3: blank residents
                      f"{c[2]},-5,2025\n"        # line 4: negative
                      "370811999999999,10,2025\n"  # line 5: no such cell
                      f"{c[3]},３００,2025\n").encode("gbk"))
    out = json.loads(run_cli(["load", "population", str(path), "--json"], pdb.env(),
                             check=True).stdout)
    assert (out["read"], out["loaded"], out["rejected"]) == (5, 2, 3)
    assert current(pdb, "人口统计") == {("grid", c[0], 2025): 1200, ("grid", c[3], 2025): 300}
    listed = json.loads(run_cli(["rejects", str(out["batch_id"]), "--json"], pdb.env(),
                                check=True).stdout)
    rows = listed["rejects"] if isinstance(listed, dict) else listed
    assert sorted((r["row_number"], r["reason"], r["field"]) for r in rows) == [
        (3, "missing_value", "常住人口"), (4, "bad_value", "常住人口"),
        (5, "unknown_unit", "网格编码")]


def test_a_workbook_with_a_title_row_loads_per_building(pdb, tmp_path):
    h1, h2 = pdb.b["blds10:H1"], pdb.b["blds10:H2"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "2025年"
    ws.append(["任城区2025年常住人口统计表"])  # row 1: a title
    ws.append(["序号", "建筑编码", "常住人口（人）", "统计年度"])  # row 2
    ws.append([1, h1, 120, "2025年"])
    ws.append([2, h2, "３６０", 2025])
    ws.append([3, float(h1), 7, 2025])  # row 5: a code typed as a number has lost digits
    wb.create_sheet("说明").append(["数据来源：统计局"])
    path = tmp_path / "楼栋人口.xlsx"
    wb.save(path)
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1)
    assert current(pdb, "楼栋人口") == {("building", h1, 2025): 120,
                                       ("building", h2, 2025): 360}
    assert rejects(pdb, r.batch_id) == [(5, "bad_value", "建筑编码")]
    again = load_population(pdb.conninfo, pdb.profile, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert pdb.scalar("SELECT count(*) FROM population WHERE source_key LIKE '楼栋人口:%%'") == 2


def test_a_unit_twice_is_refused_naming_its_field_and_the_first_row(pdb, tmp_path):
    c = pdb.cells
    path = tmp_path / "dup10.csv"
    path.write_text(f"网格编码,常住人口,年份\n{c[4]},100,2025\n{c[5]},50,2025\n{c[4]},101,2025\n"
                    f"{c[4]},102,2024\n", encoding="utf-8")
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert (r.read, r.loaded + r.rejected) == (4, 4)
    assert rejects(pdb, r.batch_id) == [(4, "duplicate_source_id", "网格编码")]
    msg = pdb.scalar("SELECT message FROM load_rejects WHERE batch_id = %s", (r.batch_id,))
    assert "row 2" in msg
    # the first row's figure stands; the same cell of another year is another row
    assert current(pdb, "dup10") == {("grid", c[4], 2025): 100, ("grid", c[5], 2025): 50,
                                     ("grid", c[4], 2024): 102}


def test_a_stray_year_and_a_partial_delivery_are_told(pdb, tmp_path):
    c = pdb.cells
    path = tmp_path / "part10.csv"
    path.write_text("网格编码,常住人口,年份\n" + "".join(f"{k},10,2026\n" for k in c[:6])
                    + f"{c[6]},10,2023\n", encoding="utf-8")
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert (r.loaded, r.rejected) == (7, 0)
    total = pdb.scalar("SELECT count(*) FROM grid_cells WHERE valid_to IS NULL")
    others = [d for (d,) in pdb.rows("SELECT DISTINCT district_code FROM grid_cells WHERE "
                                     "valid_to IS NULL AND district_code <> '370811' "
                                     "ORDER BY 1")]
    assert others  # the sample city has a second district, which this delivery lacks
    notes = "\n".join(r.notes)
    assert "rows of 2 years: 2026 (6), 2023 (1)" in notes
    assert f"2026: rows for 6 of {total} current grid cells; none in district " \
           f"{', '.join(others)}" in notes


def test_a_failed_load_leaves_the_layer_as_it_was(pdb, tmp_path, monkeypatch):
    from loaders.engine import bulk

    c = pdb.cells
    path = tmp_path / "fail10.csv"
    path.write_text(f"网格编码,常住人口,年份\n{c[7]},10,2025\n", encoding="utf-8")
    assert load_population(pdb.conninfo, pdb.profile, path).inserted == 1
    before = pdb.rows("SELECT id, source_key, residents, valid_to FROM population ORDER BY id")
    path.write_text(f"网格编码,常住人口,年份\n{c[7]},11,2025\n{c[8]},12,2025\n", encoding="utf-8")
    merge = bulk.BulkWriter.finalize

    def merge_then_fail(self, *a, **k):
        merge(self, *a, **k)
        raise RuntimeError("the connection dropped")

    monkeypatch.setattr(bulk.BulkWriter, "finalize", merge_then_fail)
    with pytest.raises(RuntimeError):
        load_population(pdb.conninfo, pdb.profile, path)
    monkeypatch.undo()
    assert pdb.rows("SELECT id, source_key, residents, valid_to FROM population "
                    "ORDER BY id") == before
    assert pdb.scalar("SELECT status FROM load_batches WHERE source_path LIKE '%%fail10.csv' "
                      "ORDER BY id DESC LIMIT 1") == "failed"


def test_the_same_table_saved_as_gbk_is_the_same_rows(pdb, tmp_path):
    """A statistics CSV with an empty WKT column in UTF-8 and the same table saved from Excel
    as GBK (refused before: "save it as 'CSV UTF-8'") are both read as tables (rows numbered
    as the file shows them) — and their rows are the same rows: no new version."""
    c = pdb.cells
    text = "网格编码,常住人口,年份,WKT,备注\n" + "".join(
        f"{k},{20 + i},2026,,\n" for i, k in enumerate(c[9:12])) + f'{c[12]},9,2026,,"甲,乙"\n'
    utf8, gbk = tmp_path / "wkt10.csv", tmp_path / "wkt10_gbk.csv"
    utf8.write_text(text, encoding="utf-8")
    gbk.write_bytes(text.encode("gbk"))
    first = load_population(pdb.conninfo, pdb.profile, utf8)
    assert (first.inserted, first.rejected) == (4, 0)
    assert "a table without geometry: each row takes its unit's" in first.notes
    again = load_population(pdb.conninfo, pdb.profile, gbk, dataset="wkt10")
    assert "a table without geometry: each row takes its unit's" in again.notes
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)


def test_a_rejects_export_fixed_and_saved_as_gbk_reloads_without_the_platforms_columns(
        pdb, tmp_path):
    c = pdb.cells
    path = tmp_path / "rt10.csv"
    path.write_bytes(f"网格编码,常住人口,年份,备注\n{c[13]},10,2025,甲\n{c[14]},x,2025,乙\n"
                     .encode("gbk"))
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert (r.loaded, r.rejected) == (1, 1)
    export = tmp_path / "rt10_rejects.csv"
    run_cli(["rejects", str(r.batch_id), "--export", str(export)], pdb.env(), check=True)
    table = pd.read_csv(export, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(table["cim_field"]) == ["常住人口"]
    table.loc[0, "常住人口"] = "11"
    fixed = tmp_path / "rt10_fixed.csv"  # Excel's plain CSV: GBK, the empty wkt column gone
    table.drop(columns=["wkt"]).to_csv(fixed, index=False, encoding="gbk")
    again = load_population(pdb.conninfo, pdb.profile, fixed, dataset="rt10")
    assert (again.read, again.inserted, again.rejected) == (1, 1, 0)
    assert pdb.rows("SELECT residents, attrs FROM population WHERE valid_to IS NULL AND "
                    "unit_code = %s", (c[14],)) == [
        (11, {"网格编码": c[14], "常住人口": "11", "年份": "2025", "备注": "乙"})]


def test_a_code_a_csv_saved_from_excel_wrote_as_a_number_is_told_so(pdb, tmp_path):
    h1 = pdb.b["blds10:H1"]
    path = tmp_path / "excel10.csv"
    path.write_text("建筑编码,网格编码,常住人口,年份\n"
                    f"{h1[0]}.{h1[1:6]}E+17,,5,2025\n"  # as Excel shows an 18-digit code
                    f",{pdb.cells[15]}.0,5,2025\n", encoding="utf-8")
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert (r.read, r.loaded) == (2, 0)
    got = pdb.rows("SELECT row_number, field, message FROM load_rejects WHERE batch_id = %s "
                   "ORDER BY 1", (r.batch_id,))
    assert [(n, f) for n, f, _m in got] == [(2, "建筑编码"), (3, "网格编码")]
    assert all("written as a number" in m for _n, _f, m in got), got

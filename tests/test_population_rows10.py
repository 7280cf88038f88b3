"""Population rows are numbered one way (review 10): a statistics CSV in UTF-8 with an empty
WKT column (the documented way to pass a table through GDAL) went through GDAL and numbered
its rejects by feature (first data row = 1), while the same table in GBK, a workbook or a CSV
without the column was numbered as the file shows it (header line = 1): a person opening
the file found the wrong row. Now it is read as a table; a WKT column holding geometries is
still GDAL's. Expected row numbers are the lines the test wrote the rows on; the cells are
the profile's grid cells."""

from __future__ import annotations

import pytest
import shapely

from loaders.population import load_population
from tests.conftest import make_db, server_url

TABLE_NOTE = "a table without geometry: each row takes its unit's"


@pytest.fixture(scope="module")
def pdb(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("poprows10", jining_profile)
    d.cells = [(c, shapely.from_wkt(w)) for c, w in d.rows(
        "SELECT code, ST_AsText(ST_PointOnSurface(geom)) FROM grid_cells "
        "WHERE valid_to IS NULL ORDER BY code LIMIT 12")]
    yield d
    drop_database(server_url(), d.name)


def rejects(db, batch_id):
    return db.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s "
                   "ORDER BY row_number", (batch_id,))


def test_an_empty_wkt_column_in_utf8_is_numbered_as_the_file_shows_it(pdb, tmp_path):
    (a, _), (b, _) = pdb.cells[0:2]
    lines = ["WKT,网格编码,常住人口,年份,备注",  # line 1
             f",{a},10,2025,甲",  # line 2
             f",{b},x,2025,乙",  # line 3: residents no number
             f",{a},11,2025,丙"]  # line 4: the unit and year of line 2 again
    for name, enc in (("rows10_utf8.csv", "utf-8"), ("rows10_bom.csv", "utf-8-sig"),
                      ("rows10_gbk.csv", "gbk")):
        path = tmp_path / name
        path.write_bytes(("\n".join(lines) + "\n").encode(enc))
        r = load_population(pdb.conninfo, pdb.profile, path, dataset="rows10")
        assert (r.read, r.rejected) == (3, 2), (name, r.to_dict())
        assert TABLE_NOTE in r.notes, (name, r.notes)
        assert rejects(pdb, r.batch_id) == [(3, "bad_value", "常住人口"),
                                            (4, "duplicate_source_id", "网格编码")], name
    # the empty column is no attribute; the row of line 2 is the one stored
    assert pdb.rows("SELECT residents, attrs FROM population WHERE valid_to IS NULL "
                    "AND unit_code = %s", (a,)) == [
        (10, {"网格编码": a, "常住人口": "10", "年份": "2025", "备注": "甲"})]


def test_a_wkt_column_with_geometries_is_still_read_by_gdal(pdb, tmp_path):
    (c, p), (d, q) = pdb.cells[2:4]
    path = tmp_path / "rows10_wkt.csv"
    path.write_text("WKT,网格编码,常住人口,年份\n"
                    f"\"{p.wkt}\",{c},10,2025\n"
                    f"\"{q.wkt}\",{d},x,2025\n", encoding="utf-8")
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1)
    assert TABLE_NOTE not in r.notes
    assert rejects(pdb, r.batch_id) == [(3, "bad_value", "常住人口")]  # line 3, as the table


def test_wkt_below_the_first_lines_is_still_read_by_gdal(pdb, tmp_path):
    """Empty in the first lines, a geometry further down: the column holds geometries."""
    cells = pdb.cells[4:11]
    rows = [f",{c},{i + 1},2024" for i, (c, _p) in enumerate(cells[:-1])] * 10  # 60 rows
    last, p = cells[-1]
    path = tmp_path / "rows10_late.csv"
    path.write_text("WKT,网格编码,常住人口,年份\n" + "\n".join(rows)
                    + f"\n\"{p.wkt}\",{last},5,2024\n", encoding="utf-8")
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert TABLE_NOTE not in r.notes
    assert (r.read, r.loaded) == (61, 7)
    # the repeats, by line (header = row 1): the seventh feature, line 8, is the first to
    # repeat one
    assert [n for n, reason, _f in rejects(pdb, r.batch_id)] == list(range(8, 62))


def test_a_delivery_gdal_read_before_is_unchanged_read_as_a_table(pdb, tmp_path):
    """Rows loaded through GDAL (a WKT column with the points) and the same rows delivered
    with the column emptied, read as a table: the same source keys, attributes and content,
    so nothing gets a new version."""
    (c, p), (d, q) = pdb.cells[2:4]
    path = tmp_path / "rows10_again.csv"
    path.write_text("WKT,网格编码,常住人口,年份,备注\n"
                    f"\"{p.wkt}\",{c},30,2023,甲\n\"{q.wkt}\",{d},31,2023,\n", encoding="utf-8")
    first = load_population(pdb.conninfo, pdb.profile, path)
    assert TABLE_NOTE not in first.notes and first.inserted == 2
    path.write_text("WKT,网格编码,常住人口,年份,备注\n"
                    f",{c},30,2023,甲\n,{d},31,2023,\n", encoding="utf-8")
    again = load_population(pdb.conninfo, pdb.profile, path)
    assert TABLE_NOTE in again.notes
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_a_stray_value_in_an_empty_wkt_column_is_kept_and_numbered_as_shown(pdb, tmp_path):
    """n/a in the WKT column is no geometry: the row is a table's row, the value one of its
    attributes (GDAL ignored it as invalid WKT, and it was lost)."""
    (c, _), (d, _) = pdb.cells[11], pdb.cells[0]
    path = tmp_path / "rows10_stray.csv"
    path.write_text("WKT,网格编码,常住人口,年份\n"
                    f"n/a,{c},7,2022\n,{c},8,2022\n,{d},9,2022\n", encoding="utf-8")
    r = load_population(pdb.conninfo, pdb.profile, path)
    assert TABLE_NOTE in r.notes
    assert rejects(pdb, r.batch_id) == [(3, "duplicate_source_id", "网格编码")]
    assert pdb.rows("SELECT attrs FROM population WHERE valid_to IS NULL AND year = 2022 "
                    "AND unit_code = %s", (c,)) == [
        ({"WKT": "n/a", "网格编码": c, "常住人口": "7", "年份": "2022"},)]

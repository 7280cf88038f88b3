"""Three ways a delivery could still lose data without a word (the session's review):

- a CSV whose every data row ends with an empty extra cell (a writer's trailing separator)
  filled the extra-cells check's cap of 1000 rows with harmless rows, so a later row whose
  extra cell held data went unseen and GDAL dropped it;
- a NUL byte in a CSV read with --encoding GBK (read from a UTF-8 copy, where the NUL
  survives) was not looked for, and GDAL cuts the row there;
- a GeoPackage with a write-ahead log beside it (copied while QGIS had it open) had its
  number columns checked without the log's rows (SQLite opened immutable ignores it).
Expected rows and values by construction."""

from __future__ import annotations

import shutil
import sqlite3

import geopandas as gpd
import pyogrio
import pytest
import shapely

from cim.errors import InputError
from loaders.sources.table_checks import check_csv_cells, check_gpkg_numbers, check_text_table


def test_a_lost_cell_after_a_thousand_trailing_separators_is_found(tmp_path):
    path = tmp_path / "trailing.csv"
    rows = [f"C{i},3,POINT ({i} 0)," for i in range(1, 1501)]  # an empty 4th cell each
    rows[1299] = "C1300,3,POINT (1299 0),lost"                  # row 1301: a value lost
    path.write_text("编号,地上层数,WKT\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        check_csv_cells(path)
    assert err.value.row == 1301 and "'lost'" in err.value.message, err.value.message


def test_trailing_empty_cells_alone_pass(tmp_path):
    path = tmp_path / "trailing_ok.csv"
    path.write_text("编号,WKT\n" + "\n".join(f"C{i},POINT ({i} 0)," for i in range(1500))
                    + "\n", encoding="utf-8")
    check_csv_cells(path)  # no error


def test_a_nul_byte_is_refused_with_an_encoding_too(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("编号,名称\nC1,甲楼\nC2,乙\x00楼\n".encode("gbk"))
    with pytest.raises(InputError) as err:
        check_text_table(path, "GBK")
    assert err.value.row == 3 and "NUL" in err.value.message


def test_a_geopackages_write_ahead_log_is_checked_with_it(tmp_path):
    path = tmp_path / "wal.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        {"编号": ["W1", "W2"], "地上层数": [3, 4]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)], crs="EPSG:4527"),
        path, layer="建筑")
    db = sqlite3.connect(path)
    # the R-tree triggers GDAL writes name SpatiaLite's functions (never reached here)
    for fn in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        db.create_function(fn, 1, lambda _g: 0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute('UPDATE "建筑" SET "地上层数" = \'三\' WHERE "编号" = \'W2\'')
    db.commit()
    # the file and its log copied as they are while the writer still has them open
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in ("", "-wal", "-shm"):
        shutil.copy(f"{path}{suffix}", copy / f"wal.gpkg{suffix}")
    db.close()
    assert (copy / "wal.gpkg-wal").stat().st_size > 0
    with pytest.raises(InputError) as err:
        check_gpkg_numbers(copy / "wal.gpkg", "建筑")
    assert err.value.row == 2 and "地上层数" in err.value.message, err.value.message

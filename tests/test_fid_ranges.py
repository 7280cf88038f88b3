"""A converter process reads only its own batches of a GeoPackage, by FID range
(loaders.engine.ranges): the same rows, numbered the same, as reading the file whole — and
only where the FIDs run without a gap; a file changed under the load fails it, naming the
rows, instead of numbering rows wrongly."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pytest
import shapely

from loaders.engine.ranges import FidRanges, fid_ranges, own_batches
from loaders.sources.read import iter_batches, open_source


def _gpkg(path, n: int):
    gdf = gpd.GeoDataFrame({"编号": [f"B{i:03d}" for i in range(1, n + 1)],
                            "层数": list(range(1, n + 1))},
                           geometry=[shapely.box(i, 0, i + 0.5, 0.5) for i in range(n)],
                           crs="EPSG:4527")
    gdf.to_file(path, driver="GPKG", layer="楼", engine="pyogrio")
    return path


def _ids(batch) -> list[str]:
    return batch.attribute("编号").to_pylist()


def test_own_batches_are_the_batches_read_whole(tmp_path):
    src = open_source(_gpkg(tmp_path / "a.gpkg", 25))
    ranges = fid_ranges(src)
    assert ranges == FidRanges(first=1, count=25)
    whole = list(iter_batches(src, 10))
    mine = list(own_batches(src, 10, lambda j: j % 2 == 0, ranges))
    assert [b is None for b in mine] == [False, True, False]
    for j in (0, 2):
        assert mine[j].first_row == whole[j].first_row == 10 * j + 1
        # rows 1–10 and 21–25 of the delivery, as written
        assert _ids(mine[j]) == _ids(whole[j]) == \
            [f"B{i:03d}" for i in range(10 * j + 1, min(10 * j + 11, 26))]
        assert mine[j].wkb.tolist() == whole[j].wkb.tolist()


def test_a_gap_in_the_fids_reads_the_file_whole(tmp_path):
    path = _gpkg(tmp_path / "gap.gpkg", 25)
    with sqlite3.connect(path) as db:  # a row deleted by another tool: fids 1–4, 6–25
        db.execute('DELETE FROM "楼" WHERE fid = 5')
    assert fid_ranges(open_source(path)) is None


def test_other_sources_are_read_whole(tmp_path):
    gdf = gpd.read_file(_gpkg(tmp_path / "a.gpkg", 3))
    gdf.to_file(tmp_path / "a.shp", engine="pyogrio")
    assert fid_ranges(open_source(tmp_path / "a.shp")) is None


def test_a_file_changed_while_it_is_read_fails_naming_the_rows(tmp_path):
    from cim.errors import InputError

    path = _gpkg(tmp_path / "b.gpkg", 25)
    src = open_source(path)
    ranges = fid_ranges(src)
    with sqlite3.connect(path) as db:  # after the ranges were taken
        db.execute('DELETE FROM "楼" WHERE fid = 23')
    batches = own_batches(src, 10, lambda j: j == 2, ranges)
    assert next(batches) is None and next(batches) is None
    with pytest.raises(InputError) as exc:
        next(batches)
    assert "21–25" in exc.value.message and exc.value.row == 21


def test_an_objectid_fid_column_is_filtered_by_its_own_name(tmp_path):
    """An ArcGIS export names its FID column OBJECTID: the ranges filter on it (a filter on
    FID was no column of SQLite's and failed the load)."""
    n = 25
    gdf = gpd.GeoDataFrame({"编号": [f"B{i:03d}" for i in range(1, n + 1)]},
                           geometry=[shapely.box(i, 0, i + 0.5, 0.5) for i in range(n)],
                           crs="EPSG:4527")
    path = tmp_path / "arcgis.gpkg"
    gdf.to_file(path, driver="GPKG", layer="楼", engine="pyogrio",
                layer_options={"FID": "OBJECTID"})
    src = open_source(path)
    ranges = fid_ranges(src)
    assert ranges == FidRanges(first=1, count=25, column="OBJECTID")
    whole = list(iter_batches(src, 10))
    mine = list(own_batches(src, 10, lambda j: j != 1, ranges))
    for j in (0, 2):
        assert _ids(mine[j]) == _ids(whole[j]) and mine[j].first_row == whole[j].first_row


def test_a_view_is_read_whole(tmp_path):
    """A GeoPackage view has no rowid order of its own: read whole."""
    path = _gpkg(tmp_path / "v.gpkg", 25)
    with sqlite3.connect(path) as db:
        db.execute('CREATE VIEW "楼视图" AS SELECT fid, geom, "编号", "层数" FROM "楼" '
                   'ORDER BY "层数" DESC')
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                   "VALUES ('楼视图', 'features', '楼视图', 4527)")
        db.execute("INSERT INTO gpkg_geometry_columns VALUES ('楼视图', 'geom', 'POLYGON', "
                   "4527, 0, 0)")
    src = open_source(path, layer="楼视图")
    assert src.feature_count == 25
    assert fid_ranges(src) is None


"""A large GeoPackage's number check runs beside the load's opening (issue 12: 0.3–0.5 s of a
million-row load's critical path), and its refusal still stops the load before anything is
kept: the bad value in the file's last row, found after the converters were forked and
batches written, rolls the load back, restores the indexes the initial load dropped, and
records the batch failed. The value is written by GDAL's own SQL (ogrinfo -sql); its row is
known by construction (the last fid of a file written in fid order)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from cim.errors import InputError
from data_samples.generate import write_buildings_gpkg
from loaders.sources.read import CHECK_AHEAD_ROWS, open_source
from tests.conftest import run_cli, scratch_db

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="needs GDAL's ogrinfo")

N = CHECK_AHEAD_ROWS + 20_000


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("ahead14", jining_profile) as db:
        yield db


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("ahead") / "大.gpkg"
    write_buildings_gpkg(path, N, seed=3)
    return path


def _set_last(path, value: str) -> None:
    subprocess.run(["ogrinfo", "-q", str(path), "-sql",
                    f"UPDATE buildings SET 地上层数 = {value} WHERE fid = {N}"],
                   check=True, capture_output=True)


def test_open_source_leaves_the_check_running_and_wait_checks_raises_its_refusal(big,
                                                                                 tmp_path):
    bad = tmp_path / "bad.gpkg"
    shutil.copy(big, bad)
    _set_last(bad, "'abc'")
    with pytest.raises(InputError) as refused:  # by default: at the opening, as before
        open_source(bad)
    assert refused.value.row == N and refused.value.field == "地上层数"
    src = open_source(bad, checks_ahead=True)  # opened: the check still running
    assert src.pending_checks is not None
    with pytest.raises(InputError) as later:
        src.wait_checks()
    assert later.value.row == N and "'abc'" in later.value.message
    src.wait_checks()  # waited for once: nothing left


def test_a_bad_last_row_refuses_the_load_after_its_batches_and_leaves_nothing(d, big,
                                                                              tmp_path):
    bad = tmp_path / "末行.gpkg"
    shutil.copy(big, bad)
    _set_last(bad, "'abc'")
    indexes_before = sorted(r[0] for r in d.rows(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'buildings'"))
    proc = run_cli(["load", "buildings", str(bad)], d.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"末行.gpkg, row {N}, field '地上层数'" in proc.stderr, proc.stderr
    assert "'abc'" in proc.stderr
    assert d.scalar("SELECT count(*) FROM buildings") == 0
    assert d.scalar("SELECT count(*) FROM code_registry WHERE layer = 'buildings'") == 0
    assert d.scalar("SELECT status FROM load_batches ORDER BY id DESC LIMIT 1") == "failed"
    # the initial load dropped the layer's indexes (≥ 100,000 features): back
    assert sorted(r[0] for r in d.rows(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'buildings'")) == indexes_before
    assert len(indexes_before) == 4

    _set_last(bad, "5")  # mended: the same file loads whole
    proc = run_cli(["load", "buildings", str(bad)], d.env())
    assert proc.returncode == 0, proc.stderr
    status, read, loaded, rejected = d.rows(
        "SELECT status, read, loaded, rejected FROM load_batches ORDER BY id DESC LIMIT 1")[0]
    assert (status, read, loaded + rejected) == ("succeeded", N, N)
    assert d.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL") == loaded > 0


def _two_tables(path):
    """A GeoPackage of two feature tables, 'a' and 'b', five rows each (fids 1–5)."""
    import geopandas as gpd
    import shapely

    for name in ("a", "b"):
        gpd.GeoDataFrame({"地上层数": [1, 2, 3, 4, 5]},
                         geometry=[shapely.box(i, 0, i + 0.5, 1) for i in range(5)],
                         crs="EPSG:4527").to_file(path, layer=name)
    return path


def _sql(path, sql):
    subprocess.run(["ogrinfo", "-q", str(path), "-sql", sql], check=True, capture_output=True)


def test_a_check_begun_during_the_imports_is_taken_only_for_its_own_table_and_file(tmp_path):
    from loaders.sources import table_checks as tc

    path = _two_tables(tmp_path / "two.gpkg")
    _sql(path, "UPDATE b SET 地上层数 = 'x' WHERE fid = 4")
    tc.start_gpkg_numbers(path, None)  # two feature tables: which one is read is not known
    assert tc._STARTED == {}
    tc.start_gpkg_numbers(path, "a")  # begun for 'a' (clean) ...
    with pytest.raises(InputError) as refused:  # ... 'b' is what the load reads: checked
        tc.gpkg_numbers_ahead(path, "b")()
    assert (refused.value.row, refused.value.field) == (4, "地上层数")
    assert tc._STARTED == {}

    tc.start_gpkg_numbers(path, "a")  # begun while 'a' was clean; then the file changes
    _sql(path, "UPDATE a SET 地上层数 = 2.5 WHERE fid = 2")
    with pytest.raises(InputError) as refused:
        tc.check_gpkg_numbers(path, "a")
    assert (refused.value.row, refused.value.field) == (2, "地上层数")
    assert "fraction 2.5" in refused.value.message


def test_a_single_feature_table_is_checked_from_the_command_start(tmp_path):
    from loaders.sources import table_checks as tc

    path = tmp_path / "one.gpkg"
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame({"建筑高度": [3.0, 6.0, 9.0]},
                     geometry=[shapely.box(i, 0, i + 0.5, 1) for i in range(3)],
                     crs="EPSG:4527").to_file(path, layer="楼")
    _sql(path, "UPDATE 楼 SET 建筑高度 = 'n/a' WHERE fid = 3")
    tc.start_gpkg_numbers(path, None)
    (key, started), = tc._STARTED.items()
    assert key[-1] == "楼"
    with pytest.raises(InputError) as refused:
        tc.check_gpkg_numbers(path, "楼")  # the one begun: waited for, its refusal raised
    assert (refused.value.row, refused.value.field) == (3, "建筑高度")
    assert tc._STARTED == {}


def test_a_table_that_held_dead_rows_is_not_taken_as_never_written(jining_profile):
    """The VACUUM after an initial load skips its index pass only for a table that never
    held a row (review 14: dead rows of a deleted or refused load keep entries in the
    primary key, which the load does not rebuild)."""
    import psycopg

    from cim.layerdefs import LAYERS
    from loaders.engine import indexes

    with scratch_db("fresh14", jining_profile) as db, psycopg.connect(db.conninfo) as conn:
        layer = LAYERS["buildings"]
        assert indexes.never_written(conn, layer)
        conn.execute("INSERT INTO buildings (code, geom) VALUES ('X', ST_Multi(ST_Buffer("
                     "ST_SetSRID(ST_Point(%s, %s), 4527), 5))::geometry(MultiPolygon, 4527))",
                     (db.x0, db.y0))
        conn.execute("DELETE FROM buildings")
        conn.commit()
        assert not indexes.never_written(conn, layer)

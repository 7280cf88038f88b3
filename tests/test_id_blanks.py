"""An id's blanks are no part of it: ``B-01 `` (a CSV or GeoPackage text padded by its
writer) and ``B-01`` are one feature — in one file a duplicate, across reloads the same code.
Expected values by construction: the ids written here."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from loaders.buildings import load_buildings


def _write(path, ids, x, y):
    gpd.GeoDataFrame({"编号": ids, "建筑用途": ["住宅"] * len(ids)},
                     geometry=[box(x + 20 * i, y, x + 20 * i + 10, y + 10) for i in range(len(ids))],
                     crs="EPSG:4527").to_file(path, engine="pyogrio")


def test_an_id_padded_with_blanks_is_the_same_id(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    first = tmp_path / "a.gpkg"
    _write(first, ["B-01 ", "B-02", "\u3000B-02"], x, y)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, first, processes=0, dataset="ids")
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1), r.text()
    assert r.rejected_by_reason == {"duplicate_source_id": 1}
    codes = dict(fresh_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
    assert set(codes) == {"ids:B-01", "ids:B-02"}
    # the same delivery with its ids trimmed: the same features, codes kept, nothing versioned
    again = tmp_path / "b.gpkg"
    _write(again, ["B-01", "B-02"], x, y)
    r2 = load_buildings(fresh_db.conninfo, fresh_db.profile, again, processes=0, dataset="ids")
    assert (r2.inserted, r2.updated, r2.unchanged) == (0, 0, 2), r2.text()
    assert dict(fresh_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL")) \
        == codes


def test_a_duplicates_reject_names_its_field_and_what_repeats(fresh_db, tmp_path):
    """The id field, or — for rows without an id, keyed by their geometry — the geometry."""
    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "dups.gpkg"
    sq = [box(x, y, x + 10, y + 10), box(x + 20, y, x + 30, y + 10)]
    gpd.GeoDataFrame({"编号": ["D-1", "D-1", None, None], "建筑用途": ["住宅"] * 4},
                     geometry=[sq[0], sq[1], sq[1], sq[1]], crs="EPSG:4527"
                     ).to_file(path, engine="pyogrio")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (4, 2, 2), r.text()
    got = fresh_db.rows("SELECT row_number, field, message FROM load_rejects "
                        "WHERE batch_id = %s ORDER BY row_number", (r.batch_id,))
    assert [(n, f) for n, f, _m in got] == [(2, "编号"), (4, "geometry")], got
    assert "'D-1'" in got[0][2] and "keyed by its geometry" in got[1][2], got
    # the row each repeats: row 1 holds D-1, row 3 (no id) the second square
    assert "(row 1 has it)" in got[0][2] and "the same geometry as row 3" in got[1][2], got


def test_a_keys_words_tell_an_id_holding_an_equals_sign_from_another_fields_id():
    from loaders.common import describe_key

    assert describe_key("d", "d:井=7", "编号", ["编号", "名称"]) == (
        "编号", "duplicate source id '井=7' (an earlier row has it)")
    assert describe_key("d", "d:osm_way_id=7", "osm_id", ["osm_id", "osm_way_id"]) == (
        "osm_way_id", "duplicate osm_way_id '7' (an earlier row has it)")
    assert describe_key("d", "d:g" + "0123456789abcdef0123", "编号")[0] is None
    assert describe_key("d", "d:井=7", "编号", ["编号"], row=12) == (
        "编号", "duplicate source id '井=7' (row 12 has it)")
    assert describe_key("d", "d:g" + "0123456789abcdef0123", "编号", row=3,
                        geometry="geom") == (
        "geom", "the same geometry as row 3 (a row without an id is keyed by its geometry)")

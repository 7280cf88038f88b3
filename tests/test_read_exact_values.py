"""What the reader gives the loaders is what was delivered (loaders/sources/read.py):

- an Integer64 column with NULLs keeps its exact integers (pandas read it as float64: 18-digit
  ids 370811000000000001…004 all became 370811000000000000, and attrs held 7040.0 for 7040);
  a reload of rows loaded before keeps them unchanged;
- a CSV column named shape or geom (a cover's 圆形, a material 铸铁) keeps its text: only the
  column whose values are WKT is the geometry (GDAL took every such name as a geometry and
  dropped what it could not parse);
- a CSV row whose WKT GDAL cannot read is told apart from a blank one, its text kept
  (:meth:`Batch.unread_geometries`).

Files written with GDAL (pyogrio) or as text; expected values by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
import shapely

from loaders.common import id_column, source_keys
from loaders.sources import batch, read
from loaders.sources.read import iter_batches, open_source

BASE = 370811000000000001  # past 2^53: a float64 holds only every 64th such integer


def _gpkg(path, columns: dict, geoms, layer: str = "t", append: bool = False):
    import geopandas as gpd

    gpd.GeoDataFrame(columns, geometry=list(geoms), crs="EPSG:4527").to_file(
        path, layer=layer, engine="pyogrio", append=append)
    return path


def _batch(path, layer=None):
    src = open_source(path, layer)
    batches = list(iter_batches(src))
    assert len(batches) == 1
    return src, batches[0]


# -- the reader --------------------------------------------------------------------------------
def test_an_integer64_column_with_nulls_keeps_its_exact_integers(tmp_path):
    ids = [BASE, BASE + 1, BASE + 2, None, BASE + 3]
    path = _gpkg(tmp_path / "i.gpkg", {
        "id": pd.array(ids, dtype="Int64"),
        "small": pd.array([7040, None, 2001, 1, 0], dtype="Int64"),
        "full": pd.array([BASE + 10 + i for i in range(5)], dtype="Int64")},
        [shapely.Point(39_460_000 + i, 3_917_000) for i in range(5)])
    assert pyogrio.read_info(path)["ogr_types"] == ["OFTInteger64"] * 3
    _, b = _batch(path)
    got = {k: b.columns[k].tolist() for k in ("id", "small", "full")}
    assert got == {"id": ids, "small": [7040, None, 2001, 1, 0],
                   "full": [BASE + 10 + i for i in range(5)]}
    assert all(type(v) is int for v in b.columns["small"] if v is not None)
    # a column pandas would round is not handed out in Arrow (an id's text goes through
    # pandas there); others are, as read
    assert b.attribute("id") is None and b.for_parser("id") is b.columns["id"]
    assert isinstance(b.attribute("small"), pa.Array)
    assert isinstance(b.attribute("full"), pa.Array)
    keys = source_keys("d", [("id", id_column(b, "id"))], None, n=len(b))
    assert keys == [f"d:{BASE}", f"d:{BASE + 1}", f"d:{BASE + 2}", None, f"d:{BASE + 3}"]
    # a subset keeps them
    assert b.take(np.array([4, 3])).columns["id"].tolist() == [BASE + 3, None]


# -- CSV geometry columns ----------------------------------------------------------------------
def test_csv_columns_named_shape_and_geom_keep_their_text(tmp_path):
    path = tmp_path / "covers.csv"
    path.write_text("编号,部件小类,WKT,shape,geom,备注\n"
                    "S1,0101,POINT (39465400 3916400),圆形,铸铁,a\n"
                    "S2,0101,POINT (39465410 3916400),方形,复合,b\n"
                    "S3,0101,POINT (39465420 3916400),,,c\n", encoding="utf-8")
    src, b = _batch(path)
    assert src.fields == ["编号", "部件小类", "shape", "geom", "备注"]
    assert src.geometry_field == "WKT"
    assert b.columns["shape"].tolist() == ["圆形", "方形", ""]
    assert b.columns["geom"].tolist() == ["铸铁", "复合", ""]
    assert shapely.get_coordinates(b.geometries).tolist() == [
        [39465400, 3916400], [39465410, 3916400], [39465420, 3916400]]
    assert b.unread_geometries() == {}


@pytest.mark.parametrize("name", ["geometry", "the_geom", "geom", "shape", "Shape", "wkt"])
def test_a_csv_geometry_column_of_any_of_the_names_is_read_as_geometry(tmp_path, name):
    """A column of one of the names whose values are WKT is the geometry, its text no
    attribute (a column named geometry: GDAL names the geometry field as the column)."""
    path = tmp_path / "g.csv"
    path.write_text(f"编号,{name},备注\nA,\"POLYGON ((0 0,1 0,1 1,0 0))\",x\n"
                    "B,POINT (5 6),y\n", encoding="utf-8")
    src, b = _batch(path)
    assert (src.fields, src.geometry_field) == (["编号", "备注"], name)
    assert list(b.columns) == ["编号", "备注"]
    assert shapely.to_wkt(b.geometries).tolist() == ["POLYGON ((0 0, 1 0, 1 1, 0 0))",
                                                     "POINT (5 6)"]


def test_the_wkt_column_is_the_geometry_beside_a_shape_column_holding_wkt(tmp_path):
    """Two columns of WKT: the one named first in the order WKT, geometry, geom, the_geom,
    wkt_geom, shape is the geometry; the other keeps its text as delivered."""
    path = tmp_path / "two.csv"
    path.write_text("shape,id,geometry\nPOINT (1 2),a,POINT (3 4)\n", encoding="utf-8")
    src, b = _batch(path)
    assert src.geometry_field == "geometry"
    assert b.columns["shape"].tolist() == ["POINT (1 2)"]
    assert shapely.to_wkt(b.geometries).tolist() == ["POINT (3 4)"]


def test_a_csv_without_a_wkt_column_keeps_every_column(tmp_path):
    path = tmp_path / "none.csv"
    path.write_text("编号,shape,geom\nA,圆形,铸铁\n", encoding="utf-8")
    with pytest.raises(read.InputError, match="no geometry column"):
        open_source(path)
    src = open_source(path, require_geometry=False)
    assert (src.fields, src.geometry_field) == (["编号", "shape", "geom"], None)


def test_a_csv_row_whose_wkt_gdal_cannot_read_keeps_its_text(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("编号,WKT,备注\n"
                    "E1,POINT (39464200 3915900),ok\n"
                    "E2,POINT (39464210 3915900,missing bracket\n"
                    "E3,\"POINT (39464220, 3915900)\",comma\n"
                    "E4,point(39464230 3915900),lower\n"
                    "E5,,blank\n"
                    "E6,   ,blanks\n"
                    "E7,39464270 3915900,bare\n", encoding="utf-8")
    src, b = _batch(path)
    assert src.fields == ["编号", "备注"]
    assert shapely.is_missing(b.geometries).tolist() == [False, True, True, False, True, True,
                                                          True]
    assert b.geometry_field == "WKT"
    assert b.unread_geometries() == {1: "POINT (39464210 3915900", 2: "POINT (39464220, 3915900)",
                                     6: "39464270 3915900"}
    sub = b.take(np.array([6, 0, 4, 2]))
    assert (sub.geometry_field, sub.unread_geometries()) == (
        "WKT", {0: "39464270 3915900", 3: "POINT (39464220, 3915900)"})
    # no other source has any
    other = _gpkg(tmp_path / "o.gpkg", {"a": [1]}, [None])
    assert _batch(other)[1].unread_geometries() == {}


# -- real loads --------------------------------------------------------------------------------
def _cell_xy(db) -> tuple[float, float]:
    _code, x, y = db.big_cell()
    return x, y


def test_buildings_keyed_by_18_digit_integer64_ids_with_a_null(fresh_db, tmp_path):
    from loaders.buildings import load_buildings

    x, y = _cell_xy(fresh_db)
    ids = [BASE, BASE + 1, BASE + 2, BASE + 3, None]
    path = _gpkg(tmp_path / "b.gpkg", {
        "编号": pd.array(ids, dtype="Int64"),
        "层高X": pd.array([7040, None, 3, 4, 5], dtype="Int64")},
        [shapely.box(x + 30 * i, y, x + 30 * i + 20, y + 20) for i in range(5)])
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="b", processes=0)
    assert (r.read, r.loaded, r.rejected) == (5, 5, 0), r.rejected_by_reason
    got = dict(fresh_db.rows("SELECT source_key, attrs::text FROM buildings "
                             "WHERE valid_to IS NULL AND source_key NOT LIKE 'b:g%%'"))
    assert got == {f"b:{BASE}": '{"层高X": 7040}', f"b:{BASE + 1}": '{"层高X": null}',
                   f"b:{BASE + 2}": '{"层高X": 3}', f"b:{BASE + 3}": '{"层高X": 4}'}


def test_gis_pipes_with_18_digit_integer64_ids_and_nulls(fresh_db, tmp_path):
    """Four node ids and three pipe ids past 2^53, each column with a NULL: every one loads
    under its own id, each line joined to its own nodes (they were read as one float: three
    nodes rejected as duplicate_point, two pipes as duplicate_source_id)."""
    from loaders.pipes.load import load_pipes_files

    x, y = _cell_xy(fresh_db)
    node = [BASE, BASE + 1, BASE + 2, BASE + 3]
    path = _gpkg(tmp_path / "d4.gpkg", {
        "管段编号": pd.array([BASE + 100, BASE + 101, BASE + 102, None], dtype="Int64"),
        "node_a": pd.array([node[0], node[1], node[2], node[2]], dtype="Int64"),
        "node_b": pd.array([node[1], node[2], node[3], None], dtype="Int64"),
        "year": pd.array([2001, None, 2003, 2004], dtype="Int64"),
        "起点埋深": [1.0] * 4, "终点埋深": [1.0] * 4},
        [shapely.LineString([(x + 30 * i, y, 39), (x + 30 * (i + 1), y, 39)]) for i in range(3)]
        + [shapely.LineString([(x + 60, y, 39), (x + 60, y + 30, 39)])], layer="pipes")
    _gpkg(path, {"id": pd.array([*node, None], dtype="Int64"), "地面高程": [40.0] * 5},
          [shapely.Point(x + 30 * i, y, 40.0) for i in range(4)]
          + [shapely.Point(x + 500, y + 500, 40.0)], layer="nodes", append=True)
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, None, lines=f"{path}:pipes",
                            points=f"{path}:nodes", class_opt="给水", dataset="d4")
    reasons = dict(fresh_db.rows("SELECT reason, count(*) FROM load_rejects "
                                 "WHERE batch_id = %s GROUP BY 1", (r.batch_id,)))
    assert "duplicate_point" not in reasons and "duplicate_source_id" not in reasons, reasons
    points = dict(fresh_db.rows(
        "SELECT point_no, ST_X(geom)::numeric(12,1)::text FROM pipe_points "
        "WHERE valid_to IS NULL AND point_no IS NOT NULL"))
    assert {k: v for k, v in points.items() if k in map(str, node)} == {
        str(n): f"{x + 30 * i:.1f}" for i, n in enumerate(node)}
    segs = {k: (a, b, yr) for k, a, b, yr in fresh_db.rows(
        "SELECT s.source_key, a.point_no, b.point_no, s.attrs->>'year' FROM pipe_segments s "
        "JOIN pipe_points a ON a.code = s.start_point_code AND a.valid_to IS NULL "
        "JOIN pipe_points b ON b.code = s.end_point_code AND b.valid_to IS NULL "
        "WHERE s.valid_to IS NULL")}
    assert segs == {
        f"d4:JS:{BASE + 100}": (str(node[0]), str(node[1]), "2001"),
        f"d4:JS:{BASE + 101}": (str(node[1]), str(node[2]), None),
        f"d4:JS:{BASE + 102}": (str(node[2]), str(node[3]), "2003")}
    # the fourth line has no end node, the fifth node no id: rejected, named so
    assert sorted(fresh_db.rows(
        "SELECT attrs->>'_table', row_number, reason, field FROM load_rejects "
        "WHERE batch_id = %s", (r.batch_id,))) == [
        ("d4.gpkg:nodes", 5, "missing_value", "id"),
        ("d4.gpkg:pipes", 4, "missing_value", "node_b")]
    # the year column is an integer in attrs, not 2001.0
    assert fresh_db.scalar("SELECT attrs->'year' FROM pipe_segments WHERE source_key = %s",
                           (f"d4:JS:{BASE + 100}",)) == 2001
    assert "2001.0" not in fresh_db.scalar(
        "SELECT string_agg(attrs::text, ' ') FROM pipe_segments")


def test_gis_pipe_ids_stored_as_floats_past_2_53_are_refused(fresh_db, tmp_path):
    """A REAL column of ids: a whole float is its integer's id (7040.0 is 7040); one past 2^53
    has lost the id's digits — the row is rejected naming the field, never keyed by an id
    nobody delivered."""
    from loaders.pipes.load import load_pipes_files

    x, y = _cell_xy(fresh_db)
    path = _gpkg(tmp_path / "real.gpkg", {"管段编号": [float(BASE + 100), 7040.0]},
                 [shapely.LineString([(x, y + 40 * i), (x + 30, y + 40 * i)]) for i in range(2)],
                 layer="pipes")
    assert pyogrio.read_info(path, layer="pipes")["ogr_types"] == ["OFTReal"]
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, None, lines=f"{path}:pipes",
                            class_opt="给水", dataset="real")
    rejects = fresh_db.rows("SELECT row_number, reason, field, message FROM load_rejects "
                            "WHERE batch_id = %s AND attrs->>'_table' = 'real.gpkg:pipes'",
                            (r.batch_id,))
    assert [x[:3] for x in rejects] == [(1, "bad_value", "管段编号")], rejects
    assert "lost digits" in rejects[0][3]
    assert [k for (k,) in fresh_db.rows("SELECT source_key FROM pipe_segments "
                                        "WHERE valid_to IS NULL")] == ["real:JS:7040"]


def _pre_fix_reader(monkeypatch) -> None:
    """The reader before the fix: an integer column with nulls read through pandas (float64),
    in Arrow wherever asked for."""
    monkeypatch.setattr(batch, "object_column",
                        lambda arr: np.asarray(arr.to_pandas(), dtype=object))
    monkeypatch.setattr(batch, "_rounded_as_float", lambda arr: False)


@pytest.mark.parametrize("processes", [0, 2])
def test_a_reload_of_rows_loaded_before_the_fix_finds_them_unchanged(fresh_db, tmp_path,
                                                                     monkeypatch, processes):
    """Rows loaded while an integer column with nulls was read as floats (attrs 7040.0,
    ids through 7040.0) are found unchanged by the first reload after the fix — a new
    conversion, every row converted again — and by the one after it."""
    from loaders.buildings import load_buildings
    from tests.test_reload_fingerprint import _new_release

    release = _new_release(monkeypatch, tmp_path)
    x, y = _cell_xy(fresh_db)
    n = 40
    path = _gpkg(tmp_path / "old.gpkg", {
        "编号": pd.array([7000 + i if i % 7 else None for i in range(n)], dtype="Int64"),
        "层高X": pd.array([None if i % 3 == 0 else 2000 + i for i in range(n)], dtype="Int64"),
        "备注X": ["a"] * n},
        [shapely.box(x + 25 * (i % 8), y + 25 * (i // 8), x + 25 * (i % 8) + 20,
                     y + 25 * (i // 8) + 20) for i in range(n)])

    def load():
        return load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="old",
                              processes=processes, batch_size=16)

    with monkeypatch.context() as m:
        _pre_fix_reader(m)
        first = load()
    assert (first.loaded, first.rejected) == (n, 0)
    stored = fresh_db.scalar("SELECT attrs::text FROM buildings WHERE source_key = 'old:7001'")
    assert stored == '{"备注X": "a", "层高X": 2001.0}'  # as the reader before the fix kept it
    release(2)  # the fix changed the conversion code: every row converted again
    r = load()
    assert (r.inserted, r.updated, r.unchanged, r.rejected) == (0, 0, n, 0)
    r = load()
    assert (r.inserted, r.updated, r.unchanged, r.rejected) == (0, 0, n, 0)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == n
    # the same file loaded afresh keeps the integers
    load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="new", processes=0)
    assert fresh_db.scalar("SELECT attrs::text FROM buildings WHERE source_key = 'new:7001'") \
        == '{"备注X": "a", "层高X": 2001}'


def test_a_component_csv_keeps_its_shape_and_geom_columns_in_attrs(fresh_db, tmp_path):
    from loaders.components import load_components

    x, y = _cell_xy(fresh_db)
    path = tmp_path / "p14.csv"
    path.write_text("编号,部件小类,WKT,shape,geom,备注\n"
                    f"S1,0101,POINT ({x} {y}),圆形,铸铁,a\n"
                    f"S2,0101,POINT ({x + 10} {y}),方形,复合,b\n", encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, crs="EPSG:4527",
                        processes=0)
    assert (r.read, r.loaded, r.rejected) == (2, 2, 0), r.rejected_by_reason
    got = dict(fresh_db.rows("SELECT source_key, attrs->>'shape' || '/' || (attrs->>'geom') "
                             "FROM components WHERE valid_to IS NULL"))
    assert got == {"p14:S1": "圆形/铸铁", "p14:S2": "方形/复合"}
    assert fresh_db.scalar("SELECT count(*) FROM components WHERE attrs ? 'WKT'") == 0


def test_malformed_wkt_is_rejected_as_invalid_naming_the_field(fresh_db, tmp_path):
    """A census row whose WKT GDAL cannot read is an invalid geometry of the WKT field, its
    text kept in the reject (it was "the feature has no geometry (null)", the text gone); a
    blank cell is still no geometry. The same through the staged path (roads)."""
    from loaders.city_base import load_base
    from loaders.components import load_components

    _code, x, y = fresh_db.big_cell()
    bad = f"POINT ({x + 10} {y + 10}"
    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,WKT\n"
                    f"W1,上水井盖,POINT ({x + 5} {y + 5})\n"
                    f"W2,上水井盖,{bad}\n"
                    "W3,上水井盖,\n", encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, crs="EPSG:4527",
                        processes=0)
    assert (r.read, r.loaded, r.rejected) == (3, 1, 2), r.text()
    got = fresh_db.rows("SELECT row_number, reason, field, attrs->>'WKT' FROM load_rejects "
                        "WHERE batch_id = %s ORDER BY row_number", (r.batch_id,))
    # a blank WKT names its field too; rows as a spreadsheet shows them (the header is row 1)
    assert got == [(3, "invalid_geometry", "WKT", bad), (4, "empty_geometry", "WKT", None)], got
    roads = tmp_path / "roads.csv"
    line = f"LINESTRING ({x} {y + 50}, {x + 100} {y + 50})"
    roads.write_text("编号,道路名称,道路等级,WKT\n"
                     f"R1,甲路,主干路,\"{line}\"\n"
                     f"R2,乙路,主干路,\"LINESTRING ({x} {y + 60}, {x + 100} {y + 60}\"\n",
                     encoding="utf-8")
    r2 = load_base(fresh_db.conninfo, fresh_db.profile, "roads", roads, crs="EPSG:4527")
    assert (r2.read, r2.loaded, r2.rejected) == (2, 1, 1), r2.text()
    assert fresh_db.rows("SELECT row_number, reason, field FROM load_rejects "
                         "WHERE batch_id = %s", (r2.batch_id,)) == [(3, "invalid_geometry", "WKT")]

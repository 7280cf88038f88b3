"""A true/false value (Excel's TRUE, a GeoPackage BOOLEAN field) where a number or a year is
expected is refused as a bad value naming the field — never read as 1 or 0 (Python's True is
the integer 1, and pandas converts it so). Plain number columns stay checked in bulk."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pyarrow as pa
import pyogrio
import pytest
from shapely.geometry import LineString, box

import loaders.column_values as column_values
import loaders.dates as dates
import loaders.fields as fields
from cim.numbers import ValueProblem
from loaders.buildings import load_buildings
from loaders.city_base import load_base
from loaders.dates import as_year, years
from loaders.fields import as_float, as_int, numbers
from loaders.pipes.load import load_pipes_files
from tests.conftest import make_db, server_url

CRS = "EPSG:4527"


def objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@pytest.mark.parametrize("v", [True, False, np.bool_(True), np.bool_(False)])
def test_scalar_parsers_refuse_true_and_false(v):
    for parse, what in ((as_float, "number"), (lambda x: as_int(x), "number"),
                        (lambda x: as_float(x, 0, 100), "number"), (as_year, "year")):
        with pytest.raises(ValueProblem, match=f'^"{bool(v)}" is not a {what}'):
            parse(v)
    # numbers stay numbers
    assert as_float(1) == 1.0 and as_int(np.int64(3)) == 3 and as_year(1995) == 1995


def test_column_parsers_reject_each_true_false_row():
    msg_t, msg_f = ('"True" is not a number (a true/false value)',
                    '"False" is not a number (a true/false value)')
    # a NumPy boolean column, an Arrow one (a GDAL boolean field as read), an object column
    # of booleans with a missing value, and booleans among numbers and texts
    for col, want, problems in (
            (np.array([True, False]), [None, None], {0: msg_t, 1: msg_f}),
            (pa.array([True, None, False]), [None, None, None], {0: msg_t, 2: msg_f}),
            (objects([True, None]), [None, None], {0: msg_t}),
            (objects([36.3, True, None, "12m"]), [36.3, None, None, 12.0], {1: msg_t}),
            (objects([1.5, np.bool_(False), 2]), [1.5, None, 2.0], {1: msg_f})):
        out, got = numbers(col)
        assert out.tolist() == want and got == problems, col
    out, got = numbers(objects([1, True, 3]), 0, 100, integer=True)
    assert out.tolist() == [1, None, 3] and got == {1: msg_t}
    out, got = numbers(np.array([False]), integer=True)
    assert out.tolist() == [None] and got == {0: msg_f}
    # years: a boolean column was an AttributeError of pandas' .str; 1 and 0 are no years
    for col in (np.array([True, False]), pa.array([True, False]), objects([1995, True])):
        out, got = years(col)
        assert out.tolist()[-1] is None
        assert got[len(col) - 1] == f'"{bool(col[len(col) - 1])}" is not a year (a true/false value)'
    assert years(objects([1995, True, "1996"]))[0].tolist() == [1995, None, 1996]


def test_plain_number_columns_stay_in_bulk(monkeypatch):
    """No value of a plain number column goes to the scalar parser (no Python per row)."""
    seen: list[int] = []
    real = column_values.fallback

    def spy(values, out, suspects, parse, problems):
        seen.append(len(suspects))
        return real(values, out, suspects, parse, problems)

    for module in (column_values, fields, dates):  # each module's own name for it
        monkeypatch.setattr(module, "fallback", spy)
    cols = [np.array([1.5, 2.0, 3.25]), np.array([1, 2, 3]), pa.array([1.5, None, 2.0]),
            pa.array([1, 2, None], pa.int32()), objects([1.5, None, 2]),
            objects([np.float64(1.5), np.int64(2)])]
    for col in cols:
        out, problems = numbers(col)
        assert not problems
        out, problems = numbers(col, 0, 10)
        assert not problems
    out, problems = years(objects([1995, None, 2001.0]))
    assert out.tolist() == [1995, None, 2001] and not problems
    assert sum(seen) == 0, seen


@pytest.fixture(scope="module")
def bdb(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("boolnum", jining_profile)
    _cell, d.x0, d.y0 = d.big_cell()
    yield d
    drop_database(server_url(), d.name)


def _rejects(db, batch_id):
    return db.rows("SELECT row_number, reason, field, message FROM load_rejects "
                   "WHERE batch_id = %s ORDER BY row_number", (batch_id,))


def test_excel_true_in_ground_elevation_is_rejected(bdb, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "给水管线点"
    ws.append(["点号", "特征", "X坐标", "Y坐标", "地面高程(m)"])
    ws.append(["P1", "直线点", 3913751.11, 39464012.238, 36.3])
    ws.append(["P2", "直线点", 3913771.11, 39464012.238, True])  # TRUE in a number column
    ws.append(["P3", "直线点", 3913791.11, 39464012.238, 36.5])
    ws2 = wb.create_sheet("给水管线段")
    ws2.append(["起点号", "终点号", "起点埋深(m)", "终点埋深(m)", "材质", "管径(mm)"])
    ws2.append(["P1", "P3", 1.5, False, "钢", "DN300"])  # FALSE in a depth
    src = tmp_path / "给水.xlsx"
    wb.save(src)
    r, _ = load_pipes_files(bdb.conninfo, bdb.profile, [src])
    rej = _rejects(bdb, r.batch_id)
    # a pipe reject names the field as the sheet has it
    assert [x[:3] for x in rej] == [(2, "bad_value", "终点埋深(m)"),
                                    (3, "bad_value", "地面高程(m)")]
    assert all('"True"' in m or '"False"' in m for _n, reason, _f, m in rej
               if reason == "bad_value")
    assert r.read == r.loaded + r.rejected
    got = dict(bdb.rows("SELECT source_key, ground_elevation FROM pipe_points "
                        "WHERE valid_to IS NULL AND batch_id = %s", (r.batch_id,)))
    assert sorted(got.values()) == [36.3, 36.5]  # P2 is not loaded at 1.0 m


def test_gpkg_boolean_field_in_number_columns_is_rejected(bdb, tmp_path):
    """A GeoPackage BOOLEAN (GDAL OFSTBoolean) mapped to a number column: roads (staged
    writer, scalar parsers) and buildings (direct writer, column parsers)."""
    x, y = bdb.x0, bdb.y0
    roads = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame({"编号": ["R1", "R2", "R3"], "道路等级": ["支路"] * 3,
                      "红线宽度": [True, False, True], "车道数": [2, 2, 2]},
                     geometry=[LineString([(x - 100, y + 10 * k), (x + 100, y + 10 * k)])
                               for k in range(3)], crs=CRS).to_file(roads, driver="GPKG")
    info = pyogrio.read_info(roads)
    assert info["ogr_subtypes"][list(info["fields"]).index("红线宽度")] == "OFSTBoolean"
    r = load_base(bdb.conninfo, bdb.profile, "roads", roads)
    assert (r.read, r.loaded, r.rejected) == (3, 0, 3)
    assert [x[:3] for x in _rejects(bdb, r.batch_id)] == [
        (1, "bad_value", "红线宽度"), (2, "bad_value", "红线宽度"), (3, "bad_value", "红线宽度")]
    assert '"True" is not a number' in _rejects(bdb, r.batch_id)[0][3]

    lanes = tmp_path / "lanes.gpkg"
    gpd.GeoDataFrame({"编号": ["L1", "L2"], "道路等级": ["支路"] * 2, "红线宽度": [12.0, 12.0],
                      "车道数": [True, None]},
                     geometry=[LineString([(x - 100, y + 50 + k), (x + 100, y + 50 + k)])
                               for k in range(2)], crs=CRS).to_file(lanes, driver="GPKG")
    r = load_base(bdb.conninfo, bdb.profile, "roads", lanes)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1)
    assert [x[:3] for x in _rejects(bdb, r.batch_id)] == [(1, "bad_value", "车道数")]

    bld = tmp_path / "bld.gpkg"
    gpd.GeoDataFrame({"编号": ["B1", "B2", "B3"], "建筑用途": ["住宅"] * 3,
                      "地上层数": [3, 4, 5], "建筑高度": [True, False, True],
                      "建成年代": [True, False, True]},
                     geometry=[box(x - 60 + 30 * k, y - 80, x - 40 + 30 * k, y - 60)
                               for k in range(3)], crs=CRS).to_file(bld, driver="GPKG")
    r = load_buildings(bdb.conninfo, bdb.profile, bld, processes=0)
    assert (r.read, r.loaded, r.rejected) == (3, 0, 3)
    rej = _rejects(bdb, r.batch_id)
    assert [x[:2] for x in rej] == [(1, "bad_value"), (2, "bad_value"), (3, "bad_value")]
    assert {f for _n, _r, f, _m in rej} <= {"建筑高度", "建成年代"}, rej


def test_true_false_in_a_code_field_is_no_code(bdb, tmp_path):
    """A GeoPackage BOOLEAN as a parcel's land-use code is no code: rejected as unknown, not
    read as 1 → 01 (耕地); a sensor type code typed TRUE is no type "01"; a unit code TRUE is
    no platform code."""
    import numpy as np

    from loaders.planning import load_planning
    from loaders.population import RowProblem, _code
    from loaders.sensors import _code_text

    x, y = bdb.x0, bdb.y0
    path = tmp_path / "parcels.gpkg"
    gpd.GeoDataFrame({"地块编码": ["A1", "A2"], "用地代码": [True, False], "容积率": [2.0, 2.0]},
                     geometry=[box(x + 40 * k, y, x + 40 * k + 30, y + 30) for k in range(2)],
                     crs=CRS).to_file(path, driver="GPKG")
    info = pyogrio.read_info(path)
    assert info["ogr_subtypes"][list(info["fields"]).index("用地代码")] == "OFSTBoolean"
    r = load_planning(bdb.conninfo, bdb.profile, path, kind="parcels")
    assert (r.read, r.loaded, r.rejected) == (2, 0, 2)
    assert {x[1:3] for x in _rejects(bdb, r.batch_id)} == {("unknown_class", "用地代码")}
    assert _code_text(True) == "True" and _code_text(np.bool_(False)) == "False"
    assert _code_text(1) == "01"  # an integer still is the code it was typed as
    with pytest.raises(RowProblem, match="not a platform code"):
        _code(True, "单元编码")

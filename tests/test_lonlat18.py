"""A point table whose place is 经度/纬度 (a vendor's sensor registry, a census in degrees)
is read from them (probe of 2026-12-07): the sensor loader set the columns aside as
attributes and placed a sensor at its asset's point, 224 m from the delivered one, or rejected
it "X/Y are empty". 纬度 is the X (northing) and 经度 the Y (easting) of the survey tables'
convention; in degrees the CRS is asked for (EPSG:4490), as for any table in degrees.
Expected positions: the delivered degrees themselves."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

LON, LAT = 116.59618063978013, 35.36534102702786


def _write(path, header: str, row: str) -> None:
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")


@pytest.mark.parametrize("kind,header,row,table", [
    ("sensors", "设备编号,设备名称,监测类型,计量单位,安装日期,状态,上报周期(秒),数据来源,经度,纬度",
     f"PX-002,压力计2,管网压力,MPa,2024-11-06,运行,300,水务平台,{LON},{LAT}", "sensors"),
    ("components", "编号,部件小类,经度,纬度", f"LL001,上水井盖,{LON},{LAT}", "components"),
])
def test_degrees_in_lonlat_columns_are_the_place(fresh_db, tmp_path, kind, header, row,
                                                 table):
    f = tmp_path / f"{kind}.csv"
    _write(f, header, row)
    p = run_cli(["load", kind, str(f)], fresh_db.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert "degrees of longitude and latitude" in p.stderr and "EPSG:4490" in p.stderr
    p = run_cli(["load", kind, str(f), "--crs", "EPSG:4490"], fresh_db.env())
    assert p.returncode == 0, p.stderr
    assert "rejected   0" in p.stdout, p.stdout
    x, y = fresh_db.rows(f"SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, 4490) AS g "
                         f"FROM {table} WHERE valid_to IS NULL) q")[0]
    assert x == pytest.approx(LON, abs=1e-9) and y == pytest.approx(LAT, abs=1e-9)

"""A sensor registry whose place is 经度/纬度 (probe of 2026-12-07): the columns were set
aside as attributes and each sensor placed at its asset's point, 224 m from the delivered one,
or rejected "X/Y are empty". Without X/Y it is refused naming them and how to load them; a
mapping (x: 纬度, y: 经度) with --crs EPSG:4490 loads the delivered degrees. A census or survey
table holding such columns beside its X/Y keeps its X/Y (the review of the first fix: aliases
of X/Y took 纬度 over X坐标(m)). Expected positions: the delivered degrees themselves."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

LON, LAT = 116.59618063978013, 35.36534102702786
SENSORS = "设备编号,设备名称,监测类型,计量单位,安装日期,状态,上报周期(秒),数据来源"
ROW = "PX-002,压力计2,管网压力,MPa,2024-11-06,运行,300,水务平台"


def test_a_registry_in_degrees_is_refused_then_loaded_by_its_mapping(fresh_db, tmp_path):
    f = tmp_path / "sensors.csv"
    f.write_text(f"{SENSORS},经度,纬度\n{ROW},{LON},{LAT}\n", encoding="utf-8")
    p = run_cli(["load", "sensors", str(f)], fresh_db.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert "'纬度' and '经度' look like latitude and longitude" in p.stderr, p.stderr
    assert "x: 纬度, y: 经度" in p.stderr and "EPSG:4490" in p.stderr
    assert fresh_db.scalar("SELECT count(*) FROM sensors") == 0
    m = tmp_path / "m.yaml"
    m.write_text("x: 纬度\ny: 经度\n", encoding="utf-8")
    p = run_cli(["load", "sensors", str(f), "--mapping", str(m), "--crs", "EPSG:4490"],
                fresh_db.env())
    assert p.returncode == 0, p.stderr
    x, y = fresh_db.rows("SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, 4490) AS g "
                         "FROM sensors WHERE valid_to IS NULL) q")[0]
    assert x == pytest.approx(LON, abs=1e-9) and y == pytest.approx(LAT, abs=1e-9)


def test_x_y_beside_degree_columns_are_the_place(fresh_db, tmp_path):
    _code, e, n = fresh_db.big_cell()
    f = tmp_path / "sensors.csv"
    f.write_text(f"{SENSORS},X坐标(m),Y坐标(m),纬度,经度\n{ROW},{n},{e},{LAT},{LON}\n",
                 encoding="utf-8")
    p = run_cli(["load", "sensors", str(f)], fresh_db.env())
    assert p.returncode == 0, p.stderr
    assert "x←X坐标(m)" in p.stdout, p.stdout
    x, y = fresh_db.rows("SELECT ST_X(geom), ST_Y(geom) FROM sensors WHERE valid_to IS NULL")[0]
    assert (x, y) == pytest.approx((e, n), abs=1e-6)

"""A sensor registry's X/Y written by Excel in scientific notation that lost whole metres
(3.91374E+06 for 3913741.6) is refused naming the row and the column, as survey points and
census components are (loaders.excel_notation.as_coordinate): it was read as 3913740 and the sensor
stored metres — with the zone-prefixed easting tens of metres — away from where it hangs."""

from __future__ import annotations

from loaders.sensors import load_sensors

HEADER = "设备编号,设备名称,监测类型,计量单位,监测对象编码,安装日期,状态,上报周期(秒),数据来源,X,Y\n"


def test_excel_rounded_coordinates_refused_naming_row_and_column(fresh_db, tmp_path):
    _, e, n = fresh_db.big_cell()  # storage easting, northing (the survey's Y, X)
    p = tmp_path / "传感器.csv"
    rows = [f"S-1,整数米,燃气浓度,%LEL,,,,,,{n:.2f},{e:.2f}",                    # row 2
            f"S-2,X丢了米,燃气浓度,%LEL,,,,,,{n / 1e6:.5f}E+06,{e:.2f}",          # row 3
            f"S-3,Y丢了米,燃气浓度,%LEL,,,,,,{n:.2f},{e / 1e7:.5f}E+07",          # row 4
            f"S-4,科学计数完整,燃气浓度,%LEL,,,,,,{round(n) / 1e6:.6f}E+06,{e:.2f}"]  # row 5
    p.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    rep = load_sensors(fresh_db.conninfo, fresh_db.profile, p)
    assert (rep.read, rep.loaded, rep.rejected) == (4, 2, 2)
    got = fresh_db.rows("SELECT row_number, field, message FROM load_rejects "
                        "WHERE batch_id = %s ORDER BY row_number", (rep.batch_id,))
    assert [(r, f) for r, f, _ in got] == [(3, "X"), (4, "Y")], got
    assert f"{n / 1e6:.5f}E+06" in got[0][2], got[0]
    # the whole-metre one stands where its digits say (X northing, Y easting)
    x4, y4 = fresh_db.rows("SELECT ST_Y(geom), ST_X(geom) FROM sensors "
                           "WHERE device_id = 'S-4'")[0]
    assert (round(x4, 3), round(y4, 3)) == (float(round(n)), round(e, 2)), (x4, y4)

"""A sensor registered with X and Y typed the wrong way round was rejected "outside every
district" with no word of why, where a census row so was named "are they swapped?" (the
staged writer's reject, which sensors take, said nothing). Expected: the district that
covers the point with its coordinates exchanged, from the profile's boundaries."""

from __future__ import annotations

import json

import shapely

from tests.conftest import run_cli

E, N = 39_464_788.389, 3_914_297.408  # inside the sample city (EPSG:4527)


def test_a_sensor_of_exchanged_x_and_y_is_told_so(fresh_db, tmp_path):
    path = tmp_path / "传感器.csv"
    path.write_text("设备编号,设备名称,监测类型,计量单位,X,Y\n"
                    f"S-SW1,探测器1,燃气浓度,%LEL,{E},{N}\n"     # exchanged
                    f"S-OK1,探测器2,燃气浓度,%LEL,{N},{E}\n", encoding="utf-8")
    rep = json.loads(run_cli(["load", "sensors", str(path), "--json"], fresh_db.env(),
                             check=True).stdout)
    assert (rep["loaded"], rep["rejected"]) == (1, 1), rep
    (district,) = [c for c, wkb in fresh_db.rows(
        "SELECT code, ST_AsBinary(geom) FROM admin_divisions WHERE valid_to IS NULL "
        "AND level = 3") if shapely.from_wkb(bytes(wkb)).intersects(shapely.Point(E, N))]
    ((row, reason, message),) = fresh_db.rows(
        "SELECT row_number, reason, message FROM load_rejects WHERE batch_id = %s",
        (rep["batch_id"],))
    assert (row, reason) == (2, "outside_area")
    assert f"with its X and Y exchanged it lies in district {district}" in message, message

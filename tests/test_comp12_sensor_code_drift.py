"""A sensor re-registered under another type (燃气浓度 01 → 管网压力 02) keeps its code, as
README has it ("kept per device id on reload"), but the code spells district + 92 + type:
it then names the old type, silently. The load's report names each such sensor. Expected
values by construction: the rows written and the one changed."""

from __future__ import annotations

import csv

from loaders.sensors import load_sensors
from tests.conftest import scratch_db


def _write(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["设备编号", "设备名称", "监测类型", "计量单位", "X", "Y"])
        w.writerows(rows)


def test_a_sensor_of_another_type_on_reload_is_named_with_its_kept_code(jining_profile,
                                                                        tmp_path):
    with scratch_db("c12sdrift", jining_profile) as d:
        n, e = d.y0, d.x0
        path = tmp_path / "设备.csv"
        rows = [["S-1", "探测器1", "燃气浓度", "%LEL", f"{n:.3f}", f"{e:.3f}"],
                ["S-2", "探测器2", "燃气浓度", "%LEL", f"{n + 10:.3f}", f"{e:.3f}"]]
        _write(path, rows)
        first = load_sensors(d.conninfo, d.profile, path)
        assert (first.loaded, first.rejected) == (2, 0), first.text()
        code = d.scalar("SELECT code FROM sensors WHERE device_id = 'S-1' AND valid_to IS NULL")
        assert code[6:10] == "9201"
        rows[0][2], rows[0][3] = "管网压力", "MPa"
        _write(path, rows)
        second = load_sensors(d.conninfo, d.profile, path)
        assert second.updated == 1, second.text()
        assert d.rows("SELECT code, type_code FROM sensors WHERE device_id = 'S-1' "
                      "AND valid_to IS NULL") == [(code, "02")]
        notes = [x for x in second.notes if "codes kept" in x]
        assert len(notes) == 1 and notes[0].startswith("1 sensors keep codes"), second.notes
        assert f"{code} (code: {code[:6]} type 01, now: {code[:6]} type 02)" in notes[0], notes
        third = load_sensors(d.conninfo, d.profile, path)
        assert not [x for x in third.notes if "codes kept" in x], third.notes

"""`cim iot import` of a vendor's export that says its unit — a 计量单位/单位 column, or the
unit in the value column's header (监测值(kPa)) — checks it against the sensor's unit (its
type's, in which the readings are stored and the thresholds written). The unit was ignored: a
pipe pressure of 250 kPa was stored as 250 MPa (the water main's 0.22 MPa drop alarm could
never open, and the series were a thousand times off), silently.

By construction: type 02 管网压力 is in MPa (sensor_types.csv), type 01 燃气浓度 in %LEL.
"""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.iot_fixture import add_sensor, counts, iot_database


@pytest.fixture(scope="module")
def d(jining_profile):
    with iot_database(jining_profile, "iotunits") as db:
        db.press = add_sensor(db, 1, "02", db.water_pipe, "01", device_id="U-PRESS")
        db.gas = add_sensor(db, 2, "01", db.gas_pipe, "03", device_id="U-GAS")
        yield db


def _import(d, tmp_path, text):
    f = tmp_path / "readings.csv"
    f.write_text(text, encoding="utf-8")
    return run_cli(["iot", "import", str(f)], d.env()), f


def test_a_unit_column_in_another_unit_is_refused_naming_row_and_field(d, tmp_path):
    p, f = _import(d, tmp_path, "设备编号,监测时间,监测值,单位\n"
                   "U-PRESS,2026-12-01T08:00:00+08:00,0.30,MPa\n"
                   "U-GAS,2026-12-01T08:00:00+08:00,3,％LEL\n"
                   "U-PRESS,2026-12-01T08:05:00+08:00,250,kPa\n")
    assert p.returncode != 0
    assert str(f) in p.stderr and "row 4" in p.stderr and "单位" in p.stderr
    assert "'kPa'" in p.stderr and "MPa" in p.stderr
    assert counts(d, d.press)["readings"] == 0 and counts(d, d.gas)["readings"] == 0
    # the sensor's unit (as typed: full-width ％ too) or a blank cell goes in
    p, _ = _import(d, tmp_path, "设备编号,监测时间,监测值,计量单位\n"
                   "U-PRESS,2026-12-01T08:00:00+08:00,0.30,MPa\n"
                   "U-GAS,2026-12-01T08:00:00+08:00,3,％LEL\n"
                   "U-PRESS,2026-12-01T08:05:00+08:00,0.31,\n")
    assert p.returncode == 0, p.stderr
    assert counts(d, d.press)["readings"] == 2 and counts(d, d.gas)["readings"] == 1


def test_a_unit_in_the_value_header(d, tmp_path):
    p, f = _import(d, tmp_path, "设备编号,监测时间,监测值(kPa)\n"
                   "U-PRESS,2026-12-01T09:00:00+08:00,250\n")
    assert p.returncode != 0 and "row 2" in p.stderr and "监测值(kPa)" in p.stderr
    assert counts(d, d.press)["readings"] == 2
    p, _ = _import(d, tmp_path, "设备编号,监测时间,监测值（MPa）\n"
                   "U-PRESS,2026-12-01T09:00:00+08:00,0.29\n")
    assert p.returncode == 0, p.stderr
    # a qualifier in words is no unit
    p, _ = _import(d, tmp_path, "设备编号,监测时间,监测值(实时)\n"
                   "U-PRESS,2026-12-01T09:05:00+08:00,0.29\n")
    assert p.returncode == 0, p.stderr
    assert counts(d, d.press)["readings"] == 4

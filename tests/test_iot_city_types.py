"""An alarm reads the city's dictionaries, as the thresholds do: the risk type of its sensor
type (``sensor_types.csv`` risk_type — which of the asset's risk points it raises) and the
alarms layer's code (``layers.csv``, in each alarm's code) come from the city's copies, not
the platform's files (which made a city's copy of sensor_types.csv hold its types, units and
intervals but not its risk types).

By construction: the watched gas pipe has two risk points of level 低, 9001 of risk type 0101
and 9002 of 0102; the platform's sensor_types.csv gives type 01 (gas) risk type 0101, the
city's copy 0102, so the city's alarm raises 9002 and leaves 9001; the city's layers.csv
gives the alarms layer 97 (the platform's: 94).
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from cim.profile import DICTIONARY_DIR
from layers.iot.ingest import ingest
from layers.iot.thresholds import load_config
from tests.iot_fixture import DISTRICT, RISK_CODE, add_sensor, iot_database, t

OTHER = "370811910100009002"


@pytest.fixture(scope="module")
def d(jining_profile):
    with iot_database(jining_profile, "iotcitytypes") as db:
        with psycopg.connect(db.conninfo) as conn:
            conn.execute(
                "INSERT INTO risk_points (code, source_key, geom, risk_type_code, risk_type, "
                "domain_code, domain, asset_layer, asset_code, responsible_unit, likelihood, "
                "consequence, level, color, source, district_code) SELECT %s, 'manual:test2', "
                "geom, '0102', '燃气管网压力异常', domain_code, domain, asset_layer, asset_code, "
                "responsible_unit, likelihood, consequence, level, color, source, district_code "
                "FROM risk_points WHERE code = %s AND valid_to IS NULL", (OTHER, RISK_CODE))
        yield db


def _city(tmp_path, profile):
    types = tmp_path / "sensor_types.csv"
    lines = (DICTIONARY_DIR / "sensor_types.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith("01,燃气浓度,") and ",0101," in lines[1]
    lines[1] = lines[1].replace(",0101,", ",0102,")
    types.write_text("\n".join(lines) + "\n", encoding="utf-8")
    layers = tmp_path / "layers.csv"
    text = (DICTIONARY_DIR / "layers.csv").read_text(encoding="utf-8")
    assert "\n94,alarms," in text
    layers.write_text(text.replace("\n94,alarms,", "\n97,alarms,"), encoding="utf-8")
    return dataclasses.replace(profile, dictionaries={
        **profile.dictionaries, "sensor_types": types, "layers": layers})


def test_the_alarm_raises_the_point_of_the_citys_risk_type(d, tmp_path, jining_profile):
    cfg = load_config(_city(tmp_path, jining_profile))
    s = add_sensor(d, 1, "01", d.gas_pipe, "03")
    with psycopg.connect(d.conninfo) as conn:
        assert ingest(conn, [(s, t(0), 12.0)], config=cfg)["alarms_opened"] == 1  # 四级 蓝
        assert ingest(conn, [(s, t(5), 30.0)], config=cfg)["alarms_escalated"] == 1  # 二级
    code, risk_code = d.rows("SELECT code, risk_code FROM alarms WHERE sensor_code = %s",
                             (s,))[0]
    assert risk_code == OTHER
    assert code.startswith(f"{DISTRICT}9701")
    levels = dict(d.rows("SELECT code, level FROM risk_points WHERE valid_to IS NULL AND "
                         "code = ANY(%s)", ([RISK_CODE, OTHER],)))
    assert levels == {RISK_CODE: "低", OTHER: "较大"}

"""Recording progress on a measure (``cim risk measure``) while a sensor alarm raises the point:
the new version of the point kept the raised level but dropped its flags — the ``alarm:<code>``
flag was gone from the map, and the next assessment, which keeps the raise of the alarms it
finds in the flags, put the point back to its own level while the alarm was active (a
helper's probe). Expected level: iot.yaml's 一级 → 重大 level (55 %LEL), read from the file."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import yaml

from cim.profile import DICTIONARY_DIR
from layers.iot.ingest import ingest
from layers.risk.assess import assess
from layers.risk.config import load_config
from layers.risk.manual import update_measure
from tests.conftest import drop_database, server_url
from tests.iot_fixture import add_sensor, iot_db, t


@pytest.fixture(scope="module")
def d(jining_profile):
    db = iot_db(jining_profile, "rskmeasalarm")
    yield db
    drop_database(server_url(), db.name)


def test_a_measure_update_during_an_alarm_keeps_the_alarm(d):
    cfg = load_config(d.profile)
    iot = yaml.safe_load((DICTIONARY_DIR / "iot.yaml").read_text(encoding="utf-8"))
    alarm_level = iot["levels"][1]["risk_level"]
    assess(d.conninfo, cfg, today=dt.date(2026, 12, 1))
    pipe = d.scalar("SELECT r.asset_code FROM risk_points r JOIN pipe_segments p ON "
                    "p.code = r.asset_code AND p.valid_to IS NULL AND p.pipe_class = '03' "
                    "WHERE r.valid_to IS NULL AND r.source = 'rule' AND r.asset_code <> %s "
                    "ORDER BY r.code LIMIT 1", (d.gas_pipe,))
    s = add_sensor(d, 1, "01", pipe, "03")
    with psycopg.connect(d.conninfo) as conn:
        assert ingest(conn, [(s, t(0), 55.0)])["alarms_opened"] == 1
    alarm, point = d.rows("SELECT code, risk_code FROM alarms WHERE sensor_code = %s", (s,))[0]

    def current():
        return d.rows("SELECT level, flags FROM risk_points WHERE code = %s AND "
                      "valid_to IS NULL", (point,))[0]

    assert current() == (alarm_level, [f"alarm:{alarm}"])
    statuses = tuple(yaml.safe_load((DICTIONARY_DIR / "risk_matrix.yaml").read_text(
        encoding="utf-8"))["measure_statuses"])
    update_measure(d.conninfo, point, status=statuses[-1], statuses=statuses)
    assert current() == (alarm_level, [f"alarm:{alarm}"])
    assess(d.conninfo, cfg, today=dt.date(2026, 12, 2))
    assert current() == (alarm_level, [f"alarm:{alarm}"])

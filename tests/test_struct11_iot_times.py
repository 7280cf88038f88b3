"""One way to write the instants an alarm's and its case's detail hold: an escalation (the
alarm's ``escalated_at``, the case's ``escalations[].at``), a silent sensor's
``silent_since`` and a late reading's times are RFC 3339 in UTC, with the ``T`` and a
``+00:00`` offset, as the HTTP answers write times (README, docs/iot.md:
``2026-12-01T08:00:00+00:00``) — whatever the database session's zone.

The case's ``escalations[].at`` was PostgreSQL's JSON text of a timestamptz: the session's
zone and its own fraction (``2026-12-01T16:01:00.25+08:00`` on a session in Asia/Shanghai)
beside the alarm's ``2026-12-01T08:01:00.250000+00:00`` for the same instant. Expected texts
are written out here by hand."""

from __future__ import annotations

import datetime as dt

import psycopg

from layers.iot.gaps import detect
from layers.iot.ingest import ingest
from tests.iot_fixture import add_sensor, module_db, t

# the instant of both paths: 08:01:00.25 UTC, 16:01:00.25 on the city's clock
AT = t(1) + dt.timedelta(milliseconds=250)
WRITTEN = "2026-12-01T08:01:00.250000+00:00"
SHANGHAI = "-c TimeZone=Asia/Shanghai"


d = module_db("struct11_iot")


def test_escalation_and_silence_write_the_same_instant_alike(d):
    gas = add_sensor(d, 61, "01", None, None, interval_s=None, device_id="GAS-TIMES")
    level = add_sensor(d, 62, "04", None, None, interval_s=60, device_id="LEVEL-TIMES")
    with psycopg.connect(d.conninfo, options=SHANGHAI) as conn:
        ingest(conn, [(gas, t(0), 12.0)])  # 四级
        out = ingest(conn, [(gas, AT, 30.0), (level, AT, 0.2)])  # 二级; the level's last
        assert out["alarms_escalated"] == 1
    with psycopg.connect(d.conninfo, options=SHANGHAI) as conn:
        opened = detect(conn, AT + dt.timedelta(seconds=181))["opened"]  # 3 × 60 s silent
    assert [o["silent_since"] for o in opened if o["sensor"] == level] == [AT]
    escalated = d.scalar("SELECT detail->>'escalated_at' FROM alarms WHERE sensor_code = %s",
                         (gas,))
    case_at = d.scalar("SELECT c.detail->'escalations'->0->>'at' FROM cases c JOIN alarms a "
                       "ON a.code = c.alarm_code WHERE a.sensor_code = %s", (gas,))
    silent = d.scalar("SELECT detail->>'silent_since' FROM alarms WHERE sensor_code = %s",
                      (level,))
    assert (escalated, case_at, silent) == (WRITTEN, WRITTEN, WRITTEN)

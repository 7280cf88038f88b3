"""One function writes an instant into a stored JSON detail (cim.times.rfc3339: RFC 3339 in
UTC, as README and docs/iot.md document the answers' times): the alarm path (its
``escalated_at``, its case's ``escalations[].at``) and the case path (the recategorize
event's ``escalated_at``, ``deadline_from``, ``deadline``) give the same instant the same
text. The case path wrote ``at.isoformat()`` in whatever zone the time came in — a reading
sent with +08:00, or the session's zone of a database on Beijing time —
``2026-12-01T16:01:00.250000+08:00`` beside the alarm's ``2026-12-01T08:01:00.250000+00:00``.

Expected texts are written out by hand: the gas thresholds (sensor_thresholds.csv) open 四级
at 12 %LEL with a 0102 case (4 h) and reach 一级 at 55, which a city's copy here sends to
0801 燃气泄漏 (1 h): deadline from t(0) + 4 h = 12:00 UTC, to the escalation + 1 h."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from cim.times import rfc3339
from layers.iot.ingest import ingest
from layers.iot.thresholds import load_config
from tests.iot_fixture import add_sensor, leak_thresholds, module_db, t

BEIJING = dt.timezone(dt.timedelta(hours=8))
# 08:01:00.25 UTC, sent as the city's clock reads it
AT = (t(1) + dt.timedelta(milliseconds=250)).astimezone(BEIJING)
WRITTEN = "2026-12-01T08:01:00.250000+00:00"
SHANGHAI = "-c TimeZone=Asia/Shanghai"


def test_rfc3339_is_utc_and_refuses_a_time_without_offset():
    assert rfc3339(dt.datetime(2026, 12, 1, 16, 1, 0, 250000, tzinfo=BEIJING)) == WRITTEN
    assert rfc3339(dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)) == "2026-12-01T08:00:00+00:00"
    # a naive time is no instant: astimezone() had read it on the machine's clock
    with pytest.raises(ValueError, match="offset"):
        rfc3339(dt.datetime(2026, 12, 1, 8))


d = module_db("struct2_instants")


def test_the_case_path_and_the_alarm_path_write_an_instant_alike(d, tmp_path):
    cfg = load_config(thresholds=leak_thresholds(tmp_path))
    s = add_sensor(d, 71, "01", d.gas_pipe, "03", interval_s=None, device_id="GAS-STRUCT2")
    with psycopg.connect(d.conninfo, options=SHANGHAI) as conn:
        assert ingest(conn, [(s, t(0).astimezone(BEIJING), 12.0)],
                      config=cfg)["cases_opened"] == 1  # 四级, 0102
        assert ingest(conn, [(s, AT, 55.0)], config=cfg)["alarms_escalated"] == 1  # 一级, 0801
    alarm_at = d.scalar("SELECT detail->>'escalated_at' FROM alarms WHERE sensor_code = %s",
                        (s,))
    case_at, event = d.rows(
        "SELECT c.detail->'escalations'->0->>'at', e.detail FROM cases c JOIN alarms a ON "
        "a.code = c.alarm_code JOIN case_events e ON e.case_id = c.id AND e.action = "
        "'recategorize' WHERE a.sensor_code = %s AND c.valid_to IS NULL", (s,))[0]
    assert (alarm_at, case_at, event["escalated_at"]) == (WRITTEN, WRITTEN, WRITTEN)
    assert (event["deadline_from"], event["deadline"]) == (
        "2026-12-01T12:00:00+00:00", "2026-12-01T09:01:00.250000+00:00")

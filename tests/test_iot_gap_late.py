"""A gap alarm ends when its sensor reports again — a reading after its last report. An old
reading relayed late (older than the sensor's last report, e.g. a gateway re-sending a missed
one) says nothing about now: it ends no gap alarm, so the next `cim iot gaps` does not open a
second alarm and a second case for the same silence.

Known by construction: the well-level sensor (interval 300 s, gap factor 3: silent after
15 min) reports at t(0) and t(10); at t(60) it has been silent 50 min.
"""

from __future__ import annotations

import psycopg

from layers.iot.gaps import detect
from tests.iot_fixture import add_sensor, module_db, send, t

d = module_db("iotgaplate")


def gap_alarms(d, s):
    return d.rows("SELECT status, opened_at, cleared_at FROM alarms WHERE sensor_code = %s "
                  "AND kind = 'gap' ORDER BY id", (s,))


def test_a_late_reading_does_not_end_the_silence(d):
    s = add_sensor(d, 1, "04", None, None, interval_s=300)
    send(d, [(s, t(0), 0.5), (s, t(10), 0.5)])
    with psycopg.connect(d.conninfo) as conn:
        assert s in [o["sensor"] for o in detect(conn, t(60))["opened"]]
    out = send(d, [(s, t(5), 0.5)])  # before its last report (t(10)): late
    assert (out["inserted"], out["late"], out["gaps_cleared"]) == (1, 1, 0)
    assert gap_alarms(d, s) == [("active", t(60), None)]
    with psycopg.connect(d.conninfo) as conn:
        again = detect(conn, t(61))
    assert s not in [o["sensor"] for o in again["opened"]]
    assert d.scalar("SELECT count(*) FROM cases c JOIN alarms a ON a.code = c.alarm_code "
                    "WHERE a.sensor_code = %s", (s,)) == 1
    # a reading after its last report ends it, at that reading's time (a late one beside it
    # in the batch does not move the time back)
    out = send(d, [(s, t(3), 0.5), (s, t(62), 0.5)])
    assert (out["late"], out["gaps_cleared"]) == (1, 1)
    assert gap_alarms(d, s) == [("cleared", t(60), t(62))]

"""`cim iot gaps --now T` with T before a gap alarm's opening (a replay, a check of an earlier
hour) found the sensor not yet silent long enough at T and cleared the alarm — of a sensor
that never reported again (review 13). Only a reading after its last report ends the
silence (README); a run judging an instant before the alarm opened says nothing of it.

By construction: the sensor reports every 300 s (gap.factor 3 in iot.yaml: silent after
15 minutes), its last reading at T0."""

from __future__ import annotations

import psycopg

from layers.iot.gaps import detect
from layers.iot.thresholds import load_config
from tests.iot_fixture import add_sensor, module_db, send, t

d = module_db("riskiot13gaps")


def _gap(d, sensor):
    return d.rows("SELECT status, opened_at, cleared_at FROM alarms WHERE sensor_code = %s "
                  "AND kind = 'gap' ORDER BY id", (sensor,))


def _detect(d, cfg, now):
    with psycopg.connect(d.conninfo) as conn:
        return detect(conn, now, cfg)


def test_a_run_judging_an_earlier_time_leaves_the_gap_alarm_open(d, jining_profile):
    cfg = load_config(jining_profile)
    assert cfg.gap_factor * 300 == 900
    s = add_sensor(d, 1401, "04", None, None, interval_s=300)
    send(d, [(s, t(0), 0.5)])
    assert [o["sensor"] for o in _detect(d, cfg, t(20))["opened"] if o["sensor"] == s] == [s]
    assert _gap(d, s) == [("active", t(20), None)]
    # at t(10) the sensor was silent 10 minutes: not yet a gap — nor a reason to end this one
    _detect(d, cfg, t(10))
    assert _gap(d, s) == [("active", t(20), None)]
    _detect(d, cfg, t(30))
    assert _gap(d, s) == [("active", t(20), None)]
    send(d, [(s, t(31), 0.5)])  # it reports again: its reading ends the silence
    assert _gap(d, s) == [("cleared", t(20), t(31))]


def test_a_longer_interval_still_ends_a_gap_alarm_at_a_later_run(d, jining_profile):
    """What the run may still end: the sensor's interval raised to an hour after its gap
    alarm opened — silent 25 minutes is no gap of it any more (cleared at its last report's
    time, no earlier than the alarm's opening)."""
    cfg = load_config(jining_profile)
    s = add_sensor(d, 1402, "04", None, None, interval_s=300)
    send(d, [(s, t(0), 0.5)])
    _detect(d, cfg, t(20))
    assert _gap(d, s) == [("active", t(20), None)]
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE sensors SET interval_s = 3600 WHERE code = %s", (s,))
    _detect(d, cfg, t(25))
    assert _gap(d, s) == [("cleared", t(20), t(20))]

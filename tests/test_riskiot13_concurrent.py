"""An alarm opened while a risk point is being written, uncommitted, on another connection
(review 13). The alarm looked for its asset's point in what was committed: a point `cim risk
add` was placing, or one `cim risk assess` was giving a new version, was not there, and the
writer's own look at the active alarms came before the alarm existed — the point stayed 低
beside a 一级 alarm until the next assessment. Now the alarm waits for the writer
(layers.risk.alarm.lock_points) and raises the point it wrote.

Each case holds the writer open right before its commit (after its own raise of the active
alarms), sends the alarm's reading on a second connection, lets the writer commit once the
reading's transaction has finished or waits on a lock, and reads what both left. Known by
construction: 60 %LEL is 一级 for a gas detector (sensor_thresholds.csv 01: on at 50),
whose risk level is 重大 红 (iot.yaml, risk_matrix.yaml); the point is the one the writer
wrote on the sensor's asset."""

from __future__ import annotations

import threading
import time

import psycopg

from layers.risk.config import load_config
from tests.iot_fixture import RISK_CODE, add_sensor, module_db, send, t

d = module_db("riskiot13race")


def _interleaved(d, monkeypatch, module, name, write, sensor, at):
    """``write()`` paused at ``module.name`` (after it ran) until a reading of ``sensor`` at
    ``at`` (60 %LEL) on another connection has finished or waits on a lock; the writer's
    result and whether the reading waited."""
    from layers.iot.ingest import ingest

    reached, go, out, errors, pid = threading.Event(), threading.Event(), {}, [], {}
    original = getattr(module, name)

    def paused(*args, **kwargs):
        got = original(*args, **kwargs)
        reached.set()
        assert go.wait(120), "the test never let the writer commit"
        return got

    monkeypatch.setattr(module, name, paused)

    def run(key, fn):
        try:
            out[key] = fn()
        except Exception as exc:  # noqa: BLE001 (asserted below)
            errors.append(exc)
            reached.set()

    def send():
        with psycopg.connect(d.conninfo) as conn:
            pid["reading"] = conn.info.backend_pid
            return ingest(conn, [(sensor, at, 60.0)])

    writer = threading.Thread(target=run, args=("write", write))
    writer.start()
    assert reached.wait(120) and not errors, errors
    reading = threading.Thread(target=run, args=("reading", send))
    reading.start()
    waited = False
    with psycopg.connect(d.conninfo, autocommit=True) as mon:
        for _ in range(600):
            if not reading.is_alive():
                break
            if "reading" in pid and mon.execute(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                    (pid["reading"],)).fetchone()[0]:
                waited = True
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the reading neither finished nor waited")
    go.set()
    writer.join(120)
    reading.join(120)
    assert errors == [] and not writer.is_alive() and not reading.is_alive(), errors
    assert out["reading"]["alarms_opened"] == 1
    return out["write"], waited


def _raised(d, sensor, point, at):
    """(the alarm's point, the point's level, colour, whether it carries the alarm's flag);
    then the alarm is cleared (0 %LEL at ``at``): an active alarm raising nothing would be
    raised by the next case's writer, whose write of it the reading would wait for — the
    case would pass for the wrong reason."""
    alarm, risk_code = d.rows("SELECT code, risk_code FROM alarms WHERE sensor_code = %s AND "
                              "status = 'active'", (sensor,))[0]
    level, color, flags = d.rows("SELECT level, color, flags FROM risk_points WHERE code = %s "
                                 "AND valid_to IS NULL", (point,))[0]
    assert send(d, [(sensor, at, 0.0)])["alarms_cleared"] == 1
    return risk_code, level, color, f"alarm:{alarm}" in flags


def test_an_alarm_during_risk_add_raises_the_new_point(d, jining_profile, monkeypatch):
    import layers.risk.manual as manual

    pipe = d.scalar("SELECT p.code FROM pipe_segments p WHERE p.valid_to IS NULL AND "
                    "p.pipe_class = '01' AND p.code <> %s AND NOT EXISTS (SELECT 1 FROM "
                    "risk_points r WHERE r.valid_to IS NULL AND r.asset_code = p.code) "
                    "ORDER BY p.code LIMIT 1", (d.water_pipe,))
    sensor = add_sensor(d, 1301, "01", pipe, "01")
    cfg = load_config(jining_profile)
    got, _ = _interleaved(d, monkeypatch, manual, "take_alarm_raises",
                       lambda: manual.add_point(d.conninfo, cfg, "0102", asset=pipe,
                                                likelihood=1, unit="供水公司"),
                       sensor, t(1))
    # likelihood 1: graded 低 or 一般 whatever the consequence, never 重大 by itself
    assert got["graded_level"] != "重大"
    assert _raised(d, sensor, got["code"], t(3)) == (got["code"], "重大", "红", True)


def test_an_alarm_during_risk_assess_raises_the_points_new_version(d, jining_profile,
                                                                     monkeypatch):
    import layers.risk.manual as manual
    from layers.risk.assess import assess

    # the fixture's point on the gas pipe (written without a hash): the assessment gives it a
    # new version, retiring the one the reading would have found
    sensor = add_sensor(d, 1302, "01", d.gas_pipe, "03")
    cfg = load_config(jining_profile)
    _interleaved(d, monkeypatch, manual, "misplaced", lambda: assess(d.conninfo, cfg),
                 sensor, t(2))
    assert d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (RISK_CODE,)) == 2
    assert _raised(d, sensor, RISK_CODE, t(4)) == (RISK_CODE, "重大", "红", True)


def test_a_reading_during_the_grading_of_an_assessment_does_not_wait(d, jining_profile,
                                                                     monkeypatch):
    """The assessment takes the points' lock only when it starts writing points: a reading
    while it grades its candidates (the most of its time) raises the committed point at
    once, and the assessment's new version of that point keeps the raise."""
    import layers.risk.grade as grade
    from layers.risk.assess import assess

    sensor = add_sensor(d, 1303, "01", d.gas_pipe, "03")
    with psycopg.connect(d.conninfo) as conn:  # a new version again, by construction
        conn.execute("UPDATE risk_points SET row_hash = 'forced' WHERE code = %s AND "
                     "valid_to IS NULL", (RISK_CODE,))
    versions = d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (RISK_CODE,))
    cfg = load_config(jining_profile)
    _, waited = _interleaved(d, monkeypatch, grade, "grade", lambda: assess(d.conninfo, cfg),
                             sensor, t(5))
    assert not waited
    assert d.scalar("SELECT count(*) FROM risk_points WHERE code = %s",
                    (RISK_CODE,)) == versions + 1
    assert _raised(d, sensor, RISK_CODE, t(6)) == (RISK_CODE, "重大", "红", True)

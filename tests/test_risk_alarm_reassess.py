"""`cim risk assess` while a sensor alarm raises a risk point (layers/risk/alarm.py): the
point keeps the alarm's level and flag — through a run on a later day that changes nothing
(the point's own level is what the deadline is kept by, not the raised one) and through a run
that gives it a new version (30 buildings put beside its pipe). Cleared, the alarm leaves the
point at its own likelihood × consequence by the matrix.

Expected levels: iot.yaml's 一级 → 重大 (55 %LEL ≥ the gas 一级 on 50) and risk_matrix.yaml's
table at the point's stored likelihood and consequence, both read here from the files.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import shapely
import yaml
from shapely.geometry import box

from cim.profile import DICTIONARY_DIR
from layers.iot.ingest import ingest
from layers.risk.assess import assess
from layers.risk.config import load_config
from tests.conftest import drop_database, run_cli, server_url
from tests.iot_fixture import add_sensor, iot_db, t


@pytest.fixture(scope="module")
def d(jining_profile):
    db = iot_db(jining_profile, "riskalarm")
    yield db
    drop_database(server_url(), db.name)


def _yaml(name: str) -> dict:
    return yaml.safe_load((DICTIONARY_DIR / name).read_text(encoding="utf-8"))


def test_an_assessment_during_an_alarm_keeps_its_raise(d):
    cfg = load_config(d.profile)
    alarm_level = _yaml("iot.yaml")["levels"][1]["risk_level"]
    table = _yaml("risk_matrix.yaml")["matrix"]
    assess(d.conninfo, cfg, today=dt.date(2026, 12, 1))
    # a gas pipe with a rule point (graded by the assessment, unlike the fixture's manual one)
    pipe = d.scalar("SELECT r.asset_code FROM risk_points r JOIN pipe_segments p ON "
                    "p.code = r.asset_code AND p.valid_to IS NULL AND p.pipe_class = '03' "
                    "WHERE r.valid_to IS NULL AND r.source = 'rule' AND r.asset_code <> %s "
                    "ORDER BY r.code LIMIT 1", (d.gas_pipe,))
    s = add_sensor(d, 1, "01", pipe, "03")
    with psycopg.connect(d.conninfo) as conn:
        assert ingest(conn, [(s, t(0), 55.0)])["alarms_opened"] == 1
    alarm, point = d.rows("SELECT code, risk_code FROM alarms WHERE sensor_code = %s", (s,))[0]
    assert d.scalar("SELECT source FROM risk_points WHERE code = %s AND valid_to IS NULL",
                    (point,)) == "rule"
    flag = [f"alarm:{alarm}"]

    def current():
        return d.rows("SELECT level, flags, deadline FROM risk_points WHERE code = %s AND "
                      "valid_to IS NULL", (point,))[0]

    level, flags, deadline = current()
    assert (level, flags) == (alarm_level, flag)
    # a day later, nothing changed: no new version, the raise and the deadline stay
    out = assess(d.conninfo, cfg, today=dt.date(2026, 12, 2))
    assert current() == (alarm_level, flag, deadline), out["changes"]
    # 30 buildings beside the watched pipe: a new consequence, a new version of the point
    x, y = d.rows("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Force2D(geom)) p "
                  "FROM pipe_segments WHERE code = %s AND valid_to IS NULL) q",
                  (pipe,))[0]
    with psycopg.connect(d.conninfo) as conn:
        for i in range(30):
            home = box(x + 5 + 6 * (i % 6), y + 5 + 6 * (i // 6), x + 9 + 6 * (i % 6),
                       y + 9 + 6 * (i // 6))
            conn.execute("INSERT INTO buildings (code, geom) VALUES (%s, "
                         "ST_Multi(ST_GeomFromWKB(%s, 4527)))", (f"NEAR{i}", shapely.to_wkb(home)))
    versions = d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (point,))
    assess(d.conninfo, cfg, today=dt.date(2026, 12, 3))
    assert d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (point,)) == versions + 1
    assert current()[:2] == (alarm_level, flag)
    # cleared (7.9 < the 四级 off 8): the point's own level, no flag
    with psycopg.connect(d.conninfo) as conn:
        assert ingest(conn, [(s, t(5), 7.9)])["alarms_cleared"] == 1
    lk, cons = d.rows("SELECT likelihood, consequence FROM risk_points WHERE code = %s AND "
                      "valid_to IS NULL", (point,))[0]
    assert current()[:2] == (table[lk][cons - 1], [])


def test_history_is_in_time_order(d):
    """The point's history is oldest first by time: the alarm of the test above (readings of
    2026-12-01 08:00 and 08:05, sent after the first assessment ran at the wall clock's time)
    raised and restored the point before any of the three assessments, though both steps were
    recorded in the latest run (a run id is no time order)."""
    from layers.risk.listing import history

    point, = d.rows("SELECT DISTINCT risk_code FROM alarms")[0]
    rows = history(d.conninfo, point)
    times = [r["assessed_at"] for r in rows]
    assert times == sorted(times)
    assert times[:2] == [t(0), t(5)] and len(rows) == 5
    assert all(x > t(5) for x in times[2:])


def test_history_of_an_unknown_point_is_an_error(d):
    """A mistyped code is said to be no risk point (it printed nothing and exited 0, as if the
    point had no history)."""
    proc = run_cli(["risk", "history", "370811910100000000"], d.env())
    assert proc.returncode != 0 and proc.stdout == ""
    assert "no risk point 370811910100000000" in proc.stderr


def test_a_raise_is_filed_under_the_citys_year(d):
    """A raise at 02:00 on 1 January in China (18:00 UTC on 31 December) is of the new year in
    the point's grading history: the year in the city's zone (its profile's, Asia/Shanghai),
    not in UTC; a city in UTC−10 files the same instant under the old year."""
    from layers.risk.alarm import raise_for_alarm
    from layers.risk.config import load_config

    cfg = load_config(d.profile)
    at = dt.datetime(2025, 12, 31, 18, 0, tzinfo=dt.UTC)
    point, asset = d.rows("SELECT code, asset_code FROM risk_points WHERE valid_to IS NULL "
                          "AND asset_code IS NOT NULL ORDER BY code LIMIT 1")[0]
    for zone, year in (("Asia/Shanghai", 2026), ("Pacific/Honolulu", 2025)):
        with psycopg.connect(d.conninfo) as conn:
            got = raise_for_alarm(conn, cfg.matrix, asset_code=asset, alarm_code="A-NY",
                                  level="重大", at=at, risk_code=point, timezone=zone)
            assert got == point
            assert conn.execute("SELECT year FROM risk_assessments WHERE code = %s AND "
                                "factors->>'alarm' = 'A-NY'", (point,)).fetchone()[0] == year
            conn.rollback()

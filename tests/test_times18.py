"""Times at the platform's edges (probe of 2026-12-07).

- ``cim iot gaps --now`` ahead of the clock is refused: 9999-12-31 opened alarms dated in year
  10000, and every later listing of the alarms broke;
- ``datetime=9999-12-31`` (a client's "for ever") and a date-time property's last day are
  answered (a 500, OverflowError); ISO 8601's basic forms (20261207), which meant an instant
  where RFC 3339's 2026-12-07 means a day, are refused;
- a reading before year 1900 in UTC (0001-01-01T00:00:00+14:00: before year 1) is refused naming
  it (a 500 where its month was read back);
- a case's --at before 1900 is refused naming it (an internal error);
- a time before 1901 on a clock whose zone then kept local mean time (Asia/Shanghai: +08:05:43)
  is written with an offset of whole minutes, as RFC 3339 writes one.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests

from layers.iot.sources import add_source
from tests.conftest import run_cli
from tests.iot_fixture import add_sensor, iot_database, t


@pytest.fixture(scope="module")
def idb(jining_profile):
    with iot_database(jining_profile, "times18") as d:
        with psycopg.connect(d.conninfo) as conn:
            d.key = add_source(conn, "vendor-t18")
        d.s = add_sensor(d, 31, "01", d.gas_pipe, "03", device_id="T18")
        yield d


def test_gaps_judged_ahead_of_the_clock_are_refused(idb):
    before = idb.scalar("SELECT count(*) FROM alarms")
    p = run_cli(["iot", "gaps", "--now", "9999-12-31T23:59:59-12:00"], idb.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert "--now" in p.stderr and "ahead of the platform's clock" in p.stderr
    assert idb.scalar("SELECT count(*) FROM alarms") == before
    p = run_cli(["iot", "alarms", "--json"], idb.env())
    assert p.returncode == 0, p.stderr


def test_a_reading_outside_the_years_is_refused_naming_it(idb, tmp_path):
    f = tmp_path / "bc.csv"
    f.write_text(f"设备编号,监测时间,监测值\nT18,{t(1).isoformat()},0.5\n"
                 "T18,0001-01-01T00:00:00+14:00,0.5\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], idb.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert "row 3" in p.stderr and "1900–2200" in p.stderr, p.stderr
    f.write_text("设备编号,监测时间,监测值\nT18,0001-01-01T00:00:00,0.5\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f), "--tz", "Asia/Shanghai"], idb.env())
    assert p.returncode == 3 and "row 2" in p.stderr, p.stdout + p.stderr


def test_typed_dates_before_1901_have_whole_minute_offsets():
    from cim.cityclock import city_time, on_city_clock

    zone = "Asia/Shanghai"
    # the zone itself keeps local mean time then: the case the rule is for
    assert dt.datetime(1900, 1, 1, tzinfo=ZoneInfo(zone)).utcoffset().seconds % 60 != 0
    typed = city_time(dt.date(1900, 1, 1), zone)
    assert typed.utcoffset().total_seconds() % 60 == 0
    # the same instant as the zone's own midnight
    assert typed == dt.datetime(1900, 1, 1, tzinfo=ZoneInfo(zone))
    shown = on_city_clock(dt.datetime(1900, 6, 1, tzinfo=dt.UTC), zone)
    assert shown.utcoffset().total_seconds() % 60 == 0
    assert shown == dt.datetime(1900, 6, 1, tzinfo=dt.UTC)
    # an instant the city's clock cannot show stays in UTC
    last = dt.datetime(9999, 12, 31, 23, tzinfo=dt.UTC)
    assert on_city_clock(last, zone) == last
    # a clock of whole minutes is left as it is
    assert on_city_clock(dt.datetime(2026, 6, 1, tzinfo=dt.UTC), zone).isoformat() == \
        "2026-06-01T08:00:00+08:00"


def test_a_series_of_1900_writes_rfc3339(idb):
    p = run_cli(["iot", "series", "T18", "--start", "1900-01-01", "--end", "1900-01-03",
                 "--json"], idb.env())
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for key in ("start", "end"):
        assert dt.datetime.fromisoformat(out[key]).utcoffset().total_seconds() % 60 == 0


@pytest.mark.parametrize("query", ["datetime=9999-12-31", "datetime=2026-12-07/9999-12-31",
                                   "datetime=9999-12-31&f=csv"])
def test_the_last_day_there_is_is_answered(api, query):
    r = requests.get(f"{api}/collections/sensors/items?{query}", timeout=60)
    assert r.status_code == 200, r.text[:300]


def test_a_date_time_property_on_the_last_day_is_answered(api):
    r = requests.get(f"{api}/collections/alarms/items?opened_at=9999-12-31", timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["numberReturned"] == 0


@pytest.mark.parametrize("query", ["datetime=20261207", "datetime=2026-W49",
                                   "opened_at=20260615"])
def test_iso_basic_forms_are_refused(api, query):
    coll = "alarms" if query.startswith("opened_at") else "sensors"
    r = requests.get(f"{api}/collections/{coll}/items?{query}", timeout=60)
    assert r.status_code == 400, r.text[:300]


def test_a_case_time_before_1900_is_refused(db):
    env = db.env()
    s = uuid.uuid4().hex[:6]
    run_cli(["ops", "user", "add", f"t18-insp-{s}", "--role", "监督员"], env, check=True)
    cell = db.rows("SELECT code FROM grid_cells WHERE valid_to IS NULL ORDER BY code "
                   "LIMIT 1")[0][0]
    p = run_cli(["case", "report-problem", "--source", "巡查上报", "--category", "0202",
                 "--grid", cell, "--user", f"t18-insp-{s}", "--at", "0001-01-01"], env)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "'at'" in p.stderr and "before 1900" in p.stderr, p.stderr


def test_a_report_of_far_period_ends_is_written(db, tmp_path):
    out = tmp_path / "r.html"
    p = run_cli(["case", "report", "--from", "0001-01-01", "--to", "9999-12-31T23:59:59-12:00",
                 "--out", str(out)], db.env())
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 0

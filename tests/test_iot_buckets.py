"""A sensor's series aggregated by time bucket (``bucket=1h``, ``--bucket 1d``): count, min,
avg and max per bucket, computed in SQL, with bucket boundaries in the city's clock (the
profile's timezone, Asia/Shanghai for Jining): a day bucket starts at local midnight.

Expected values are computed by hand (the small fixture: six readings around two local
midnights, written out below) or by Python's zoneinfo and statistics over the readings the
test generated (a month of minute readings), never by the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests

from cim.errors import InputError
from layers.iot.ingest import ingest
from layers.iot.partitions import ensure_months
from layers.iot.series import buckets, parse_bucket
from layers.iot.sources import add_source
from tests.conftest import run_cli, start_api
from tests.iot_fixture import add_sensor, iot_database

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")


def utc(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


def local(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=SH)


# around two Shanghai midnights (UTC+8): 16:00 UTC is 00:00 the next local day
SMALL = [(utc(2026, 11, 30, 15, 50), 1.0),      # 11-30 23:50 local
         (utc(2026, 11, 30, 16, 0), 2.0),       # 12-01 00:00 local: the 12-01 bucket
         (utc(2026, 11, 30, 16, 10), 4.0),      # 12-01 00:10
         (utc(2026, 12, 1, 3, 59, 59), 6.0),    # 12-01 11:59:59
         (utc(2026, 12, 1, 15, 59, 59), 3.0),   # 12-01 23:59:59
         (utc(2026, 12, 1, 16, 0), 5.0)]        # 12-02 00:00


@pytest.fixture(scope="module")
def d(jining_profile):
    with iot_database(jining_profile, "iotbuckets") as db:
        db.small = add_sensor(db, 301, "01", db.gas_pipe, "03", device_id="BKT-SMALL")
        db.month = add_sensor(db, 302, "01", db.gas_pipe, "03", device_id="BKT-MONTH")
        # a month of minute readings (November 2026, UTC), values below every threshold
        start = utc(2026, 11, 1)
        db.month_rows = [(start + dt.timedelta(minutes=i), (i * 7919 % 1000) / 125)
                         for i in range(30 * 24 * 60)]
        with psycopg.connect(db.conninfo) as conn:
            ensure_months(conn, [dt.date(2026, 10, 1)])
            ingest(conn, [(db.small, t, v) for t, v in SMALL])
            ingest(conn, [(db.month, t, v) for t, v in db.month_rows])
            db.key = add_source(conn, "bucket-vendor")
        yield db


def agg(d, sensor, start, end, bucket, zone="Asia/Shanghai", limit=100_000):
    with psycopg.connect(d.conninfo) as conn:
        return buckets(conn, sensor, start, end, bucket, zone, limit)


def rows_of(out):
    return [(b["start"], b["end"], b["count"], b["min"], b["avg"], b["max"])
            for b in out["buckets"]]


def test_day_buckets_start_at_the_citys_midnight(d):
    out = agg(d, "BKT-SMALL", local(2026, 11, 30, 12), local(2026, 12, 2, 12), "1d")
    # by hand: 11-30 holds 1.0; 12-01 holds 2, 4, 6, 3 (avg 15/4); 12-02 holds 5.0
    assert rows_of(out) == [
        (local(2026, 11, 30), local(2026, 12, 1), 1, 1.0, 1.0, 1.0),
        (local(2026, 12, 1), local(2026, 12, 2), 4, 2.0, 3.75, 6.0),
        (local(2026, 12, 2), local(2026, 12, 3), 1, 5.0, 5.0, 5.0)]
    # the range is widened to whole buckets, and answered in the city's offset
    assert (out["start"], out["end"]) == (local(2026, 11, 30), local(2026, 12, 3))
    assert out["buckets"][0]["start"].isoformat() == "2026-11-30T00:00:00+08:00"
    assert out["timezone"] == "Asia/Shanghai"


def test_hour_buckets_and_a_partial_range_widened(d):
    # 00:30 .. 00:40 local asks for part of the 00:00 hour: the whole hour is aggregated
    out = agg(d, "BKT-SMALL", local(2026, 12, 1, 0, 30), local(2026, 12, 1, 0, 40), "1h")
    assert rows_of(out) == [(local(2026, 12, 1), local(2026, 12, 1, 1), 2, 2.0, 3.0, 4.0)]
    out = agg(d, "BKT-SMALL", utc(2026, 11, 30), utc(2026, 12, 3), "12h")
    assert rows_of(out) == [
        (local(2026, 11, 30, 12), local(2026, 12, 1), 1, 1.0, 1.0, 1.0),
        (local(2026, 12, 1), local(2026, 12, 1, 12), 3, 2.0, 4.0, 6.0),
        (local(2026, 12, 1, 12), local(2026, 12, 2), 1, 3.0, 3.0, 3.0),
        (local(2026, 12, 2), local(2026, 12, 2, 12), 1, 5.0, 5.0, 5.0)]


def test_another_citys_zone(d):
    # Kolkata is UTC+05:30: its midnight of 12-01 is 11-30 18:30 UTC
    out = agg(d, "BKT-SMALL", utc(2026, 11, 30), utc(2026, 12, 2, 12), "1d", "Asia/Kolkata")
    ist = ZoneInfo("Asia/Kolkata")
    assert rows_of(out) == [
        (dt.datetime(2026, 11, 30, tzinfo=ist), dt.datetime(2026, 12, 1, tzinfo=ist), 3,
         1.0, 7 / 3, 4.0),
        (dt.datetime(2026, 12, 1, tzinfo=ist), dt.datetime(2026, 12, 2, tzinfo=ist), 3,
         3.0, 14 / 3, 6.0)]


def test_a_day_of_a_clock_change_is_the_local_day(d):
    # Berlin leaves summer time on 2026-10-25: that day is 25 hours, 22:00 UTC to 23:00 UTC
    s = add_sensor(d, 303, "01", d.gas_pipe, "03", device_id="BKT-DST")
    times = [utc(2026, 10, 24, 21, 59), utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 22, 59),
             utc(2026, 10, 25, 23, 0)]
    with psycopg.connect(d.conninfo) as conn:
        ingest(conn, [(s, t, float(i)) for i, t in enumerate(times)])
    out = agg(d, s, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12), "1d", "Europe/Berlin")
    assert [(b["start"].astimezone(UTC), b["end"].astimezone(UTC), b["count"])
            for b in out["buckets"]] == [
        (utc(2026, 10, 23, 22), utc(2026, 10, 24, 22), 1),
        (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), 2),
        (utc(2026, 10, 25, 23), utc(2026, 10, 26, 23), 1)]


def _by_hand(rows, key):
    groups: dict = {}
    for t, v in rows:
        groups.setdefault(key(t.astimezone(SH)), []).append(v)
    return {k: (len(v), min(v), statistics.fmean(v), max(v)) for k, v in groups.items()}


def test_a_month_of_minute_readings_by_hour_and_day(d):
    start, end = local(2026, 11, 5), local(2026, 11, 12)
    inside = [(t, v) for t, v in d.month_rows if start <= t < end]
    hours = _by_hand(inside, lambda t: t.replace(minute=0, second=0))
    out = agg(d, "BKT-MONTH", start, end, "1h")
    got = {b["start"]: (b["count"], b["min"], b["avg"], b["max"]) for b in out["buckets"]}
    assert len(got) == 7 * 24 and got.keys() == hours.keys()
    for k, (n, lo, avg, hi) in hours.items():
        assert got[k][0] == n == 60 and (got[k][1], got[k][3]) == (lo, hi)
        assert got[k][2] == pytest.approx(avg, rel=1e-12)
    days = _by_hand(d.month_rows, lambda t: t.date())
    out = agg(d, "BKT-MONTH", utc(2026, 10, 1), utc(2026, 12, 2), "1d")
    got = {b["start"].date(): (b["count"], b["min"], b["avg"], b["max"])
           for b in out["buckets"]}
    assert got.keys() == days.keys()
    # November in UTC: the first local day holds 16 h of it, 11-30 UTC's last 8 h are 12-01
    assert got[dt.date(2026, 11, 1)][0] == 16 * 60 and got[dt.date(2026, 12, 1)][0] == 8 * 60
    for k, (n, lo, avg, hi) in days.items():
        assert got[k][:2] == (n, lo) and got[k][3] == hi
        assert got[k][2] == pytest.approx(avg, rel=1e-12)
    q = _by_hand(inside, lambda t: t.replace(minute=t.minute // 15 * 15, second=0))
    out = agg(d, "BKT-MONTH", start, end, "15min")
    assert {b["start"]: b["count"] for b in out["buckets"]} == {k: v[0] for k, v in q.items()}


@pytest.mark.parametrize("text", ["1h", "60min", "3600s", "1 hour", "1H"])
def test_bucket_spellings(text):
    assert parse_bucket(text) == dt.timedelta(hours=1)


@pytest.mark.parametrize(("text", "said"), [
    ("1m", "min"), ("1month", "no fixed length"), ("7min", "divide"), ("36h", "whole days"),
    ("0h", "not a number"), ("hourly", "not a number"), ("1.5h", "not a number"),
    ("", "not a number")])
def test_a_bad_bucket_says_what_is_allowed(text, said):
    with pytest.raises(InputError) as e:
        parse_bucket(text)
    assert said in str(e.value) and e.value.field == "bucket"


def test_too_many_buckets_is_refused_not_truncated(d):
    with pytest.raises(InputError) as e:
        agg(d, "BKT-MONTH", utc(2026, 11, 1), utc(2026, 12, 1), "1min", limit=10_000)
    # 30 days of minutes, each a bucket (the range lies on minute boundaries)
    assert "spans 43200 buckets" in str(e.value) and e.value.field == "bucket"
    assert "raise limit" in str(e.value)


def test_a_range_of_exactly_limit_buckets_is_answered(d):
    """A local day of 1h buckets at limit 24, and of 1d at limit 1 (review 13): the count
    was bounded from the range with one bucket more for each end it may straddle — 25 and
    2 — and both were refused. November 10 has 60 minute readings each hour, 1,440 a day."""
    day = (local(2026, 11, 10), local(2026, 11, 11))
    out = agg(d, "BKT-MONTH", *day, "1h", limit=24)
    assert [(b["start"], b["count"]) for b in out["buckets"]] == [
        (local(2026, 11, 10, h), 60) for h in range(24)]
    out = agg(d, "BKT-MONTH", *day, "1d", limit=1)
    assert [(b["start"], b["count"]) for b in out["buckets"]] == [(day[0], 1440)]
    with pytest.raises(InputError) as e:  # a minute more is a 25th bucket
        agg(d, "BKT-MONTH", day[0], day[1] + dt.timedelta(minutes=1), "1h", limit=24)
    assert "spans 25 buckets, more than 24" in str(e.value)


def test_cli_and_http(d, tmp_path_factory):
    p = run_cli(["iot", "series", "BKT-SMALL", "--start", "2026-11-30T12:00:00+08:00",
                 "--end", "2026-12-02T12:00:00+08:00", "--bucket", "1d", "--json"], d.env(),
                check=True)
    got = json.loads(p.stdout)
    assert [(b["start"], b["count"], b["avg"]) for b in got["buckets"]] == [
        ("2026-11-30T00:00:00+08:00", 1, 1.0), ("2026-12-01T00:00:00+08:00", 4, 3.75),
        ("2026-12-02T00:00:00+08:00", 1, 5.0)]
    p = run_cli(["iot", "series", "BKT-SMALL", "--start", "2026-11-30T12:00:00",
                 "--end", "2026-12-02T12:00:00", "--bucket", "1d", "--json"], d.env(),
                check=True)
    assert json.loads(p.stdout) == got  # without an offset: the city's clock
    p = run_cli(["iot", "series", "BKT-SMALL", "--start", "2026-11-30T12:00:00+08:00",
                 "--end", "2026-12-02T12:00:00+08:00", "--bucket", "1 fortnight"], d.env())
    assert p.returncode != 0 and "bucket" in p.stderr
    proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("bktserve"))
    try:
        url = f"{base}/iot/sensors/BKT-SMALL/readings"
        r = requests.get(url, params={"start": "2026-11-30T12:00:00+08:00",
                                      "end": "2026-12-02T12:00:00+08:00", "bucket": "1d"},
                         timeout=30)
        assert r.status_code == 200
        body = r.json()
        assert [(b["start"], b["end"], b["count"], b["min"], b["avg"], b["max"])
                for b in body["buckets"]] == [
            ("2026-11-30T00:00:00+08:00", "2026-12-01T00:00:00+08:00", 1, 1.0, 1.0, 1.0),
            ("2026-12-01T00:00:00+08:00", "2026-12-02T00:00:00+08:00", 4, 2.0, 3.75, 6.0),
            ("2026-12-02T00:00:00+08:00", "2026-12-03T00:00:00+08:00", 1, 5.0, 5.0, 5.0)]
        for bad, said in (("1m", "min"), ("5 parsecs", "bucket"), ("7min", "divide")):
            r = requests.get(url, params={"start": "2026-11-30T12:00:00+08:00",
                                          "end": "2026-12-02T12:00:00+08:00", "bucket": bad},
                             timeout=30)
            assert r.status_code == 400 and said in r.json()["description"], r.text
        r = requests.get(f"{base}/iot/sensors/BKT-MONTH/readings",
                         params={"start": "2026-01-01T00:00:00+08:00",
                                 "end": "2027-01-01T00:00:00+08:00", "bucket": "1s"},
                         timeout=30)
        assert r.status_code == 400 and "buckets" in r.json()["description"]
        # times without an offset are the city's clock (Jining: +08:00), bucketed or not
        for extra in ({"bucket": "1d"}, {}):
            with_offset = requests.get(url, params={"start": "2026-11-30T12:00:00+08:00",
                                                    "end": "2026-12-02T12:00:00+08:00",
                                                    **extra}, timeout=30).json()
            without = requests.get(url, params={"start": "2026-11-30T12:00:00",
                                                "end": "2026-12-02T12:00:00", **extra},
                                   timeout=30)
            assert without.status_code == 200, without.text
            assert without.json() == with_offset
        r = requests.get(f"{base}/iot/sensors/NO-SUCH/readings", params={"bucket": "1h"},
                         timeout=30)
        assert r.status_code == 404
    finally:
        proc.terminate()
        proc.wait(10)


def test_buckets_under_a_day_start_at_local_midnight_in_summer_time_too(d):
    # Berlin in summer is UTC+02:00 (the buckets' origin, a January midnight, is +01:00):
    # 6 h buckets start at local 00, 06, 12, 18; the 25-hour day of 2026-10-25 (02:00–03:00
    # twice) has a last bucket 18:00–24:00 of 7 hours, the next day starts at its midnight
    s = add_sensor(d, 304, "01", d.gas_pipe, "03", device_id="BKT-SUMMER")
    cet = ZoneInfo("Europe/Berlin")
    times = [dt.datetime(2026, 10, 24, 23, 59, tzinfo=cet),   # +02:00: 21:59Z
             dt.datetime(2026, 10, 25, 0, 0, tzinfo=cet),     # 22:00Z on the 24th
             dt.datetime(2026, 10, 25, 5, 59, tzinfo=cet),    # +01:00 after 03:00: 04:59Z
             dt.datetime(2026, 10, 25, 23, 30, tzinfo=cet),   # 22:30Z
             dt.datetime(2026, 10, 26, 0, 0, tzinfo=cet)]     # 23:00Z
    with psycopg.connect(d.conninfo) as conn:
        ingest(conn, [(s, t, float(i)) for i, t in enumerate(times)])
    out = agg(d, s, dt.datetime(2026, 10, 24, 18, tzinfo=cet),
              dt.datetime(2026, 10, 26, 6, tzinfo=cet), "6h", "Europe/Berlin")
    got = [(b["start"].astimezone(cet).isoformat(), b["end"].astimezone(cet).isoformat(),
            b["count"]) for b in out["buckets"]]
    assert got == [
        ("2026-10-24T18:00:00+02:00", "2026-10-25T00:00:00+02:00", 1),
        ("2026-10-25T00:00:00+02:00", "2026-10-25T06:00:00+01:00", 2),
        ("2026-10-25T18:00:00+01:00", "2026-10-26T00:00:00+01:00", 1),
        ("2026-10-26T00:00:00+01:00", "2026-10-26T06:00:00+01:00", 1)]

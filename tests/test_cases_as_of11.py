"""cim case evaluate's ``as_of`` (the moment deadlines are judged at, ``min(to, now)``) is on
the clock of ``from`` and ``to`` (the city's): it was the database's ``now()`` in the
session's zone (UTC) when the period was still running, ``to`` on the city's clock when it had
ended — the same field in two zones by which instant won."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from layers.cases import evaluate
from tests.cases_fixture import case_fixtures

CHINA = ZoneInfo("Asia/Shanghai")
sdb, conn = case_fixtures("asof11")


def test_a_running_period_judges_at_now_on_the_city_clock(conn):
    now = conn.execute("SELECT now()").fetchone()[0]
    out = evaluate.evaluate(conn, dt.datetime(2026, 1, 1), now + dt.timedelta(days=30),
                            timezone="Asia/Shanghai")
    assert out["from"] == "2026-01-01T00:00:00+08:00"
    assert out["as_of"] == now.astimezone(CHINA).isoformat(), (out["as_of"], now)
    assert out["as_of"].endswith("+08:00")


def test_an_ended_period_judges_at_its_end(conn):
    out = evaluate.evaluate(conn, dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1),
                            timezone="Asia/Shanghai")
    assert out["as_of"] == out["to"] == "2026-02-01T00:00:00+08:00"

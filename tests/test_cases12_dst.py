"""A time typed without an offset that the city's clock never showed (the clocks skipped it)
or showed twice (they went back over it) is refused naming the option, as `cim iot import`
refuses such a reading: read as one of the two (or as an hour that did not exist), an
action's time was silently an hour off. The city here keeps New York's clock (daylight
saving: 2026-03-08 02:00 → 03:00, 2026-11-01 02:00 → 01:00)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import psycopg
import pytest

from cim.errors import InputError
from layers.cases import evaluate
from tests.cases_fixture import zoned_profile
from tests.conftest import run_cli, scratch_db

ZONE = "America/New_York"


@pytest.fixture(scope="module")
def sdb(jining_profile, tmp_path_factory):
    with scratch_db("cases12_dst", zoned_profile(jining_profile, ZONE,
                                                 tmp_path_factory.mktemp("ny"))) as d:
        yield d


def test_an_action_time_the_clock_skipped_or_repeated_is_refused(sdb):
    env = sdb.env()
    s = uuid.uuid4().hex[:6]
    run_cli(["ops", "user", "add", f"dst-insp-{s}", "--role", "监督员"], env, check=True)
    run_cli(["ops", "user", "add", f"dst-acc-{s}", "--role", "受理员"], env, check=True)
    code = json.loads(run_cli(
        ["case", "report-problem", "--source", "巡查上报", "--category", "0501", "--grid",
         sdb.cell, "--user", f"dst-insp-{s}", "--at", "2026-03-01T09:00", "--json"], env,
        check=True).stdout)["code"]
    for typed, why in (("2026-03-08T02:30", "never happened"),
                       ("2026-11-01T01:30", "happened twice")):
        r = run_cli(["case", "register", code, "--user", f"dst-acc-{s}", "--at", typed], env)
        assert r.returncode == 3 and why in r.stderr and "'--at'" in r.stderr, r.stderr
    with psycopg.connect(sdb.conninfo) as conn:
        assert conn.execute("SELECT state FROM cases WHERE code = %s", (code,)
                            ).fetchone()[0] == "上报"
    # with its offset the time is one instant: taken (01:30 EST = 06:30Z)
    out = json.loads(run_cli(["case", "register", code, "--user", f"dst-acc-{s}", "--at",
                              "2026-11-01T01:30-05:00", "--json"], env, check=True).stdout)
    assert out["registered_at"] == "2026-11-01T06:30:00+00:00"


def test_an_evaluation_bound_the_clock_repeated_is_refused(sdb):
    with psycopg.connect(sdb.conninfo) as conn:
        with pytest.raises(InputError) as exc:
            evaluate.evaluate(conn, dt.datetime(2026, 11, 1, 1, 30), dt.datetime(2026, 12, 1),
                              timezone=ZONE)
        assert exc.value.field == "from" and "happened twice" in exc.value.message
        # a date is its first instant in the city, which the clock shows once
        out = evaluate.evaluate(conn, dt.date(2026, 3, 8), dt.date(2026, 3, 9), timezone=ZONE)
        assert out["from"] == "2026-03-08T00:00:00-05:00"

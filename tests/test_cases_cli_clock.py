"""`cim case show`, `cim case list`, the action commands and `cim ops user list` print times on
the city's clock (the profile's ``timezone``, with its offset), where they printed the
session's UTC alone: a 12345 call taken at 09:20 in the city showed as 01:20. The UTC instant
follows in brackets, as ``--json`` and the HTTP answers write it. The city here keeps Nepal's
time (+05:45), so a clock hard-wired to China's (+08:00) fails too."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
import yaml

from cim.profile import load_profile
from tests.conftest import run_cli, scratch_db

ZONE = "Asia/Kathmandu"  # UTC+05:45 all year (no daylight saving)
# the report's time as typed (China's clock) and the same instant on the city's clock,
# worked out by hand: 09:20+08:00 = 01:20Z = 07:05+05:45
TYPED = "2026-06-15T09:20:00+08:00"
ON_CITY_CLOCK = "2026-06-15T07:05:00+05:45"
UTC_TEXT = "2026-06-15T01:20:00+00:00"
# registered at 10:00+08:00 = 02:00Z; 0202 道路破损塌陷 has 48 h: deadline 2026-06-17T02:00Z
REGISTERED = "2026-06-15T10:00:00+08:00"
DEADLINE_ON_CITY_CLOCK = "2026-06-17T07:45:00+05:45"


@pytest.fixture(scope="module")
def sdb(tmp_path_factory, jining_profile):
    d = tmp_path_factory.mktemp("clock")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):
        raw[key] = str((jining_profile.path.parent / raw[key]).resolve())
    raw["timezone"] = ZONE
    (d / "profile.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with scratch_db("cases_clock", load_profile(d / "profile.yaml")) as db:
        yield db


def test_case_times_in_text_are_on_the_city_clock(sdb):
    env = sdb.env()
    s = uuid.uuid4().hex[:6]
    run_cli(["ops", "user", "add", f"clk-insp-{s}", "--role", "监督员"], env, check=True)
    run_cli(["ops", "user", "add", f"clk-acc-{s}", "--role", "受理员"], env, check=True)
    base = ["case", "report-problem", "--source", "巡查上报", "--category", "0202", "--grid",
            sdb.cell, "--user", f"clk-insp-{s}", "--at", TYPED]
    reported = run_cli(base, env, check=True).stdout
    assert f"  {ON_CITY_CLOCK} ({UTC_TEXT})  report" in reported
    code = json.loads(run_cli([*base, "--json"], env, check=True).stdout)["code"]
    registered = run_cli(["case", "register", code, "--user", f"clk-acc-{s}", "--at",
                          REGISTERED], env, check=True).stdout
    assert f"deadline {DEADLINE_ON_CITY_CLOCK}" in registered
    shown = run_cli(["case", "show", code], env, check=True).stdout
    assert f"  {ON_CITY_CLOCK} ({UTC_TEXT})  report" in shown
    assert f"deadline {DEADLINE_ON_CITY_CLOCK}" in shown
    listed = run_cli(["case", "list", "--state", "立案"], env, check=True).stdout
    assert f"reported {ON_CITY_CLOCK}" in listed
    assert f"deadline {DEADLINE_ON_CITY_CLOCK}" in listed
    # --json stays UTC (RFC 3339), as the HTTP answers
    as_json = json.loads(run_cli(["case", "show", code, "--json"], env, check=True).stdout)
    assert as_json["reported_at"] == UTC_TEXT


def test_revoked_day_is_the_city_day(sdb):
    """Revoked at 20:00 UTC: already the next day in the city (01:45+05:45)."""
    env = sdb.env()
    name = f"clk-gone-{uuid.uuid4().hex[:6]}"
    run_cli(["ops", "user", "add", name, "--role", "受理员"], env, check=True)
    with psycopg.connect(sdb.conninfo) as conn:
        conn.execute("UPDATE ops_users SET revoked_at = '2026-06-15T20:00:00+00:00' "
                     "WHERE name = %s", (name,))
    line = next(x for x in run_cli(["ops", "user", "list"], env, check=True).stdout.splitlines()
                if x.startswith(name))
    assert "revoked 2026-06-16" in line

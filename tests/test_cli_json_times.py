"""Every ``--json`` output writes times as the HTTP answers do, RFC 3339 (``…T…+00:00``):
``str()`` of a time wrote a space for the ``T`` (``cim iot alarms --json``, ``cim risk history
--json``), which a browser's or a script's RFC 3339 parser need not read."""

from __future__ import annotations

import datetime as dt
import json
import re

from tests.conftest import run_cli

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")


def _times(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _times(v)
    elif isinstance(value, list):
        for v in value:
            yield from _times(v)
    elif isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d", value):
        yield value


def test_iot_alarms_json_times_are_rfc3339(db):
    out = run_cli(["iot", "alarms", "--json"], db.env(), check=True)
    times = list(_times(json.loads(out.stdout)))
    assert times, out.stdout[:500]  # the session's sample day raised alarms
    assert all(RFC3339.match(t) for t in times), [t for t in times if not RFC3339.match(t)]
    # the same instants as stored
    opened = {db.scalar("SELECT opened_at FROM alarms WHERE code = %s", (a["code"],))
              for a in json.loads(out.stdout) if "code" in a}
    assert {dt.datetime.fromisoformat(a["opened_at"]) for a in json.loads(out.stdout)
            if "code" in a} == opened


def test_echo_json_writes_dates_and_times_in_iso_form(capsys):
    from cim.cli import echo_json

    t = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    echo_json({"t": t, "d": dt.date(2026, 12, 1), "n": 1})
    assert json.loads(capsys.readouterr().out) == {"t": "2026-12-01T08:00:00+08:00",
                                                   "d": "2026-12-01", "n": 1}

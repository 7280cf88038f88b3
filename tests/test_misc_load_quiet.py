"""``--quiet`` means one thing for every ``cim load`` command (README's CLI reference: "no
progress output"): the load's report is still printed, progress is not. ``cim load pipes
--quiet`` printed nothing at all, so a cron job's log had no trace of what it loaded.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import SAMPLE_BUILDINGS, SAMPLES, drop_database, make_db, run_cli, server_url


@pytest.fixture(scope="module")
def d(jining_profile):
    db = make_db("miscquiet", jining_profile)
    yield db
    drop_database(server_url(), db.name)


def test_load_pipes_quiet_prints_its_report(d):
    out = run_cli(["load", "pipes", str(SAMPLES / "pipes"), "--quiet"], d.env(), check=True)
    first = out.stdout.splitlines()[0] if out.stdout else ""
    assert re.fullmatch(r"load batch \d+ into \S+: \S+", first), out.stdout
    # the counts it prints are what the database holds: every current pipe segment and point
    loaded = int(re.search(r"^  loaded\s+(\d+)", out.stdout, re.M).group(1))
    assert loaded == d.scalar(
        "SELECT (SELECT count(*) FROM pipe_segments WHERE valid_to IS NULL) + "
        "(SELECT count(*) FROM pipe_points WHERE valid_to IS NULL)")
    # --json is still the report as JSON alone, --quiet or not
    again = run_cli(["load", "pipes", str(SAMPLES / "pipes"), "--quiet", "--json"], d.env(),
                    check=True)
    assert json.loads(again.stdout)["loaded"] == loaded


def test_load_buildings_quiet_prints_its_report_too(d):
    """The other loaders' --quiet, the behaviour the pipe load now shares."""
    out = run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--quiet"], d.env(),
                  check=True)
    assert re.match(r"load batch \d+ into buildings: ", out.stdout), out.stdout

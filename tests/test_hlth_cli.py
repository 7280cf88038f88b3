"""`cim health compute --year` takes the years the health-compute process takes (1900–2200):
it stored a check for any integer, so a typo (--year 26) wrote a year 26 that the next
check's comparison then took as its previous year (a helper's probe)."""

from __future__ import annotations

from layers.health.process import PROCESS
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`


def test_a_year_the_process_refuses_is_refused_and_nothing_stored(city):
    year = PROCESS["inputs"]["properties"]["year"]
    for bad in (26, year["minimum"] - 1, year["maximum"] + 1):
        r = run_cli(["health", "compute", "--year", str(bad)], city.env())
        assert r.returncode == 2 and "--year" in r.stderr and "Traceback" not in r.stderr, bad
    assert city.scalar("SELECT count(*) FROM health_runs") == 0
    r = run_cli(["health", "compute", "--year", str(year["minimum"])], city.env())
    assert r.returncode == 0, r.stderr
    assert city.scalar("SELECT array_agg(DISTINCT year) FROM health_indicators") == [1900]

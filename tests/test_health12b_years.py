"""A future year refused unless intended, and a stored year deleted (session 12), through the
real CLI on the hand-built city of tests/health_fixture.py, whose coverages follow from its
construction (:func:`tests.health_fixture.expected_coverage`).

A mistyped year (``--year 2062``) was computed on today's data, stored for good and became the
map's latest year (``layers.health.layer.MAP_WHERE``); nothing removed a stored year.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests import health_fixture as hf
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`

PARK = "park_service_coverage"


def _latest(d) -> int | None:
    return d.scalar("SELECT max(year) FROM health_indicators WHERE valid_to IS NULL")


def test_a_future_year_is_refused_unless_intended_and_can_be_deleted(city):
    # the city's current year on its own clock (the profile's zone), read here independently
    this_year = dt.datetime.now(ZoneInfo(city.profile.timezone)).year
    run_cli(["health", "compute", "--year", str(this_year)], city.env(), check=True)
    n = city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL")
    assert n > 0

    for year in (this_year + 1, 2062):  # refused as a bad option, nothing computed or stored
        r = run_cli(["health", "compute", "--year", str(year)], city.env())
        assert r.returncode == 2, r.stderr
        assert "--year" in r.stderr and str(year) in r.stderr and "--future-year" in r.stderr
        assert city.scalar("SELECT count(*) FROM health_indicators WHERE year = %s",
                           (year,)) == 0
    assert _latest(city) == this_year

    # a plan-target scenario says so: stored, the map's latest year
    run_cli(["health", "compute", "--year", str(this_year + 4), "--future-year"], city.env(),
            check=True)
    assert _latest(city) == this_year + 4

    # deleting it needs the confirmation; then the current year is the latest again
    r = run_cli(["health", "delete", "--year", str(this_year + 4)], city.env())
    assert r.returncode == 2 and "--yes" in r.stderr
    assert _latest(city) == this_year + 4
    r = run_cli(["health", "delete", "--year", str(this_year + 4), "--yes"], city.env(),
                check=True)
    assert f"{n} rows deleted" in r.stdout
    assert _latest(city) == this_year
    # retired, not erased: still readable as a replaced year's rows are
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NOT NULL"
                       " AND year = %s", (this_year + 4,)) == n
    # a year not stored: said so, nothing changed
    r = run_cli(["health", "delete", "--year", "1999", "--yes"], city.env())
    assert r.returncode == 2 and "1999" in r.stderr
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL") == n


def test_deleting_a_year_compares_the_next_year_with_the_one_before(city):
    without = hf.expected_coverage({k: v for k, v in hf.BUILDINGS.items() if k != "H850"})
    full = hf.expected_coverage()
    assert full[hf.D1] > without[hf.D1]
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE code = 'H850'")
    run_cli(["health", "compute", "--year", "2024"], city.env(), check=True)
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = NULL WHERE code = 'H850'")
    for year in ("2025", "2026"):
        run_cli(["health", "compute", "--year", year], city.env(), check=True)
    assert hf.stored(city, 2026, PARK, hf.D1)[1:5] == (2025, pytest.approx(full[hf.D1]), 0.0,
                                                     "unchanged")

    run_cli(["health", "delete", "--year", "2025", "--yes"], city.env(), check=True)
    assert hf.stored(city, 2025, PARK, hf.D1) is None
    value, prev_year, prev, change, trend, _ = hf.stored(city, 2026, PARK, hf.D1)
    assert value == pytest.approx(full[hf.D1])
    assert prev_year == 2024 and prev == pytest.approx(without[hf.D1])
    assert change == pytest.approx(full[hf.D1] - without[hf.D1], abs=1e-5)
    assert trend == "improved"
    idx24 = hf.stored(city, 2024, "health_index", "city")[0]
    assert hf.stored(city, 2026, "health_index", "city")[1:3] == (2024, idx24)

    # the first year deleted: the next one compares with nothing
    run_cli(["health", "delete", "--year", "2024", "--yes"], city.env(), check=True)
    assert hf.stored(city, 2026, PARK, hf.D1)[1:5] == (None, None, None, None)
    assert hf.stored(city, 2026, "health_index", "city")[1:5] == (None, None, None, None)


def test_the_process_refuses_a_future_year_unless_intended(city, monkeypatch):
    from flask import Flask

    from cim.db.engine import psycopg_conninfo
    from cim.db.roles import serving_url
    from layers.processes import all_processes
    from services.processes import register

    monkeypatch.setenv("CIM_PROFILE", str(city.profile.path))
    app = Flask("t")
    register(app, psycopg_conninfo(serving_url(city.url)), "http://x",
             {"health-compute": all_processes()["health-compute"]}, city.url)
    client = app.test_client()
    future = dt.datetime.now(ZoneInfo(city.profile.timezone)).year + 1
    r = client.post("/processes/health-compute/execution", json={"inputs": {"year": future}})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert str(future) in r.get_json()["description"]
    assert "future_year" in r.get_json()["description"]
    assert city.scalar("SELECT count(*) FROM health_indicators") == 0
    r = client.post("/processes/health-compute/execution",
                    json={"inputs": {"year": future, "future_year": True}})
    assert r.status_code == 200 and r.get_json()["stored"] is True
    assert _latest(city) == future


def test_a_year_deleted_while_a_run_waits_for_it_leaves_the_next_year_compared(city):
    """A run storing 2024 finds 2025 the next stored year and waits for it; meanwhile 2025 is
    deleted (its rows retired, as ``cim health delete`` does, under the year's lock). The run
    then compares 2026 — the next stored year now — with the 2024 it stored; it compared
    nothing, and 2026 kept its comparison with the deleted 2025."""
    import threading
    import time

    from layers.health.compute import compute

    without = hf.expected_coverage({k: v for k, v in hf.BUILDINGS.items() if k != "H850"})
    full = hf.expected_coverage()
    for year in (2024, 2025, 2026):
        compute(city.conninfo, year, city.profile)
    assert hf.stored(city, 2026, PARK, hf.D1)[1] == 2025
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE code = 'H850'")

    errors: list[BaseException] = []

    def run() -> None:
        try:
            compute(city.conninfo, 2024, city.profile)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    with psycopg.connect(city.conninfo) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtext('cim.health'), 2025)")
        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 120
        while not city.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                              " AND NOT granted AND database = (SELECT oid FROM pg_database"
                              " WHERE datname = current_database())"):
            assert time.monotonic() < deadline and t.is_alive(), errors
            time.sleep(0.1)
        holder.execute("UPDATE health_indicators SET valid_to = now() WHERE year = 2025"
                       " AND valid_to IS NULL")
    t.join(120)
    assert not errors and not t.is_alive()
    value, prev_year, prev, change, trend, _ = hf.stored(city, 2026, PARK, hf.D1)
    assert value == pytest.approx(full[hf.D1])
    assert prev_year == 2024 and prev == pytest.approx(without[hf.D1]) and trend == "improved"


def test_a_year_stored_after_its_previous_year_changed_compares_with_the_new_one(city):
    """Two runs at once: 2026 reads its previous year (2024) and computes; meanwhile 2025 is
    stored, whose comparison of the next year finds 2026's old rows and compares those. 2026
    then stored what it computed: compared with 2024, while 2025 stood between them."""
    from layers.health.compute import compute
    from layers.health.store import write_year

    without = hf.expected_coverage({k: v for k, v in hf.BUILDINGS.items() if k != "H850"})
    full = hf.expected_coverage()
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE code = 'H850'")
    compute(city.conninfo, 2024, city.profile)
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = NULL WHERE code = 'H850'")
    result = compute(city.conninfo, 2026, city.profile, store=False)  # the 2026 run reads
    assert result["previous_year"] == 2024
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE code = 'H850'")
    compute(city.conninfo, 2025, city.profile)  # the other run stores 2025 (as 2024 was)
    n = city.scalar("SELECT count(*) FROM health_indicators WHERE year = 2026")
    write_year(city.conninfo, result)  # the 2026 run stores
    value, prev_year, prev, change, trend, _ = hf.stored(city, 2026, PARK, hf.D1)
    assert value == pytest.approx(full[hf.D1])
    assert prev_year == 2025 and prev == pytest.approx(without[hf.D1]) and trend == "improved"
    idx25 = hf.stored(city, 2025, "health_index", "city")[0]
    assert hf.stored(city, 2026, "health_index", "city")[1:3] == (2025, idx25)
    # one current version of 2026 and the run's own rows only: nothing left behind
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE year = 2026") == \
        n + city.scalar("SELECT count(*) FROM health_indicators WHERE year = 2026"
                        " AND valid_to IS NULL")

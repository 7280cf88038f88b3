"""Inputs ``cim health compute`` refuses before anything runs (session 13, a helper's probe).

A city's indicator catalog of the wrong shape (``--indicators``): an indicator written as its
id alone (``- park_service_coverage``), the indicators as a mapping, an indicator named
``health_index`` — the city health index's own id, whose rows then took the index's codes —
and a dimension declared twice (the second's weight silently replaced the first's). The first
three were internal errors (the third after the whole computation); all are refused, exit 2,
naming the file, the entry and, where one is at fault, the field.

A database without districts (the profile's boundaries never applied): every indicator is per
district, so the year was stored as rows of no data with no word why; refused as the loaders
refuse it (exit 4, naming ``cim profile apply``), nothing stored.
"""

from __future__ import annotations

import pytest

from layers.health.catalog import catalog_path
from tests.conftest import run_cli, scratch_db

PARK = "  - id: park_service_coverage\n"
ECO = "  - {id: ecological, name_zh: 生态宜居, name_en: Ecological and liveable, weight: 0.15}\n"


@pytest.fixture(scope="module")
def empty(jining_profile):
    """A migrated database with nothing loaded: the catalog is refused before it is read."""
    with scratch_db("h13cat", jining_profile, apply_profile=False) as d:
        yield d


@pytest.mark.parametrize("old, new, words", [
    (PARK, "  - park_service_coverage\n" + PARK,
     ["indicator 1:", "must be a mapping", "'park_service_coverage'"]),
    (PARK, "  - id: health_index\n", ["indicator health_index", "field 'id'", "index"]),
    (ECO, ECO + ECO.replace("0.15", "0.5"), ["dimension ecological", "declared twice"]),
    ("\nindicators:\n", "\nindicators:\n  first:\n    id: x\nunused:\n",
     ["'indicators' must be a list", "dict"]),
])
def test_a_catalog_of_the_wrong_shape_is_refused_naming_the_entry(empty, tmp_path, old, new,
                                                                   words):
    text = catalog_path(None).read_text(encoding="utf-8")
    assert text.count(old) == 1
    bad = tmp_path / "city_indicators.yaml"
    bad.write_text(text.replace(old, new), encoding="utf-8")
    proc = run_cli(["health", "compute", "--year", "2026", "--indicators", str(bad)],
                   empty.env())
    assert proc.returncode == 2, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {bad}"), proc.stderr
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)
    assert empty.scalar("SELECT count(*) FROM health_runs") == 0


def test_a_check_without_districts_is_refused_naming_the_step(empty):
    proc = run_cli(["health", "compute", "--year", "2026"], empty.env())
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    assert "district" in proc.stderr and "cim profile apply" in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr
    assert empty.scalar("SELECT count(*) FROM health_indicators") == 0
    assert empty.scalar("SELECT count(*) FROM health_runs") == 0


def test_the_process_refuses_a_check_without_districts(empty, monkeypatch):
    """The OGC process ``health-compute`` answered the same state as an internal error (500)
    once refused: a 400 naming the step."""
    from flask import Flask

    from cim.db.engine import psycopg_conninfo
    from cim.db.roles import serving_url
    from layers.processes import all_processes
    from services.processes import register

    monkeypatch.setenv("CIM_PROFILE", str(empty.profile.path))
    app = Flask("t")
    register(app, psycopg_conninfo(serving_url(empty.url)), "http://x",
             {"health-compute": all_processes()["health-compute"]}, empty.url)
    r = app.test_client().post("/processes/health-compute/execution",
                               json={"inputs": {"year": 2026}})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert "cim profile apply" in r.get_json()["description"]
    assert empty.scalar("SELECT count(*) FROM health_runs") == 0

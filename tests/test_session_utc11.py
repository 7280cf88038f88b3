"""Times the platform writes from the database are UTC whatever zone the server keeps: a
PostgreSQL set to Asia/Shanghai (usual in China; here the database's ``timezone`` setting)
gave ``cim batches --json``, ``cim history --json`` and the OGC API's ``valid_from`` as
``…+08:00`` although README documents the UTC instant. The processes under test start without
PGTZ in their environment, so that the platform must set the session's zone itself."""

from __future__ import annotations

import json

import psycopg
import requests

from tests.conftest import SAMPLE_BUILDINGS, make_db, run_cli, scratch_api, scratch_db


def _shanghai(d) -> None:
    import os

    with psycopg.connect(d.conninfo, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{d.name}" SET timezone = \'Asia/Shanghai\'')
    # a session that asks for no zone gets the setting (this process has PGTZ from the
    # platform's import: left out for the check)
    saved = os.environ.pop("PGTZ", None)
    try:
        with psycopg.connect(d.conninfo) as conn:
            assert conn.execute("SHOW timezone").fetchone()[0] == "Asia/Shanghai"
    finally:
        if saved is not None:
            os.environ["PGTZ"] = saved


def _env(d) -> dict[str, str]:
    env = d.env()
    env.pop("PGTZ", None)
    return env


def test_cli_json_times_are_utc(jining_profile):
    with scratch_db("utc11cli", jining_profile) as d:
        _shanghai(d)
        run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--quiet"], _env(d), check=True)
        batches = json.loads(run_cli(["batches", "--json"], _env(d), check=True).stdout)
        assert batches and all(b["started_at"].endswith("+00:00") for b in batches), batches
        code = d.scalar("SELECT code FROM buildings LIMIT 1")
        versions = json.loads(run_cli(["history", code, "--json"], _env(d), check=True).stdout)
        assert versions[0]["valid_from"].endswith("+00:00"), versions[0]
        # the same instant the database holds (read here on a UTC session)
        stored = d.scalar("SELECT valid_from FROM buildings WHERE code = %s", (code,))
        assert versions[0]["valid_from"] == stored.isoformat(), (versions[0], stored)


def test_api_times_are_utc(jining_profile, tmp_path, monkeypatch):
    monkeypatch.delenv("PGTZ", raising=False)  # the server's processes inherit this env
    d = make_db("utc11api", jining_profile)  # scratch_api drops it
    _shanghai(d)
    run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--quiet"], _env(d), check=True)
    with scratch_api(d, tmp_path) as base:
        r = requests.get(base + "/collections/buildings/items?limit=1&f=json", timeout=30)
        assert r.status_code == 200, r.text
        props = r.json()["features"][0]["properties"]
        assert props["valid_from"].endswith(("+00:00", "Z")), props["valid_from"]

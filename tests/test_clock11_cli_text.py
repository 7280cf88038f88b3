"""CLI text prints a database time on the city's clock (the profile's ``timezone``, with its
offset), as README documents; ``--json`` keeps the UTC instant. Since the platform's sessions
run on UTC (libpq's PGTZ), ``cim history``, ``cim checks`` and the error of a trace from a
pipe code no longer current printed the session's UTC without an offset: 8 hours off for a
planner in China; the filed approval report (``cim check --report``) gave its check time
and the load times of its data in UTC. The city here keeps Nepal's time (+05:45), so a clock
hard-wired to China's fails too; each expected text is the instant converted by zoneinfo
here."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml

from cim.profile import load_profile
from tests.conftest import SAMPLE_BUILDINGS, SAMPLES, run_cli, scratch_db

ZONE = "Asia/Kathmandu"  # UTC+05:45 all year
# instants whose date differs between UTC and the city: 20:00Z is the next day there
FROM = dt.datetime(2026, 6, 15, 1, 20, tzinfo=dt.UTC)
TO = dt.datetime(2026, 6, 30, 20, 0, tzinfo=dt.UTC)


def _city(t: dt.datetime, timespec: str = "seconds") -> str:
    """``t`` on the city's clock as a person reads it: date, time, offset."""
    return t.astimezone(ZoneInfo(ZONE)).isoformat(sep=" ", timespec=timespec)


@pytest.fixture(scope="module")
def kdb(tmp_path_factory, jining_profile):
    d = tmp_path_factory.mktemp("clock11")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):
        raw[key] = str((jining_profile.path.parent / raw[key]).resolve())
    raw["timezone"] = ZONE
    (d / "profile.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with scratch_db("clock11", load_profile(d / "profile.yaml")) as db:
        from loaders.buildings import load_buildings

        load_buildings(db.conninfo, db.profile, SAMPLE_BUILDINGS)
        yield db


def test_expected_texts_are_the_hand_worked_ones():
    """The zoneinfo conversion the tests compare with, checked by hand: 01:20Z = 07:05+05:45,
    20:00Z = 01:45+05:45 the next day."""
    assert _city(FROM) == "2026-06-15 07:05:00+05:45"
    assert _city(TO) == "2026-07-01 01:45:00+05:45"


def test_history_text_is_on_the_city_clock(kdb):
    with psycopg.connect(kdb.conninfo) as conn:
        code, batch = conn.execute(
            "UPDATE buildings SET valid_from = %s, valid_to = %s WHERE id = "
            "(SELECT max(id) FROM buildings) RETURNING code, batch_id", (FROM, TO)).fetchone()
    out = run_cli(["history", code], kdb.env(), check=True).stdout.splitlines()
    assert out[0] == f"{_city(FROM)}  batch {batch}  retired {_city(TO)}", out
    # --json stays the UTC instant
    rows = json.loads(run_cli(["history", code, "--json"], kdb.env(), check=True).stdout)
    assert rows[0]["valid_from"] == FROM.isoformat() and rows[0]["valid_to"] == TO.isoformat()


def test_history_attributes_that_are_times_are_on_the_city_clock(kdb):
    """A case's version lists its times (reported_at, registered_at, deadline) among its
    attributes: on the city's clock as well."""
    env = kdb.env()
    s = uuid.uuid4().hex[:6]
    run_cli(["ops", "user", "add", f"c11-insp-{s}", "--role", "监督员"], env, check=True)
    code = json.loads(run_cli(
        ["case", "report-problem", "--source", "巡查上报", "--category", "0202", "--grid",
         kdb.cell, "--user", f"c11-insp-{s}", "--at", FROM.isoformat(), "--json"],
        env, check=True).stdout)["code"]
    opened = kdb.scalar("SELECT valid_from FROM cases WHERE code = %s", (code,))
    out = run_cli(["history", code], env, check=True).stdout.splitlines()
    assert out[0] == f"{_city(opened)}  batch -  current", out
    assert f"reported_at={_city(FROM)}," in out[1], out


def test_checks_text_is_on_the_city_clock(kdb):
    with psycopg.connect(kdb.conninfo) as conn:
        cid = conn.execute(
            "INSERT INTO approval_checks (project, checked_at, status, summary, result) "
            "VALUES ('clock11', %s, 'pass', '{\"counts\": {\"pass\": 1}}', '{}') RETURNING id",
            (TO,)).fetchone()[0]
    out = run_cli(["checks"], kdb.env(), check=True).stdout.splitlines()
    line = next(x for x in out if x.split()[0] == str(cid))
    assert line == f"{cid:>5} {_city(TO)} pass          clock11  (pass 1)", line
    listed = json.loads(run_cli(["checks", "--json"], kdb.env(), check=True).stdout)
    assert next(r for r in listed if r["id"] == cid)["checked_at"] == TO.isoformat()


def test_trace_of_a_code_no_longer_current_says_when_on_the_city_clock(kdb):
    from loaders.pipes.load import load_pipes_files

    load_pipes_files(kdb.conninfo, kdb.profile, [SAMPLES / "pipes"])
    with psycopg.connect(kdb.conninfo) as conn:
        code = conn.execute(
            "UPDATE pipe_segments SET valid_to = %s WHERE id = (SELECT min(id) FROM "
            "pipe_segments) RETURNING code", (TO,)).fetchone()[0]
    p = run_cli(["query", "trace", code], kdb.env())
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert f"its last version ended {_city(TO, 'minutes')} (removed" in p.stderr, p.stderr


def test_approval_report_times_are_on_the_city_clock(kdb, tmp_path):
    """The report's 检查时间 and the load time of the batch its buildings come from, each the
    --json instant (UTC) converted here."""
    x, y = kdb.rows("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                    "WHERE valid_to IS NULL ORDER BY id LIMIT 1")[0]

    def box(x0: float, y0: float, size: float) -> dict:
        ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
        return {"type": "Polygon", "coordinates": [ring]}

    project = tmp_path / "p.geojson"
    project.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name",
                "properties": {"name": f"urn:ogc:def:crs:EPSG::{kdb.profile.srid}"}},
        "features": [
            {"type": "Feature", "properties": {"role": "site"},
             "geometry": box(x - 50, y - 50, 100)},
            {"type": "Feature", "properties": {"role": "building", "name": "1号楼",
                                               "floors_above": 3, "height": 10},
             "geometry": box(x + 60, y + 60, 20)}]}), encoding="utf-8")
    page = tmp_path / "r.html"
    p = run_cli(["check", str(project), "--json", "--no-record", "--report", str(page)],
                kdb.env())
    assert p.returncode in (0, 1), p.stderr
    res = json.loads(p.stdout)
    html = page.read_text(encoding="utf-8")
    checked = dt.datetime.fromisoformat(res["checked_at"])
    assert checked.utcoffset() == dt.timedelta(0), res["checked_at"]  # --json: UTC
    assert f"检查时间 checked {_city(checked)};" in html
    batch = next(b for d in res["data"] if d["layer"] == "buildings" for b in d["batches"])
    finished = kdb.scalar("SELECT finished_at FROM load_batches WHERE id = %s", (batch["id"],))
    assert batch["loaded_at"] == finished.isoformat()  # --json: the UTC instant stored
    assert f"</code> {_city(finished)}" in html, html

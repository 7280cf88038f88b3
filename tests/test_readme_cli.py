"""The CLI as README.md's CLI reference promises it: a user's error prints one line
`error: …` and exits with its category's code (3 input), never 1, which the CLI keeps for bugs
of the platform; a case's point given as a GPS longitude, latitude or as a surveyor's X, Y
without a CRS is refused saying which CRS the point was read in and what to give."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_BUILDINGS, run_cli, scratch_db

PROJECTS = SAMPLE_BUILDINGS.parents[2] / "projects"


@pytest.fixture(scope="module")
def sdb(jining_profile):
    with scratch_db("readme", jining_profile) as d:
        yield d


def _one_error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return lines[0]


def test_unknown_batch_code_and_district_are_input_errors(sdb):
    env = sdb.env()
    p = run_cli(["rejects", "987654"], env)
    assert p.returncode == 3 and "987654" in _one_error_line(p)
    p = run_cli(["rejects", "987654", "--export", "/tmp/cim_readme_never.csv"], env)
    assert p.returncode == 3 and "987654" in _one_error_line(p)
    p = run_cli(["history", "370811810399999999"], env)
    assert p.returncode == 3 and "370811810399999999" in _one_error_line(p)
    p = run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--district", "999999",
                 "--quiet"], env)
    line = _one_error_line(p)
    assert p.returncode == 3 and "--district" in line and "370811" in line
    assert sdb.scalar("SELECT count(*) FROM buildings") == 0


def test_case_point_without_crs_names_the_crs_to_give(sdb):
    env = sdb.env()
    run_cli(["ops", "user", "add", "readme-insp", "--role", "监督员"], env, check=True)
    base = ["case", "report-problem", "--source", "巡查上报", "--category", "0202",
            "--user", "readme-insp"]
    # the centre of a grid cell of 任城区 in the storage CRS: x easting, y northing
    x, y = sdb.x0, sdb.y0
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(4527, "OGC:CRS84", always_xy=True).transform(x, y)
    # a GPS longitude, latitude without --crs: read as metres of EPSG:4527, far outside
    p = run_cli([*base, "--point", f"{lon},{lat}"], env)
    line = _one_error_line(p)
    assert p.returncode == 3 and "--crs CRS84" in line and "EPSG:4527" in line
    # a surveyor's X (northing), Y (easting)
    p = run_cli([*base, "--point", f"{y},{x}"], env)
    line = _one_error_line(p)
    assert p.returncode == 3 and "swapped" in line
    # both as the hints say: the case lies in the cell
    import json

    for args in (["--point", f"{lon},{lat}", "--crs", "CRS84"], ["--point", f"{x},{y}"]):
        out = json.loads(run_cli([*base, *args, "--json"], env, check=True).stdout)
        assert out["grid_code"] == sdb.cell


def test_profile_option_after_the_command(sdb, tmp_path):
    """README: every command takes `--profile FILE`: after the command's name as before it."""
    import json

    import yaml

    other = tmp_path / "other.yaml"
    data = yaml.safe_load(sdb.profile.path.read_text(encoding="utf-8"))
    data["city"]["name"] = "另一市"
    for key in ("boundaries", "grid"):  # relative to the profile's folder
        data[key] = str((sdb.profile.path.parent / data[key]).resolve())
    other.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = sdb.env()
    after = json.loads(run_cli(["profile", "show", "--profile", str(other)], env,
                               check=True).stdout)
    before = json.loads(run_cli(["--profile", str(other), "profile", "show"], env,
                                check=True).stdout)
    assert after["city"]["name"] == before["city"]["name"] == "另一市"
    assert after["path"] == str(other)
    # a load command: the district of the profile given after it is checked
    p = run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--district", "999999",
                 "--profile", str(other)], env)
    assert p.returncode == 3 and "另一市" in _one_error_line(p)


def test_text_output_says_none_and_times_as_json_does(sdb):
    """`cim checks` and `cim case list` with nothing to list say so; a case without a deadline
    (reported, not registered) shows '-', not Python's None; times are RFC 3339 as --json
    writes them."""
    import json

    env = sdb.env()
    p = run_cli(["checks"], env, check=True)
    assert "no approval check" in p.stdout
    p = run_cli(["case", "list", "--state", "核查"], env, check=True)
    assert p.stdout.strip() == "no case"
    run_cli(["ops", "user", "add", "readme-insp2", "--role", "监督员"], env, check=True)
    out = json.loads(run_cli(["case", "report-problem", "--source", "巡查上报", "--category",
                              "0202", "--grid", sdb.cell, "--user", "readme-insp2",
                              "--at", "2026-06-15T09:20:00+08:00", "--json"], env,
                             check=True).stdout)
    assert out["deadline"] is None
    shown = run_cli(["case", "show", out["code"]], env, check=True).stdout
    listed = run_cli(["case", "list", "--state", "上报"], env, check=True).stdout
    for text in (shown, listed):
        assert "None" not in text and "deadline -" in text
    assert "2026-06-15T01:20:00+00:00" in shown and "2026-06-15T01:20:00+00:00" in listed


def test_evaluation_period_bound_missing_is_named():
    from cim.errors import InputError
    from services.cases_api import _when

    for name in ("from", "to"):
        with pytest.raises(InputError) as e:
            _when(None, name)
        assert f"{name} is required" in str(e.value) and "None" not in str(e.value)

def test_history_of_a_case_code(sdb):
    """README: `cim history CODE` shows every version of a feature; a case (like an alarm or a
    risk point) is written by the platform, not by a load, and has no batch: its history was
    an internal error (KeyError 'batch_id')."""
    import json

    env = sdb.env()
    run_cli(["ops", "user", "add", "readme-insp3", "--role", "监督员"], env, check=True)
    run_cli(["ops", "user", "add", "readme-acc3", "--role", "受理员"], env, check=True)
    code = json.loads(run_cli(["case", "report-problem", "--source", "巡查上报", "--category",
                               "0202", "--grid", sdb.cell, "--user", "readme-insp3", "--json"],
                              env, check=True).stdout)["code"]
    run_cli(["case", "register", code, "--user", "readme-acc3"], env, check=True)
    p = run_cli(["history", code], env)
    assert p.returncode == 0, p.stderr
    # a case is updated in place by the loop (its trail is in case_events): one version
    heads = [ln for ln in p.stdout.splitlines() if not ln.startswith(" ")]
    assert len(heads) == 1 and heads[0].endswith("batch -  current"), p.stdout
    rows = json.loads(run_cli(["history", code, "--json"], env, check=True).stdout)
    assert [r["state"] for r in rows] == ["立案"]

def test_db_downgrade_needs_a_revision(sdb):
    """A bare `cim db downgrade` is a usage error (exit 2) that leaves every table: it used to
    default to base, dropping the whole city without a word; `-1` goes one step down."""
    env = sdb.env()
    p = run_cli(["db", "downgrade"], env)
    assert p.returncode == 2 and "REVISION" in p.stderr
    assert sdb.scalar("SELECT to_regclass('public.buildings') IS NOT NULL")
    assert sdb.scalar("SELECT count(*) FROM admin_divisions") == 2
    before = sdb.scalar("SELECT version_num FROM alembic_version")
    run_cli(["db", "downgrade", "-1"], env, check=True)
    assert sdb.scalar("SELECT version_num FROM alembic_version") != before
    run_cli(["db", "upgrade"], env, check=True)
    assert sdb.scalar("SELECT version_num FROM alembic_version") == before
    assert sdb.scalar("SELECT count(*) FROM admin_divisions") == 2


def test_database_without_schema_says_run_db_upgrade(jining_profile):
    """Quick start: an external database is made with `createdb` and `cim db upgrade` creates
    the schema. A command run before the upgrade is the operator's to fix, an error naming
    `cim db upgrade` (exit 4, database), not an internal error (exit 1, a bug) with a log."""
    import os

    from sqlalchemy.engine import make_url

    from cim.db.engine import drop_database, ensure_database
    from tests.conftest import server_url

    name = f"cim_test_readme_empty_{os.getpid()}"
    server = server_url()
    drop_database(server, name)
    ensure_database(server, name)
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "CIM_DATABASE_URL": url,
               "CIM_PROFILE": str(jining_profile.path)}
        # (styles apply and iot partitions answered "nothing to do", exit 0: a cron job's
        # monthly partitions against the wrong database never noticed)
        for args in (["batches"], ["layers"], ["query", "aoi"], ["case", "list"],
                     ["load", "buildings", str(SAMPLE_BUILDINGS), "--quiet"],
                     ["styles", "apply", "--json"], ["iot", "partitions", "--json"]):
            p = run_cli(args, env)
            line = _one_error_line(p)
            assert p.returncode == 4 and "cim db upgrade" in line, (args, p.stderr)
        # cim serve is refused before it binds (served, every request would be a 500)
        import subprocess
        import sys

        from cim.config import PROJECT_ROOT

        with subprocess.Popen([sys.executable, "-m", "cim", "serve", "--port", "59999"],
                              env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as proc:
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.communicate(timeout=30)
                pytest.fail("cim serve started on a database without the CIM schema")
        assert proc.returncode == 4 and "cim db upgrade" in err, err
    finally:
        drop_database(server, name)


def test_broken_yaml_is_one_error_line(sdb, tmp_path):
    """A YAML file that does not parse (a mapping file, a profile, approval rules) is one
    `error:` line naming the file and the line, not PyYAML's lines with a caret drawing."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("points: {x: 北坐标\ny: [1\n", encoding="utf-8")
    env = sdb.env()
    for args in (["load", "buildings", str(SAMPLE_BUILDINGS), "--mapping", str(bad),
                  "--quiet"],
                 ["--profile", str(bad), "profile", "show"],
                 ["check", str(PROJECTS / "passes.gpkg"), "--rules", str(bad),
                  "--no-record"]):
        p = run_cli(args, env)
        line = _one_error_line(p)
        assert p.returncode == 2 and str(bad) in line and "line 2" in line, (args, p.stderr)


def test_map_api_without_its_parameter_says_what_to_give(sdb):
    """README's `/map/api/aoi?bbox=` and `/map/api/section?line=WKT`: asked without them (or
    with a bbox that is no four numbers) the answer names the parameter and its form, not
    Python's "could not convert string to float" or a WKT parser's end of stream."""
    from flask import Flask

    from services.webmap import register

    app = Flask("readme")
    register(app, conninfo=sdb.conninfo, profile=sdb.profile, base_url="http://x")
    client = app.test_client()
    for url in ("/map/api/aoi", "/map/api/aoi?bbox=", "/map/api/aoi?bbox=a,b,c,d",
                "/map/api/aoi?bbox=1,2,3"):
        r = client.get(url)
        assert r.status_code == 400 and "minlon,minlat,maxlon,maxlat" in r.json["description"]
    for url in ("/map/api/section", "/map/api/section?line=", "/map/api/section?line=%20"):
        r = client.get(url)
        assert r.status_code == 400 and "line: give" in r.json["description"], r.json
    x0, y0 = sdb.x0, sdb.y0
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(4527, "OGC:CRS84", always_xy=True).transform(x0, y0)
    r = client.get(f"/map/api/aoi?bbox={lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
                   "&layers=grid_cells")
    assert r.status_code == 200 and r.json["layers"]["grid_cells"]["count"] >= 1


def test_serve_on_a_port_in_use_is_refused_before_announcing(sdb, tmp_path):
    """`make demo`/`cim serve` on a port another server holds printed the addresses as served,
    then gunicorn's retries, and exited 1 (README: a bug); it is a configuration error (exit 2)
    naming the port, before any address is announced."""
    import socket
    import subprocess
    import sys

    from cim.config import PROJECT_ROOT

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        env = {**sdb.env(), "CIM_HOME": str(tmp_path)}
        with subprocess.Popen([sys.executable, "-m", "cim", "serve", "--port", str(port)],
                              env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as proc:
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.communicate(timeout=30)
                pytest.fail("cim serve kept running on a port in use")
    assert proc.returncode == 2, (out, err)
    assert "OGC API for" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f":{port}" in lines[0]
    assert not any(p.name.startswith("gunicorn-") for p in tmp_path.iterdir())

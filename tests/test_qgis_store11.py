"""Where the one-map project goes and what it relies on (review 11), checked with the readers
planners use: libpq reading the pg_service.conf, real QGIS opening the project saved in the
database by the URI the command prints.

- ``--service-file`` rewrote the whole file through configparser: every comment of a
  planner's (or the IT department's) service file was dropped, and a file libpq reads
  without complaint — a key above the first section, a section written twice (libpq reads
  the first) — stopped the command with an internal error after the project was written.
- The printed URI of the project saved in ``qgis_projects`` was not percent-encoded: a name
  holding ``&`` or ``#`` gave a URI QGIS opened nothing with.
- A profile whose storage CRS is not the database's (the default profile — the sample
  city's — run against another city's database) wrote a project whose layers QGIS opened
  valid and empty: every layer named the profile's SRID, the geometries have another.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from cim.db.engine import drop_database
from cim.db.roles import DEFAULT_PLANNER
from tests.conftest import PROJECT_ROOT, make_db, run_cli, server_url
from tests.test_qgis_project import OPEN_PROJECT, SYSTEM_PYTHON, qgis_missing

OPEN = OPEN_PROJECT + r'''
print(json.dumps({"read": ok, "layers": [l.isValid() for l in p.mapLayers().values()]}))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def sdb(jining_profile):
    d = make_db("qgisstore11", jining_profile)
    yield d
    drop_database(server_url(), d.name)


def test_service_file_keeps_what_else_it_holds_and_libpq_reads_the_entry(sdb, tmp_path,
                                                                          monkeypatch):
    service = tmp_path / "pg_service.conf"
    before = ("# 规划局 GIS 连接 — ask IT before editing\n"
              "host=ignored-outside-a-section\n"
              "[gis]\n"
              "host=10.0.0.5\n"
              "dbname=gis\n"
              "\n"
              "[cim11]\n"
              "# the CIM database\n"
              "host=old-host.example\n"
              "port=6543\n"
              "sslmode=disable\n"
              "connect_timeout=7\n"
              "\n"
              "[gis]\n"
              "dbname=second_copy_libpq_never_reads\n")
    service.write_text(before, encoding="utf-8")
    proc = run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cim11",
                    "--service-file", str(service), "--no-db"], sdb.env())
    assert proc.returncode == 0, proc.stderr
    after = service.read_text(encoding="utf-8")
    # everything outside the section, byte for byte
    assert after.startswith(before[:before.index("[cim11]")])
    assert after.endswith("\n[gis]\ndbname=second_copy_libpq_never_reads\n")
    section = after[after.index("[cim11]"):after.rindex("[gis]")]
    assert "# the CIM database" in section and "sslmode=disable" in section
    assert "connect_timeout=7" in section
    assert "old-host" not in section and "6543" not in section and "password" not in section
    # libpq itself reads the entry: the planners' read-only role on this database
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    with psycopg.connect("service=cim11") as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            DEFAULT_PLANNER, sdb.name)


def test_a_service_file_that_cannot_be_read_stops_before_anything_is_written(sdb, tmp_path):
    service = tmp_path / "pg_service.conf"
    raw = "[gis]\nhost=10.0.0.5\n# 规划局\n".encode("gbk")
    service.write_bytes(raw)
    out = tmp_path / "p.qgs"
    proc = run_cli(["qgis-project", str(out), "--service-file", str(service), "--no-db"],
                   sdb.env())
    assert proc.returncode == 2, proc.stderr
    assert str(service) in proc.stderr and "row 3" in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr
    assert not out.exists() and service.read_bytes() == raw


@pytest.mark.parametrize("service", ["cim]x", "it's", "a\nb", "", "100%"])
def test_a_service_name_libpq_or_qgis_would_misread_is_refused(sdb, tmp_path, service):
    out = tmp_path / "p.qgs"
    proc = run_cli(["qgis-project", str(out), "--service", service, "--no-db"], sdb.env())
    assert proc.returncode == 2 and "pg service name" in proc.stderr, proc.stderr
    assert not out.exists()


def test_a_profile_of_another_storage_crs_is_refused(sdb, tmp_path):
    """The sample profile at EPSG:4548 (the same zone written by its central meridian)."""
    src = sdb.profile.path
    text = Path(src).read_text(encoding="utf-8")
    assert "storage_crs: EPSG:4527" in text
    base = Path(src).parent
    other = (text.replace("storage_crs: EPSG:4527", "storage_crs: EPSG:4548")
             .replace("boundaries: boundaries.gpkg", f"boundaries: {base / 'boundaries.gpkg'}")
             .replace("grid: grid_cells.gpkg", f"grid: {base / 'grid_cells.gpkg'}"))
    profile = tmp_path / "profile.yaml"
    profile.write_text(other, encoding="utf-8")
    out = tmp_path / "p.qgs"
    proc = run_cli(["--profile", str(profile), "qgis-project", str(out), "--no-db"], sdb.env())
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "EPSG:4527" in proc.stderr and "EPSG:4548" in proc.stderr, proc.stderr
    assert str(profile) in proc.stderr and not out.exists()


def test_the_printed_uri_of_a_name_with_reserved_characters_opens_in_qgis(sdb, tmp_path):
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    service = tmp_path / "pg_service.conf"
    name = "济宁 一张图&v2#1+(a=b)"
    proc = run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cim 11",
                    "--service-file", str(service), "--name", name, "--json"], sdb.env(),
                   check=True)
    uri = json.loads(proc.stdout)["database"]
    assert sdb.scalar("SELECT count(*) FROM qgis_projects WHERE name = %s", (name,)) == 1
    (tmp_path / "open.py").write_text(OPEN)
    env = {**os.environ, "PGSERVICEFILE": str(service), "QT_QPA_PLATFORM": "offscreen"}
    q = subprocess.run([SYSTEM_PYTHON, str(tmp_path / "open.py"), uri], capture_output=True,
                       text=True, env=env, timeout=600, cwd=PROJECT_ROOT)
    assert q.returncode == 0, q.stderr[-2000:]
    got = json.loads(q.stdout.strip().splitlines()[-1])
    assert got["read"] and got["layers"] and all(got["layers"]), (uri, got)


def test_a_project_name_qgis_cannot_open_by_its_uri_is_refused(sdb, tmp_path):
    """QGIS 3.22 reads a project name's %25 back as %25: no URI opens a name with '%'."""
    out = tmp_path / "p.qgs"
    proc = run_cli(["qgis-project", str(out), "--name", "一张图 100%"], sdb.env())
    assert proc.returncode == 2 and "'%'" in proc.stderr, proc.stderr
    assert not out.exists()
    assert sdb.scalar("SELECT to_regclass('qgis_projects') IS NULL OR NOT EXISTS "
                      "(SELECT FROM qgis_projects WHERE name LIKE '%%100%%')")


def test_the_connections_sslmode_goes_into_the_entry(sdb, tmp_path, monkeypatch):
    """An external server's demand (``?sslmode=require`` in CIM_DATABASE_URL) held for the
    admin only: the planners' entry left it out, and libpq's default (prefer) falls back to
    an unencrypted connection. (The test cluster has no TLS, so the mode here is disable.)"""
    service = tmp_path / "pg_service.conf"
    service.write_text("[cim11s]\nsslmode=require\nconnect_timeout=5\n", encoding="utf-8")
    env = {**sdb.env(), "CIM_DATABASE_URL": sdb.url + "?sslmode=disable"}
    proc = run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cim11s",
                    "--service-file", str(service), "--no-db", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["service_entry"]["sslmode"] == "disable"
    lines = service.read_text(encoding="utf-8").splitlines()
    assert "sslmode=disable" in lines and "sslmode=require" not in lines, lines
    assert "connect_timeout=5" in lines
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    with psycopg.connect("service=cim11s") as conn:
        assert conn.info.get_parameters() is not None
        assert conn.pgconn.ssl_in_use is False


def test_the_service_file_keeps_its_mode(sdb, tmp_path):
    """A service file kept 0600 (another section holds a password) stayed 0600 until the
    entry was written into it."""
    service = tmp_path / "pg_service.conf"
    service.write_text("[other]\nhost=10.0.0.5\nuser=gis\npassword=s3cret\n", encoding="utf-8")
    service.chmod(0o600)
    proc = run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cim11m",
                    "--service-file", str(service), "--no-db"], sdb.env())
    assert proc.returncode == 0, proc.stderr
    assert service.stat().st_mode & 0o777 == 0o600, oct(service.stat().st_mode)
    assert "password=s3cret" in service.read_text(encoding="utf-8")

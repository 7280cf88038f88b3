"""The planners' role (review 11): the pg service `cim qgis-project --service-file` writes named
``cim_reader``, the services' role, which reads the case loop's citizens' names and phones
(``case_contacts``), its users (``ops_users``) and attachments, and — read-only being only its
session default — writes cases and risk points in a transaction opened ``BEGIN READ WRITE``.
Planners now get ``cim_planner``: SELECT on what the one catalog publishes and QGIS's project
and style tables, nothing else.

Checked with the readers planners use: libpq reading the service file, real QGIS opening the
project (the file and the copy saved in the database) through it.
"""

from __future__ import annotations

import json
import os
import subprocess

import psycopg
import pytest
from psycopg import sql

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.roles import (
    DEFAULT_PLANNER,
    DEFAULT_READER,
    ReaderRole,
    ensure_planner,
    ensure_reader,
    reader_url,
)
from cim.errors import ConfigError
from tests.conftest import (
    PROJECT_ROOT,
    SAMPLE_BUILDINGS,
    assess_risks,
    load_network_samples,
    load_plan_and_base_samples,
    load_sensor_samples,
    make_db,
    replay_sample_day,
    run_cli,
    server_url,
)
from tests.test_qgis_project import HEALTH_YEAR, SYSTEM_PYTHON, qgis_missing

# what the one map never shows (written out here, not read from the code under test)
PRIVATE = ("case_contacts", "ops_users", "case_attachments", "case_events", "load_batches",
           "load_rejects", "layer_changes", "readings", "sensor_state", "approval_checks",
           "code_counters", "code_registry", "risk_assessments", "health_runs",
           "cim_properties", "alembic_version", "reading_sources")


@pytest.fixture(scope="module")
def pdb(jining_profile):
    """Every layer of the one map with features: the samples, the health check, the risk
    list, sensors with the day's alarms and cases (a contact among them)."""
    from layers.health.compute import compute
    from loaders.buildings import load_buildings

    d = make_db("planner11", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    load_network_samples(d, jining_profile)
    load_plan_and_base_samples(d, jining_profile)
    compute(d.conninfo, HEALTH_YEAR, jining_profile)
    assess_risks(d, jining_profile)
    load_sensor_samples(d, jining_profile)
    replay_sample_day(d, jining_profile)
    yield d
    drop_database(server_url(), d.name)


@pytest.fixture(scope="module")
def project(pdb, tmp_path_factory):
    """`cim styles apply` then `cim qgis-project --service-file`, as an operator does."""
    out = tmp_path_factory.mktemp("planner")
    run_cli(["styles", "apply"], pdb.env(), check=True)
    proc = run_cli(["qgis-project", str(out / "onemap.qgs"), "--service", "cimplan",
                    "--service-file", str(out / "pg_service.conf"), "--json"], pdb.env(),
                   check=True)
    return out, json.loads(proc.stdout)


@pytest.fixture
def planner(project, monkeypatch):
    """A libpq connection through the service entry the command wrote."""
    out, _ = project
    monkeypatch.setenv("PGSERVICEFILE", str(out / "pg_service.conf"))
    with psycopg.connect("service=cimplan") as conn:
        yield conn


def test_service_entry_names_the_planners_role(pdb, project, planner):
    out, result = project
    entry = result["service_entry"]
    assert entry["user"] == "cim_planner" == DEFAULT_PLANNER != DEFAULT_READER
    assert "password" not in (out / "pg_service.conf").read_text()
    assert planner.execute("SELECT current_user, current_database()").fetchone() == (
        "cim_planner", pdb.name)
    # no membership that would lend it another role's privileges, no power beyond login
    assert planner.execute("SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls "
                           "FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
    assert planner.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r "
                           "ON r.oid = m.member WHERE r.rolname = current_user"
                           ).fetchone()[0] == 0


@pytest.mark.parametrize("table", ["case_contacts", "ops_users", "case_attachments",
                                   "reading_sources", "load_batches"])
def test_planner_cannot_read_private_tables(pdb, planner, table):
    assert pdb.scalar(f"SELECT count(*) FROM {table}") >= 0  # the table is there
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        planner.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(table)))


def test_the_sample_day_has_a_contact_the_planner_cannot_see(pdb, planner):
    """What the probe found readable — a 12345 caller's name and phone — is out of reach."""
    case = pdb.scalar("SELECT min(id) FROM cases")
    with psycopg.connect(pdb.conninfo) as conn:
        conn.execute("INSERT INTO case_contacts (case_id, reporter_name, phone) VALUES "
                     "(%s, '张三', '13800000000') ON CONFLICT DO NOTHING", (case,))
    assert pdb.scalar("SELECT count(*) FROM case_contacts WHERE phone = '13800000000'") == 1
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        planner.execute("SELECT reporter_name, phone FROM case_contacts")


def _tables(pdb) -> list[str]:
    return [t for (t,) in pdb.rows(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "ORDER BY 1")]


def test_planner_cannot_write_anything_even_read_write(pdb, planner):
    """Every table of schema public, the layers, the cases and risk points, the private ones
    and QGIS's: INSERT, UPDATE, DELETE, TRUNCATE in a transaction opened BEGIN READ WRITE are
    refused by the server's privileges, not by the read-only default."""
    tables = _tables(pdb)
    assert {"cases", "risk_points", "buildings", "case_contacts", "qgis_projects",
            "layer_styles"} <= set(tables)
    planner.autocommit = True
    for table in tables:
        col = pdb.scalar("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                         "AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1",
                         (f'public."{table}"',))
        t, c = sql.Identifier(table), sql.Identifier(col)
        for stmt in (sql.SQL("INSERT INTO {} DEFAULT VALUES").format(t),
                     sql.SQL("UPDATE {} SET {} = {}").format(t, c, c),
                     sql.SQL("DELETE FROM {}").format(t),
                     sql.SQL("TRUNCATE {}").format(t)):
            planner.execute("BEGIN READ WRITE")
            assert planner.execute("SHOW transaction_read_only").fetchone()[0] == "off"
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                planner.execute(stmt)
            planner.execute("ROLLBACK")
    # the probe's own statements: a case moved, a risk point's level changed
    for stmt in ("UPDATE cases SET state = '结案'", "UPDATE risk_points SET level = 1"):
        planner.execute("BEGIN READ WRITE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            planner.execute(stmt)
        planner.execute("ROLLBACK")
    # and by the server's catalog: no write privilege on any relation or column, no sequence
    assert pdb.rows(
        "SELECT c.relname, p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND has_table_privilege('cim_planner', c.oid, p)") == []
    assert pdb.rows(
        "SELECT a.attrelid::regclass::text, a.attname FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND a.attnum > 0 AND c.relkind IN ('r', 'p') "
        "AND has_column_privilege('cim_planner', a.attrelid, a.attnum, 'UPDATE')") == []
    assert not pdb.scalar("SELECT has_schema_privilege('cim_planner', 'public', 'CREATE')")
    planner.execute("BEGIN READ WRITE")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        planner.execute("CREATE TABLE public.mine (id int)")
    planner.execute("ROLLBACK")


def test_planner_reads_the_published_layers_only(pdb, planner):
    """SELECT on exactly the published layers (named here, as the one map's tree shows
    them) and QGIS's two tables; the private ones refused. Cases, whose reports the API never
    publishes, only through the view of their published columns (tests/test_roles2_views.py)."""
    published = {"admin_divisions", "grid_cells", "buildings", "pipe_points", "pipe_segments",
                 "components", "planning_parcels", "control_lines", "height_zones", "roads",
                 "green_spaces", "facilities", "population", "risk_points", "sensors",
                 "health_indicators", "alarms"}
    readable = {t for t in _tables(pdb)
                if pdb.scalar("SELECT has_table_privilege('cim_planner', %s, 'SELECT')",
                              (f'public."{t}"',))}
    # PostGIS's spatial_ref_sys is readable by PUBLIC (every role): not the platform's grant
    assert readable - {"spatial_ref_sys"} == published | {"qgis_projects", "layer_styles"}
    assert not readable & set(PRIVATE)
    for table in published:
        planner.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    assert pdb.scalar("SELECT has_table_privilege('cim_planner', 'cim_map.cases', 'SELECT')")
    planner.execute("SELECT count(*) FROM cim_map.cases")


def test_qgis_opens_every_layer_as_the_planner(pdb, project):
    """Real QGIS through the service entry (cim_planner): every layer of the project valid,
    with the current features the admin counts for its subset, the copy saved in
    qgis_projects opens too, and a layer added by hand gets its style from layer_styles."""
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    out, result = project
    zoom = pdb.scalar("SELECT concat_ws(',', ST_X(c) - 300, ST_Y(c) - 300, ST_X(c) + 300, "
                      "ST_Y(c) + 300) FROM (SELECT ST_Centroid(geom) c FROM pipe_segments "
                      "WHERE valid_to IS NULL ORDER BY id LIMIT 1) s")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CIM_QGIS_SERVICE": "cimplan",
           "PGSERVICEFILE": str(out / "pg_service.conf")}
    env.pop("PGPASSFILE", None)
    by_hand = {"buildings": "MultiPolygon", "pipe_segments": "LineStringZ"}
    proc = subprocess.run([SYSTEM_PYTHON, str(PROJECT_ROOT / "tests" / "qgis_check.py"),
                           str(out / "onemap.qgs"), str(out), zoom, json.dumps(by_hand),
                           result["database"]],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["read"] and len(got["layers"]) == result["layers"] > 0
    tables = set()
    for info in got["layers"]:
        assert info["valid"], info
        subset = info["source"].split(" sql=", 1)[1]
        n = pdb.scalar(f'SELECT count(*) FROM public."{info["table"]}" WHERE {subset}')
        assert info["count"] == n > 0, (info["name"], info["count"], n)
        tables.add(info["table"])
    assert {"buildings", "pipe_segments", "risk_points", "health_indicators", "sensors",
            "alarms", "cases"} <= tables
    assert got["db_read"] and len(got["db_layers"]) == result["layers"]
    assert all(got["db_layers"])
    assert got["by_hand"]["buildings"]["valid"]
    assert got["by_hand"]["buildings"]["renderer"] == "categorizedSymbol"


def test_a_layer_declared_later_is_granted_and_hand_grants_are_undone(pdb, monkeypatch):
    """Applying the roles again follows the catalog: a table it declares since is granted,
    what someone granted by hand beyond it is taken back; the services' reader keeps all."""
    from cim.layerdefs import LAYERS, LayerDef

    with psycopg.connect(pdb.conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE noise_levels (id int, geom geometry(Point, 4527), "
                     "valid_to timestamptz)")
        conn.execute("INSERT INTO noise_levels VALUES (1, NULL, NULL)")
        conn.execute("GRANT SELECT ON case_contacts TO cim_planner")
        conn.execute("GRANT UPDATE (level) ON risk_points TO cim_planner")
        conn.execute("GRANT INSERT, DELETE ON buildings TO cim_planner")
        conn.execute("GRANT SELECT ON sensors TO cim_planner WITH GRANT OPTION")
        conn.execute("GRANT USAGE ON SEQUENCE approval_checks_id_seq TO cim_planner")
    try:
        assert not pdb.scalar("SELECT has_table_privilege('cim_planner', 'noise_levels', "
                              "'SELECT')")
        monkeypatch.setitem(LAYERS, "noise_levels", LayerDef(
            name="noise_levels", title_zh="噪声", title_en="Noise", geometry_type="POINT",
            code_scheme="result", columns=()))
        assert ensure_reader(pdb.url) == []
        assert pdb.scalar("SELECT has_table_privilege('cim_planner', 'noise_levels', 'SELECT')")
        for table, priv in (("case_contacts", "SELECT"), ("buildings", "INSERT"),
                            ("buildings", "DELETE")):
            assert not pdb.scalar("SELECT has_table_privilege('cim_planner', %s, %s)",
                                  (table, priv)), (table, priv)
        assert not pdb.scalar("SELECT has_column_privilege('cim_planner', 'risk_points', "
                              "'level', 'UPDATE')")
        assert not pdb.scalar("SELECT has_table_privilege('cim_planner', 'sensors', "
                              "'SELECT WITH GRANT OPTION')")
        assert pdb.scalar("SELECT has_table_privilege('cim_planner', 'sensors', 'SELECT')")
        assert not pdb.scalar("SELECT has_sequence_privilege('cim_planner', "
                              "'approval_checks_id_seq', 'USAGE')")
        assert pdb.scalar("SELECT has_table_privilege('cim_planner', 'buildings', 'SELECT')")
        # the reader as it was: its contacts, its record grants
        assert pdb.scalar("SELECT has_table_privilege(%s, 'case_contacts', 'INSERT')",
                          (DEFAULT_READER,))
        assert pdb.scalar("SELECT has_column_privilege(%s, 'risk_points', 'level', 'UPDATE')",
                          (DEFAULT_READER,))
        with psycopg.connect(psycopg_conninfo(reader_url(pdb.url, DEFAULT_PLANNER,
                                                         password=""))) as conn:
            assert conn.execute("SELECT id FROM noise_levels").fetchone()[0] == 1
    finally:
        with psycopg.connect(pdb.conninfo, autocommit=True) as conn:
            conn.execute("DROP TABLE noise_levels")


def test_a_planner_role_that_is_the_readers_is_refused(pdb, monkeypatch):
    monkeypatch.setenv("CIM_PLANNER_ROLE", DEFAULT_READER)
    with pytest.raises(ConfigError, match="both 'cim_reader'"):
        ensure_planner(pdb.conninfo)
    # the upgrade goes on (the services need no planner) and says why there is none
    notes = ensure_reader(pdb.url)
    assert any("both 'cim_reader'" in n for n in notes), notes
    assert pdb.scalar("SELECT has_table_privilege(%s, 'case_contacts', 'SELECT')",
                      (DEFAULT_READER,))


def test_without_createrole_the_dba_statements(pdb):
    weak = f"cim_weak_p11_{os.getpid()}"
    with psycopg.connect(pdb.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(weak)))
    try:
        with pytest.raises(ConfigError, match="(?s)may not create roles.*planners' role.*"
                                              "CREATE ROLE cim_planner_missing.*"
                                              "CIM_PLANNER_PASSWORD"):
            ensure_planner(psycopg_conninfo(reader_url(pdb.url, weak, password="")),
                           ReaderRole("cim_planner_missing", "60s"))
    finally:
        with psycopg.connect(pdb.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(weak)))


def test_an_admin_who_owns_nothing_gets_notes_not_a_failed_upgrade(pdb):
    """A database user with CREATEROLE that owns no table (QGIS creates layer_styles as
    whoever saves a style first): what it cannot revoke or grant is said with the DBA's
    statement, and what the planner still holds beyond reading is named."""
    weak = f"cim_weakadm_p11_{os.getpid()}"
    with psycopg.connect(pdb.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(weak)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(pdb.name), sql.Identifier(weak)))
        conn.execute("GRANT UPDATE ON cases TO cim_planner")
    try:
        notes = ensure_planner(psycopg_conninfo(reader_url(pdb.url, weak, password="")))
        assert any('REVOKE ALL ON TABLE public."cases" FROM cim_planner' in n for n in notes)
        assert any("still holds privileges on cases beyond reading" in n for n in notes)
        # the SELECT it has already needs no note
        assert not any("GRANT SELECT" in n for n in notes), notes
    finally:
        assert ensure_planner(pdb.conninfo) == []
        assert not pdb.scalar("SELECT has_table_privilege('cim_planner', 'cases', 'UPDATE')")
        with psycopg.connect(pdb.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(
                sql.Identifier(pdb.name), sql.Identifier(weak)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(weak)))

"""The planners' role reads what the one map publishes of a layer, not its table (review 11).

``cim_planner`` was granted SELECT on ``cases`` itself: a citizen's own words
(``description``), their address (often their home) and the JSON detail — columns the OGC API
never publishes — and the closed cases the map does not show were one query away for any
planner. Column grants were tried first, and QGIS then opened the layer as invalid (it reads
every column of the table). Now a layer that declares unpublished columns is read through a
view of its published columns and the map's rows (``cim_map.<table>``), the planner is granted
the view and not the table, and the QGIS project sources the layer from the view.

Checked with the readers planners use: libpq through the service entry the command writes,
and real QGIS opening the project through it.
"""

from __future__ import annotations

import json
import os
import subprocess

import psycopg
import pytest
from psycopg import sql

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.roles import ensure_reader, reader_url
from tests.conftest import make_db, run_cli, server_url
from tests.test_qgis_project import OPEN_PROJECT, SYSTEM_PYTHON, qgis_missing

# written out here, not read from the code under test: what the OGC API leaves out of a case
UNPUBLISHED = ("description", "address", "detail")
# the cases the fixture writes: (code, state, current); the map shows the open current ones
CASES = (("R2OPEN1", "立案", True), ("R2OPEN2", "派遣", True), ("R2CLOSED", "结案", True),
         ("R2VOID", "作废", True), ("R2OLD", "立案", False))
ON_MAP = {"R2OPEN1", "R2OPEN2"}

READ = OPEN_PROJECT + r'''
out = []
for l in p.mapLayers().values():
    if l.dataProvider().uri().table() != "cases":
        continue
    out.append({"valid": l.isValid(), "source": l.source(),
                "schema": l.dataProvider().uri().schema(),
                "fields": [f.name() for f in l.fields()] if l.isValid() else [],
                "codes": sorted(f["code"] for f in l.getFeatures()) if l.isValid() else [],
                "error": l.dataProvider().error().message() if l.dataProvider() else ""})
print(json.dumps({"read": ok, "cases": out}))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def vdb(jining_profile):
    """A database with five cases (open, closed, void, a retired version), each with the
    free text, address and detail a citizen's report carries, and the roles applied."""
    d = make_db("roles2", jining_profile)
    with psycopg.connect(d.conninfo, autocommit=True) as conn:
        for code, state, current in CASES:
            conn.execute(
                "INSERT INTO cases (code, valid_to, detail, geom, source, category_code, state, "
                "final, description, address, reported_at) SELECT %s, "
                "CASE WHEN %s THEN NULL ELSE now() END, '{\"caller\": \"张三\"}', "
                "ST_PointOnSurface(geom), '市民热线', '0101', %s, %s, "
                "'张三 13800000000 楼下井盖缺失', '幸福路 8 号 3 单元 502', now() "
                "FROM admin_divisions WHERE valid_to IS NULL ORDER BY code LIMIT 1",
                # final as the loop marks it (the platform's final states, 结案 and 作废)
                (code, current, state, state in ("结案", "作废")))
    assert ensure_reader(d.url) == []
    yield d
    drop_database(server_url(), d.name)


@pytest.fixture(scope="module")
def project(vdb, tmp_path_factory):
    """`cim qgis-project --service-file`, as an operator runs it."""
    out = tmp_path_factory.mktemp("roles2")
    run_cli(["qgis-project", str(out / "onemap.qgs"), "--service", "cimroles2",
             "--service-file", str(out / "pg_service.conf"), "--json"], vdb.env(), check=True)
    return out


@pytest.fixture
def planner(project, monkeypatch):
    monkeypatch.setenv("PGSERVICEFILE", str(project / "pg_service.conf"))
    with psycopg.connect("service=cimroles2") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "cim_planner"
        yield conn


def _published(vdb) -> list[str]:
    """The columns of the table (the admin reads them) but the three the API never shows."""
    return [c for (c,) in vdb.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = 'cases' ORDER BY ordinal_position") if c not in UNPUBLISHED]


@pytest.mark.parametrize("column", UNPUBLISHED)
def test_planner_cannot_read_a_citizens_report(vdb, planner, column):
    assert vdb.scalar(sql.SQL("SELECT count({}) FROM cases").format(sql.Identifier(column))) \
        == len(CASES)  # the admin reads it: it is there
    with pytest.raises(psycopg.errors.InsufficientPrivilege,
                       match="permission denied for table cases"):
        planner.execute(sql.SQL("SELECT {} FROM public.cases").format(sql.Identifier(column)))
    planner.rollback()
    with pytest.raises(psycopg.errors.UndefinedColumn):
        planner.execute(sql.SQL("SELECT {} FROM cim_map.cases").format(sql.Identifier(column)))


def test_planner_reads_the_published_columns_of_the_maps_rows(vdb, planner):
    cur = planner.execute("SELECT * FROM cim_map.cases")
    assert [c.name for c in cur.description] == _published(vdb)
    assert {r[0] for r in planner.execute("SELECT code FROM cim_map.cases")} == ON_MAP
    # nor the closed ones by a filter of its own
    assert planner.execute("SELECT count(*) FROM cim_map.cases WHERE state = '结案'"
                           ).fetchone()[0] == 0
    assert not vdb.scalar("SELECT has_table_privilege('cim_planner', 'public.cases', "
                          "'SELECT')")
    assert not any(vdb.scalar("SELECT has_column_privilege('cim_planner', 'public.cases', "
                              "%s, 'SELECT')", (c,)) for c in UNPUBLISHED)
    # read-only: no write on the view either
    for p in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
        assert not vdb.scalar("SELECT has_table_privilege('cim_planner', 'cim_map.cases', %s)",
                              (p,))


def test_qgis_opens_cases_valid_as_the_planner(vdb, project):
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    (project / "read.py").write_text(READ)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PGSERVICEFILE": str(project / "pg_service.conf")}
    env.pop("PGPASSFILE", None)
    proc = subprocess.run([SYSTEM_PYTHON, str(project / "read.py"),
                           str(project / "onemap.qgs")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["read"] and len(got["cases"]) == 1, got
    layer = got["cases"][0]
    assert layer["valid"], layer
    assert layer["schema"] == "cim_map" and "key='id'" in layer["source"]
    # QGIS lists the attributes; the geometry is the layer's own
    assert layer["fields"] == [c for c in _published(vdb) if c != "geom"]
    assert layer["codes"] == sorted(ON_MAP)


def test_upgrade_keeps_the_view_in_step_and_covers_a_layer_declared_later(vdb, monkeypatch):
    """Applied again it changes nothing (same view, no note); a column a migration adds is in
    the view after the next upgrade; a layer declared later with unpublished columns gets its
    view, and its table is not granted."""
    from cim.db.map_views import drop_map_views
    from cim.layerdefs import LAYERS, Column, LayerDef

    oid = vdb.scalar("SELECT 'cim_map.cases'::regclass::oid")
    assert ensure_reader(vdb.url) == []
    assert vdb.scalar("SELECT 'cim_map.cases'::regclass::oid") == oid
    with psycopg.connect(vdb.conninfo, autocommit=True) as conn:
        conn.execute("ALTER TABLE cases ADD COLUMN review2_note text")
        conn.execute("CREATE TABLE noise2 (id int, code text, secret text, level int, "
                     "geom geometry(Point, 4527), valid_to timestamptz)")
        conn.execute("INSERT INTO noise2 VALUES (1, 'a', 'x', 70, NULL, NULL), "
                     "(2, 'b', 'y', 40, NULL, NULL), (3, 'c', 'z', 90, NULL, now())")
    try:
        monkeypatch.setitem(LAYERS, "noise2", LayerDef(
            name="noise2", title_zh="噪声", title_en="Noise", geometry_type="POINT",
            code_scheme="result", columns=(Column("level", "int4", "dB"),),
            unpublished=frozenset({"secret"}), map_where="level > 50"))
        assert ensure_reader(vdb.url) == []
        assert "review2_note" in [c for (c,) in vdb.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'cim_map' AND table_name = 'cases'")]
        assert vdb.rows("SELECT column_name FROM information_schema.columns WHERE "
                        "table_schema = 'cim_map' AND table_name = 'noise2' "
                        "ORDER BY ordinal_position") == [
            ("id",), ("code",), ("level",), ("geom",), ("valid_to",)]
        assert not vdb.scalar("SELECT has_table_privilege('cim_planner', 'public.noise2', "
                              "'SELECT')")
        with psycopg.connect(psycopg_conninfo(reader_url(vdb.url, "cim_planner",
                                                         password=""))) as conn:
            assert conn.execute("SELECT code FROM cim_map.noise2").fetchall() == [("a",)]
    finally:
        drop_map_views(vdb.conninfo)  # a column the views show cannot be dropped under them
        with psycopg.connect(vdb.conninfo, autocommit=True) as conn:
            conn.execute("ALTER TABLE cases DROP COLUMN review2_note")
            conn.execute("DROP TABLE noise2")
        monkeypatch.delitem(LAYERS, "noise2")
        assert ensure_reader(vdb.url) == []
    assert vdb.scalar("SELECT to_regclass('cim_map.noise2')") is None
    assert "review2_note" not in [c for (c,) in vdb.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'cim_map' "
        "AND table_name = 'cases'")]


def test_two_upgrades_at_once_make_the_views_once(vdb):
    """Two `cim db upgrade` of one database at the same time: the second, started while the
    first has made the views but not committed, waits and then finds them (it failed on the
    schema the first had just created), and the planner reads the same view after. The first
    holds its transaction open until the server shows the second waiting on the views' lock
    (a sleep instead let a slow machine start the second after the commit: no race)."""
    import threading

    from cim.db.map_views import _ensure_views, drop_map_views
    from cim.db.roles import ensure_planner

    drop_map_views(vdb.conninfo)
    with psycopg.connect(vdb.conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA cim_map")
    outcome: dict = {}

    def second() -> None:
        try:
            outcome["notes"] = ensure_planner(vdb.conninfo)
        except Exception as exc:  # noqa: BLE001 - the failure is what is asserted
            outcome["error"] = exc

    with psycopg.connect(vdb.conninfo, autocommit=True) as first, \
            psycopg.connect(vdb.conninfo, autocommit=True) as watch:
        with first.transaction():
            assert _ensure_views(first, "cim_planner") == (["cases"], [])
            made = first.execute("SELECT 'cim_map.cases'::regclass::oid").fetchone()[0]
            thread = threading.Thread(target=second)
            thread.start()
            waiting = _waiting_on(watch, first.info.backend_pid, thread)
        thread.join(60)
    assert not thread.is_alive(), "the second upgrade did not finish after the first's commit"
    assert waiting, "the second upgrade never waited on the first's lock on the views"
    assert outcome == {"notes": []}, outcome
    # made once: the view the first made is the one there, not dropped and made again
    assert vdb.scalar("SELECT 'cim_map.cases'::regclass::oid") == made
    assert vdb.scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                      "c.relnamespace WHERE n.nspname = 'cim_map' AND c.relkind = 'v'") == 1
    with psycopg.connect(psycopg_conninfo(reader_url(vdb.url, "cim_planner",
                                                     password=""))) as conn:
        assert {r[0] for r in conn.execute("SELECT code FROM cim_map.cases")} == ON_MAP


def _waiting_on(watch: psycopg.Connection, pid: int, thread, timeout: float = 30.0) -> list:
    """The backends waiting on an advisory lock backend ``pid`` holds (wait_event_type Lock,
    wait_event advisory: the views' lock), polled from pg_stat_activity (on a connection of
    its own: a transaction keeps one snapshot of it) until there is one, ``thread`` ends (it
    did not wait) or ``timeout`` seconds pass (it waits on something else)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and thread.is_alive():
        rows = watch.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
            "wait_event = 'advisory' AND %s = ANY(pg_blocking_pids(pid))", (pid,)).fetchall()
        if rows:
            return rows
        time.sleep(0.05)
    return []

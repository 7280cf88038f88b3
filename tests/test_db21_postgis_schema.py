"""PostGIS in a schema of a DBA's own (``CREATE EXTENSION postgis SCHEMA postgis``, the
database's search_path naming it): a database user without USAGE on it got an internal error
from `cim db upgrade`; one whose own search_path left it out migrated "successfully" and every
load failed with "function st_extent(postgis.geometry) does not exist"; the read-only role was
never granted the schema (the server stopped at its first request). And a refused search_path
sent the DBA to ``ALTER ROLE … RESET``, which a per-database setting outranks. Each is now
said with the statement a DBA runs (session 21's external-database probe)."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.roles import ReaderRole
from tests.conftest import run_cli, server_url

SAMPLE_ROADS = "data_samples/jining/base/roads.gpkg"


@pytest.fixture(scope="module")
def pdb():
    """A database whose PostGIS a DBA put in schema ``postgis``, owned by a login role of its
    own (no superuser; CREATEROLE for the platform's read-only roles), which migrates it."""
    name, owner = f"cim_test_pgschema_{os.getpid()}", f"cim_own21_{os.getpid()}"
    admin = psycopg_conninfo(server_url())
    drop_database(server_url(), name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name),
                                                                   sql.Identifier(owner)))
        conn.execute(sql.SQL("ALTER DATABASE {} SET search_path = public, postgis").format(
            sql.Identifier(name)))
    url = make_url(server_url()).set(database=name, drivername="postgresql+psycopg") \
        .render_as_string(hide_password=False)
    _admin(url, "CREATE SCHEMA postgis")
    _admin(url, "CREATE EXTENSION postgis SCHEMA postgis")
    _admin(url, f'GRANT USAGE ON SCHEMA postgis TO "{owner}"')
    _admin(url, f'ALTER SCHEMA public OWNER TO "{owner}"')
    p = run_cli(["db", "upgrade"], _as(url, owner))
    assert p.returncode == 0, p.stdout + p.stderr
    yield url, owner
    drop_database(server_url(), name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))


def _as(url: str, user: str) -> dict[str, str]:
    return {**os.environ, "CIM_DATABASE_URL": make_url(url).set(username=user)
            .render_as_string(hide_password=False)}


def _admin(url: str, stmt: str) -> None:
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        conn.execute(stmt)


def test_the_read_only_role_is_granted_the_postgis_schema(pdb, tmp_path):
    """The owner may not grant a schema a DBA owns: the upgrade says what the DBA runs; a
    database user who may (here the superuser) grants it."""
    url, owner = pdb
    reader = ReaderRole.from_env().name
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        granted = conn.execute("SELECT has_schema_privilege(%s, 'postgis', 'USAGE')",
                               (reader,)).fetchone()[0]
    if not granted:  # (a cluster where another test granted it already: nothing to say)
        p = run_cli(["db", "upgrade"], _as(url, owner))
        assert p.returncode == 0, p.stdout + p.stderr
        assert f'GRANT USAGE ON SCHEMA "postgis" TO {reader}' in p.stdout + p.stderr
        # the server the reader could not serve from stopped at its first request, after
        # its addresses were printed: now before it starts, naming the grant
        served = run_cli(["serve", "--port", "1"], {**_as(url, owner), "CIM_HOME": str(tmp_path)})
        assert served.returncode == 4, served.stdout + served.stderr
        assert f'GRANT USAGE ON SCHEMA "postgis" TO "{reader}"' in served.stderr
        assert "OGC API for" not in served.stdout
    p = run_cli(["db", "upgrade"], {**os.environ, "CIM_DATABASE_URL": url})
    assert p.returncode == 0, p.stdout + p.stderr
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        assert conn.execute("SELECT has_schema_privilege(%s, 'postgis', 'USAGE')",
                            (reader,)).fetchone()[0]


def test_a_user_without_usage_on_the_postgis_schema_is_told_the_grant(pdb):
    url, owner = pdb
    _admin(url, f'REVOKE USAGE ON SCHEMA postgis FROM "{owner}"')
    try:
        p = run_cli(["db", "upgrade"], _as(url, owner))
        assert p.returncode == 4, p.stdout + p.stderr
        assert "internal error" not in p.stderr, p.stderr
        assert f'GRANT USAGE ON SCHEMA "postgis" TO "{owner}"' in p.stderr, p.stderr
    finally:
        _admin(url, f'GRANT USAGE ON SCHEMA postgis TO "{owner}"')


def test_a_search_path_without_postgis_is_told_before_a_load(pdb):
    url, owner = pdb
    dbname = make_url(url).database
    _admin(url, f'ALTER ROLE "{owner}" IN DATABASE "{dbname}" SET search_path = public')
    try:
        p = run_cli(["load", "roads", SAMPLE_ROADS], _as(url, owner))
        assert p.returncode == 4, p.stdout + p.stderr
        assert "does not exist" not in p.stderr and "internal error" not in p.stderr, p.stderr
        assert "not on the search_path" in p.stderr, p.stderr
        assert f'ALTER ROLE "{owner}" IN DATABASE "{dbname}" SET search_path' in p.stderr
    finally:
        _admin(url, f'ALTER ROLE "{owner}" IN DATABASE "{dbname}" RESET search_path')


def test_a_per_database_search_path_is_the_one_named_to_reset(pdb):
    """``ALTER ROLE u RESET search_path`` leaves a per-database ``ALTER ROLE u IN DATABASE d
    SET search_path`` in force: the refusal names the per-database one."""
    url, owner = pdb
    dbname = make_url(url).database
    _admin(url, f'ALTER ROLE "{owner}" IN DATABASE "{dbname}" SET search_path = postgis')
    try:
        p = run_cli(["db", "upgrade"], _as(url, owner))
        assert p.returncode != 0 and "internal error" not in p.stderr, p.stderr
        assert f'ALTER ROLE "{owner}" IN DATABASE "{dbname}"' in p.stderr, p.stderr
    finally:
        _admin(url, f'ALTER ROLE "{owner}" IN DATABASE "{dbname}" RESET search_path')

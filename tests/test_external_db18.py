"""A city's own PostGIS (CIM_DATABASE_URL), set up by its DBA (probe of 2026-12-07).

- the statements printed for the DBA set the read-only role's password from
  CIM_READER_PASSWORD (as its SCRAM verifier: no cleartext printed); it was "then set its
  password", and the upgrade that could not set it said nothing;
- a search_path putting another schema first is refused at ``cim db upgrade`` (the tables went
  there, and the server published nothing);
- no PostGIS and no right to create it: the statement the DBA runs (an internal error);
- an unknown revision: bad input naming it (an internal error);
- a CIM_DATABASE_URL the platform cannot read, or of another database: a configuration error
  naming the variable (internal errors); ``postgresql+psycopg2://`` works as the platform's;
- ``cim serve`` whose read-only role cannot log in: exit 4 before it starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re

import psycopg
import pytest
from psycopg import sql

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.roles import ReaderRole, ensure_reader, reader_url
from cim.errors import ConfigError, DatabaseError, InputError
from tests.conftest import make_db, run_cli, server_url


@pytest.fixture(scope="module")
def xdb(jining_profile):
    d = make_db("extdb", jining_profile, apply_profile=False)
    yield d
    drop_database(server_url(), d.name)


def _admin() -> psycopg.Connection:
    return psycopg.connect(psycopg_conninfo(server_url()), autocommit=True)


def _scram_matches(verifier: str, password: str) -> bool:
    """RFC 5803 / 7677, computed here: SCRAM-SHA-256$iter:salt$StoredKey:ServerKey."""
    m = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", verifier)
    assert m, verifier
    it, salt, stored, server = int(m[1]), base64.b64decode(m[2]), m[3], m[4]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, it)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return (base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored
            and base64.b64encode(server_key).decode() == server)


def test_the_dba_statements_set_the_readers_password(xdb, monkeypatch):
    weak = f"cim_weak18_{os.getpid()}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(weak)))
    monkeypatch.setenv("CIM_READER_PASSWORD", "s3cret 读")
    try:
        with pytest.raises(ConfigError) as exc:
            ensure_reader(reader_url(xdb.url, weak, password=""),
                          ReaderRole("cim_missing18", "10s"))
        text = str(exc.value)
        assert "s3cret" not in text
        m = re.search(r"CREATE ROLE cim_missing18 LOGIN PASSWORD '([^']+)'", text)
        assert m, text
        assert _scram_matches(m[1], "s3cret 读")
        assert not _scram_matches(m[1], "other")
    finally:
        with _admin() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(weak)))


def test_another_schema_first_on_the_search_path_is_refused(jining_profile):
    from cim.db.migrate import upgrade

    name = f"cim_test_sp18_{os.getpid()}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", server_url(), count=1)
        with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
            conn.execute("CREATE SCHEMA city")
            conn.execute(sql.SQL("ALTER DATABASE {} SET search_path = city, public")
                         .format(sql.Identifier(name)))
        with pytest.raises(ConfigError, match="schema 'city' first on its search_path"):
            upgrade(url, jining_profile.srid)
        with psycopg.connect(psycopg_conninfo(url)) as conn:  # nothing was made
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname IN "
                                "('city', 'public')").fetchone()[0] == 0
    finally:
        drop_database(server_url(), name)


def test_no_postgis_and_no_right_to_create_it(jining_profile):
    from cim.db.migrate import upgrade

    name, owner = f"cim_test_np18_{os.getpid()}", f"cim_owner18_{os.getpid()}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(owner)))
    try:
        url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", server_url(), count=1)
        with pytest.raises(DatabaseError, match="CREATE EXTENSION postgis"):
            upgrade(reader_url(url, owner, password=""), jining_profile.srid)
    finally:
        drop_database(server_url(), name)
        with _admin() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))


@pytest.mark.parametrize("direction,revision", [("upgrade", "9999"),
                                                ("downgrade", "nonsense")])
def test_an_unknown_revision_is_bad_input(xdb, jining_profile, direction, revision):
    from cim.db import migrate

    views = xdb.scalar("SELECT count(*) FROM pg_views WHERE left(viewname, 7) = 'cim_map'")
    with pytest.raises(InputError, match=f"revision '{revision}'"):
        getattr(migrate, direction)(xdb.url, jining_profile.srid, revision)
    # refused before anything was dropped
    assert xdb.scalar("SELECT count(*) FROM pg_views WHERE left(viewname, 7) = 'cim_map'") == views


@pytest.mark.parametrize("url,said", [
    ("host=localhost dbname=cim user=cim", "is not a URL the platform reads"),
    ("postgresql:/nothing", "is not a URL the platform reads"),
    ("postgresql://u@localhost:54x2/cim", "its port is not a number"),
    ("mysql://u@localhost/cim", "names 'mysql'"),
    # a password's own @ not encoded: its tail was printed as a host name that did not
    # resolve (session 21's probe)
    ("postgresql://cim_owner:Tai@Shan2026@127.0.0.1:5432/cim", "a password's @ is written %40"),
])
def test_a_database_url_the_platform_cannot_read(url, said):
    p = run_cli(["layers"], {**os.environ, "CIM_DATABASE_URL": url})
    assert p.returncode == 2, p.stdout + p.stderr
    assert "CIM_DATABASE_URL" in p.stderr and said in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr
    assert "Shan2026" not in p.stderr + p.stdout


def test_a_psycopg2_url_is_the_platforms(xdb):
    url = xdb.url.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1)
    assert url != xdb.url
    p = run_cli(["db", "upgrade"], {**os.environ, "CIM_DATABASE_URL": url})
    assert p.returncode == 0, p.stderr


def test_serve_whose_reader_cannot_log_in_stops_before_it_starts(xdb, tmp_path):
    env = {**os.environ, "CIM_DATABASE_URL": xdb.url, "CIM_HOME": str(tmp_path),
           "CIM_READER_ROLE": "cim_nobody18"}
    p = run_cli(["serve", "--port", "1"], env)
    assert p.returncode == 4, p.stdout + p.stderr
    assert "cim_nobody18" in p.stderr and "could not" in p.stderr
    assert "OGC API for" not in p.stdout  # no addresses printed for a server that is not


@pytest.mark.parametrize("revision", ["head-1", "-1"])
def test_a_relative_revision_is_alembics_to_resolve(xdb, jining_profile, revision):
    """``head-1`` was refused as unknown by the check added for unknown revisions (review)."""
    from cim.db import migrate

    migrate.downgrade(xdb.url, jining_profile.srid, revision)
    migrate.upgrade(xdb.url, jining_profile.srid)


def test_db_start_and_stop_with_an_external_database_show_no_password(xdb, tmp_path):
    """`make demo` runs `cim db start`: with CIM_DATABASE_URL it printed the admin URL with
    its password to the terminal and its logs; `cim db stop` said "stopped" of the external
    database and stopped the embedded cluster of CIM_HOME instead."""
    from sqlalchemy.engine import make_url

    url = make_url(xdb.url).set(password="s3cr@t:pw").render_as_string(hide_password=False)
    env = {**os.environ, "CIM_DATABASE_URL": url, "CIM_HOME": str(tmp_path)}
    started = run_cli(["db", "start"], env)
    assert started.returncode == 0, started.stderr
    assert "s3cr" not in started.stdout + started.stderr
    assert make_url(xdb.url).database in started.stdout and "external" in started.stdout
    stopped = run_cli(["db", "stop"], env)
    assert stopped.returncode == 0 and "nothing stopped" in stopped.stdout, stopped.stdout


def test_db_status_of_an_external_database_names_it_and_its_revision(xdb):
    """It said `external True` only: a restored copy could not be told apart."""
    from sqlalchemy.engine import make_url

    from cim.db.revision import head_revision

    env = {**os.environ, "CIM_DATABASE_URL": xdb.url}
    st = json.loads(run_cli(["db", "status", "--json"], env, check=True).stdout)
    assert st["database"] == make_url(xdb.url).database and st["reachable"] is True
    assert st["revision"] == st["head"] == head_revision()
    away = {**os.environ, "CIM_DATABASE_URL": "postgresql://u:s3cret@127.0.0.1:1/none"}
    down = run_cli(["db", "status", "--json"], away)
    assert down.returncode == 0 and "s3cret" not in down.stdout + down.stderr
    assert json.loads(down.stdout)["reachable"] is False

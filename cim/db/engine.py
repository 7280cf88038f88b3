"""One place that turns settings into a database URL, a SQLAlchemy engine or a psycopg DSN."""

from __future__ import annotations

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url

from cim.config import Settings
from cim.db.cluster import Cluster
from cim.errors import DatabaseError


def database_url(settings: Settings, *, start: bool = False) -> str:
    """SQLAlchemy URL of the platform database (external or embedded)."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    cluster = Cluster(settings.home)
    if start:
        cluster.start()
        ensure_database(cluster.server_url("postgres"), settings.db_name)
    elif not cluster.running():
        raise DatabaseError("the embedded PostGIS cluster is not running: run `cim db start` "
                            "(or set CIM_DATABASE_URL)")
    return cluster.server_url(settings.db_name)


def psycopg_conninfo(url: str | URL) -> str:
    """libpq connection string for psycopg from a SQLAlchemy URL."""
    u = make_url(url) if isinstance(url, str) else url
    parts = {"host": u.host, "port": u.port, "user": u.username, "password": u.password,
             "dbname": u.database}
    parts.update({k: v for k, v in u.query.items() if isinstance(v, str)})
    return " ".join(f"{k}={_q(v)}" for k, v in parts.items() if v not in (None, ""))


def _q(v: object) -> str:
    s = str(v).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{s}'"


def ensure_database(server_url: str, dbname: str) -> None:
    """Create ``dbname`` with PostGIS if it does not exist (server_url names any database)."""
    with psycopg.connect(psycopg_conninfo(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(psycopg_conninfo(make_url(server_url).set(database=dbname)),
                         autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(server_url: str, dbname: str) -> None:
    with psycopg.connect(psycopg_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def make_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, future=True)


def server_url(settings: Settings) -> str:
    """URL of the server's maintenance database: the external server, or the embedded cluster
    (started if needed). Tests and benchmarks create their own databases beside it."""
    if settings.database_url:
        return database_url(settings)
    cluster = Cluster(settings.home)
    cluster.start()
    return cluster.server_url("postgres")

"""One place that turns settings into a database URL, a SQLAlchemy engine or a psycopg DSN.

A URL string is read here with SQLAlchemy's own pattern (:func:`url_parts`) rather than by
importing SQLAlchemy: a command that only connects with psycopg (``cim check`` …) does not pay
its import (0.2 s of CPU); SQLAlchemy is imported for an engine, a URL object or a URL the
pattern does not read (its error is then the one raised).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import psycopg

from cim.config import Settings
from cim.db.cluster import Cluster
from cim.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

# Every session of the platform's processes on UTC: libpq sends PGTZ as the session's TimeZone
# at connection start, over the server's or database's setting. The times the platform writes
# from the database (``--json``, the HTTP answers, the stored details) are documented as UTC
# instants; a server set to Asia/Shanghai — usual in China — gave every one of them as
# ``…+08:00`` while the details written in Python said ``+00:00``, and a day computed in SQL
# without an explicit zone would have been another day than the one the tests check. Set
# here, where every component's connection string comes from, before any connection; the
# converter processes and workers forked later inherit it.
os.environ["PGTZ"] = "UTC"

# sqlalchemy.engine.url._parse_url's pattern (SQLAlchemy 2.0, MIT licence)
_URL = re.compile(r"""
    (?P<name>[\w\+]+)://
    (?:
        (?P<username>[^:/]*)
        (?::(?P<password>[^@]*))?
    @)?
    (?:
        (?:
            \[(?P<ipv6host>[^/\?]+)\] |
            (?P<ipv4host>[^/:\?]+)
        )?
        (?::(?P<port>[^/\?]*))?
    )?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
    """, re.X)


def url_parts(url: str) -> dict[str, Any] | None:
    """drivername, username, password, host, port, database and query (single values as
    text, repeated keys as lists) of a URL string, as SQLAlchemy's ``make_url`` reads them;
    None when its pattern does not match."""
    m = _URL.match(url)
    if m is None:
        return None
    c = m.groupdict()
    query: dict[str, Any] = {}
    for key, value in parse_qsl(c["query"] or ""):
        if key in query:
            prev = query[key]
            query[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            query[key] = value
    return {"drivername": c["name"],
            "username": None if c["username"] is None else unquote(c["username"]),
            "password": None if c["password"] is None else unquote(c["password"]),
            "host": c["ipv4host"] or c["ipv6host"],
            "port": int(c["port"]) if c["port"] else None,
            "database": c["database"], "query": query}


def _make_url(url: str) -> URL:
    from sqlalchemy.engine import make_url

    return make_url(url)


def database_url(settings: Settings, *, start: bool = False) -> str:
    """SQLAlchemy URL of the platform database (external or embedded)."""
    if settings.database_url:
        return _external_url(settings.database_url)
    cluster = Cluster(settings.home)
    if start:
        cluster.start()
        ensure_database(cluster.server_url("postgres"), settings.db_name)
    elif not cluster.running():
        raise DatabaseError("the embedded PostGIS cluster is not running: run `cim db start` "
                            "(or set CIM_DATABASE_URL)")
    return cluster.server_url(settings.db_name)


_FORM = ("postgresql://USER:PASSWORD@HOST:PORT/DATABASE (a password's @ : / % written "
         "%40 %3A %2F %25; a socket folder as ?host=/run/postgresql)")


def _external_url(raw: str) -> str:
    """``CIM_DATABASE_URL`` as the platform's SQLAlchemy URL (driver psycopg), or a
    ConfigError naming the variable: a URL SQLAlchemy's pattern does not read (libpq's
    ``host=… dbname=…`` form), a port that is no number, a driver of another database were
    internal errors, and ``postgresql+psycopg2`` migrated with a driver not installed while
    the loads ran."""
    from cim.errors import ConfigError

    try:
        parts = url_parts(raw.strip())
    except ValueError:  # the port
        raise ConfigError(f"CIM_DATABASE_URL: its port is not a number; the form is {_FORM}"
                          ) from None
    if parts is None:
        raise ConfigError(f"CIM_DATABASE_URL is not a URL the platform reads (libpq's "
                          f"'host=… dbname=…' form is not one); the form is {_FORM}")
    if "@" in (parts["host"] or ""):
        # a password's own @ not written %40: the rest of the password was taken for the
        # host, printed in the "failed to resolve host" message and sent to the resolver
        raise ConfigError(f"CIM_DATABASE_URL has an @ after the one before its host (a "
                          f"password's @ is written %40); the form is {_FORM}")
    name = parts["drivername"]
    dialect = name.split("+")[0]
    if dialect not in ("postgresql", "postgres"):
        raise ConfigError(f"CIM_DATABASE_URL names {dialect!r}: the platform runs on "
                          f"PostgreSQL with PostGIS; the form is {_FORM}")
    return "postgresql+psycopg" + raw.strip()[len(name):]  # the driver the platform uses


def psycopg_conninfo(url: str | URL) -> str:
    """libpq connection string for psycopg from a SQLAlchemy URL (string or object)."""
    return _conninfo(_parts_of(url))


def _parts_of(url: str | URL) -> dict[str, Any]:
    if isinstance(url, str):
        parts = url_parts(url)
        if parts is not None:
            return parts
        url = _make_url(url)  # raises SQLAlchemy's error for what its pattern cannot read
    return {"username": url.username, "password": url.password, "host": url.host,
            "port": url.port, "database": url.database, "query": dict(url.query)}


def _conninfo(p: dict[str, Any]) -> str:
    parts = {"host": p["host"], "port": p["port"], "user": p["username"],
             "password": p["password"], "dbname": p["database"]}
    parts.update({k: v for k, v in p["query"].items() if isinstance(v, str)})
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
    with psycopg.connect(_conninfo({**_parts_of(server_url), "database": dbname}),
                         autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(server_url: str, dbname: str) -> None:
    with psycopg.connect(psycopg_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def make_engine(url: str) -> Engine:
    from sqlalchemy import create_engine

    return create_engine(url, pool_pre_ping=True, future=True)


def server_url(settings: Settings) -> str:
    """URL of the server's maintenance database: the external server, or the embedded cluster
    (started if needed). Tests and benchmarks create their own databases beside it."""
    if settings.database_url:
        return database_url(settings)
    cluster = Cluster(settings.home)
    cluster.start()
    return cluster.server_url("postgres")

"""cim.db.engine reads URL strings with SQLAlchemy's pattern, without importing SQLAlchemy:
the connection strings, and the URL ``database_url`` gives, must be what SQLAlchemy's own
``make_url`` makes of the same text (the expected values here come from SQLAlchemy)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from cim.config import Settings
from cim.db.engine import _q, database_url, psycopg_conninfo, url_parts

URLS = [
    "postgresql+psycopg://postgres@127.0.0.1:56833/cim_test",
    "postgresql://admin:s3cret@db.example:5433/cim?sslmode=require",
    "postgres://u:p%40ss%2Fw%3Ard@h/db",
    "postgresql+psycopg://u:pa:ss@h:5432/db",
    "postgresql+psycopg://u@[::1]:5432/db",
    "postgresql+psycopg://u@/db?host=/var/run/postgresql&port=5433",
    "postgresql+psycopg:///db?host=%2Ftmp%2Fsock",
    "postgresql+psycopg://h/db?application_name=a%20b&options=-c%20x%3D1",
    "postgresql+psycopg://u:@h/db",
    "postgresql+psycopg://h",
    "postgresql+psycopg://u:p w+x@h/d b",
    "postgresql+psycopg://h/db?sslmode=a&sslmode=b",
    "postgresql+psycopg://ünï:cødé@hôst/dbé",
]


def _sqlalchemy_conninfo(url: str) -> str:
    """The connection string as cim.db.engine made it with SQLAlchemy (before this change)."""
    u = make_url(url)
    parts = {"host": u.host, "port": u.port, "user": u.username, "password": u.password,
             "dbname": u.database}
    parts.update({k: v for k, v in u.query.items() if isinstance(v, str)})
    return " ".join(f"{k}={_q(v)}" for k, v in parts.items() if v not in (None, ""))


@pytest.mark.parametrize("url", URLS)
def test_conninfo_is_sqlalchemys(url):
    assert psycopg_conninfo(url) == _sqlalchemy_conninfo(url)
    assert psycopg_conninfo(make_url(url)) == _sqlalchemy_conninfo(url)  # a URL object too
    p, u = url_parts(url), make_url(url)
    assert (p["username"], p["password"], p["host"], p["port"], p["database"]) == \
        (u.username, u.password, u.host, u.port, u.database)


@pytest.mark.parametrize("url", URLS)
def test_database_url_reads_as_sqlalchemys(url):
    want = make_url(url)
    if want.drivername in ("postgresql", "postgres"):
        want = want.set(drivername="postgresql+psycopg")
    got = make_url(database_url(Settings(database_url=url)))
    assert got == want


def test_what_the_pattern_cannot_read_raises_sqlalchemys_error():
    from sqlalchemy.exc import ArgumentError

    with pytest.raises(ArgumentError):
        psycopg_conninfo("not a url")
    # the setting is the user's: a configuration error naming it (tests/test_external_db18.py)
    from cim.errors import ConfigError

    with pytest.raises(ConfigError, match="CIM_DATABASE_URL"):
        database_url(Settings(database_url="not a url"))

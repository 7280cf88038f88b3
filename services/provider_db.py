"""The database side of :class:`services.providers.CimProvider`: its engines, reflected tables
and catalog columns (once per process: pygeoapi makes a provider per request), how a database
failure becomes pygeoapi's error, and the items path's psycopg SQL taken into a SQLAlchemy
statement (so a CQL2 filter and the keyset cursor have one definition for every format)."""

from __future__ import annotations

import re
import threading
from http import HTTPStatus

import psycopg
from pygeoapi.provider.base import (
    ProviderGenericError,
    ProviderInvalidQueryError,
    ProviderQueryError,
)
from sqlalchemy import MetaData, Table, bindparam, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import TextClause

from cim.db.engine import psycopg_conninfo
from layers.catalog import PublishedColumn, published_columns
from services.guard import database_away

_ENGINES: dict[str, Engine] = {}
_TABLES: dict[tuple[str, str], Table] = {}
_COLUMNS: dict[tuple[str, str], list[PublishedColumn]] = {}
_LOCK = threading.RLock()
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
APPLICATION_NAME = "cim-serve-pygeoapi"  # in pg_stat_activity, beside the items pool's


class ProviderTimeoutError(ProviderGenericError):
    """The serving role's statement_timeout cancelled the query: the server's load, 503."""

    ogc_exception_code = "ServiceUnavailable"
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    default_msg = "the query took too long; narrow it (bbox, limit, filters) or try again"


class ProviderUnavailableError(ProviderGenericError):
    """The database is out of reach (down, restarting, closed to connections): 503."""

    ogc_exception_code = "ServiceUnavailable"
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    default_msg = "the database is not reachable at the moment; try again shortly"


def query_error(exc: Exception, ecql: bool = False) -> ProviderGenericError:
    """A database failure as pygeoapi's error: a cancelled statement is a 503, a bad value
    the client's 400 with the database's first line; anything else a logged 500. ``ecql``:
    the query holds a client's ECQL filter (pygeoapi's parser, which binds a value as the
    text it was written as): an operator or type the database refuses for it is that
    filter's 400 (``valid_from > '2026-01-01'`` compares a timestamp with text; PostGIS
    refuses its geometry literal, ``POINT(200 100)`` in CRS84 projected to infinity), where
    it was a 500 logged with its traceback."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).splitlines() or [type(orig).__name__])[0]
    if isinstance(orig, psycopg.errors.QueryCanceled):
        return ProviderTimeoutError()
    if database_away(orig) is not None:
        return ProviderUnavailableError()
    if isinstance(orig, psycopg.errors.DataError):
        return ProviderInvalidQueryError(user_msg=f"bad parameter value: {first}")
    if ecql and isinstance(orig, (psycopg.errors.UndefinedFunction,
                                  psycopg.errors.DatatypeMismatch)):
        return ProviderInvalidQueryError(
            user_msg=f"filter: {first}; compare a property with a value of its type "
                     "(its queryables), a date or time as DATE('…')/TIMESTAMP('…') of CQL2 "
                     "Text")
    if ecql and isinstance(orig, psycopg.errors.InternalError) and "geometry" in first:
        return ProviderInvalidQueryError(
            user_msg=f"filter: a geometry literal PostGIS cannot read: {first}; give it in "
                     "filter-crs (default CRS84, longitude first) near the city")
    return ProviderQueryError(f"query failed: {exc}")


def engine(url: str) -> Engine:
    with _LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = create_engine(
                url, pool_pre_ping=True, pool_size=4,
                connect_args={"application_name": APPLICATION_NAME})
        return _ENGINES[url]


def table(url: str, name: str) -> Table:
    import geoalchemy2  # noqa: F401  (registers the geometry type for reflection)

    key = (url, name)
    with _LOCK:
        if key not in _TABLES:
            _TABLES[key] = Table(name, MetaData(), autoload_with=engine(url))
        return _TABLES[key]


def catalog_columns(url: str, name: str) -> list[PublishedColumn]:
    """The catalog's published columns, once per process (pygeoapi makes a provider per
    request)."""
    key = (url, name)
    with _LOCK:
        if key not in _COLUMNS:
            _COLUMNS[key] = published_columns(psycopg_conninfo(url), name)
        return _COLUMNS[key]


def psycopg_text(sql_text: str, params: dict, prefix: str) -> TextClause:
    """SQL of the items path (``%(name)s`` placeholders, ``%%`` for a percent sign) as a
    SQLAlchemy text clause with its values bound as ``:{prefix}{name}``; a colon of the SQL
    itself (a ``::cast``, a property named ``:标记``) escaped, so SQLAlchemy binds nothing
    there."""
    names = {}

    def bind(m: re.Match) -> str:
        names[f"{prefix}{m.group(1)}"] = params[m.group(1)]
        return f":{prefix}{m.group(1)}"

    body = _PLACEHOLDER.sub(bind, sql_text.replace(":", "\\:")).replace("%%", "%")
    return text(body).bindparams(*(bindparam(k, v) for k, v in names.items()))

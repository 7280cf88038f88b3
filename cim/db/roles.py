"""The read-only role the services connect with (``cim db upgrade`` keeps it in step).

Least privilege for the serving side: the OGC API reads layers and nothing else, so it logs in
as a role that can SELECT the tables of schema ``public`` (now and, through ALTER DEFAULT
PRIVILEGES, every table the migrating user creates later), cannot write or create anything,
runs every transaction read-only and has a ``statement_timeout``, so one heavy request cannot
hold a connection for ever and starve the others. The exceptions are the records the served
platform keeps itself, without a writer's login (:data:`RECORD_GRANTS`): the approval checks it
files, the sensor readings it ingests with the sensors' state, the alarms, cases and their
trail, the code counters and the risk points' levels — each in a transaction the process opens
READ WRITE explicitly; the survey layers stay out of its reach.

No password is ever generated or written to a file. On the embedded cluster the role logs in
through the cluster's local trust authentication; for an external database the operator gives
the reader's password in the environment (``CIM_READER_PASSWORD``: ``cim db upgrade`` sets it
on the role, hashed client-side with SCRAM, and the served process reads it from the same
variable), or in ``~/.pgpass``/a service file, which libpq reads itself.

Roles are cluster-wide; grants are per database. Creating the role needs CREATEROLE: without
it the error prints the statements a DBA runs once, and ``cim db upgrade`` then only grants.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from cim.db.engine import psycopg_conninfo
from cim.errors import ConfigError

log = logging.getLogger(__name__)

READER_ROLE_ENV = "CIM_READER_ROLE"
READER_TIMEOUT_ENV = "CIM_READER_STATEMENT_TIMEOUT"
READER_PASSWORD_ENV = "CIM_READER_PASSWORD"
DEFAULT_READER = "cim_reader"
DEFAULT_TIMEOUT = "10s"
# what the served role may write (and nothing else): see _grant_records. The approval check
# records itself; the operational APIs (issue 14) ingest readings, keep sensor state, open
# and clear alarms, run the case loop, draw case codes from the one allocator and raise a
# risk point's level while an alarm on its asset is active (level, colour and flags only)
RECORD_GRANTS: dict[str, str] = {
    "approval_checks": "INSERT",
    "readings": "INSERT",
    "sensor_state": "INSERT, UPDATE",
    "alarms": "INSERT, UPDATE",
    "cases": "INSERT, UPDATE",
    "case_events": "INSERT",
    "case_contacts": "INSERT, UPDATE",
    "case_attachments": "INSERT",
    "code_counters": "INSERT, UPDATE",
    "code_registry": "INSERT",
    "risk_points": "UPDATE (level, color, flags)",
    "risk_assessments": "INSERT",
}
RECORD_TABLES = tuple(RECORD_GRANTS)
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TIMEOUT = re.compile(r"^\d{1,9}(ms|s|min|h)?$")


@dataclass(frozen=True)
class ReaderRole:
    """Which role the services use and how long one of its statements may run."""

    name: str = DEFAULT_READER
    statement_timeout: str = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"reader role name {self.name!r}: use lower-case letters, digits "
                              "and _ (at most 63)")
        if not _TIMEOUT.match(self.statement_timeout.replace(" ", "")):
            raise ConfigError(f"statement timeout {self.statement_timeout!r}: a number with "
                              "ms, s, min or h (for example 10s)")

    @classmethod
    def from_env(cls) -> ReaderRole:
        """``CIM_READER_ROLE`` and ``CIM_READER_STATEMENT_TIMEOUT``, else the defaults."""
        return cls(os.environ.get(READER_ROLE_ENV) or DEFAULT_READER,
                   (os.environ.get(READER_TIMEOUT_ENV) or DEFAULT_TIMEOUT).replace(" ", ""))


def reader_url(admin_url: str, role: str | None = None, password: str | None = None) -> str:
    """The URL the services connect with: the admin URL's server and database, the reader's
    user, and a password only if one is given or in ``CIM_READER_PASSWORD`` (otherwise libpq's
    own sources apply: trust on the embedded cluster, ``~/.pgpass``, a service file)."""
    u = make_url(admin_url)
    name = role or os.environ.get(READER_ROLE_ENV) or DEFAULT_READER
    secret = password if password is not None else os.environ.get(READER_PASSWORD_ENV)
    driver = "postgresql+psycopg" if u.drivername in ("postgresql", "postgres") else u.drivername
    return URL.create(driver, username=name, password=secret or None, host=u.host,
                      port=u.port, database=u.database,
                      query={k: v for k, v in u.query.items()
                             if k.lower() not in ("password", "sslpassword", "user")}) \
        .render_as_string(hide_password=False)


def serving_url(url: str, role: str | None = None) -> str:
    """The URL a served process connects with: ``url`` itself when it already names the
    reader (``cim serve`` hands its server only the reader's URL), else :func:`reader_url`.
    Either way the admin's password is not in the result."""
    name = role or os.environ.get(READER_ROLE_ENV) or DEFAULT_READER
    if make_url(url).username == name:
        return url
    return reader_url(url, name)


def _dba_statements(role: ReaderRole, dbname: str) -> str:
    return (f"CREATE ROLE {role.name} LOGIN;  -- then set its password, "
            f"or let {READER_PASSWORD_ENV} do it\n"
            f"ALTER ROLE {role.name} SET statement_timeout = '{role.statement_timeout}';\n"
            f"ALTER ROLE {role.name} SET default_transaction_read_only = on;\n"
            f"GRANT CONNECT ON DATABASE \"{dbname}\" TO {role.name};")


def _retrying(conn: psycopg.Connection, stmt: sql.Composable) -> None:
    """Run a role statement; concurrent sessions (tests, two upgrades) may race on the shared
    catalog (``tuple concurrently updated``): try again."""
    for attempt in range(5):
        try:
            conn.execute(stmt)
            return
        except psycopg.errors.InternalError as exc:
            if "concurrently" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))


def ensure_reader(url: str, role: ReaderRole | None = None) -> list[str]:
    """Create (if needed) and grant the read-only role in the database of ``url``; idempotent.
    Returns notes worth showing the operator (empty when all is as it should be)."""
    role = role or ReaderRole.from_env()
    ident = sql.Identifier(role.name)
    notes: list[str] = []
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        dbname, me = conn.execute("SELECT current_database(), current_user").fetchone()
        can_create = conn.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()[0]
        row = conn.execute("SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb "
                           "FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone()
        if row is None:
            if not can_create:
                raise ConfigError(
                    f"the database user {me!r} may not create roles, so the read-only role "
                    f"{role.name!r} the services connect with does not exist. The schema is "
                    f"migrated; ask a DBA to run once:\n{_dba_statements(role, dbname)}\n"
                    "then run `cim db upgrade` again (it grants SELECT on the layer tables)")
            try:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                     "NOREPLICATION NOBYPASSRLS").format(ident))
            except psycopg.errors.DuplicateObject:  # created by a concurrent upgrade
                pass
        elif row[0]:
            raise ConfigError(f"role {role.name!r} exists with superuser, CREATEROLE, "
                              "CREATEDB or BYPASSRLS: it cannot serve as the read-only role; "
                              f"set {READER_ROLE_ENV} to another name")
        if can_create:
            password = os.environ.get(READER_PASSWORD_ENV)
            if password:  # hashed here: the cleartext never reaches the server or its log
                hashed = conn.pgconn.encrypt_password(password.encode(), role.name.encode(),
                                                      b"scram-sha-256").decode()
                _retrying(conn, sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    ident, sql.Literal(hashed)))
            _retrying(conn, sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                ident, sql.Literal(role.statement_timeout)))
            _retrying(conn, sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on")
                      .format(ident))
        elif _role_setting(conn, role.name, "statement_timeout") != role.statement_timeout:
            notes.append(f"cannot set statement_timeout on {role.name!r} (no CREATEROLE); "
                         f"a DBA runs: ALTER ROLE {role.name} SET statement_timeout = "
                         f"'{role.statement_timeout}'")
        try:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), ident))
        except psycopg.errors.InsufficientPrivilege:
            if not conn.execute("SELECT has_database_privilege(%s, current_database(), "
                                "'CONNECT')", (role.name,)).fetchone()[0]:
                notes.append(f"{role.name!r} may not connect to {dbname!r}; a DBA runs: "
                             f"GRANT CONNECT ON DATABASE \"{dbname}\" TO {role.name}")
        for stmt in ("GRANT USAGE ON SCHEMA public TO {}",
                     "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
                     "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}"):
            _retrying(conn, sql.SQL(stmt).format(ident))
        _grant_records(conn, ident)
        if conn.execute("SELECT has_schema_privilege(%s, 'public', 'CREATE')",
                        (role.name,)).fetchone()[0]:
            notes.append(f"{role.name!r} may create tables in schema public (granted to PUBLIC "
                         "before PostgreSQL 15); consider: REVOKE CREATE ON SCHEMA public FROM "
                         "PUBLIC")
    for note in notes:
        log.warning(note)
    return notes


def _grant_records(conn: psycopg.Connection, ident: sql.Identifier) -> None:
    """The privileges of :data:`RECORD_GRANTS` on the tables that exist (after their
    migration): a served approval check records itself and the operational APIs write their
    own tables as the reader, in transactions they open READ WRITE, without a writer's login.
    Nothing more: no DELETE, no loaded layer but the three columns of ``risk_points``, and no
    USAGE on the sequence behind an id (an identity column draws its value without it)."""
    for table, privileges in RECORD_GRANTS.items():
        if conn.execute("SELECT to_regclass(%s) IS NULL", (f"public.{table}",)).fetchone()[0]:
            continue
        _retrying(conn, sql.SQL("GRANT {} ON TABLE {} TO {}").format(
            sql.SQL(privileges), sql.Identifier(table), ident))


def _role_setting(conn: psycopg.Connection, role: str, name: str) -> str | None:
    """A role's own ``ALTER ROLE … SET`` value of ``name`` (any database), or None."""
    row = conn.execute(
        "SELECT split_part(s, '=', 2) FROM pg_db_role_setting d "
        "JOIN pg_roles r ON r.oid = d.setrole, unnest(d.setconfig) s "
        "WHERE r.rolname = %s AND d.setdatabase = 0 AND split_part(s, '=', 1) = %s",
        (role, name)).fetchone()
    return row[0] if row else None

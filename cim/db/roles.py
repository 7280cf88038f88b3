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

Planners opening the one map in QGIS get a role of their own (:func:`ensure_planner`,
``cim_planner``): the reader can read the case loop's contacts and users and, in a transaction
it opens READ WRITE, write cases and risk points — a desktop client holding its login could do
the same. The planner may SELECT the tables the one catalog publishes (``cim.layerdefs.declared_layers``) and
QGIS's own project and style tables, and nothing else: no write privilege on any table, so
``BEGIN READ WRITE`` gains it nothing. A layer declaring columns the services never publish
(``LayerDef.unpublished``: a case's free text, address and detail) is read through a view of
its published columns and the map's rows in schema ``cim_map`` (:mod:`cim.db.map_views`), not
its table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from cim.db.engine import psycopg_conninfo
from cim.db.map_views import _ensure_views
from cim.db.search_path import postgis_schema
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
PLANNER_ROLE_ENV = "CIM_PLANNER_ROLE"
PLANNER_TIMEOUT_ENV = "CIM_PLANNER_STATEMENT_TIMEOUT"
PLANNER_PASSWORD_ENV = "CIM_PLANNER_PASSWORD"
DEFAULT_PLANNER = "cim_planner"
# QGIS draws a whole layer of a city in one query when zoomed out: longer than a web request
DEFAULT_PLANNER_TIMEOUT = "60s"
# QGIS's own tables: the saved one-map project (layers.qgis.store) and the layers' default
# styles (layers.styles.apply) — what a planner opens the map with, not data of the city
QGIS_TABLES = ("qgis_projects", "layer_styles")
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

    @classmethod
    def planner_from_env(cls) -> ReaderRole:
        """The planners' role: ``CIM_PLANNER_ROLE`` and ``CIM_PLANNER_STATEMENT_TIMEOUT``,
        else ``cim_planner`` and 60s."""
        return cls(os.environ.get(PLANNER_ROLE_ENV) or DEFAULT_PLANNER,
                   (os.environ.get(PLANNER_TIMEOUT_ENV) or DEFAULT_PLANNER_TIMEOUT)
                   .replace(" ", ""))


def reader_url(admin_url: str, role: str | None = None, password: str | None = None) -> str:
    """The URL the services connect with: the admin URL's server and database, the reader's
    user, and a password only if one is given or in ``CIM_READER_PASSWORD`` (otherwise libpq's
    own sources apply: trust on the embedded cluster, ``~/.pgpass``, a service file)."""
    u = make_url(admin_url)
    name = role or os.environ.get(READER_ROLE_ENV) or DEFAULT_READER
    secret = password if password is not None else os.environ.get(READER_PASSWORD_ENV)
    driver = "postgresql+psycopg" if u.drivername in ("postgresql", "postgres") else u.drivername
    query = {k: _reader_options(v) if k.lower() == "options" else v for k, v in u.query.items()
             if k.lower() not in ("password", "sslpassword", "user")}
    return URL.create(driver, username=name, password=secret or None, host=u.host,
                      port=u.port, database=u.database,
                      query={k: v for k, v in query.items() if v}) \
        .render_as_string(hide_password=False)


# the reader's own settings (its role's): an admin URL's ``options=-c statement_timeout=0``
# (for long loads) disabled the served queries' guard, a 1 ms one stopped the server
READER_OWN = ("statement_timeout", "default_transaction_read_only")


def _reader_options(options: str | tuple[str, ...]) -> str | tuple[str, ...]:
    """libpq ``options`` of the admin URL without the settings the reader's role keeps
    (``-c name=value`` or ``--name=value``); the others (a search_path) go along."""
    if not isinstance(options, str):
        return tuple(_reader_options(o) for o in options)  # type: ignore[misc]
    tokens, out, skip = options.split(), [], False
    for i, t in enumerate(tokens):
        if skip:
            skip = False
            continue
        setting = tokens[i + 1] if t == "-c" and i + 1 < len(tokens) else \
            t[2:] if t.startswith(("-c", "--")) else None
        if setting is not None and setting.split("=", 1)[0].strip().lower().replace(
                "-", "_") in READER_OWN:
            skip = t == "-c"
            continue
        out.append(t)
    return " ".join(out)


def serving_url(url: str, role: str | None = None) -> str:
    """The URL a served process connects with: ``url`` itself when it already names the
    reader (``cim serve`` hands its server only the reader's URL), else :func:`reader_url`.
    Either way the admin's password is not in the result."""
    name = role or os.environ.get(READER_ROLE_ENV) or DEFAULT_READER
    if make_url(url).username == name:
        return url
    return reader_url(url, name)


def _dba_statements(role: ReaderRole, dbname: str, password_env: str = READER_PASSWORD_ENV,
                    hashed: str | None = None, temp: bool = False) -> str:
    """What a DBA runs to create the role; with its password (``hashed``: the SCRAM verifier
    of ``password_env``'s value, so the cleartext is printed nowhere) when one is given."""
    pw = (f" PASSWORD '{hashed}';  -- the password in {password_env}" if hashed else
          f";  -- then set its password (and give it in {password_env})")
    return (f"CREATE ROLE {role.name} LOGIN{pw}\n"
            f"ALTER ROLE {role.name} SET statement_timeout = '{role.statement_timeout}';\n"
            f"ALTER ROLE {role.name} SET default_transaction_read_only = on;\n"
            f"GRANT CONNECT ON DATABASE \"{dbname}\" TO {role.name};"
            + (f"\nGRANT TEMPORARY ON DATABASE \"{dbname}\" TO {role.name};" if temp else ""))


def _scram(conn: psycopg.Connection, role: str, password: str) -> str:
    """The role's password as the server stores it (hashed here: the cleartext never reaches
    the server, its log or a message)."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(),
                                        b"scram-sha-256").decode()


def _logs_in(conn: psycopg.Connection, role: str, password: str) -> bool:
    """Whether ``role`` logs in with ``password`` where ``conn`` is connected."""
    i = conn.info
    try:
        psycopg.connect(host=i.host, port=i.port, dbname=i.dbname, user=role,
                        password=password, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        # only the password's refusal says the password is not the role's (a revoked
        # CONNECT, an expired role or the server's TLS terms are other matters)
        return "password authentication failed" not in str(exc)
    return True


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


def _login_role(conn: psycopg.Connection, role: ReaderRole, password_env: str,
                purpose: str, role_env: str, temp: bool = False) -> list[str]:
    """Create the login role if it is missing (or say what a DBA runs), refuse one with
    powers beyond reading, and keep its password, timeout, read-only default and CONNECT
    in step. ``purpose`` names it in messages ("the read-only role … the services connect
    with"). ``temp``: the role stages the served writes (a case, a reading) in temporary
    tables, so it needs TEMPORARY on the database — every role has it through PUBLIC until a
    DBA's ``REVOKE ALL ON DATABASE … FROM PUBLIC`` (then every report was a 500). Returns
    notes for the operator."""
    ident = sql.Identifier(role.name)
    notes: list[str] = []
    dbname, me = conn.execute("SELECT current_database(), current_user").fetchone()
    can_create = conn.execute(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()[0]
    row = conn.execute("SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb "
                       "FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone()
    if row is None:
        if not can_create:
            password = os.environ.get(password_env)
            hashed = _scram(conn, role.name, password) if password else None
            raise ConfigError(
                f"the database user {me!r} may not create roles, so {purpose} does not "
                f"exist. The schema is migrated; ask a DBA to run once:\n"
                f"{_dba_statements(role, dbname, password_env, hashed, temp)}\n"
                "then run `cim db upgrade` again (it grants SELECT on the layer tables)")
        try:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                 "NOREPLICATION NOBYPASSRLS").format(ident))
        except psycopg.errors.DuplicateObject:  # created by a concurrent upgrade
            pass
    elif row[0]:
        raise ConfigError(f"role {role.name!r} exists with superuser, CREATEROLE, "
                          f"CREATEDB or BYPASSRLS: it cannot serve as {purpose}; "
                          f"set {role_env} to another name")
    if can_create:
        password = os.environ.get(password_env)
        if password:
            _retrying(conn, sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                ident, sql.Literal(_scram(conn, role.name, password))))
        _retrying(conn, sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
            ident, sql.Literal(role.statement_timeout)))
        _retrying(conn, sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on")
                  .format(ident))
    elif (password := os.environ.get(password_env)) and not _logs_in(conn, role.name, password):
        # it was said to be set by the upgrade, which could not: the server then could not
        # log in, and its message sent the operator back to the same variable
        notes.append(f"cannot set the password of {role.name!r} from {password_env} (no "
                     f"CREATEROLE), and it does not log in with it; a DBA runs: ALTER ROLE "
                     f"{role.name} PASSWORD '{_scram(conn, role.name, password)}'")
    if not can_create and _role_setting(conn, role.name, "statement_timeout") != \
            role.statement_timeout:
        notes.append(f"cannot set statement_timeout on {role.name!r} (no CREATEROLE); "
                     f"a DBA runs: ALTER ROLE {role.name} SET statement_timeout = "
                     f"'{role.statement_timeout}'")
    # a user without the grant option is warned, not refused ("no privileges were granted"):
    # the privilege is asked after
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(dbname), ident))
    if not conn.execute("SELECT has_database_privilege(%s, current_database(), "
                        "'CONNECT')", (role.name,)).fetchone()[0]:
        notes.append(f"{role.name!r} may not connect to {dbname!r}; a DBA runs: "
                     f"GRANT CONNECT ON DATABASE \"{dbname}\" TO {role.name}")
    if temp:
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):  # (or warned: above)
            conn.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), ident))
        if not conn.execute("SELECT has_database_privilege(%s, current_database(), "
                            "'TEMPORARY')", (role.name,)).fetchone()[0]:
            notes.append(f"{role.name!r} may not create temporary tables in {dbname!r} "
                         "(the served case reports and sensor readings stage in them); "
                         f"a DBA runs: GRANT TEMPORARY ON DATABASE \"{dbname}\" TO "
                         f"{role.name}")
    return notes


def _postgis_usage(conn: psycopg.Connection, name: str) -> list[str]:
    """USAGE on the schema a DBA installed PostGIS in (``public``: every role has it) for
    ``name``: without it the role read no geometry (the server stopped at its first
    request, QGIS drew nothing). A note naming the statement where the user may not grant
    it."""
    schema = postgis_schema(conn)
    if schema in (None, "public"):
        return []
    # a user without the grant option is warned, not refused ("no privileges were granted"):
    # the privilege is asked after
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(schema), sql.Identifier(name)))
    if not conn.execute("SELECT has_schema_privilege(%s, %s, 'USAGE')",
                        (name, schema)).fetchone()[0]:
        return [f"{name!r} may not use schema {schema!r}, where PostGIS is; a DBA runs: "
                f"GRANT USAGE ON SCHEMA \"{schema}\" TO {name}"]
    return []


def _create_note(conn: psycopg.Connection, name: str) -> list[str]:
    if conn.execute("SELECT has_schema_privilege(%s, 'public', 'CREATE')",
                    (name,)).fetchone()[0]:
        return [f"{name!r} may create tables in schema public (granted to PUBLIC before "
                "PostgreSQL 15); consider: REVOKE CREATE ON SCHEMA public FROM PUBLIC"]
    return []


def ensure_reader(url: str, role: ReaderRole | None = None) -> list[str]:
    """Create (if needed) and grant the read-only role in the database of ``url``, then the
    planners' role (:func:`ensure_planner`: ``cim db upgrade`` keeps both); idempotent.
    Returns notes worth showing the operator (empty when all is as it should be)."""
    role = role or ReaderRole.from_env()
    ident = sql.Identifier(role.name)
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        try:
            notes = _login_role(conn, role, READER_PASSWORD_ENV,
                                f"the read-only role {role.name!r} the services connect with",
                                READER_ROLE_ENV, temp=True)
        except ConfigError as exc:
            # a DBA was handed the reader's statements, then the planners' in a second run
            # of the upgrade, then ran it a third time: both at once
            if "may not create roles" not in str(exc):
                raise
            try:
                ensure_planner(psycopg_conninfo(url), reader=role.name, warn=False)
            except ConfigError as planner:
                raise ConfigError(f"{exc.message}\n{planner.message}") from None
            except psycopg.Error:  # (what the planner's part cannot do is said next run)
                pass
            raise exc
        for stmt in ("GRANT USAGE ON SCHEMA public TO {}",
                     "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
                     "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}"):
            _retrying(conn, sql.SQL(stmt).format(ident))
        _grant_records(conn, ident)
        notes += _create_note(conn, role.name) + _postgis_usage(conn, role.name)
    try:
        planner_notes = ensure_planner(psycopg_conninfo(url), reader=role.name, warn=False)
    except ConfigError as exc:  # the services work without it: say so, do not stop the upgrade
        planner_notes = [str(exc)]
    notes += planner_notes
    for note in notes:
        log.warning(note)
    return notes


def published_tables() -> list[str]:
    """The tables the one map shows, from the one catalog (:func:`cim.layerdefs.declared_layers`,
    the rooms' layers through the catalog they register): the loaded layers and the rooms'
    result layers (health indicators, alarms, cases …) — never a list of its own, so a layer
    declared later is granted when the roles are applied again."""
    from cim.layerdefs import declared_layers

    return list(dict.fromkeys(d.table for d in declared_layers().values()))


def ensure_planner(conninfo: str, role: ReaderRole | None = None, *,
                   reader: str | None = None, warn: bool = True) -> list[str]:
    """Create (if needed) the planners' role and leave it exactly SELECT on the published
    tables (:func:`published_tables`) and QGIS's tables (:data:`QGIS_TABLES`) that exist in
    the database of ``conninfo`` (a libpq connection string); idempotent.

    Every other table privilege it holds here is revoked, in the same transaction as the
    grants (a QGIS session of a planner never sees it half done): a table that left the
    catalog, or a grant made by hand, does not outlive the next apply. No default privileges:
    a table created later is readable once it is declared and the roles applied again. The
    role is also read-only by default, but that is not what stops it writing."""
    role = role or ReaderRole.planner_from_env()
    reader = reader or ReaderRole.from_env().name
    if role.name == reader:  # its privileges would be revoked, and the services stop
        raise ConfigError(f"the planners' role and the services' are both {role.name!r}: the "
                          "services write cases and read the case contacts; set "
                          f"{PLANNER_ROLE_ENV} or {READER_ROLE_ENV} to another name")
    allowed = [*published_tables(), *QGIS_TABLES]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        notes = _login_role(conn, role, PLANNER_PASSWORD_ENV,
                            f"the planners' role {role.name!r} the QGIS project's pg service "
                            "names", PLANNER_ROLE_ENV)
        inherited = [r for r, in conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s ORDER BY 1",
            (role.name,))]
        if inherited:
            raise ConfigError(f"role {role.name!r} is a member of {', '.join(inherited)} and "
                              "holds their privileges: it cannot serve as the planners' "
                              f"read-only role; a DBA runs: REVOKE {', '.join(inherited)} "
                              f"FROM {role.name}, or set {PLANNER_ROLE_ENV} to another name")
        grant_notes: list[str] = []
        for attempt in range(5):
            try:
                with conn.transaction():
                    viewed, grant_notes = _ensure_views(conn, role.name)
                    # a table read through its view: not granted itself (revoked if it was)
                    grant_notes += _grant_planner(
                        conn, role.name, [t for t in allowed if t not in viewed])
                break
            except psycopg.errors.InternalError as exc:  # a concurrent grant: try again
                if "concurrently" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))
        notes += grant_notes + _create_note(conn, role.name) + _postgis_usage(conn, role.name)
    if warn:
        for note in notes:
            log.warning(note)
    return notes


def _grant_planner(conn: psycopg.Connection, name: str, allowed: list[str]) -> list[str]:
    """Inside the caller's transaction: revoke every privilege the role holds on schema public
    beyond SELECT on ``allowed`` (tables, columns, sequences), grant SELECT on ``allowed``. A table this user may not grant on (QGIS creates ``layer_styles``
    as whoever saves a style first) is a note with the DBA's statement, each statement in a
    savepoint, and what the role still holds beyond SELECT on ``allowed`` is said too."""
    ident = sql.Identifier(name)
    notes: list[str] = []

    def run(stmt: sql.Composable, dba: str, done: str | None = None) -> None:
        try:
            with conn.transaction():
                conn.execute(stmt)
        except psycopg.errors.InsufficientPrivilege:
            if done is None or not conn.execute(done, (name,)).fetchone()[0]:
                notes.append(f"cannot change the privileges of {name!r} here; a DBA runs: "
                             f"{dba}")

    held: dict[tuple[str, str], set[str]] = {}
    for table, kind, privilege in conn.execute(_HELD_PRIVILEGES_SQL, (name,)).fetchall():
        held.setdefault((table, kind), set()).add(privilege)
    for (table, kind), privileges in held.items():
        if table in allowed and privileges == {"SELECT"}:
            continue  # as it should be: left alone, no statement
        what = "SEQUENCE" if kind == "S" else "TABLE"
        run(sql.SQL("REVOKE ALL ON {} public.{} FROM {}").format(
            sql.SQL(what), sql.Identifier(table), ident),
            f"REVOKE ALL ON {what} public.\"{table}\" FROM {name}")
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
    for table in allowed:
        if conn.execute("SELECT to_regclass(%s) IS NULL", (f'public."{table}"',)).fetchone()[0]:
            continue
        run(sql.SQL("GRANT SELECT ON TABLE public.{} TO {}").format(
            sql.Identifier(table), ident), f"GRANT SELECT ON public.\"{table}\" TO {name}",
            sql.SQL("SELECT has_table_privilege(%s, {}, 'SELECT')").format(
                sql.Literal(f'public."{table}"')))
    beyond = sorted({t for t, _, p in conn.execute(_HELD_PRIVILEGES_SQL, (name,)).fetchall()
                     if t not in allowed or p != "SELECT"})
    if beyond:  # a REVOKE by a non-owner only warns: the privileges would stay unseen
        notes.append(f"{name!r} still holds privileges on {', '.join(beyond)} beyond reading "
                     f"the published layers; their owner runs: REVOKE ALL ON … FROM {name}")
    return notes


# the relations of schema public on which a role holds any privilege of its own (of the
# table or a column), and those privileges (a grant option said: it is one more)
_HELD_PRIVILEGES_SQL = (
    "SELECT c.relname, c.relkind, x.privilege_type"
    " || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace, pg_roles r, LATERAL ("
    " SELECT privilege_type, is_grantable, grantee FROM aclexplode(c.relacl) UNION ALL"
    " SELECT privilege_type, is_grantable, grantee FROM pg_attribute a, aclexplode(a.attacl)"
    " WHERE a.attrelid = c.oid) x "
    "WHERE n.nspname = 'public' AND r.rolname = %s AND x.grantee = r.oid")


def grant_planner_table(conn: psycopg.Connection, table: str,
                        role: ReaderRole | None = None) -> None:
    """SELECT on one of QGIS's tables for the planners' role when it exists: the project
    table is created when the first project is saved, after ``cim db upgrade``."""
    name = (role or ReaderRole.planner_from_env()).name
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() and \
            not conn.execute("SELECT has_table_privilege(%s, %s, 'SELECT')",
                             (name, f'public."{table}"')).fetchone()[0]:
        conn.execute(sql.SQL("GRANT SELECT ON TABLE public.{} TO {}").format(
            sql.Identifier(table), sql.Identifier(name)))


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

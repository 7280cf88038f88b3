"""Where the QGIS project goes: a .qgs/.qgz file, QGIS's ``qgis_projects`` table (so a planner
opens it from the database browser), and the pg service entry its layers name.

The project's layers carry only a service name; host, port, database and user live in a
pg_service.conf section on each planner's machine, and the password in their .pgpass (or QGIS
authentication), never in the project.
"""

from __future__ import annotations

import configparser
import getpass
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

# the statement QGIS 3.22 runs before it saves its first project into PostgreSQL
CREATE_QGIS_PROJECTS = ("CREATE TABLE IF NOT EXISTS public.qgis_projects("
                        "name TEXT PRIMARY KEY, metadata JSONB, content BYTEA)")


def service_entry(conninfo: str) -> dict[str, str]:
    """The pg_service.conf keys of ``conninfo``'s server and database for the read-only role
    (``cim.db.roles``: ``CIM_READER_ROLE``, default cim_reader): host, port, dbname, user;
    never a password. Planners view the one map: the admin's user had QGIS edit the layers in
    place, outside any load and its history."""
    from cim.db.roles import ReaderRole

    d = conninfo_to_dict(conninfo)
    entry = {k: str(d[k]) for k in ("host", "port", "dbname") if d.get(k)}
    entry["user"] = ReaderRole.from_env().name
    return entry


def write_service_file(path: Path, service: str, conninfo: str) -> dict[str, str]:
    """Add or replace the ``[service]`` section of a pg_service.conf, keeping the others."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # libpq keys are case sensitive
    if path.exists():
        cp.read(path, encoding="utf-8")
    entry = service_entry(conninfo)
    cp[service] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        cp.write(fh, space_around_delimiters=False)
    return entry


def qgz_bytes(qgs_text: str, name: str) -> bytes:
    """A .qgz: the zip QGIS writes, holding ``name.qgs``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.qgs", qgs_text.encode("utf-8"))
    return buf.getvalue()


def save_to_database(conninfo: str, name: str, qgs_text: str) -> str:
    """Store the project in ``public.qgis_projects`` (replacing one of the same name); returns
    the URI QGIS opens it with (``postgresql:?service=…`` needs the service on the planner's
    machine; the browser shows it under the connection's public schema)."""
    meta = {"last_modified_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "last_modified_user": getpass.getuser()}
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(CREATE_QGIS_PROJECTS)
        conn.execute("INSERT INTO public.qgis_projects (name, metadata, content) "
                     "VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                     "metadata = EXCLUDED.metadata, content = EXCLUDED.content",
                     (name, json.dumps(meta), qgz_bytes(qgs_text, name)))
    return f"postgresql:?schema=public&project={name}"

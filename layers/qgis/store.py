"""Where the QGIS project goes: a .qgs/.qgz file, QGIS's ``qgis_projects`` table (so a planner
opens it from the database browser), and the pg service entry its layers name.

The project's layers carry only a service name; host, port, database and user live in a
pg_service.conf section on each planner's machine, and the password in their .pgpass (or QGIS
authentication), never in the project.
"""

from __future__ import annotations

import getpass
import io
import json
import os
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from cim.errors import ConfigError

# the statement QGIS 3.22 runs before it saves its first project into PostgreSQL
CREATE_QGIS_PROJECTS = ("CREATE TABLE IF NOT EXISTS public.qgis_projects("
                        "name TEXT PRIMARY KEY, metadata JSONB, content BYTEA)")


def service_entry(conninfo: str) -> dict[str, str]:
    """The pg_service.conf keys of ``conninfo``'s server and database for the planners' role
    (``cim.db.roles``: ``CIM_PLANNER_ROLE``, default cim_planner): host, port, dbname, user,
    and its sslmode when it sets one; never a password (nor a certificate path of this
    machine). Planners view the one map: the admin's user had QGIS edit the layers in place,
    and the services' reader (``cim_reader``) reads the citizens' contacts of the case loop
    and writes cases in a transaction it opens READ WRITE — the planners' role reads the
    published layers only."""
    from cim.db.roles import ReaderRole

    d = conninfo_to_dict(conninfo)
    entry = {k: str(d[k]) for k in ("host", "port", "dbname") if d.get(k)}
    entry["user"] = ReaderRole.planner_from_env().name
    if d.get("sslmode"):  # the server's demand (require, verify-full …) holds for planners too:
        # without it libpq's default "prefer" falls back to an unencrypted connection
        entry["sslmode"] = str(d["sslmode"])
    return entry


# the keys of a service section that say where to connect and as whom: what the entry writes,
# so an old section's values for them never outlive it (an old host beside a new port)
_WHERE_KEYS = ("host", "hostaddr", "port", "dbname", "user")
# what a service name cannot hold: the brackets of its section header (libpq matches the name up
# to the first ``]``), the quote and backslash of the layers' ``service='…'``, line breaks,
# the % a project URI cannot carry (check_project_name)
_BAD_SERVICE = re.compile(r"[\[\]'\\%\x00-\x1f\x7f]")


def check_service_name(service: str) -> None:
    """Refuse a service name libpq or QGIS would read as another (or none)."""
    if not service.strip() or _BAD_SERVICE.search(service):
        raise ConfigError(f"pg service name {service!r}: no brackets, quotes, backslashes, "
                          "'%' or line breaks, and not empty (libpq reads it between [ and ] "
                          "of its section, QGIS between the quotes of service='…' and from "
                          "the project's URI)", field="--service")


def _header(line: str) -> str | None:
    """The name of the section a pg_service.conf line opens, else None (as libpq reads it:
    leading white space skipped, ``[name]`` up to the line's end)."""
    t = line.strip()
    return t[1:-1] if t.startswith("[") and t.endswith("]") else None


def service_file_text(old: str, service: str, entry: dict[str, str]) -> str:
    """``old`` (a pg_service.conf's text) with ``[service]`` holding ``entry``.

    Everything else stays as it was written: comments, the other sections, and the section's
    own other keys (``sslmode``, ``connect_timeout`` …). Re-writing the file through
    configparser dropped every comment and, on a file libpq reads happily (a key above the
    first section, a section twice: libpq reads the first), stopped with an internal error.
    Only the first ``[service]`` section is changed, the one libpq reads."""
    nl = "\r\n" if "\r\n" in old else "\n"
    lines = old.splitlines()
    body = [f"{k}={v}" for k, v in entry.items()]
    start = next((i for i, line in enumerate(lines) if _header(line) == service), None)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{service}]", *body]
    else:
        end = next((j for j in range(start + 1, len(lines)) if _header(lines[j]) is not None),
                   len(lines))
        owned = {*_WHERE_KEYS, *entry}
        kept = [line for line in lines[start + 1:end]
                if line.split("=", 1)[0].strip() not in owned]
        lines[start + 1:end] = body + kept
    return nl.join(lines) + nl


def read_service_file(path: Path) -> str:
    """The text of an existing pg_service.conf ("" when there is none yet)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigError(f"cannot read the pg service file: {exc.strerror}",
                          path=str(path)) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError("the pg service file is not UTF-8 (a byte that cannot be read): "
                          "save it as UTF-8 or write the section by hand", path=str(path),
                          row=line) from None


def write_service_file(path: Path, service: str, conninfo: str) -> dict[str, str]:
    """Add or replace the ``[service]`` section of a pg_service.conf, keeping the rest.

    The role it names is made ready first (``cim.db.roles.ensure_planner``: created if
    needed, SELECT on what the map publishes as of now), so the entry never names a role
    that does not exist or cannot read a layer (or the styles) the project shows."""
    from cim.db.roles import ensure_planner

    check_service_name(service)
    ensure_planner(conninfo)
    entry = service_entry(conninfo)
    text = service_file_text(read_service_file(path), service, entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    if path.exists():  # its mode, not the umask's: a file kept 0600 for another section's
        # password stays readable by its owner only
        os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)
    return entry


def qgz_bytes(qgs_text: str, name: str) -> bytes:
    """A .qgz: the zip QGIS writes, holding ``name.qgs``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.qgs", qgs_text.encode("utf-8"))
    return buf.getvalue()


# what QGIS 3.22 reads back as itself in a project URI's value: it decodes the query with Qt's
# PrettyDecoded, which leaves these delimiters percent-encoded (a name's "%2B" stays "%2B"), so
# they go literal; every other reserved character (& # = space …) and non-ASCII is encoded
_URI_LITERAL = "+?/'!$()*,;:@[]"


def check_project_name(name: str) -> None:
    """Refuse a project name QGIS cannot open by its URI: ``%`` (QGIS 3.22 reads back its own
    ``%25`` as ``%25``), and an empty name."""
    if not name.strip() or "%" in name:
        raise ConfigError(f"project name {name!r}: not empty and no '%' (QGIS cannot open a "
                          "project of the database whose name holds one)", field="--name")


def project_uri(name: str, service: str | None = None) -> str:
    """The URI QGIS opens a project of ``qgis_projects`` by, its values encoded so that QGIS
    decodes them to themselves: a name or service holding ``&`` or ``#`` was printed as it is,
    and QGIS opened nothing with it."""
    items = ([("service", service)] if service else []) + [("schema", "public"),
                                                              ("project", name)]
    return "postgresql:?" + "&".join(f"{k}={quote(v, safe=_URI_LITERAL)}" for k, v in items)


def save_to_database(conninfo: str, name: str, qgs_text: str,
                     service: str | None = None) -> str:
    """Store the project in ``public.qgis_projects`` (replacing one of the same name); returns
    the URI QGIS opens it with (with ``service``, the pg service the planner's machine has;
    the browser shows it under the connection's public schema)."""
    meta = {"last_modified_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "last_modified_user": getpass.getuser()}
    from cim.db.roles import grant_planner_table

    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(CREATE_QGIS_PROJECTS)
        grant_planner_table(conn, "qgis_projects")  # a planner opens it from the browser
        conn.execute("INSERT INTO public.qgis_projects (name, metadata, content) "
                     "VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                     "metadata = EXCLUDED.metadata, content = EXCLUDED.content",
                     (name, json.dumps(meta), qgz_bytes(qgs_text, name)))
    return project_uri(name, service)

"""The record of checks (table ``approval_checks``, migration 0004): write one, list them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def record_check(conninfo: str, result: dict[str, Any], sha256: str | None,
                 report_html: str | None, *, project_input: dict[str, Any] | None = None,
                 channel: str = "cli", operator: str | None = None) -> int:
    """Store a check; returns its id. ``project_input``: the project as checked
    (:meth:`layers.approval.project.Project.as_geojson`), so that the check can be run again
    as it was; ``channel`` how it came (cli, http), ``operator`` who ran it (migration 0019).
    The transaction is opened READ WRITE explicitly: the served process records as the
    read-only role, whose transactions are read-only by default and which may INSERT into
    this table and no other (``cim.db.roles``)."""
    with psycopg.connect(conninfo) as conn:
        conn.read_only = False
        row = conn.execute(
            "INSERT INTO approval_checks (project, file_sha256, status, summary, result, "
            "report_html, input, channel, operator) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
            "%s) RETURNING id",
            (result["project"]["name"], sha256, result["summary"]["status"],
             Jsonb(result["summary"]), Jsonb(json.loads(json.dumps(result, default=str))),
             report_html, Jsonb(project_input) if project_input is not None else None,
             channel, operator)).fetchone()
    return int(row[0])


def attach_report(conninfo: str, check_id: int, report_html: str) -> None:
    """File the report of check ``check_id`` with it: the report names its record
    (``record_id``), so it is rendered once the record exists (the CLI's owner role)."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE approval_checks SET report_html = %s WHERE id = %s",
                     (report_html, check_id))


def list_checks(conninfo: str, limit: int = 100, offset: int = 0, project: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None
                ) -> list[dict[str, Any]]:
    """The latest checks first: id, project, file checksum, channel, operator, time, status,
    counts, report? — ``project``: those whose name holds it (case-insensitive); ``since``,
    ``until``: checked in [since, until)."""
    where, args = ["true"], []
    if project:
        where.append("strpos(lower(project), lower(%s)) > 0")
        args.append(project)
    if since is not None:
        where.append("checked_at >= %s")
        args.append(since)
    if until is not None:
        where.append("checked_at < %s")
        args.append(until)
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        cur = conn.cursor(row_factory=dict_row)
        return cur.execute(
            "SELECT id, project, file_sha256, channel, operator, checked_at, status, "
            "summary->'counts' AS counts, report_html IS NOT NULL AS has_report, "
            "input IS NOT NULL AS has_input FROM approval_checks "
            f"WHERE {' AND '.join(where)} "  # noqa: S608 — fixed conditions, values bound
            "ORDER BY checked_at DESC, id DESC LIMIT %s OFFSET %s",
            (*args, limit, offset)).fetchall()


def get_check(conninfo: str, check_id: int) -> dict[str, Any] | None:
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        cur = conn.cursor(row_factory=dict_row)
        return cur.execute("SELECT * FROM approval_checks WHERE id = %s",
                           (check_id,)).fetchone()

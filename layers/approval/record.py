"""The record of checks (table ``approval_checks``, migration 0004): write one, list them."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def record_check(conninfo: str, result: dict[str, Any], sha256: str | None,
                 report_html: str | None) -> int:
    """Store a check; returns its id. The transaction is opened READ WRITE explicitly: the
    served process records as the read-only role, whose transactions are read-only by default
    and which may INSERT into this table and no other (``cim.db.roles``)."""
    with psycopg.connect(conninfo) as conn:
        conn.read_only = False
        row = conn.execute(
            "INSERT INTO approval_checks (project, file_sha256, status, summary, result, "
            "report_html) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (result["project"]["name"], sha256, result["summary"]["status"],
             Jsonb(result["summary"]), Jsonb(json.loads(json.dumps(result, default=str))),
             report_html)).fetchone()
    return int(row[0])


def attach_report(conninfo: str, check_id: int, report_html: str) -> None:
    """File the report of check ``check_id`` with it: the report names its record
    (``record_id``), so it is rendered once the record exists (the CLI's owner role)."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE approval_checks SET report_html = %s WHERE id = %s",
                     (report_html, check_id))


def list_checks(conninfo: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest checks first: id, project, file checksum, time, status, counts, report?"""
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        cur = conn.cursor(row_factory=dict_row)
        return cur.execute(
            "SELECT id, project, file_sha256, checked_at, status, summary->'counts' AS counts, "
            "report_html IS NOT NULL AS has_report FROM approval_checks "
            "ORDER BY checked_at DESC, id DESC LIMIT %s", (limit,)).fetchall()


def get_check(conninfo: str, check_id: int) -> dict[str, Any] | None:
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        cur = conn.cursor(row_factory=dict_row)
        return cur.execute("SELECT * FROM approval_checks WHERE id = %s",
                           (check_id,)).fetchone()

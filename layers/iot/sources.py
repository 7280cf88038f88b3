"""Reading sources: who may send readings over HTTP, one API key each.

The key is made by :func:`layers.cases.auth.new_secret` and shown once; only its SHA-256
(:func:`layers.cases.auth.hash_secret`) is stored, so a copy of the database lets nobody
send readings. A source is revoked, never deleted (its name stays on the readings it sent).
A sensor whose ``reading_source`` names a source accepts readings from that source only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import psycopg

from cim.errors import InputError
from layers.cases.auth import hash_secret, new_secret


@dataclass(frozen=True)
class Source:
    name: str
    revoked: bool


def add_source(conn: psycopg.Connection, name: str) -> str:
    """Register source ``name``; its API key (the only time it is seen)."""
    name = (name or "").strip()
    if not name:
        raise InputError("a reading source needs a name", field="NAME")
    if conn.execute("SELECT 1 FROM reading_sources WHERE name = %s", (name,)).fetchone():
        raise InputError(f"reading source {name!r} exists already", field="NAME")
    key = new_secret()
    conn.execute("INSERT INTO reading_sources (name, key_hash) VALUES (%s, %s)",
                 (name, hash_secret(key)))
    return key


def revoke_source(conn: psycopg.Connection, name: str) -> None:
    """Revoke source ``name``: its key is refused (403) from now on."""
    if conn.execute("UPDATE reading_sources SET revoked_at = now() WHERE name = %s AND "
                    "revoked_at IS NULL", (name,)).rowcount == 0:
        raise InputError(f"no active reading source is called {name!r}", field="NAME")


def source_of_key(conn: psycopg.Connection, key: str | None) -> Source | None:
    """The source holding ``key`` (revoked or not), else None (no key or an unknown one)."""
    if not key:
        return None
    h = hash_secret(key.strip())
    row = conn.execute("SELECT name, revoked_at IS NOT NULL, key_hash FROM reading_sources "
                       "WHERE key_hash = %s", (h,)).fetchone()
    if row is None or not hmac.compare_digest(row[2], h):
        return None
    return Source(row[0], row[1])


def list_sources(conn: psycopg.Connection) -> list[dict]:
    return [{"name": r[0], "created_at": r[1], "revoked_at": r[2]} for r in conn.execute(
        "SELECT name, created_at, revoked_at FROM reading_sources ORDER BY name")]

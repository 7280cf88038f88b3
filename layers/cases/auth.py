"""People of the case loop (``ops_users``) and their tokens.

A token is shown once, when the user is added, and only its SHA-256 hash is stored: a copy
of the database does not let anyone act as a user. SHA-256 without salt is enough here
because tokens are 256-bit random strings (:func:`new_secret`), not passwords a person
chose; a dictionary attack has nothing to guess. The same two functions hash the API keys of
reading sources (layers.iot), so there is one way to make and check a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import psycopg

from cim.errors import InputError

# the roles ops_users accepts (its CHECK constraint); the workflow says what each may do
ROLES = ("监督员", "受理员", "派遣员", "处置单位", "核查员", "admin")


@dataclass(frozen=True)
class User:
    """An authenticated person of the loop; ``unit`` is a 处置单位 user's unit."""

    name: str
    role: str
    unit: str | None = None


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a token or API key (what is stored and compared)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A new random token or API key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def authenticate(conn: psycopg.Connection, token: str | None) -> User | None:
    """The active user holding ``token``, else None (no token, unknown or revoked)."""
    if not token:
        return None
    h = hash_secret(token.strip())
    row = conn.execute("SELECT name, role, unit, token_hash FROM ops_users "
                       "WHERE token_hash = %s AND revoked_at IS NULL", (h,)).fetchone()
    if row is None or not hmac.compare_digest(row[3], h):
        return None
    return User(row[0], row[1], row[2])


def user_by_name(conn: psycopg.Connection, name: str) -> User | None:
    """The active user called ``name`` (the owner's CLI acting as a named user)."""
    row = conn.execute("SELECT name, role, unit FROM ops_users WHERE name = %s "
                       "AND revoked_at IS NULL", (name,)).fetchone()
    return User(*row) if row else None


def add_user(conn: psycopg.Connection, name: str, role: str, unit: str | None = None) -> str:
    """Add a user; return the token (shown once: only its hash is kept). A 处置单位 user
    needs a unit (the cases they may handle are the ones dispatched to it)."""
    name = (name or "").strip()
    if not name:
        raise InputError("a user needs a name", field="name")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    unit = (unit or "").strip() or None
    if role == "处置单位" and unit is None:
        raise InputError("a 处置单位 user needs --unit (the unit whose cases they handle)",
                         field="unit")
    if conn.execute("SELECT 1 FROM ops_users WHERE name = %s", (name,)).fetchone():
        raise InputError(f"user {name!r} exists (revoke it and add another name)",
                         field="name")
    token = new_secret()
    conn.execute("INSERT INTO ops_users (name, role, unit, token_hash) VALUES (%s, %s, %s, %s)",
                 (name, role, unit, hash_secret(token)))
    return token


def revoke(conn: psycopg.Connection, name: str) -> bool:
    """Revoke a user's token; False if there is no active user of that name."""
    return conn.execute("UPDATE ops_users SET revoked_at = now() WHERE name = %s "
                        "AND revoked_at IS NULL", (name,)).rowcount > 0

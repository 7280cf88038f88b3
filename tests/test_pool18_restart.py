"""A pooled connection whose server went away is not lent (probe of 2026-12-07): after a
database restart every idle connection was dead and failed one request each (a 503) before
the pool opened a new one. Here the backends are ended as a restart ends them."""

from __future__ import annotations

import psycopg
import pytest

from services import pool as pool_mod
from services.pool import Pool


def _end(conninfo: str, pids: list[int]) -> None:
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_dead_idle_connection_is_not_lent(db, monkeypatch):
    p = Pool(db.conninfo, 3)
    pids = []
    with p.connection() as a, p.connection() as b:
        pids = [a.info.backend_pid, b.info.backend_pid]
    assert p._idle.qsize() == 2
    _end(db.conninfo, pids)
    monkeypatch.setattr(pool_mod, "IDLE_PING_S", 0.0)
    with p.connection() as c:
        assert c.execute("SELECT 1").fetchone()[0] == 1
        assert c.info.backend_pid not in pids
    # the other dead one went with the first: none is left to fail a later request
    assert p._idle.qsize() == 1


def test_a_connection_given_back_a_moment_ago_is_lent_without_a_ping(db):
    p = Pool(db.conninfo, 1)
    with p.connection() as a:
        pid = a.info.backend_pid
    with p.connection() as b:
        assert b.info.backend_pid == pid


def test_a_broken_connection_in_use_takes_the_idle_ones_with_it(db):
    p = Pool(db.conninfo, 3)
    with p.connection() as a, p.connection() as b:
        pids = [a.info.backend_pid, b.info.backend_pid]
    _end(db.conninfo, pids)
    with pytest.raises(psycopg.OperationalError), p.connection() as c:  # lent at once
        c.execute("SELECT 1")
    assert p._idle.qsize() == 0
    with p.connection() as d:
        assert d.execute("SELECT 1").fetchone()[0] == 1


def test_a_cancelled_statement_keeps_the_pool(db):
    """A statement timeout (QueryCanceled, an OperationalError) emptied the pool (review)."""
    p = Pool(db.conninfo, 3)
    with p.connection() as a, p.connection() as b:
        pids = {a.info.backend_pid, b.info.backend_pid}
    with pytest.raises(psycopg.errors.QueryCanceled), p.connection() as c:
        c.execute("SET statement_timeout = '50ms'")
        c.execute("SELECT pg_sleep(1)")
    assert p._idle.qsize() == 2  # both kept, the cancelled one among them
    seen = set()
    with p.connection() as d, p.connection() as e:
        seen = {d.info.backend_pid, e.info.backend_pid}
    assert seen == pids

"""The case list's order (the last opened on the platform first: ``valid_from`` desc, code
desc, ``layers.cases.listing.list_cases``) is an index range (migration 0016), not a sort of
every current case. The plan is the one of the list's own statement (auto_explain reports it
to the session), so a list whose ORDER BY drifts from the index fails here."""

from __future__ import annotations

import psycopg

from layers.cases.listing import list_cases


def test_the_case_list_reads_the_index(fresh_db, jining_profile):
    plans: list[str] = []
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        conn.execute("SET auto_explain.log_min_duration = 0")
        conn.execute("SET client_min_messages = log")
        conn.execute("SET enable_sort = off")  # the plan the order allows, on an empty table
        assert list_cases(conn, limit=50, profile=jining_profile) == []
    listed = [p for p in plans if "FROM cases" in p and "ORDER BY valid_from DESC" in p]
    assert len(listed) == 1, plans  # the list's own statement
    plan = listed[0].split("\n", 2)[2]  # after the duration and the query text
    assert "Index Scan Backward using cases_opened_idx" in plan, plan
    assert "Sort" not in plan, plan

"""The case list's order (the last opened on the platform first: ``valid_from`` desc, code
desc, ``layers.cases.listing``) is an index range (migration 0016), not a sort of every
current case."""

from __future__ import annotations

import psycopg


def test_the_case_list_order_reads_the_index(fresh_db):
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("SET enable_sort = off")  # the plan the order allows, on an empty table
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT code FROM cases WHERE valid_to IS NULL "
            "AND (valid_from, code) < (now(), 'x') ORDER BY valid_from DESC, code DESC LIMIT 50"))
    assert "cases_opened_idx" in plan, plan
    assert "Sort" not in plan, plan

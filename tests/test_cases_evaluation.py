"""The case loop's evaluation (issue 14 item 5): 立案率, 按期处置率, 结案率 and the mean
handling time on a hand-built set of cases whose figures are known by arithmetic, periods
without cases (zero denominators), the overdue list and flag, and the HTML report."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from cim.errors import InputError
from layers.cases import dispatch, evaluate, workflow
from layers.cases.auth import User
from tests.test_cases import UTC, grids, new_case, people


@pytest.fixture()
def conn(db):
    """A connection whose work is rolled back after the test."""
    with psycopg.connect(db.conninfo) as c:
        yield c
        c.rollback()


def test_evaluation_hand_built(conn):
    """Period March 2001. 0101 has 24 h, 0501 4 h (case_categories.csv); G1, G2 two cells.

    A G1 0101: 上报 2 08:00, 立案 09:00 (deadline 3rd 09:00), 派遣 10:00, 处置 19:00 (10 h,
      in time), 核查 pass, 结案.
    B G1 0501: 上报 5 08:00, 立案 09:00 (deadline 13:00), 派遣 10:00, 处置 15:00 (6 h, late),
      核查 pass (not closed).
    C G2 0101: 上报 10 08:00, 立案 10:00 (deadline 11th 10:00), 派遣 11:00, never handled:
      due (deadline before the period's end), late, overdue.
    D G2 0501: 上报 12 08:00, 作废 09:00 (never registered).
    E G2 0501: 上报 20 08:00, still 上报.
    G G1 0101: 上报 25 08:00, 立案 09:00, 派遣 09:30, 处置 11:00, 核查 fail, 处置 again
      17:00 (8 h after 立案, in time), 核查 pass, 结案.
    F G1 0101: 上报 2 April (outside the period), 立案.

    Total: reported 6, registered 4 (A B C G) → 立案率 4/6; due 4 (A B G handled, C past its
    deadline) and on time 2 (A G) → 按期处置率 0.5; closed 2 (A G) → 结案率 2/4; mean
    handling (10 + 6 + 8) / 3 = 8 h.
    """
    g1, g2 = grids(conn, 2)
    p = people("市政设施管理处")
    unit2 = User("u2-" + p["处置单位"].name, "处置单位", "环卫处")

    def t(day, hour, minute=0, month=3):
        return dt.datetime(2001, month, day, hour, minute, tzinfo=UTC)

    def run(grid, cat, steps, reported):
        c = new_case(conn, grid, cat, at=reported)
        handler = p["处置单位"] if c["unit"] == "市政设施管理处" else unit2
        for action, at, kw in steps:
            who = {"register": p["受理员"], "dispatch": p["派遣员"], "handle": handler,
                   "verify": p["核查员"], "close": p["受理员"], "void": p["受理员"]}[action]
            workflow.act(conn, c["code"], action, who, at=at, **kw)
        return c["code"]

    ok = {"result": "pass"}
    a = run(g1, "0101", [("register", t(2, 9), {}), ("dispatch", t(2, 10), {}),
                         ("handle", t(2, 19), {"note": "ok"}), ("verify", t(2, 20), ok),
                         ("close", t(2, 21), {})], t(2, 8))
    run(g1, "0501", [("register", t(5, 9), {}), ("dispatch", t(5, 10), {}),
                     ("handle", t(5, 15), {"note": "ok"}), ("verify", t(5, 16), ok)], t(5, 8))
    c = run(g2, "0101", [("register", t(10, 10), {}), ("dispatch", t(10, 11), {})], t(10, 8))
    run(g2, "0501", [("void", t(12, 9), {"note": "重复"})], t(12, 8))
    run(g2, "0501", [], t(20, 8))
    g = run(g1, "0101", [("register", t(25, 9), {}), ("dispatch", t(25, 9, 30), {}),
                         ("handle", t(25, 11), {"note": "first"}),
                         ("verify", t(25, 12), {"result": "fail"}),
                         ("handle", t(25, 17), {"note": "again"}), ("verify", t(25, 18), ok),
                         ("close", t(25, 19), {})], t(25, 8))
    run(g1, "0101", [("register", t(2, 9, month=4), {})], t(2, 8, month=4))

    start, end = t(1, 0), t(1, 0, month=4)
    now = dt.datetime(2001, 6, 1, tzinfo=UTC)
    tot = evaluate.evaluate(conn, start, end, now=now)["total"]
    assert (tot["reported"], tot["registered"], tot["due"], tot["on_time"], tot["closed"],
            tot["handled"]) == (6, 4, 4, 2, 2, 3)
    assert tot["registration_rate"] == pytest.approx(4 / 6)
    assert tot["on_time_rate"] == pytest.approx(0.5)
    assert tot["closing_rate"] == pytest.approx(0.5)
    assert tot["mean_handling_h"] == pytest.approx(8.0)

    by_grid = {r["grid"]: r for r in evaluate.evaluate(conn, start, end, "grid", now)["rows"]}
    assert (by_grid[g1]["reported"], by_grid[g1]["registered"], by_grid[g1]["on_time"],
            by_grid[g1]["due"], by_grid[g1]["closed"]) == (3, 3, 2, 3, 2)
    assert by_grid[g1]["mean_handling_h"] == pytest.approx(8.0)
    assert by_grid[g2]["registration_rate"] == pytest.approx(1 / 3)
    assert by_grid[g2]["on_time_rate"] == 0 and by_grid[g2]["mean_handling_h"] is None
    by_unit = {r["unit"]: r for r in evaluate.evaluate(conn, start, end, "unit", now)["rows"]}
    assert by_unit["市政设施管理处"]["mean_handling_h"] == pytest.approx(9.0)  # A 10, G 8
    assert by_unit["市政设施管理处"]["on_time_rate"] == pytest.approx(2 / 3)
    assert by_unit["环卫处"]["closing_rate"] == 0 and by_unit["环卫处"]["reported"] == 3

    # judged at the period's end C's deadline (11th) had passed; judged on the 10th at noon
    # it is not due yet: due are the handled A, B, G only, on time A and G
    early = evaluate.evaluate(conn, start, end, now=t(10, 12))["total"]
    assert (early["due"], early["on_time"]) == (3, 2)
    late = [r["code"] for r in dispatch.overdue(conn, now)]
    assert c in late and a not in late and g not in late
    # the stored flag follows: set on C, dropped as soon as C is handled
    dispatch.flag_overdue(conn, now)

    def flags(code):
        return conn.execute("SELECT flags FROM cases WHERE code = %s AND valid_to IS NULL",
                            (code,)).fetchone()[0]

    assert "overdue" in flags(c) and "overdue" not in flags(a)
    workflow.act(conn, c, "handle", p["处置单位"], at=now, note="迟办")
    assert "overdue" not in flags(c)
    with pytest.raises(InputError):
        evaluate.evaluate(conn, end, start)
    # a period without cases: every rate's denominator is 0 → None (not 0, not an error)
    empty = evaluate.evaluate(conn, dt.datetime(1990, 1, 1, tzinfo=UTC),
                              dt.datetime(1990, 2, 1, tzinfo=UTC), "grid", now)
    assert empty["rows"] == [] and empty["total"]["reported"] == 0
    assert [empty["total"][k] for k in ("registration_rate", "on_time_rate", "closing_rate",
                                        "mean_handling_h")] == [None] * 4


def test_report_html_self_contained(conn):
    from layers.cases.report import render_html

    start = dt.datetime(2001, 3, 1, tzinfo=UTC)
    end = dt.datetime(2001, 4, 1, tzinfo=UTC)
    new_case(conn, grids(conn, 1)[0], at=start + dt.timedelta(days=1),
             contact={"phone": "13912345678"})
    page = render_html(*(evaluate.evaluate(conn, start, end, by) for by in (None, "grid",
                                                                            "unit")))
    assert "立案率" in page and grids(conn, 1)[0] in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "13912345678" not in page

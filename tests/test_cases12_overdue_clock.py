"""`cim case flag-overdue` judges deadlines on the platform's clock (the database's), as the
case list's overdue filter and the evaluation do: it took the clock of the machine the
command ran on, so an operator's laptop a day ahead flagged every case due today overdue on
the map and the OGC API, and `cim case list --overdue` listed them."""

from __future__ import annotations

import datetime as dt
import uuid

from layers.cases import dispatch, listing, store, workflow
from layers.cases.auth import User
from tests.cases_fixture import case_fixtures

sdb, conn = case_fixtures("cases12_overdue")
REAL = dt.datetime


class _AheadClock(REAL):
    """A machine whose clock runs a day ahead."""

    @classmethod
    def now(cls, tz=None):
        return REAL.now(tz) + dt.timedelta(days=1)


def test_flag_overdue_takes_the_platforms_clock(conn, monkeypatch):
    c = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                        role="监督员", grid_code=conn.execute(
                            "SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                        ).fetchone()[0])
    workflow.act(conn, c["code"], "register", User(f"acc-{uuid.uuid4().hex[:6]}", "受理员"))
    # registered now, 0501 has 4 h: due in 4 h on the platform's clock
    monkeypatch.setattr(dispatch.dt, "datetime", _AheadClock)
    monkeypatch.setattr(listing.dt, "datetime", _AheadClock)
    # `cim case list --overdue`
    assert c["code"] not in [r["code"] for r in listing.list_cases(conn, overdue=True)]
    assert listing.count_cases(conn, overdue=True) == 0
    out = dispatch.flag_overdue(conn)
    assert out["overdue"] == 0 and out["flagged"] == 0, out
    assert c["code"] not in [r["code"] for r in dispatch.overdue(conn)]
    flags = conn.execute("SELECT flags FROM cases WHERE code = %s", (c["code"],)).fetchone()[0]
    assert "overdue" not in flags

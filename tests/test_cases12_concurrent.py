"""An action given no time happens when it is made — once it holds the case's row — not when
its transaction began: a request whose transaction began (its token checked, its body still
arriving) before another person's action on the case committed was refused as "before its
last event", though its person typed no time at all."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import psycopg

from layers.cases import store, workflow
from layers.cases.auth import User
from tests.cases_fixture import case_fixtures

sdb, conn = case_fixtures("cases12_conc")


def test_an_action_without_a_time_is_timed_when_it_is_made(sdb):
    s = uuid.uuid4().hex[:6]
    acc, disp = User(f"acc-{s}", "受理员"), User(f"disp-{s}", "派遣员")
    t0 = dt.datetime(2001, 3, 1, 8, tzinfo=dt.UTC)
    with psycopg.connect(sdb.conninfo) as c:
        code = store.open_case(c, source="巡查上报", category_code="0501", actor="insp",
                               role="监督员", grid_code=sdb.cell, reported_at=t0)["code"]
        workflow.act(c, code, "register", acc, at=t0 + dt.timedelta(minutes=30))
    with psycopg.connect(sdb.conninfo) as late, psycopg.connect(sdb.conninfo) as first:
        began = late.execute("SELECT now()").fetchone()[0]  # its transaction has begun
        time.sleep(0.05)
        workflow.act(first, code, "dispatch", disp)  # another dispatcher, a moment later
        first.commit()
        # the first dispatcher returns it: the case is in 派遣 now, so a return is allowed
        out = workflow.act(late, code, "return", disp, note="不是本单位")
        late.commit()
    assert out["state"] == "立案"
    dispatched, returned = (e["at"] for e in out["events"][-2:])
    assert [e["action"] for e in out["events"][-2:]] == ["dispatch", "return"]
    assert began < dispatched <= returned

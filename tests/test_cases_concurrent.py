"""Two people acting on one case at the same moment (layers.cases.workflow.act locks the case
row): the second action waits for the first, then is judged against the case as the first
left it — its state and its last event's time."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import psycopg
import pytest

from cim.errors import InputError
from layers.cases import store, workflow
from layers.cases.auth import User
from tests.conftest import scratch_db

UTC = dt.UTC


@pytest.fixture(scope="module")
def sdb(jining_profile):
    with scratch_db("cases_conc", jining_profile) as d:
        yield d


def _cell(conn) -> str:
    return conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL").fetchone()[0]


def test_an_action_waiting_on_another_is_checked_against_its_event(sdb):
    """T1 dispatches at 10:00 and commits while T2, waiting on the row, returns the case at
    09:00. The return is before the dispatch's event: refused (the audit trail would read
    return 派遣 → 立案 at 09:00, then dispatch 立案 → 派遣 at 10:00, with the case in 立案)."""
    s = uuid.uuid4().hex[:6]
    acc, disp = User(f"acc-{s}", "受理员"), User(f"disp-{s}", "派遣员")
    t0 = dt.datetime(2001, 3, 1, 8, tzinfo=UTC)
    with psycopg.connect(sdb.conninfo) as c:
        code = store.open_case(c, source="巡查上报", category_code="0501", actor="insp",
                               role="监督员", grid_code=_cell(c), reported_at=t0)["code"]
        workflow.act(c, code, "register", acc, at=t0 + dt.timedelta(minutes=30))
    errors: list[Exception] = []
    with psycopg.connect(sdb.conninfo) as c1, psycopg.connect(sdb.conninfo) as c2:
        workflow.act(c1, code, "dispatch", disp, at=t0 + dt.timedelta(hours=2))

        def second() -> None:
            try:
                workflow.act(c2, code, "return", disp, note="不是本单位",
                             at=t0 + dt.timedelta(hours=1))
                c2.commit()
            except InputError as exc:
                errors.append(exc)
                c2.rollback()

        th = threading.Thread(target=second)
        th.start()
        # T2 is waiting on the row lock T1 holds
        for _ in range(100):
            waiting = c1.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND "
                                 "wait_event_type = 'Lock'", (c2.info.backend_pid,)
                                 ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the second action did not wait on the case's row"
        c1.commit()
        th.join(30)
    assert len(errors) == 1 and "before its last event" in str(errors[0])
    with psycopg.connect(sdb.conninfo) as c:
        case = store.get_case(c, code, events=True)
    assert case["state"] == "派遣"
    assert [e["action"] for e in case["events"]] == ["report", "register", "dispatch"]

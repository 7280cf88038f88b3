"""The times of a case: none after the platform's clock (one would lock the case), and a
time typed without an offset is the city's (Asia/Shanghai for the sample profile), not UTC."""

from __future__ import annotations

import datetime as dt
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
    with scratch_db("cases_times", jining_profile) as d:
        yield d


@pytest.fixture()
def conn(sdb):
    with psycopg.connect(sdb.conninfo) as c:
        yield c
        c.rollback()


def _cell(conn) -> str:
    return conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL").fetchone()[0]


def _people() -> dict[str, User]:
    s = uuid.uuid4().hex[:6]
    return {"受理员": User(f"acc-{s}", "受理员"), "派遣员": User(f"disp-{s}", "派遣员")}


def test_a_report_time_after_now_is_refused(conn):
    """Reported 8 h ahead (Beijing time typed as UTC), the case could not be registered until
    then: refused when reported, naming the time."""
    ahead = dt.datetime.now(UTC) + dt.timedelta(hours=8)
    with pytest.raises(InputError, match="after now") as exc:
        store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                        role="监督员", grid_code=_cell(conn), reported_at=ahead)
    assert exc.value.field == "at"


def test_an_action_time_after_now_is_refused(conn):
    p = _people()
    c = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                        role="监督员", grid_code=_cell(conn))
    with pytest.raises(InputError, match="after now") as exc:
        workflow.act(conn, c["code"], "register", p["受理员"],
                     at=dt.datetime.now(UTC) + dt.timedelta(days=30))
    assert exc.value.field == "at"
    # nothing written: the case can be registered now and dispatched after
    workflow.act(conn, c["code"], "register", p["受理员"])
    assert workflow.act(conn, c["code"], "dispatch", p["派遣员"])["state"] == "派遣"

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
from tests.cases_fixture import case_fixtures

UTC = dt.UTC


sdb, conn = case_fixtures("cases_times")


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


BJ = dt.timezone(dt.timedelta(hours=8))


def _june_cases(conn) -> tuple[str, str]:
    """Two cases of one new grid-less period (2002): A reported 1 June 03:00 Beijing
    (31 May 19:00 UTC: June for the city, May in UTC) and B reported 1 July 02:00 Beijing
    (30 June 18:00 UTC: July for the city, June in UTC)."""
    g = _cell(conn)
    a = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                        role="监督员", grid_code=g,
                        reported_at=dt.datetime(2002, 6, 1, 3, tzinfo=BJ))["code"]
    b = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                        role="监督员", grid_code=g,
                        reported_at=dt.datetime(2002, 7, 1, 2, tzinfo=BJ))["code"]
    return a, b


def test_an_evaluation_period_without_offset_is_the_citys(conn):
    from layers.cases import evaluate

    _june_cases(conn)
    june = evaluate.evaluate(conn, dt.datetime(2002, 6, 1), dt.datetime(2002, 7, 1))
    # by construction: A is the only case of June on Beijing's clock (in UTC it would be B)
    assert june["total"]["reported"] == 1
    assert june["from"] == "2002-06-01T00:00:00+08:00" and june["to"] == "2002-07-01T00:00:00+08:00"
    assert june["timezone"] == "Asia/Shanghai"
    # an explicit offset is kept as given: UTC's June holds B only
    utc_june = evaluate.evaluate(conn, dt.datetime(2002, 6, 1, tzinfo=UTC),
                                 dt.datetime(2002, 7, 1, tzinfo=UTC))
    assert utc_june["total"]["reported"] == 1
    both = evaluate.evaluate(conn, dt.datetime(2002, 5, 31, 18, tzinfo=UTC),
                             dt.datetime(2002, 7, 1, tzinfo=UTC))
    assert both["total"]["reported"] == 2


def test_the_report_shows_deadlines_on_the_citys_clock(conn):
    """An overdue case registered 2 March 2001 09:00 Beijing (01:00 UTC), 0501 (4 h): its
    deadline reads 13:00 +08:00 in the report, not 05:00 UTC."""
    from layers.cases import evaluate
    from layers.cases.report import render_html

    p = _people()
    c = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                        role="监督员", grid_code=_cell(conn),
                        reported_at=dt.datetime(2001, 3, 2, 8, tzinfo=BJ))
    workflow.act(conn, c["code"], "register", p["受理员"],
                 at=dt.datetime(2001, 3, 2, 9, tzinfo=BJ))
    f, t = dt.datetime(2001, 3, 1), dt.datetime(2001, 4, 1)
    page = render_html(*(evaluate.evaluate(conn, f, t, by) for by in (None, "grid", "unit")))
    assert c["code"] in page and "2001-03-02 13:00+08:00" in page
    assert "2001-03-01T00:00:00+08:00" in page


def test_cli_times_without_offset_are_the_citys(sdb):
    """`cim case register --at 2003-06-01T09:00` is 09:00 in Jining (01:00 UTC), and
    `cim case evaluate --from 2003-06-01 --to 2003-06-02` is that day in Jining."""
    import json

    from layers.cases.auth import add_user
    from tests.conftest import run_cli

    s = uuid.uuid4().hex[:6]
    with psycopg.connect(sdb.conninfo) as conn:
        add_user(conn, f"acc-cli-{s}", "受理员")
        code = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                               role="监督员", grid_code=_cell(conn),
                               reported_at=dt.datetime(2003, 6, 1, 0, 30, tzinfo=BJ))["code"]
    run_cli(["case", "register", code, "--user", f"acc-cli-{s}", "--at", "2003-06-01T09:00"],
            sdb.env(), check=True)
    with psycopg.connect(sdb.conninfo) as conn:
        case = store.get_case(conn, code)
    assert case["registered_at"] == dt.datetime(2003, 6, 1, 1, tzinfo=UTC)
    assert case["deadline"] == dt.datetime(2003, 6, 1, 5, tzinfo=UTC)  # 0501: 4 h
    out = json.loads(run_cli(["case", "evaluate", "--from", "2003-06-01", "--to", "2003-06-02",
                              "--json"], sdb.env(), check=True).stdout)
    assert out["total"]["reported"] == 1 and out["total"]["registered"] == 1


def test_http_evaluation_period_without_offset_is_the_citys(jining_profile, tmp_path):
    """GET /cases/evaluation?from=2002-06-01&to=2002-07-01 on the app: June in the city."""
    import requests

    from tests.conftest import make_db, scratch_api

    d = make_db("cases_times_api", jining_profile)
    with psycopg.connect(d.conninfo) as conn:
        _june_cases(conn)
    with scratch_api(d, tmp_path) as base:
        r = requests.get(f"{base}/cases/evaluation",
                         params={"from": "2002-06-01", "to": "2002-07-01"}, timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"]["reported"] == 1
        assert body["from"] == "2002-06-01T00:00:00+08:00"


def test_http_evaluation_period_is_on_the_served_citys_clock(tmp_path):
    """The app reads a period without offset on its own city's clock, not China's: a city at
    +05:30 (Asia/Kolkata) gets its June from 2002-06-01T00:00+05:30."""
    import requests
    import yaml

    from cim.profile import load_profile
    from tests.conftest import SAMPLES, make_db, scratch_api

    raw = yaml.safe_load((SAMPLES / "profile.yaml").read_text(encoding="utf-8"))
    raw["boundaries"] = str(SAMPLES / raw["boundaries"])
    raw["grid"] = str(SAMPLES / raw["grid"])
    raw["timezone"] = "Asia/Kolkata"
    f = tmp_path / "profile.yaml"
    f.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    d = make_db("cases_times_zone", load_profile(f))
    home = tmp_path / "serve"
    home.mkdir()
    with scratch_api(d, home) as base:
        r = requests.get(f"{base}/cases/evaluation",
                         params={"from": "2002-06-01", "to": "2002-07-01"}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["from"] == "2002-06-01T00:00:00+05:30"

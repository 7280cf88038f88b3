"""What a 运管服 operator types, as they type it: a report whose JSON holds half a character
(a lone surrogate, ``"\\udce9"``) or a coordinate written out past a float (both were a 500),
a blank category or one pasted with a space, ``--point nan,nan`` on the command line (read as
floats, placed nowhere), a case lying in a district but in no grid cell (``grid None`` in the
text output) and the HTML report's moment deadlines are judged at (the database's UTC with
microseconds, where every other time of the page is on the city's clock)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import psycopg
import pytest
import requests

from layers.cases import evaluate
from layers.cases.auth import add_user
from layers.cases.report import render_html
from tests.conftest import run_cli, scratch_db, start_api

CHINA = dt.timezone(dt.timedelta(hours=8))  # Jining's clock, no daylight saving since 1991


@pytest.fixture(scope="module")
def sdb(jining_profile):
    with scratch_db("cases_ops", jining_profile) as d:
        yield d


@pytest.fixture(scope="module")
def api(sdb, tmp_path_factory):
    proc, base = start_api(sdb.url, sdb.profile, tmp_path_factory.mktemp("serve_ops"))
    yield base
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def insp(sdb) -> tuple[str, str]:
    name = f"ops-insp-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(sdb.conninfo) as conn:
        return name, add_user(conn, name, "监督员")


def _post(api: str, token: str, body: bytes | dict) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if isinstance(body, bytes):
        return requests.post(f"{api}/cases", data=body, timeout=30,
                             headers={**headers, "Content-Type": "application/json"})
    return requests.post(f"{api}/cases", json=body, headers=headers, timeout=30)


def test_half_a_character_and_an_endless_number_are_400s(api, sdb, insp):
    cases = sdb.scalar("SELECT count(*) FROM cases")
    raw = ('{"source": "巡查上报", "category": "0501", "grid": "' + sdb.cell + '", '
           '"description": "垃圾\\udce9堆"}').encode("utf-8")
    r = _post(api, insp[1], raw)
    assert r.status_code == 400, r.text
    text = r.json()["description"]
    assert "'description'" in text and "surrogate" in text and "character 3" in text
    # 1 followed by 400 zeros: a JSON integer, no float can hold it
    raw = ('{"source": "巡查上报", "category": "0501", "point": [1' + "0" * 400
           + ', 3900000]}').encode("utf-8")
    r = _post(api, insp[1], raw)
    assert r.status_code == 400 and "point" in r.json()["description"], r.text
    assert sdb.scalar("SELECT count(*) FROM cases") == cases


def test_blank_category_is_named_and_a_pasted_space_is_no_category(api, sdb, insp):
    r = _post(api, insp[1], {"source": "巡查上报", "category": "  ", "grid": sdb.cell})
    assert r.status_code == 400 and "a case needs a category" in r.json()["description"]
    assert "0501 暴露垃圾" in r.json()["description"]  # the codes to choose from
    r = _post(api, insp[1], {"source": "巡查上报", "category": " 0501 ", "grid": sdb.cell})
    assert r.status_code == 201, r.text
    assert (r.json()["category_code"], r.json()["category_name"]) == ("0501", "暴露垃圾")


def test_a_blank_crs_is_none_given(api, sdb, insp):
    x, y = sdb.x0 + 10, sdb.y0 + 10  # inside the big cell, in the storage CRS
    r = _post(api, insp[1], {"source": "巡查上报", "category": "0501", "point": [x, y],
                             "crs": " "})
    assert r.status_code == 201 and r.json()["grid_code"] == sdb.cell, r.text


def test_cli_point_nan_is_refused_as_not_finite(sdb, insp):
    p = run_cli(["case", "report-problem", "--source", "巡查上报", "--category", "0501",
                 "--point", "nan,nan", "--user", insp[0]], sdb.env())
    assert p.returncode == 3 and "finite" in p.stderr and "Traceback" not in p.stderr


def test_a_case_in_no_grid_cell_shows_a_dash(sdb, insp):
    """A city's grid need not cover its districts (unit grid cells of the built-up area): a
    case placed in a district and in no cell has no grid code."""
    with psycopg.connect(sdb.conninfo) as conn:
        code, x, y = conn.execute(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            "FROM grid_cells WHERE valid_to IS NULL AND code <> %s ORDER BY code LIMIT 1",
            (sdb.cell,)).fetchone()
        conn.execute("UPDATE grid_cells SET valid_to = now() WHERE code = %s", (code,))
    out = json.loads(run_cli(["case", "report-problem", "--source", "巡查上报", "--category",
                              "0501", "--point", f"{x},{y}", "--user", insp[0], "--json"],
                             sdb.env(), check=True).stdout)
    assert out["grid_code"] is None and out["district_code"] == code[:6]
    shown = run_cli(["case", "show", out["code"]], sdb.env(), check=True).stdout
    listed = run_cli(["case", "list", "--state", "上报"], sdb.env(), check=True).stdout
    assert "grid -" in shown and "None" not in shown
    line = next(x for x in listed.splitlines() if x.startswith(out["code"]))
    assert "grid -" in line and "None" not in line


def test_report_judges_deadlines_at_a_time_on_the_city_clock(sdb):
    with psycopg.connect(sdb.conninfo) as conn:
        conn.execute("SET TIME ZONE 'UTC'")  # the server's clock as a cluster keeps it
        now = conn.execute("SELECT now()").fetchone()[0]
        # a period still running (as_of is now) whose start is typed in UTC
        start = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
        end = now + dt.timedelta(days=30)
        page = render_html(*(evaluate.evaluate(conn, start, end, by, timezone="Asia/Shanghai")
                             for by in (None, "grid", "unit")))
    judged = re.search(r"期限判定时点 ([^<（]+)</p>", page).group(1)
    assert judged == now.astimezone(CHINA).isoformat(timespec="seconds")
    assert "统计期 2001-01-01T08:00:00+08:00 至 " in page


def test_report_into_a_missing_folder_is_an_input_error(sdb, tmp_path):
    """README: exit 1 is a bug of the platform; an --out in a folder that does not exist was
    one (FileNotFoundError, an internal error and a crash log)."""
    out = tmp_path / "missing" / "r.html"
    p = run_cli(["case", "report", "--from", "2026-06-01", "--to", "2026-07-01", "--out",
                 str(out)], sdb.env())
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 3 and len(lines) == 1, p.stderr
    assert lines[0].startswith("error: ") and "--out" in lines[0] and str(out) in lines[0]
    assert not out.exists()

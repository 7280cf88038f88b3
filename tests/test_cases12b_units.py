"""Dispatch to a unit the platform does not know: a typo such as 环卫外 (for 环卫处) was
accepted, and the case sat with a unit no 处置单位 user belongs to and no category proposes —
no one could act for it. A unit a 派遣员 names is one of the units the platform knows: a
unit of an active 处置单位 user (ops_users), a category's default unit (the city's
case_categories.csv), or the case's own proposal or current unit; any other is a 400 (HTTP)
or an error (CLI) naming ``unit`` and the known units, and the case stays as it was.

Known by construction: 0501 暴露垃圾 proposes 环卫处 (case_categories.csv); 园林绿化处 is
0401's default unit; 城东环卫所 is the unit of the 处置单位 user this test adds.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
import requests

from layers.cases.auth import add_user
from tests.conftest import make_db, run_cli, scratch_api

TYPO = "环卫外"
USER_UNIT = "城东环卫所"


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("cases12b_units", jining_profile)
    s = uuid.uuid4().hex[:6]
    d.names = {r: f"c12bu-{r}-{s}" for r in ("监督员", "受理员", "派遣员")}
    with psycopg.connect(d.conninfo) as conn:
        d.tokens = {r: add_user(conn, n, r) for r, n in d.names.items()}
        add_user(conn, f"c12bu-unit-{s}", "处置单位", USER_UNIT)
        d.cell = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                              ).fetchone()[0]
    with scratch_api(d, tmp_path_factory.mktemp("c12bu")) as base:
        yield d, base


def _post(base, token, path, body):
    return requests.post(base + path, json=body, timeout=60,
                         headers={"Authorization": f"Bearer {token}"})


def _registered(d, base) -> str:
    r = _post(base, d.tokens["监督员"], "/cases",
              {"source": "巡查上报", "category": "0501", "grid": d.cell})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = _post(base, d.tokens["受理员"], f"/cases/{code}/actions/register", {})
    assert r.status_code == 200, r.text
    return code


def _state(d, code) -> tuple:
    return d.rows("SELECT state, unit FROM cases WHERE code = %s AND valid_to IS NULL",
                  (code,))[0]


def test_http_dispatch_to_an_unknown_unit_is_400(served):
    d, base = served
    code = _registered(d, base)
    before = _state(d, code)
    r = _post(base, d.tokens["派遣员"], f"/cases/{code}/actions/dispatch", {"unit": TYPO})
    assert r.status_code == 400, r.text
    text = r.json()["description"]
    assert "'unit'" in text and TYPO in text, text
    assert "环卫处" in text and USER_UNIT in text and "园林绿化处" in text, text
    assert _state(d, code) == before
    for unit in (USER_UNIT, "园林绿化处", "环卫处"):
        code = _registered(d, base)
        r = _post(base, d.tokens["派遣员"], f"/cases/{code}/actions/dispatch", {"unit": unit})
        assert r.status_code == 200, (unit, r.text)
        assert r.json()["unit"] == unit


def test_cli_dispatch_to_an_unknown_unit_is_refused(served):
    d, base = served
    code = _registered(d, base)
    before = _state(d, code)
    p = run_cli(["case", "dispatch", code, "--unit", TYPO, "--user", d.names["派遣员"]],
                d.env())
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    assert "'--unit'" in p.stderr and TYPO in p.stderr and USER_UNIT in p.stderr, p.stderr
    assert _state(d, code) == before
    p = run_cli(["case", "dispatch", code, "--user", d.names["派遣员"]], d.env())
    assert p.returncode == 0, p.stderr
    assert _state(d, code) == ("派遣", "环卫处")

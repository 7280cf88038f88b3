"""A city's own case dictionaries — its profile's copies of case_categories.csv,
case_workflow.yaml and layers.csv (``dictionaries:``, as for every other dictionary) — are the
ones the case loop follows, on the command line and over HTTP. The loop read the platform's
files at every call: a category the city had added was refused ("unknown case category"),
its own loop ignored (a source of its own, 领导交办, refused by a list in the code), and its
cases coded with the platform's layer code while ``cim code explain`` decoded them with the
city's."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import psycopg
import pytest
import requests
import yaml

from cim.profile import DICTIONARY_DIR, load_profile
from layers.cases.auth import add_user
from tests.conftest import run_cli, scratch_db, start_api

# the city's own category (known by construction: the row this test writes), its own major
# class, and its own code for the cases layer
CITY_CATEGORY = "1001"
CITY_ROW = "1001,事件,10,共享交通,共享单车乱停放,2,城市单车办,,城市新增类别"
LIMIT = dt.timedelta(hours=2)
CITY_UNIT = "城市单车办"
CITY_LAYER_CODE = "95"
# the city's own actions: hold a dispatched case (挂账) and take it up again
HOLD = """  hold:
    name: 挂账
    transitions:
      - {from: [派遣], to: 挂账, roles: [派遣员]}
    fields: {note: {required: true}}
  resume:
    name: 恢复
    transitions:
      - {from: [挂账], to: 派遣, roles: [派遣员]}
    fields: {note: {}}
"""


@pytest.fixture(scope="module")
def city(tmp_path_factory, jining_profile):
    """The Jining profile with its own case categories (one more, 2 h), loop (the 核查员 may
    close too; the 受理员 files cases a leader assigns, 领导交办; the 派遣员 may hold a
    dispatched case, 挂账, and take it up again) and layers dictionary (cases coded 95)."""
    d = tmp_path_factory.mktemp("city")
    cats = (DICTIONARY_DIR / "case_categories.csv").read_text(encoding="utf-8")
    (d / "case_categories.csv").write_text(cats.rstrip("\n") + "\n" + CITY_ROW + "\n",
                                           encoding="utf-8")
    wf = (DICTIONARY_DIR / "case_workflow.yaml").read_text(encoding="utf-8")
    close = "- {from: [核查], to: 结案, roles: [受理员]}"
    hotline = "\n  市民热线: [受理员]\n"
    assert wf.count(close) == 1 and wf.count(hotline) == 1
    (d / "case_workflow.yaml").write_text(
        wf.replace(close, "- {from: [核查], to: 结案, roles: [受理员, 核查员]}")
        .replace(hotline, hotline + "  领导交办: [受理员]\n")
        .replace("states: [上报, 立案, 派遣, 处置, 核查, 结案, 作废]",
                 "states: [上报, 立案, 派遣, 处置, 核查, 结案, 作废, 挂账]")
        .replace("\nactions:\n", "\nactions:\n" + HOLD), encoding="utf-8")
    layers = (DICTIONARY_DIR / "layers.csv").read_text(encoding="utf-8")
    assert layers.count("\n93,cases,") == 1
    (d / "layers.csv").write_text(layers.replace("\n93,cases,", f"\n{CITY_LAYER_CODE},cases,"),
                                  encoding="utf-8")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):  # relative to the sample profile's folder
        raw[key] = str((jining_profile.path.parent / raw[key]).resolve())
    raw["dictionaries"] = {"case_categories": "case_categories.csv",
                           "case_workflow": "case_workflow.yaml", "layers": "layers.csv"}
    (d / "profile.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_profile(d / "profile.yaml")


@pytest.fixture(scope="module")
def sdb(city):
    with scratch_db("cases_city", city) as d:
        yield d


@pytest.fixture(scope="module")
def people(sdb) -> dict[str, tuple[str, str]]:
    """One user per role: name and token."""
    s = uuid.uuid4().hex[:6]
    out = {}
    with psycopg.connect(sdb.conninfo) as conn:
        for role in ("监督员", "受理员", "派遣员", "核查员"):
            name = f"city-{role}-{s}"
            out[role] = (name, add_user(conn, name, role))
        name = f"city-unit-{s}"
        out["处置单位"] = (name, add_user(conn, name, "处置单位", CITY_UNIT))
    return out


def _cli(sdb, *args: str) -> dict:
    return json.loads(run_cli(["case", *args, "--json"], sdb.env(), check=True).stdout)


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_city_category_loop_and_layer_code_on_the_command_line(sdb, people):
    env = sdb.env()
    case = _cli(sdb, "report-problem", "--source", "巡查上报", "--category", CITY_CATEGORY,
                "--grid", sdb.cell, "--description", "小区门口共享单车堆成一片",
                "--user", people["监督员"][0])
    code = case["code"]
    assert (case["category_name"], case["kind"], case["unit"]) == ("共享单车乱停放", "事件",
                                                                     CITY_UNIT)
    assert code[6:8] == CITY_LAYER_CODE and code[8:10] == "10"
    explained = json.loads(run_cli(["code", "explain", code, "--json"], env,
                                   check=True).stdout)
    assert explained["layer"] == "cases" and explained["class_name"] == "共享交通"
    reg = _cli(sdb, "register", code, "--user", people["受理员"][0])
    assert _t(reg["deadline"]) - _t(reg["registered_at"]) == LIMIT
    listed = _cli(sdb, "list", "--category", CITY_CATEGORY)
    assert [r["code"] for r in listed] == [code]
    _cli(sdb, "dispatch", code, "--user", people["派遣员"][0])
    held = _cli(sdb, "act", code, "hold", "--note", "待道路施工结束", "--user",
                people["派遣员"][0])
    assert held["state"] == "挂账" and held["events"][-1]["action"] == "hold"
    assert _cli(sdb, "act", code, "resume", "--user", people["派遣员"][0])["state"] == "派遣"
    _cli(sdb, "handle", code, "--note", "已清理", "--user", people["处置单位"][0])
    _cli(sdb, "verify", code, "--result", "pass", "--user", people["核查员"][0])
    # the city's loop: its 核查员 closes (the platform's only lets the 受理员)
    assert _cli(sdb, "close", code, "--user", people["核查员"][0])["state"] == "结案"
    # a source of the city's own
    assigned = _cli(sdb, "report-problem", "--source", "领导交办", "--category", "0501",
                    "--grid", sdb.cell, "--user", people["受理员"][0])
    assert assigned["source"] == "领导交办" and assigned["state"] == "上报"


@pytest.fixture(scope="module")
def api(sdb, tmp_path_factory):
    proc, base = start_api(sdb.url, sdb.profile, tmp_path_factory.mktemp("serve_city"))
    yield base
    proc.terminate()
    proc.wait(10)


def test_city_category_and_loop_over_http(api, sdb, people):
    def post(path: str, who: str, **body) -> requests.Response:
        return requests.post(f"{api}{path}", json=body, timeout=30,
                             headers={"Authorization": f"Bearer {people[who][1]}"})

    r = post("/cases", "监督员", source="巡查上报", category=CITY_CATEGORY, grid=sdb.cell,
             description="人行道上共享单车倒了一排")
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert r.json()["category_name"] == "共享单车乱停放" and code[6:8] == CITY_LAYER_CODE
    r = post(f"/cases/{code}/actions/register", "受理员")
    assert r.status_code == 200, r.text
    assert _t(r.json()["deadline"]) - _t(r.json()["registered_at"]) == LIMIT
    r = requests.get(f"{api}/cases", params={"category": CITY_CATEGORY}, timeout=30)
    assert r.status_code == 200, r.text
    assert code in [c["code"] for c in r.json()["cases"]]
    for action, who, body in (("dispatch", "派遣员", {}), ("handle", "处置单位", {"note": "已扶正"}),
                              ("verify", "核查员", {"result": "pass"}), ("close", "核查员", {})):
        r = post(f"/cases/{code}/actions/{action}", who, **body)
        assert r.status_code == 200, (action, r.text)
    assert r.json()["state"] == "结案"
    r = post("/cases", "受理员", source="领导交办", category="0501", grid=sdb.cell)
    assert r.status_code == 201 and r.json()["source"] == "领导交办", r.text

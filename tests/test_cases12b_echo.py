"""A huge value refused by the case loop is named in the refusal, not echoed in full: a
megabyte address, grid code, category, source, asset code or contact field came back whole in
the 400 (a megabyte message). The message quotes its first 80 characters and says how long
the value was; a short value is quoted whole, as before.

The lengths are the ones this test sends; nothing is written.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
import requests

from layers.cases.auth import add_user
from tests.conftest import make_db, run_cli, scratch_api

BIG = 1_000_000
URL_BIG = 3_000  # a query or path value within gunicorn's request line
MAX_MESSAGE = 1_500  # a refusal names the field, a value's head and the choices


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("cases12b_echo", jining_profile)
    s = uuid.uuid4().hex[:6]
    with psycopg.connect(d.conninfo) as conn:
        d.tokens = {"insp": add_user(conn, f"c12be-insp-{s}", "监督员"),
                    "acc": add_user(conn, f"c12be-acc-{s}", "受理员")}
        d.cell = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                              ).fetchone()[0]
    with scratch_api(d, tmp_path_factory.mktemp("c12be")) as base:
        yield d, base


def _short_naming(r: requests.Response, field: str, n: int, status: int = 400) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    text = r.json()["description"]
    assert len(text) < MAX_MESSAGE, (len(text), text[:300])
    assert f"({n} characters)" in text, text[:400]
    assert status == 404 or f"'{field}'" in text, text[:400]  # a 404 names what is missing
    return text


def _report(base, token, body):
    return requests.post(base + "/cases", json=body, timeout=120,
                         headers={"Authorization": f"Bearer {token}"})


def test_a_huge_report_value_is_not_echoed(served):
    d, base = served
    before = d.scalar("SELECT count(*) FROM cases")
    text = _short_naming(_report(base, d.tokens["acc"], {
        "source": "市民热线", "category": "0501", "address": "某" * BIG}), "address", BIG)
    assert "某" * 80 in text and "某" * 81 not in text
    base_report = {"source": "巡查上报", "category": "0501", "grid": d.cell}
    for field, value in (("grid", "3" * BIG), ("category", "9" * BIG),
                         ("asset", "A" * BIG), ("source", "巡" * BIG)):
        key = field
        _short_naming(_report(base, d.tokens["insp"], {**base_report, key: value}),
                      field, BIG)
    _short_naming(_report(base, d.tokens["insp"], {**base_report,
                                                   "contact": {"k" * BIG: "x"}}),
                  "contact", BIG)
    r = _report(base, d.tokens["insp"], {**base_report, "z" * BIG: 1})
    assert r.status_code == 400 and len(r.json()["description"]) < MAX_MESSAGE, r.text[:300]
    assert f"({BIG} characters)" in r.json()["description"]
    assert d.scalar("SELECT count(*) FROM cases") == before
    # a short value is quoted whole
    r = _report(base, d.tokens["insp"], {**base_report, "grid": "370811999"})
    assert r.status_code == 400 and "'370811999'" in r.json()["description"], r.text


def test_a_huge_list_filter_or_path_is_not_echoed(served):
    d, base = served
    for field in ("grid", "state", "district", "category", "after"):
        r = requests.get(base + "/cases", params={field: "7" * URL_BIG}, timeout=60)
        _short_naming(r, field, URL_BIG)
    r = requests.get(base + "/cases/" + "7" * URL_BIG, timeout=60)
    _short_naming(r, "code", URL_BIG, 404)
    # an action of a case: the action's name, then the case code
    head = {"Authorization": f"Bearer {d.tokens['acc']}"}
    r = requests.post(base + "/cases/370811930500000001/actions/" + "x" * URL_BIG,
                      headers=head, timeout=60)
    _short_naming(r, "action", URL_BIG)
    r = requests.post(base + "/cases/" + "7" * URL_BIG + "/actions/register", headers=head,
                      timeout=60)
    _short_naming(r, "code", URL_BIG, 404)


def test_cli_refusal_is_short(served):
    d, _ = served
    n = 100_000
    p = run_cli(["case", "list", "--grid", "5" * n], d.env())
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert len(p.stderr) < MAX_MESSAGE and f"({n} characters)" in p.stderr, p.stderr[:300]

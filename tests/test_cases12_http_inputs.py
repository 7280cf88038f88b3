"""Bad input to the case API, as a client may send it, answered 400 naming the field and
leaving the database as it was: a body nested too deep to read (a 500, "internal error"), a
report's contact naming another user as the one who reported it (stored as given: the case
credited someone who never reported it), an unknown CRS of the point or a point its CRS
cannot hold (a 400 naming no field)."""

from __future__ import annotations

import base64
import hashlib

import psycopg
import pytest
import requests

from layers.cases.auth import add_user
from tests.conftest import make_db, run_cli, scratch_api


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("cases12_http", jining_profile)
    with psycopg.connect(d.conninfo) as conn:
        d.tokens = {"insp": add_user(conn, "c12h-insp", "监督员"),
                    "acc": add_user(conn, "c12h-acc", "受理员")}
        d.cell = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                              ).fetchone()[0]
    with scratch_api(d, tmp_path_factory.mktemp("c12h")) as base:
        yield d, base


def _post(base: str, token: str, *, raw: str | None = None, body: dict | None = None,
          path: str = "/cases") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if raw is not None:
        return requests.post(base + path, data=raw.encode(), headers=headers, timeout=60)
    return requests.post(base + path, json=body, headers=headers, timeout=60)


def _cases(d) -> int:
    return d.scalar("SELECT count(*) FROM cases")


def test_a_body_nested_too_deep_is_400(served):
    d, base = served
    before = _cases(d)
    head = f'{{"source": "巡查上报", "category": "0501", "grid": "{d.cell}", "contact": '
    r = _post(base, d.tokens["insp"], raw=head + "[" * 100_000 + "]" * 100_000 + "}")
    assert r.status_code == 400 and "'body'" in r.json()["description"], r.text[:200]
    # about json's own limit (~1000 in a fresh thread, less deep in a served one): read or
    # not, each an answer naming a field, none a 500
    for depth in range(900, 1001, 4):
        r = _post(base, d.tokens["insp"], raw=head + "[" * depth + "]" * depth + "}")
        assert r.status_code == 400, (depth, r.status_code, r.text[:200])
        assert "field '" in r.json()["description"]
    r = _post(base, d.tokens["acc"], raw="[" * 100_000 + "]" * 100_000,
              path="/cases/370811930500000001/actions/register")
    assert r.status_code == 400 and "'body'" in r.json()["description"], r.text[:200]
    assert _cases(d) == before


def test_a_report_names_no_other_reporting_user(served):
    d, base = served
    before = _cases(d)
    body = {"source": "巡查上报", "category": "0501", "grid": d.cell,
            "contact": {"reporter_name": "李巡查", "reporter_user": "c12h-acc"}}
    r = _post(base, d.tokens["insp"], body=body)
    assert r.status_code == 400, r.text
    assert "'contact.reporter_user'" in r.json()["description"]
    assert _cases(d) == before
    # naming oneself is what the platform records anyway
    body["contact"]["reporter_user"] = "c12h-insp"
    r = _post(base, d.tokens["insp"], body=body)
    assert r.status_code == 201, r.text
    assert d.scalar("SELECT reporter_user FROM case_contacts k JOIN cases c ON c.id = "
                    "k.case_id WHERE c.code = %s", (r.json()["code"],)) == "c12h-insp"


def test_an_unknown_crs_names_its_field(served):
    d, base = served
    before = _cases(d)
    r = _post(base, d.tokens["insp"], body={"source": "巡查上报", "category": "0501",
                                            "point": [116.6, 35.4], "crs": "EPSG:999999"})
    assert r.status_code == 400 and "'crs'" in r.json()["description"], r.text
    # a known CRS and a point it cannot hold (latitude 200): the point is wrong, not the CRS
    r = _post(base, d.tokens["insp"], body={"source": "巡查上报", "category": "0501",
                                            "point": [135, 200], "crs": "EPSG:4490"})
    assert r.status_code == 400 and "'point'" in r.json()["description"], r.text
    p = run_cli(["case", "report-problem", "--source", "巡查上报", "--category", "0501",
                 "--point", "116.6,35.4", "--crs", "EPSG:999999", "--user", "c12h-insp"],
                d.env())
    assert p.returncode == 3 and "'--crs'" in p.stderr, p.stderr
    assert _cases(d) == before


def test_a_query_parameter_given_twice_is_400(served):
    """``state=上报&state=立案`` listed the 上报 cases alone, as if the second were not
    there (a filter form sending both, meaning either): refused naming it."""
    d, base = served
    for q, field in (("state=上报&state=立案", "state"), ("limit=1&limit=2", "limit"),
                     ("from=2026-01-01&from=2026-02-01&to=2026-03-01", "from")):
        path = "/cases/evaluation" if field == "from" else "/cases"
        r = requests.get(f"{base}{path}?{q}", timeout=60)
        assert r.status_code == 400, (q, r.status_code, r.text[:200])
        assert f"'{field}'" in r.json()["description"] and "twice" in r.json()["description"]
    assert requests.get(f"{base}/cases?state=上报&limit=2", timeout=60).status_code == 200


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(120))


def test_photo_content_as_clients_send_it(served):
    """A photo's base64 holding a character outside ASCII was a 500 ("internal error"), and
    a name given as a number stored as its text; base64 broken into lines of 76 (MIME, the
    ``base64`` tool) and a browser's data URL (FileReader.readAsDataURL) are the photo's
    bytes as well: taken, stored with the SHA-256 of those bytes."""
    d, base = served
    before = _cases(d)
    body = {"source": "巡查上报", "category": "0501", "grid": d.cell}
    for photo, field in (({"name": "p.png", "content_base64": "图片"}, "photos"),
                         ({"name": 5, "content_base64": base64.b64encode(PNG).decode()},
                          "photos")):
        r = _post(base, d.tokens["insp"], body={**body, "photos": [photo]})
        assert r.status_code == 400, (photo, r.status_code, r.text[:200])
        assert f"'{field}'" in r.json()["description"] and "photos[0]" in r.json()["description"]
    assert _cases(d) == before
    b64 = base64.b64encode(PNG).decode()
    wrapped = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76)) + "\n"
    assert "\n" in wrapped.strip()
    r = _post(base, d.tokens["insp"], body={**body, "photos": [
        {"name": "mime.png", "content_base64": wrapped},
        {"name": "url.png", "content_base64": "data:image/png;base64," + b64}]})
    assert r.status_code == 201, r.text[:300]
    digest = hashlib.sha256(PNG).hexdigest()
    assert [a["sha256"] for a in r.json()["attached"]] == [digest, digest]


def test_a_refused_photo_names_its_place_in_the_body(served):
    """A photo of a type not accepted named the field 'photo', which the body has not: its
    field is photos, the refused one photos[i]. (The CLI's is --photo.)"""
    d, base = served
    before = _cases(d)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    photos = [{"name": "a.png", "content_base64": base64.b64encode(png).decode()},
              {"name": "b.gif", "content_base64": base64.b64encode(b"GIF89a" + bytes(32))
               .decode()}]
    r = _post(base, d.tokens["insp"], body={"source": "巡查上报", "category": "0501",
                                            "grid": d.cell, "photos": photos})
    assert r.status_code == 400 and "field 'photos[1]'" in r.json()["description"], r.text
    assert _cases(d) == before


def test_cli_evaluate_names_its_options(served):
    d, _base = served
    out = run_cli(["case", "evaluate", "--from", "2026-12-02", "--to", "2026-12-01"], d.env())
    assert out.returncode == 3 and "field '--to'" in out.stderr, out.stderr

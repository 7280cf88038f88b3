"""The case loop over HTTP on the platform's app (gunicorn, the read-only role): tokens on
every write (401 without or with a bad one, 403 for a wrong role or another unit), 409 with
the message for an illegal transition, the whole loop, the audit trail, contacts for staff
only, the declared query parameters, and the public OGC API showing no personal data."""

from __future__ import annotations

import base64
import hashlib
import uuid

import psycopg
import pytest
import requests

from layers.cases.auth import add_user

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
PHONE = "13700001234"


@pytest.fixture(scope="module")
def tokens(db) -> dict[str, str]:
    """One user per role (added by the owner, as `cim ops user add` does); the 处置单位 users
    of 环卫处 and of another unit."""
    s = uuid.uuid4().hex[:6]
    with psycopg.connect(db.conninfo) as conn:
        out = {role: add_user(conn, f"api-{role}-{s}", role)
               for role in ("监督员", "受理员", "派遣员", "核查员")}
        out["处置单位"] = add_user(conn, f"api-unit-{s}", "处置单位", "环卫处")
        out["other"] = add_user(conn, f"api-other-{s}", "处置单位", "园林绿化处")
        out["revoked"] = add_user(conn, f"api-gone-{s}", "受理员")
        conn.execute("UPDATE ops_users SET revoked_at = now() WHERE name = %s",
                     (f"api-gone-{s}",))
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def grid(db) -> str:
    return db.scalar("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL")


def report(api, db, tokens, **extra) -> requests.Response:
    body = {"source": "巡查上报", "category": "0501", "grid": grid(db),
            "description": "门口堆了三袋垃圾", "contact": {"reporter_name": "李巡查", "phone": PHONE},
            "photos": [{"name": "p.png", "content_base64": base64.b64encode(PNG).decode()}],
            **extra}
    return requests.post(f"{api}/cases", json=body, headers=bearer(tokens["监督员"]),
                         timeout=30)


def action(api, code, name, token, **body) -> requests.Response:
    return requests.post(f"{api}/cases/{code}/actions/{name}", json=body,
                         headers=bearer(token), timeout=30)


def test_writes_need_a_valid_token(api, db, tokens):
    body = {"source": "巡查上报", "category": "0501", "grid": grid(db)}
    r = requests.post(f"{api}/cases", json=body, timeout=30)
    assert r.status_code == 401 and "Bearer" in r.headers.get("WWW-Authenticate", "")
    for bad in ("not-a-token", tokens["revoked"]):
        r = requests.post(f"{api}/cases", json=body, headers=bearer(bad), timeout=30)
        assert r.status_code == 401, r.text
    r = requests.post(f"{api}/cases", json=body, headers=bearer(tokens["核查员"]), timeout=30)
    assert r.status_code == 403 and "监督员" in r.json()["description"]
    created = report(api, db, tokens)
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    r = requests.post(f"{api}/cases/{code}/actions/register", json={}, timeout=30)
    assert r.status_code == 401
    r = action(api, code, "register", tokens["派遣员"])
    assert r.status_code == 403
    assert db.scalar("SELECT state FROM cases WHERE code = %s AND valid_to IS NULL",
                     (code,)) == "上报"


def test_whole_loop_over_http(api, db, tokens):
    r = report(api, db, tokens)
    assert r.status_code == 201, r.text
    case = r.json()
    code = case["code"]
    assert r.headers["Location"].endswith(f"/cases/{code}")
    assert case["attached"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    # illegal: dispatch a case not registered yet → 409 naming the case, its state, the way on
    r = action(api, code, "dispatch", tokens["派遣员"])
    assert r.status_code == 409
    msg = r.json()["description"]
    assert code in msg and "上报" in msg and "register" in msg
    assert action(api, code, "register", tokens["受理员"]).status_code == 200
    r = action(api, code, "dispatch", tokens["派遣员"])
    assert r.status_code == 200 and r.json()["unit"] == "环卫处"
    r = action(api, code, "handle", tokens["other"], note="x")
    assert r.status_code == 403 and "环卫处" in r.json()["description"]
    r = action(api, code, "handle", tokens["处置单位"])
    assert r.status_code == 400 and "note" in r.json()["description"]
    assert action(api, code, "handle", tokens["处置单位"], note="已清运").status_code == 200
    assert action(api, code, "verify", tokens["核查员"], result="pass").status_code == 200
    r = action(api, code, "close", tokens["受理员"], note="结案")
    assert r.status_code == 200 and r.json()["state"] == "结案"
    r = action(api, code, "fly", tokens["受理员"])
    assert r.status_code == 400
    assert action(api, "370811939999999999", "register", tokens["受理员"]).status_code == 404

    public = requests.get(f"{api}/cases/{code}", timeout=30)
    assert public.status_code == 200
    trail = public.json()["events"]
    assert [e["to_state"] for e in trail] == ["上报", "立案", "派遣", "处置", "核查", "结案"]
    assert [e["role"] for e in trail] == ["监督员", "受理员", "派遣员", "处置单位", "核查员",
                                          "受理员"]
    assert "contact" not in public.json() and PHONE not in public.text
    assert "description" not in public.json() and "三袋垃圾" not in public.text
    staff = requests.get(f"{api}/cases/{code}", headers=bearer(tokens["派遣员"]), timeout=30)
    assert staff.json()["contact"]["phone"] == PHONE
    assert staff.json()["description"] == "门口堆了三袋垃圾"
    listed = requests.get(f"{api}/cases", params={"state": "结案"}, timeout=30)
    assert code in [c["code"] for c in listed.json()["cases"]] and "三袋垃圾" not in listed.text
    assert staff.json()["attachments"][0]["media_type"] == "image/png"
    photo = f"{api}/cases/{code}/attachments/{staff.json()['attachments'][0]['id']}"
    assert requests.get(photo, timeout=30).status_code == 401
    got = requests.get(photo, headers=bearer(tokens["处置单位"]), timeout=30)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert requests.get(f"{photo}9", headers=bearer(tokens["处置单位"]),
                        timeout=30).status_code == 404
    assert requests.get(f"{api}/cases/{code}", headers=bearer("bad"),
                        timeout=30).status_code == 401


def test_return_void_and_list(api, db, tokens):
    code = report(api, db, tokens).json()["code"]
    assert action(api, code, "return", tokens["受理员"], note="x").status_code == 409
    r = action(api, code, "void", tokens["受理员"], note="重复上报")
    assert r.status_code == 200 and r.json()["state"] == "作废"
    r = requests.get(f"{api}/cases", params={"state": "作废", "grid": grid(db)}, timeout=30)
    assert r.status_code == 200 and code in [c["code"] for c in r.json()["cases"]]
    r = requests.get(f"{api}/cases", params={"colour": "red"}, timeout=30)
    assert r.status_code == 400 and "colour" in r.json()["description"]
    r = requests.get(f"{api}/cases", params={"overdue": "maybe"}, timeout=30)
    assert r.status_code == 400
    r = requests.get(f"{api}/cases/{code}", params={"f": "html"}, timeout=30)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/html")
    r = requests.get(f"{api}/cases/{code}", params={"f": "xml"}, timeout=30)
    assert r.status_code == 400 and "f" in r.json()["description"]
    r = requests.post(f"{api}/cases/{code}/actions/register", data=b"\xff{not json",
                      headers={**bearer(tokens["受理员"]), "Content-Type": "application/json"},
                      timeout=30)
    assert r.status_code == 400 and "JSON" in r.json()["description"]
    r = action(api, code, "register", tokens["受理员"], note=42)
    assert r.status_code == 400 and "note" in r.json()["description"]
    r = requests.get(f"{api}/cases/evaluation",
                     params={"from": "2000-01-01", "to": "2100-01-01", "by": "grid"}, timeout=30)
    assert r.status_code == 200 and r.json()["total"]["reported"] >= 1
    r = requests.get(f"{api}/cases/evaluation", params={"from": "x", "to": "y"}, timeout=30)
    assert r.status_code == 400
    r = requests.post(f"{api}/cases", json={"source": "巡查上报", "secret": 1},
                      headers=bearer(tokens["监督员"]), timeout=30)
    assert r.status_code == 400 and "secret" in r.json()["description"]
    r = report(api, db, tokens, contact={"reporter_name": "李", "phone": {"mobile": PHONE}})
    assert r.status_code == 400 and "contact.phone" in r.json()["description"]
    r = report(api, db, tokens, grid=int(grid(db)))
    assert r.status_code == 400 and "'grid'" in r.json()["description"]


def test_hotline_over_http(api, db, tokens):
    name, g = db.rows("SELECT name, code FROM grid_cells WHERE valid_to IS NULL "
                      "ORDER BY code OFFSET 5 LIMIT 1")[0]
    r = requests.post(f"{api}/cases", json={
        "source": "市民热线", "category": "0501", "address": f"{name}路口有垃圾",
        "contact": {"reporter_name": "市民", "phone": PHONE}},
        headers=bearer(tokens["受理员"]), timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["grid_code"] == g
    # the caller's address is staff-only: not in the public case, the collection or a filter
    code = r.json()["code"]
    assert f"{name}路口有垃圾" not in requests.get(f"{api}/cases/{code}", timeout=30).text
    items = requests.get(f"{api}/collections/cases/items",
                         params={"f": "json", "limit": 10000}, timeout=30)
    assert items.status_code == 200 and code in items.text
    assert f"{name}路口有垃圾" not in items.text
    probe = requests.get(f"{api}/collections/cases/items",
                         params={"f": "json", "filter": f"address = '{name}路口有垃圾'"},
                         timeout=30)
    assert probe.status_code == 400
    r = requests.post(f"{api}/cases", json={
        "source": "市民热线", "category": "0501", "address": "不存在的地方"},
        headers=bearer(tokens["受理员"]), timeout=30)
    assert r.status_code == 400 and "address" in r.json()["description"]


def test_public_collections_show_no_personal_data(api, db, tokens):
    assert report(api, db, tokens).status_code == 201
    ids = [c["id"] for c in requests.get(f"{api}/collections", params={"f": "json"},
                                         timeout=30).json()["collections"]]
    for private in ("case_contacts", "case_attachments", "ops_users", "case_events",
                    "reading_sources"):
        assert private not in ids
    assert "cases" in ids  # the published cases layer (layers/cases/layer.py)
    r = requests.get(f"{api}/collections/cases/items", params={"f": "json",
                                                               "limit": 1000}, timeout=30)
    assert r.status_code == 200
    assert PHONE not in r.text and "李巡查" not in r.text
    assert r.json()["features"]  # the loop below has cases to look at
    for f in r.json()["features"]:
        assert not {"phone", "reporter_name", "reporter_user", "contact", "description",
                    "detail"} & set(f["properties"])
    assert "三袋垃圾" not in r.text
    # the OGC API stays read-only
    r = requests.post(f"{api}/collections/cases/items", json={}, timeout=30)
    assert 400 <= r.status_code < 500


def test_point_in_lonlat(api, db, tokens):
    g, lon, lat = db.rows(
        "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_Transform(ST_PointOnSurface(geom), "
        "4490) AS p FROM grid_cells WHERE valid_to IS NULL ORDER BY code OFFSET 7 LIMIT 1) q")[0]
    r = requests.post(f"{api}/cases", json={"source": "巡查上报", "category": "0501",
                                            "point": [lon, lat], "crs": "CRS84"},
                      headers=bearer(tokens["监督员"]), timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["grid_code"] == g
    r = requests.post(f"{api}/cases", json={"source": "巡查上报", "category": "0501",
                                            "point": [lon]}, headers=bearer(tokens["监督员"]),
                      timeout=30)
    assert r.status_code == 400 and "point" in r.json()["description"]
    for bad in ("[NaN, 1]", "[true, 1]", "[1e999, 1]"):  # Python's json reads NaN, 1e999
        body = '{"source": "巡查上报", "category": "0501", "crs": "CRS84", "point": ' + bad + "}"
        r = requests.post(f"{api}/cases", data=body.encode(), timeout=30, headers={
            **bearer(tokens["监督员"]), "Content-Type": "application/json"})
        assert r.status_code == 400 and "point" in r.json()["description"], (bad, r.text)


def test_private_parts_for_the_loop_and_the_case_unit_only(api, db, tokens):
    """The reporter's contact, the free text and the photos are for people of the loop — a
    处置单位 user sees them on its own unit's cases only (another unit's user gets the public
    view and a 403 on the photo); the public trail names no person and carries no note."""
    r = report(api, db, tokens)
    assert r.status_code == 201, r.text
    code, photo_id = r.json()["code"], r.json()["attached"][0]["id"]
    assert action(api, code, "register", tokens["受理员"], note="联系人电话见联系表").status_code == 200
    assert action(api, code, "dispatch", tokens["派遣员"]).status_code == 200  # 环卫处
    names = [n for (n,) in db.rows("SELECT name FROM ops_users WHERE name LIKE 'api-%%'")]
    assert names
    photo = f"{api}/cases/{code}/attachments/{photo_id}"

    own = requests.get(f"{api}/cases/{code}", headers=bearer(tokens["处置单位"]), timeout=30)
    assert own.json()["contact"]["phone"] == PHONE
    assert requests.get(photo, headers=bearer(tokens["处置单位"]), timeout=30).status_code == 200

    other = requests.get(f"{api}/cases/{code}", headers=bearer(tokens["other"]), timeout=30)
    assert other.status_code == 200
    assert "contact" not in other.json() and PHONE not in other.text
    assert "description" not in other.json() and "三袋垃圾" not in other.text
    assert requests.get(photo, headers=bearer(tokens["other"]), timeout=30).status_code == 403
    listed = requests.get(f"{api}/cases", params={"state": "派遣"},
                          headers=bearer(tokens["other"]), timeout=30)
    assert code in [c["code"] for c in listed.json()["cases"]] and "三袋垃圾" not in listed.text

    public = requests.get(f"{api}/cases/{code}", timeout=30)
    assert [e["role"] for e in public.json()["events"]] == ["监督员", "受理员", "派遣员"]
    assert not any(n in public.text for n in names)
    assert "联系人电话见联系表" not in public.text


def test_a_report_carries_a_phone_photo_of_several_megabytes(api, db, tokens):
    """A phone's photo (3 MB, 4 MB as base64) in a report: the loop takes photos up to the
    workflow's attachments.max_bytes (10 MB), where the app's 1 MB body limit answered 413;
    other routes keep that limit, and a body past the report's own is still a 413."""
    photo = PNG + bytes(3_000_000)
    r = report(api, db, tokens, photos=[{"name": "phone.png",
                                         "content_base64": base64.b64encode(photo).decode()}])
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    stored = db.rows("SELECT a.sha256, length(a.content) FROM case_attachments a JOIN cases c "
                     "ON c.id = a.case_id WHERE c.code = %s", (code,))
    assert stored == [(hashlib.sha256(photo).hexdigest(), len(photo))]
    # past the report's own cap (attachments.max_report_bytes, 40 MiB, as base64 and 1 MiB)
    big = {"photos": [{"name": "x.png", "content_base64": "A" * (56 << 20)}]}
    assert requests.post(f"{api}/cases", json=big, headers=bearer(tokens["监督员"]),
                         timeout=60).status_code == 413
    assert requests.post(f"{api}/cases/{code}/actions/accept", data=b"x" * (2 << 20),
                         headers=bearer(tokens["受理员"]), timeout=30).status_code == 413

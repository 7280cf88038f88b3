"""Hostile but possible input to the case API answered 400 naming the field, not 500
"internal error": a NUL character in a text (a body field, a query parameter, the path's
case code: the database's text cannot hold one) and photos that are not a list."""

from __future__ import annotations

import psycopg
import requests

from layers.cases.auth import add_user
from tests.conftest import make_db, scratch_api


def test_nul_and_photo_shapes_are_400(jining_profile, tmp_path):
    d = make_db("cases_api_inputs", jining_profile)
    with psycopg.connect(d.conninfo) as conn:
        insp = {"Authorization": f"Bearer {add_user(conn, 'insp-in', '监督员')}"}
        acc = {"Authorization": f"Bearer {add_user(conn, 'acc-in', '受理员')}"}
        g = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL").fetchone()[0]
    base_body = {"source": "巡查上报", "category": "0501", "grid": g}
    with scratch_api(d, tmp_path) as base:
        def post(path, body, h):
            return requests.post(base + path, json=body, headers=h, timeout=60)

        for extra, field in (({"description": "门口\x00垃圾"}, "description"),
                             ({"grid": g + "\x00"}, "grid"),
                             ({"contact": {"reporter_name": "李\x00"}}, "contact.reporter_name"),
                             ({"photos": 5}, "photos")):
            r = post("/cases", {**base_body, **extra}, insp)
            assert r.status_code == 400, (extra, r.status_code, r.text)
            assert f"'{field}'" in r.json()["description"]
        r = post("/cases", base_body, insp)
        assert r.status_code == 201
        code = r.json()["code"]
        r = post(f"/cases/{code}/actions/register", {"note": "ok\x00"}, acc)
        assert r.status_code == 400 and "'note'" in r.json()["description"]
        r = post(f"/cases/{code}%00/actions/register", {}, acc)
        assert r.status_code == 400 and "'code'" in r.json()["description"]
        for q, field in (("grid=%00", "grid"), ("unit=%00", "unit"), ("after=x%00", "after")):
            r = requests.get(f"{base}/cases?{q}", timeout=60)
            assert r.status_code == 400 and f"'{field}'" in r.json()["description"], r.text
        r = requests.get(f"{base}/cases/{code}%00", timeout=60)
        assert r.status_code == 400
        # the case is as it was: nothing refused was written
        r = requests.get(f"{base}/cases/{code}", timeout=60)
        assert r.status_code == 200 and r.json()["state"] == "上报"

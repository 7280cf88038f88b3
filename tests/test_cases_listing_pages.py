"""Paging the case list (``GET /cases?limit=&after=``, ``cim case list --after``): past the
first page (at most 1000) the cases were out of reach. Pages go on after the last case of
the page before (keyset on the platform's opening time (valid_from), code): together they hold every case once, newest
first, and a case reported between two pages shifts nothing. Filtering by district and
category (an unknown code is refused, not an empty list)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import requests

from cim.errors import InputError
from layers.cases import store
from layers.cases.listing import count_cases, list_cases
from tests.conftest import make_db, scratch_api

UTC = dt.UTC
T0 = dt.datetime(2001, 7, 1, 8, tzinfo=UTC)


def _seven(conn) -> list[str]:
    """Seven cases: five an hour apart, two more at the last hour (a tie broken by code);
    their codes newest first, by construction."""
    g = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL").fetchone()[0]
    made = []
    for i, h in enumerate((0, 1, 2, 3, 4, 4, 4)):
        at = T0 + dt.timedelta(hours=h)
        made.append((at, i, store.open_case(conn, source="巡查上报", category_code="0501",
                                            actor="insp", role="监督员", grid_code=g,
                                            reported_at=at)["code"]))
    # newest first; at one time, the higher code (the later allocated) first
    return [c for _, _, c in sorted(made, key=lambda m: (m[0], m[2]), reverse=True)]


def test_pages_hold_every_case_once(jining_profile):
    from tests.conftest import scratch_db

    with scratch_db("cases_pages", jining_profile) as d, psycopg.connect(d.conninfo) as conn:
        expected = _seven(conn)
        seen, after = [], None
        while True:
            page = [r["code"] for r in list_cases(conn, limit=3, after=after)]
            seen += page
            if len(page) < 3:
                break
            after = page[-1]
            if len(seen) == 3:  # a case reported between two pages: not on the later ones
                late = store.open_case(conn, source="巡查上报", category_code="0501",
                                       actor="insp", role="监督员", grid_code=d.cell)["code"]
        assert seen == expected
        assert late not in seen and count_cases(conn) == 8
        with pytest.raises(InputError) as exc:
            list_cases(conn, after="370811930599999999")
        assert exc.value.field == "after"


def test_http_next_link_walks_the_pages(jining_profile, tmp_path):
    d = make_db("cases_pages_api", jining_profile)
    with psycopg.connect(d.conninfo) as conn:
        expected = _seven(conn)
    with scratch_api(d, tmp_path) as base:
        url, seen, matched = f"{base}/cases?limit=3&state=上报", [], []
        while url:
            r = requests.get(url, timeout=60)
            assert r.status_code == 200, r.text
            body = r.json()
            seen += [c["code"] for c in body["cases"]]
            matched.append(body["numberMatched"])
            nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
            url = base + nxt[0] if nxt else None
        assert seen == expected and matched == [7, 7, 7]
        r = requests.get(f"{base}/cases?after=nope", timeout=60)
        assert r.status_code == 400 and "after" in r.json()["description"]
        district = seen and requests.get(f"{base}/cases/{seen[0]}", timeout=60).json()[
            "district_code"]
        r = requests.get(f"{base}/cases", params={"district": district, "category": "0501",
                                                  "limit": 2}, timeout=60)
        assert r.status_code == 200 and r.json()["numberMatched"] == 7
        r = requests.get(f"{base}/cases?category=9999", timeout=60)
        assert r.status_code == 400 and "'category'" in r.json()["description"]


def test_filter_by_district_and_category(jining_profile):
    from tests.conftest import scratch_db

    with scratch_db("cases_filter", jining_profile) as d, psycopg.connect(d.conninfo) as conn:
        # one grid cell in each of two districts
        cells = conn.execute("SELECT DISTINCT ON (district_code) district_code, code "
                             "FROM grid_cells WHERE valid_to IS NULL "
                             "ORDER BY district_code, code LIMIT 2").fetchall()
        assert len(cells) == 2
        (d1, g1), (d2, g2) = cells
        made = {}
        for dist, g, cat in ((d1, g1, "0501"), (d1, g1, "0601"), (d2, g2, "0501")):
            made[(dist, cat)] = store.open_case(conn, source="巡查上报", category_code=cat,
                                                actor="insp", role="监督员", grid_code=g,
                                                reported_at=T0)["code"]

        def codes(**kw):
            return sorted(r["code"] for r in list_cases(conn, **kw))

        assert codes(district=d1) == sorted([made[(d1, "0501")], made[(d1, "0601")]])
        assert codes(district=d2) == [made[(d2, "0501")]]
        assert codes(category="0501") == sorted([made[(d1, "0501")], made[(d2, "0501")]])
        assert codes(district=d1, category="0601") == [made[(d1, "0601")]]
        assert count_cases(conn, district=d1, category="0501") == 1
        assert codes(category="0801") == []  # a category of the file without a case
        for kw, field in (({"district": "999999"}, "district"), ({"category": "9999"},
                                                                  "category")):
            with pytest.raises(InputError) as exc:
                list_cases(conn, **kw)
            assert exc.value.field == field

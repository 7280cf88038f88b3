"""``datetime`` on a layer with past versions (review 8): an interval ranked every version's
whole row per feature (a sort of all versions, on disk) before the page's LIMIT; a current
version that matches is now read as it is and only past versions whose feature's current one
does not match are ranked. Which version is served is checked here against timelines built
by hand: for each feature, its versions valid at the instant or in the interval, the latest
of those that match the filter (a small oracle in Python over the fixture below)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests

from tests.conftest import SAMPLE_BUILDINGS, start_api

ITEMS = "/collections/buildings/items"
PAST = 20


def _t(y: int, m: int = 1, d: int = 1) -> dt.datetime:
    return dt.datetime(y, m, d, tzinfo=dt.UTC)


# feature -> its versions (valid_from, valid_to or None: current, height)
TIMELINES = {
    "changed": [(_t(2000), _t(2005), 1.0), (_t(2005), _t(2010), 2.0), (_t(2010), None, 3.0)],
    "deleted": [(_t(2000), _t(2005), 10.0), (_t(2005), _t(2008), 11.0)],
    "returned": [(_t(2000), _t(2003), 20.0), (_t(2006), None, 21.0)],
    "same": [(_t(2001), None, 30.0)],
    "late": [(_t(2000), _t(2001), 40.0), (_t(2001), _t(2002), 41.0),
             (_t(2002), _t(2030, 6), 42.0)],  # ended after the load (a future end)
    # changed at 04:00 on 2 June 2010 in the city (Asia/Shanghai), 20:00 on 1 June in UTC
    "boundary": [(_t(2000), dt.datetime(2010, 6, 1, 20, tzinfo=dt.UTC), 50.0),
                 (dt.datetime(2010, 6, 1, 20, tzinfo=dt.UTC), None, 51.0)],
}
CITY = ZoneInfo("Asia/Shanghai")  # the Jining profile's clock: a date is the city's day


def _day(y: int, m: int = 1, d: int = 1) -> dt.datetime:
    """A date's first instant in the city."""
    return dt.datetime(y, m, d, tzinfo=CITY)


@pytest.fixture(scope="module")
def served(tmp_path_factory, jining_profile):
    from cim.db.engine import drop_database
    from loaders.buildings import load_buildings
    from tests.conftest import make_db, server_url

    assert ZoneInfo(jining_profile.timezone) == CITY
    d = make_db("dtver", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    with psycopg.connect(d.conninfo) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'buildings' "
            "AND column_name NOT IN ('id', 'valid_from', 'valid_to', 'height') "
            "ORDER BY column_name")]
        cols = ", ".join(names)
        picked = [c for c, in conn.execute(
            "SELECT code FROM buildings WHERE valid_to IS NULL ORDER BY id LIMIT %s",
            (len(TIMELINES),))]
        codes = dict(zip(TIMELINES, picked))
        conn.execute("CREATE TEMP TABLE loaded AS SELECT * FROM buildings WHERE code = ANY(%s)",
                     (picked,))
        conn.execute("DELETE FROM buildings WHERE code = ANY(%s)", (picked,))
        for name, versions in TIMELINES.items():  # the loaded version replaced by these
            for vf, vt, h in versions:
                conn.execute(f"INSERT INTO buildings ({cols}, valid_from, valid_to, height) "
                             f"SELECT {cols}, %s, %s, %s FROM loaded WHERE code = %s",
                             (vf, vt, h, codes[name]))
        # every other feature: twenty past versions, 2003-2023 (ranked for nothing once its
        # current version matches)
        conn.execute(f"INSERT INTO buildings ({cols}, valid_from, valid_to, height) "
                     f"SELECT {cols}, make_timestamptz(2003 + v, 1, 1, 0, 0, 0, 'UTC'), "
                     "make_timestamptz(2004 + v, 1, 1, 0, 0, 0, 'UTC'), v FROM buildings, "
                     "generate_series(0, %s - 1) v WHERE valid_to IS NULL AND NOT code = ANY(%s)",
                     (PAST, picked))
        conn.execute("ANALYZE buildings")
    proc, base = start_api(d.url, jining_profile, tmp_path_factory.mktemp("dtver"))
    try:
        yield {"base": base, "codes": codes, "db": d}
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


def _expected(codes, start, end, end_exclusive=False, match=lambda h: True):
    """Oracle: code -> height of the latest version valid at [start, end] that matches."""
    out = {}
    for name, versions in TIMELINES.items():
        valid = [(vf, h) for vf, vt, h in versions
                 if (end is None or (vf < end if end_exclusive else vf <= end))
                 and (start is None or vt is None or vt > start) and match(h)]
        if valid:
            out[codes[name]] = max(valid)[1]
    return out


CASES = [  # datetime, (start, end, end exclusive), CQL2 filter and its test
    ("2006-01-01T00:00:00Z", (_t(2006), _t(2006), False), None),
    ("2004-06-01T00:00:00Z", (_t(2004, 6), _t(2004, 6), False), None),
    ("2005-01-01T00:00:00Z", (_t(2005), _t(2005), False), None),  # a change's instant
    ("2005-01-01", (_day(2005), _day(2005, 1, 2), True), None),  # a day: both versions
    ("2010-06-01", (_day(2010, 6), _day(2010, 6, 2), True), None),  # the city's day
    ("2010-06-02", (_day(2010, 6, 2), _day(2010, 6, 3), True), None),
    ("2000-01-01/2010-06-01", (_day(2000), _day(2010, 6, 2), True), None),
    ("2010-06-01T23:00:00/..", (_t(2010, 6, 1) + dt.timedelta(hours=15), None, False), None),
    ("2001-01-01T00:00:00Z/2004-01-01T00:00:00Z", (_t(2001), _t(2004), False), None),
    ("2004-01-01T00:00:00Z/..", (_t(2004), None, False), None),
    ("../2002-01-01T00:00:00Z", (None, _t(2002), False), None),
    ("2007-01-01/2009-12-31", (_day(2007), _day(2010), True), None),
    ("2001-01-01T00:00:00Z/..", (_t(2001), None, False), ("height < 3", lambda h: h < 3)),
    ("2001-01-01T00:00:00Z/..", (_t(2001), None, False),
     ("height > 25 AND height < 42", lambda h: 25 < h < 42)),
]


def _get(served, fmt, **params):
    r = requests.get(served["base"] + ITEMS, params={"f": fmt, **params}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_version_served_is_the_latest_valid_then(served, case):
    when, (start, end, excl), flt = CASES[case]
    codes = served["codes"]
    expected = _expected(codes, start, end, excl, flt[1] if flt else (lambda h: True))
    params = {"datetime": when, "limit": 5000, **({"filter": flt[0]} if flt else {})}
    fc = _get(served, "json", **params).json()
    got = {f["id"]: f["properties"]["height"] for f in fc["features"]
           if f["id"] in codes.values()}
    assert got == expected
    ids = [f["id"] for f in fc["features"]]
    assert len(ids) == len(set(ids)) == fc["numberMatched"] == fc["numberReturned"]
    # the same through pygeoapi's CSV, and through cursor pages of two
    rows = csv.DictReader(io.StringIO(_get(served, "csv", **params).text))
    assert {r["code"]: float(r["height"]) for r in rows if r["code"] in codes.values()} \
        == expected
    paged, url = [], None
    r = _get(served, "json", **{**params, "limit": 2})
    while True:
        page = r.json()
        paged += [f["id"] for f in page["features"]]
        nxt = [lk["href"] for lk in page["links"] if lk["rel"] == "next"]
        if not nxt or len(paged) > 40:
            break
        url = nxt[0]
        r = requests.get(url, timeout=60)
        assert r.status_code == 200
    if len(ids) <= 40:
        assert paged == sorted(paged, key=ids.index) and sorted(paged) == sorted(ids)


def _nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_an_interval_sorts_no_version_whose_feature_is_current_then(served):
    """The page of ``2001-01-01/..`` (every current version matches): no sort of the
    features' past versions (the ranking sorted all ~31,000 rows of them for a page of 10)."""
    from werkzeug.datastructures import MultiDict

    from cim.crs import CRS84_URI
    from layers.catalog import published_columns
    from services.items_query import Column, Limits, crs_info, parse_items
    from services.items_sql import Layer, count_statement, page_statement

    d = served["db"]
    cols = tuple(Column(c.name, c.json_format or c.json_type)
                 for c in published_columns(d.conninfo, "buildings"))
    layer = Layer("buildings", "buildings", d.profile.srid, "code", cols)
    q = parse_items(MultiDict({"datetime": "2001-01-01T00:00:00Z/..", "limit": "10"}),
                    {c.name: c for c in cols}, {CRS84_URI: crs_info(CRS84_URI, layer.srid)},
                    Limits(10, 10000, 100000))
    with psycopg.connect(d.conninfo) as conn:
        current = conn.execute("SELECT count(*) FROM buildings WHERE valid_to IS NULL"
                               ).fetchone()[0]
        past = conn.execute("SELECT count(*) FROM buildings WHERE valid_to IS NOT NULL"
                            ).fetchone()[0]
        assert past > 10 * current
        for text, params in (page_statement(layer, q), count_statement(layer, q, 10000)):
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + text, params
                                ).fetchone()[0][0]["Plan"]
            sorted_rows = [sum(c["Actual Rows"] * c.get("Actual Loops", 1)
                               for c in n.get("Plans", []))
                           for n in _nodes(plan) if n["Node Type"] == "Sort"]
            assert max(sorted_rows, default=0) <= current + len(TIMELINES), sorted_rows


def test_pygeoapis_pages_of_an_interval_sort_no_version_whose_feature_is_current(served):
    """The same for HTML/CSV (CimProvider): its statements captured and explained."""
    from sqlalchemy import event

    from services.config import pygeoapi_config
    from services.providers import CimProvider, _engine

    d = served["db"]
    cfg = pygeoapi_config(d.url, d.conninfo, d.profile, "http://x")
    prov = CimProvider(cfg["resources"]["buildings"]["providers"][0])
    seen = []

    def capture(conn, cursor, statement, params, context, executemany):
        seen.append((statement, params))

    event.listen(_engine(prov.url), "before_cursor_execute", capture)
    try:
        fc = prov.query(limit=10, datetime_="2001-01-01T00:00:00Z/..")
    finally:
        event.remove(_engine(prov.url), "before_cursor_execute", capture)
    assert fc["numberReturned"] == 10
    with psycopg.connect(d.conninfo) as conn:
        current = conn.execute("SELECT count(*) FROM buildings WHERE valid_to IS NULL"
                               ).fetchone()[0]
        others = current - sum(vs[-1][1] is None for vs in TIMELINES.values())
        assert fc["numberMatched"] == others + len(_expected(served["codes"], _t(2001), None))
        for text, params in seen:
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + text, params
                                ).fetchone()[0][0]["Plan"]
            sorted_rows = [sum(c["Actual Rows"] * c.get("Actual Loops", 1)
                               for c in n.get("Plans", []))
                           for n in _nodes(plan) if n["Node Type"] == "Sort"]
            assert max(sorted_rows, default=0) <= current + len(TIMELINES), sorted_rows

"""``datetime`` and ``q`` on the items (pygeoapi answers both through CimProvider): both were
passed to the provider and ignored, so a request for the city as of 1990 got every current
feature, and a search for a name that nowhere occurs got the whole layer.

By construction: the sample survey loaded, then loaded again (replace) with three heights
changed and two buildings gone; the instants before, between and after the loads are taken
here. ``datetime`` selects the versions valid then (an interval: each feature once, in its
latest version valid in it); ``q`` the features one of whose text properties holds a term."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import time
from zoneinfo import ZoneInfo

import pyogrio
import pytest
import requests

from tests.conftest import SAMPLE_BUILDINGS, start_api

ITEMS = "/collections/buildings/items"


def _now():
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def history(tmp_path_factory, jining_profile):
    from cim.db.engine import drop_database
    from loaders.buildings import load_buildings
    from tests.conftest import make_db, server_url

    d = make_db("dt", jining_profile)
    work = tmp_path_factory.mktemp("dt")
    df = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    ids, heights = list(df["编号"]), list(df["建筑高度"])
    changed = {ids[i]: heights[i] + 7.0 for i in (0, 1, 2)}
    gone = {ids[3], ids[4]}
    df.loc[df["编号"].isin(changed), "建筑高度"] = df["编号"].map(changed)
    df = df[~df["编号"].isin(gone)]
    second = work / SAMPLE_BUILDINGS.name  # the same dataset (named by the file)
    pyogrio.write_dataframe(df, second, encoding="GBK")
    shutil.copy(SAMPLE_BUILDINGS.with_suffix(".prj"), second.with_suffix(".prj"))
    t = {"before": _now()}
    time.sleep(1.1)
    first = load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    time.sleep(1.1)
    t["between"] = _now()
    time.sleep(1.1)
    load_buildings(d.conninfo, jining_profile, second, mode="replace")
    time.sleep(1.1)
    t["after"] = _now()
    proc, base = start_api(d.url, jining_profile, work)
    keys = dict(d.rows("SELECT DISTINCT split_part(source_key, ':', 2), code FROM buildings"))
    try:
        yield {"base": base, "t": t, "db": d, "n": first.loaded, "keys": keys,
               "old": {keys[k]: heights[ids.index(k)] for k in changed},
               "new": {keys[k]: h for k, h in changed.items()},
               "gone": {keys[k] for k in gone}}
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


@pytest.fixture(params=["json", "csv"])
def fmt(request):
    """GeoJSON (the platform's items path) and CSV (pygeoapi's, through CimProvider)."""
    return request.param


def _all(h, fmt="json", **params):
    r = requests.get(h["base"] + ITEMS, params={"f": fmt, "limit": 5000, **params},
                     timeout=120)
    assert r.status_code == 200, r.text[:300]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.text)))
        feats = {row["code"]: {**row, "height": float(row["height"]) if row["height"] else None}
                 for row in rows}
        assert len(feats) == len(rows)  # each feature once
        return feats
    fc = r.json()
    assert fc["numberMatched"] == fc["numberReturned"] == len(fc["features"])
    feats = {f["id"]: f["properties"] for f in fc["features"]}
    assert len(feats) == len(fc["features"])  # each feature once
    return feats


def test_without_datetime_the_current_features(history, fmt):
    feats = _all(history, fmt)
    assert len(feats) == history["n"] - 2 and not history["gone"] & set(feats)
    assert {c: feats[c]["height"] for c in history["new"]} == history["new"]


def test_an_instant_between_the_loads_is_the_first_delivery(history, fmt):
    feats = _all(history, fmt, datetime=history["t"]["between"])
    assert len(feats) == history["n"] and history["gone"] <= set(feats)
    assert {c: feats[c]["height"] for c in history["old"]} == history["old"]


def test_before_any_load_nothing(history, fmt):
    assert _all(history, fmt, datetime=history["t"]["before"]) == {}
    assert _all(history, fmt, datetime="1990-01-01T00:00:00Z/1990-12-31T00:00:00Z") == {}
    assert _all(history, fmt, datetime="../" + history["t"]["before"]) == {}


def test_an_interval_gives_each_feature_once_in_its_latest_version(history, fmt):
    # a date is the city's day (its profile's clock), not the server's: the day of the loads
    day = dt.datetime.fromisoformat(history["t"]["between"].replace("Z", "+00:00")) \
        .astimezone(ZoneInfo(history["db"].profile.timezone)).date()
    for value in (history["t"]["between"] + "/..", history["t"]["before"] + "/"
                  + history["t"]["after"], day.isoformat()):
        feats = _all(history, fmt, datetime=value)
        assert len(feats) == history["n"] and history["gone"] <= set(feats), value
        assert {c: feats[c]["height"] for c in history["new"]} == history["new"], value
    feats = _all(history, fmt, datetime=history["t"]["after"] + "/..")
    assert len(feats) == history["n"] - 2


def test_datetime_with_a_filter_and_hits(history):
    code = next(iter(history["old"]))
    old = history["old"][code]
    feats = _all(history, "json", datetime=history["t"]["between"], filter=f"height = {old}")
    want = {c for c, h in history["db"].rows(
        "SELECT code, height FROM buildings WHERE valid_from <= %s "
        "AND (valid_to IS NULL OR valid_to > %s)", (history["t"]["between"],) * 2) if h == old}
    assert code in want and set(feats) == want
    r = requests.get(history["base"] + ITEMS, params={
        "f": "json", "resulttype": "hits", "datetime": history["t"]["between"]}, timeout=60)
    assert r.json()["numberMatched"] == history["n"]


@pytest.mark.parametrize("q", ["住宅", "zzzz-nowhere", "住宅,商业", "JZ", "%"])
def test_q_searches_the_text_properties(history, q, fmt):
    cols = [c for c, t in history["db"].rows(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
        "'buildings' AND data_type IN ('text', 'character varying') AND column_name NOT IN "
        "('source_key', 'row_hash')")]
    rows = history["db"].rows(f"SELECT code, {', '.join(cols)} FROM buildings "
                              "WHERE valid_to IS NULL")
    terms = [t.lower() for t in q.split(",")]
    want = {r[0] for r in rows if any(t in (v or "").lower() for t in terms for v in r[1:])}
    assert set(_all(history, fmt, q=q)) == want
    if q == "住宅":
        assert 0 < len(want) < len(rows)


def test_datetime_and_q_with_cql2_and_cursor_pages(history):
    """With a CQL2 filter pygeoapi cannot read (filter-lang=cql2-text, S_INTERSECTS) and
    keyset pages: pygeoapi had answered such requests, and refused them (400)."""
    flt = ("height > 10 AND S_INTERSECTS(geometry, BBOX(116.0, 35.0, 117.5, 36.0)) AND "
           "use_name IS NOT NULL")
    for params, where, args in [
            ({"datetime": history["t"]["between"]},
             "valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)",
             (history["t"]["between"],) * 2),
            ({"datetime": history["t"]["before"] + "/.."}, "TRUE", ()),
            ({"q": "住宅"}, "valid_to IS NULL AND use_name LIKE '%%住宅%%'", ())]:
        rows = history["db"].rows(
            f"SELECT code, height, use_name FROM buildings WHERE {where} ORDER BY id", args)
        want = {c for c, h, u in rows if h is not None and h > 10 and u is not None}
        url = history["base"] + ITEMS
        query = {"f": "json", "limit": 97, "filter": flt, "filter-lang": "cql2-text", **params}
        got, pages = [], 0
        while url:
            r = requests.get(url, params=query, timeout=60)
            assert r.status_code == 200, r.text[:300]
            fc = r.json()
            got += [f["id"] for f in fc["features"]]
            nxt = [lk["href"] for lk in fc["links"] if lk["rel"] == "next"]
            assert all("cursor=" in h for h in nxt)
            url, query, pages = (nxt[0] if nxt else None), None, pages + 1
        assert pages > 2 and len(got) == len(set(got)) and set(got) == want, params


@pytest.mark.parametrize("value", ["1990-13-01", "yesterday", "2020-01-01/2021-01-01/2022-01-01"])
def test_a_bad_datetime_is_a_400_naming_it_on_every_format(history, value, fmt):
    """The provider (CSV) reads ``datetime`` as the GeoJSON path does (one parser,
    services.items_query.parse_datetime): a value that is no RFC 3339 date, date-time or
    interval is a 400 naming it, on both."""
    r = requests.get(history["base"] + ITEMS, params={"f": fmt, "datetime": value}, timeout=60)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert "datetime" in r.text, r.text[:300]

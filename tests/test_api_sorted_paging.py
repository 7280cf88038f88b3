"""Sorted pages go on by a keyset cursor (review 8): a ``sortby`` request's ``next`` links
were offsets, refused past ``CIM_ITEMS_MAX_OFFSET`` (a sorted walk of a large layer stopped
there) and costing a sort of every row before the offset. By construction: the sample survey
loaded once (every ``valid_from`` equal: one big tie; heights with ties and nulls); walking the
``next`` links must give every current feature exactly once, in the order of the survey's
values."""

from __future__ import annotations

import math

import pyogrio
import pytest
import requests

from tests.conftest import SAMPLE_BUILDINGS, start_api

ITEMS = "/collections/buildings/items"
MAX_OFFSET = 200


@pytest.fixture(scope="module")
def served(tmp_path_factory, jining_profile):
    from cim.db.engine import drop_database
    from loaders.buildings import load_buildings
    from tests.conftest import make_db, server_url

    d = make_db("sortpg", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    proc, base = start_api(d.url, jining_profile, tmp_path_factory.mktemp("sortpg"),
                           items_max_offset=MAX_OFFSET)
    keys = dict(d.rows("SELECT split_part(source_key, ':', 2), code FROM buildings "
                       "WHERE valid_to IS NULL"))
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    values = {keys[k]: {"height": None if h is None or math.isnan(h) else float(h),
                        "use_name": u, "floors_above": int(f)}
              for k, h, u, f in zip(survey["编号"], survey["建筑高度"], survey["建筑用途"],
                                    survey["地上层数"])}
    try:
        yield {"base": base, "values": values}
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


def _walk(base, **params):
    r = requests.get(base + ITEMS, params={"f": "json", **params}, timeout=60)
    ids, nexts = [], []
    while True:
        assert r.status_code == 200, r.text[:300]
        fc = r.json()
        ids += [f["id"] for f in fc["features"]]
        nxt = [lk["href"] for lk in fc["links"] if lk["rel"] == "next"]
        if not nxt:
            return ids, nexts
        nexts.append(nxt[0])
        assert len(nexts) < 200, "next links do not end"
        r = requests.get(nxt[0], timeout=60)


def _sort_key(spec, v):
    """The survey's order of a sortby: each key ascending or descending, nulls last."""
    out = []
    for s in spec.split(","):
        name = s.lstrip("-")
        x = v[name]
        if x is None:
            out.append((1, 0))
        else:
            out.append((0, -x if s.startswith("-") else x) if not isinstance(x, str)
                       else (0, x))
    return out


@pytest.mark.parametrize("sortby", ["height", "-height", "-floors_above", "valid_from",
                                    "-floors_above,height"])
def test_walking_sorted_pages_gives_every_feature_once_in_order(served, sortby):
    values = served["values"]
    assert len(values) > 5 * MAX_OFFSET // 97 * 97  # the walk goes past the offset limit
    ids, nexts = _walk(served["base"], sortby=sortby, limit=97)
    assert len(ids) == len(set(ids)) and set(ids) == set(values)
    assert all("cursor=" in h and "offset=" not in h for h in nexts)
    if sortby != "valid_from":  # one load: every valid_from is the same (one tie)
        keys = [_sort_key(sortby, values[c]) for c in ids]
        assert keys == sorted(keys)


def test_heights_tie_and_some_are_null(served):
    heights = [v["height"] for v in served["values"].values()]
    assert None in heights
    assert len(set(heights)) < len(heights) / 2  # many ties


def test_a_cursor_of_another_sort_or_a_forged_one_is_a_400(served):
    base = served["base"]
    first = requests.get(base + ITEMS, params={"f": "json", "sortby": "height", "limit": 5},
                         timeout=60).json()
    nxt = [lk["href"] for lk in first["links"] if lk["rel"] == "next"][0]
    cursor = nxt.split("cursor=")[1].split("&")[0]
    import base64

    deep = base64.urlsafe_b64encode(b"[" * 5000).decode()  # json's recursion: was a 500
    for params in ({"sortby": "-height", "cursor": cursor}, {"sortby": "height", "cursor": "x"},
                   {"sortby": "height", "cursor": "12"}, {"sortby": "height", "cursor": deep}):
        r = requests.get(base + ITEMS, params={"f": "json", **params}, timeout=60)
        assert r.status_code == 400 and "cursor" in r.json()["description"], r.text


def test_a_sort_cursor_gives_back_each_kind_of_value_as_the_column_compares_it():
    """Dates, timestamps, exact decimals, whole numbers, text, booleans and nulls: a cursor
    carries each back in the type its column compares with (no float for a numeric)."""
    import datetime as dt
    from decimal import Decimal

    from services.items_query import Column, read_sort_cursor, sort_cursor

    cols = {n: Column(n, t) for n, t in [("d", "date"), ("t", "date-time"), ("n", "number"),
                                          ("f", "number"), ("i", "integer"), ("s", "string"),
                                          ("b", "boolean"), ("z", "string")]}
    sortby = tuple((n, n in "tf") for n in cols)
    values = (dt.date(2024, 2, 29), dt.datetime(2024, 1, 1, 8, 30, 0, 123456, tzinfo=dt.UTC),
              Decimal("12345678901234567890.123456789"), 0.1, 2**40, "甲'\"%_", False, None)
    token = sort_cursor(sortby, values, 987654321)
    assert read_sort_cursor(token, sortby, cols) == (values, 987654321)
    got = read_sort_cursor(token, sortby, cols)[0]
    assert [type(v) for v in got] == [type(v) for v in values]


def test_a_json_property_is_published_as_an_object_and_pages_by_offset(db):
    """An alarm's ``detail`` (jsonb) was typed a string: sortable by cursor, whose value came
    back from JSON as a dict and the next link was a 400. It is an object: its sorted pages
    go on by offset, as an array's do."""
    from layers.catalog import published_columns
    from services.items_query import Column, keyset_sortable

    types = {c.name: c.json_type for c in published_columns(db.conninfo, "alarms")}
    assert types["detail"] == "object"
    cols = {n: Column(n, t) for n, t in types.items()}
    assert not keyset_sortable((("detail", False),), cols)
    assert keyset_sortable((("opened_at", True),), cols)

"""``property=value`` on a date or timestamp property: a value that is no date was sent to
PostgreSQL as it came — pygeoapi's pages (CSV, HTML) answered a 500, the GeoJSON path a 400
quoting PostgreSQL's cast error without naming the parameter. Checked as numbers are: a 400
naming the property, in every format."""

from __future__ import annotations

import csv
import io

import requests


def test_a_malformed_date_value_is_a_400_naming_the_property_in_every_format(api):
    for collection, name, value in (("buildings", "valid_from", "notadate"),
                                    ("components", "initial_date", "2020-13-45"),
                                    ("components", "initial_date", "２０２０-01-01")):
        for fmt in ("json", "csv", "html"):
            r = requests.get(f"{api}/collections/{collection}/items",
                             params={name: value, "f": fmt}, timeout=60)
            assert r.status_code == 400, (collection, name, value, fmt, r.status_code,
                                          r.text[:200])
            assert name in r.text, (fmt, r.text[:300])


def test_a_well_formed_date_value_still_selects(api, db):
    stamp, want = db.rows(
        "SELECT to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "count(*) OVER (PARTITION BY valid_from) FROM buildings WHERE valid_to IS NULL "
        "ORDER BY id LIMIT 1")[0]
    day, n_day = db.rows("SELECT initial_date::text, count(*) FROM components "
                         "WHERE valid_to IS NULL AND initial_date IS NOT NULL "
                         "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1")[0]
    for collection, name, value, count in (("buildings", "valid_from", stamp, want),
                                           ("components", "initial_date", day, n_day)):
        r = requests.get(f"{api}/collections/{collection}/items",
                         params={name: value, "f": "json", "resulttype": "hits"}, timeout=60)
        assert r.status_code == 200 and r.json()["numberMatched"] == count, r.text[:300]
        r = requests.get(f"{api}/collections/{collection}/items",
                         params={name: value, "f": "csv", "limit": 10000}, timeout=60)
        assert r.status_code == 200, r.text[:300]
        assert len(list(csv.DictReader(io.StringIO(r.text)))) == count


def test_an_object_property_value_is_json_compared_as_json_in_every_format(api, db):
    """``detail=…`` (an alarm's JSON detail): CSV and HTML pages were a 500 for any value
    (PostgreSQL has no jsonb = varchar), GeoJSON a 400 quoting PostgreSQL for text that is
    no JSON. Now: no JSON is a 400 naming the property; a JSON value selects the features
    whose detail equals it (jsonb equality, as PostgreSQL counts it)."""
    for fmt in ("json", "csv", "html"):
        r = requests.get(f"{api}/collections/alarms/items", params={"detail": "x", "f": fmt},
                         timeout=60)
        assert r.status_code == 400 and "detail" in r.text, (fmt, r.status_code, r.text[:200])
    value, want = db.rows("SELECT detail::text, count(*) FROM alarms WHERE valid_to IS NULL "
                          "GROUP BY detail "
                          "ORDER BY 2 DESC, 1 LIMIT 1")[0]
    r = requests.get(f"{api}/collections/alarms/items",
                     params={"detail": value, "f": "json", "resulttype": "hits"}, timeout=60)
    assert r.status_code == 200 and r.json()["numberMatched"] == want, r.text[:300]
    r = requests.get(f"{api}/collections/alarms/items",
                     params={"detail": value, "f": "csv", "limit": 10000}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert len(list(csv.DictReader(io.StringIO(r.text)))) == want


def test_a_date_or_a_time_without_offset_is_read_on_the_citys_clock(api, db, jining_profile):
    """As ``datetime=`` and CQL2 read them: a date given for a date-time property is the
    city's whole day, a time without an offset the city's time (they were UTC: a day's
    filter found only what happened at 08:00 in China). Counted in SQL on the city's zone."""
    zone = jining_profile.timezone
    day, n_day = db.rows(
        "SELECT (valid_from AT TIME ZONE %s)::date::text, count(*) FROM buildings "
        "WHERE valid_to IS NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1", (zone,))[0]
    local, n_local = db.rows(
        "SELECT to_char(valid_from AT TIME ZONE %s, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
        "count(*) OVER (PARTITION BY valid_from) FROM buildings WHERE valid_to IS NULL "
        "ORDER BY id LIMIT 1", (zone,))[0]
    for value, count in ((day, n_day), (local, n_local)):
        for fmt in ("json", "csv"):
            r = requests.get(f"{api}/collections/buildings/items",
                             params={"valid_from": value, "f": fmt, "resulttype": "hits"}
                             if fmt == "json" else {"valid_from": value, "f": fmt,
                                                    "limit": 10000}, timeout=60)
            assert r.status_code == 200, r.text[:300]
            got = r.json()["numberMatched"] if fmt == "json" else \
                len(list(csv.DictReader(io.StringIO(r.text))))
            assert got == count, (value, fmt, got, count)

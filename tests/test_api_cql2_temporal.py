"""CQL2 comparisons of date and timestamp properties with DATE('…') and TIMESTAMP('…')
(Basic CQL2's temporal literals): the items path typed every date column a string, so
``valid_from > TIMESTAMP('…')`` or ``initial_date >= DATE('…')`` was refused (with the
literal shown as Python's ``datetime.date(…)``). Expected counts from SQL on the session
database."""

from __future__ import annotations

import json

import pytest
import requests


def _matched(api, coll, flt, lang="cql2-text"):
    r = requests.get(f"{api}/collections/{coll}/items", params={
        "f": "json", "filter": flt if isinstance(flt, str) else json.dumps(flt),
        "filter-lang": lang, "limit": 1, "resulttype": "hits"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r.json()["numberMatched"]


def _count(db, table, where):
    return db.scalar(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL AND {where}")


@pytest.mark.parametrize("coll,flt,where", [
    ("buildings", "valid_from > TIMESTAMP('2000-01-01T00:00:00Z')",
     "valid_from > '2000-01-01T00:00:00Z'"),
    ("buildings", "valid_from < TIMESTAMP('2000-01-01T00:00:00Z')",
     "valid_from < '2000-01-01T00:00:00Z'"),
    ("components", "initial_date >= DATE('2015-01-01')", "initial_date >= '2015-01-01'"),
    ("components", "initial_date BETWEEN DATE('2019-01-01') AND DATE('2020-06-30')",
     "initial_date BETWEEN '2019-01-01' AND '2020-06-30'"),
    ("components", "initial_date IN (DATE('2018-08-21'), DATE('2020-11-05')) OR "
     "initial_date IS NULL", "(initial_date IN ('2018-08-21', '2020-11-05') "
     "OR initial_date IS NULL)"),
])
def test_temporal_literals(api, db, coll, flt, where):
    want = _count(db, coll, where)
    assert _matched(api, coll, flt) == want
    if "BETWEEN" in flt:
        assert 0 < want < _count(db, coll, "TRUE")


def test_temporal_literal_in_cql2_json(api, db):
    flt = {"op": ">", "args": [{"property": "valid_from"},
                               {"timestamp": "2000-01-01T00:00:00Z"}]}
    assert _matched(api, "buildings", flt, "cql2-json") == _count(db, "buildings", "TRUE")
    flt = {"op": "<", "args": [{"property": "initial_date"}, {"date": "2015-01-01"}]}
    assert _matched(api, "components", flt, "cql2-json") == \
        _count(db, "components", "initial_date < '2015-01-01'")


def test_a_date_against_a_text_property_is_400_in_cql2_words(api):
    r = requests.get(f"{api}/collections/buildings/items", params={
        "f": "json", "filter": "name > DATE('2020-01-01')", "filter-lang": "cql2-text"},
        timeout=60)
    assert r.status_code == 400
    msg = r.json()["description"]
    assert "DATE('2020-01-01')" in msg and "datetime" not in msg, msg


def test_queryables_give_the_temporal_formats(api):
    """The queryables say which properties take DATE/TIMESTAMP literals (they said string)."""
    for coll, name, fmt in [("buildings", "valid_from", "date-time"),
                            ("components", "initial_date", "date")]:
        r = requests.get(f"{api}/collections/{coll}/queryables", params={"f": "json"},
                         timeout=60)
        assert r.status_code == 200, r.text[:300]
        prop = r.json()["properties"][name]
        assert (prop["type"], prop.get("format")) == ("string", fmt)
        assert "format" not in r.json()["properties"]["code"]


def test_a_date_is_the_served_citys_day(jining_profile, tmp_path):
    """valid_from >= DATE('2020-06-01') in Jining holds a version made at 02:00 on 1 June
    (Beijing; 31 May 18:00 UTC), not one made at 23:00 on 31 May — in GeoJSON and CSV."""
    import csv
    import io

    import psycopg

    from loaders.buildings import load_buildings
    from tests.conftest import SAMPLE_BUILDINGS, make_db, scratch_api

    d = make_db("cql2_city_day", jining_profile)
    load_buildings(d.conninfo, d.profile, SAMPLE_BUILDINGS)
    with psycopg.connect(d.conninfo) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM buildings WHERE valid_to IS NULL ORDER BY id LIMIT 2")]
        conn.execute("UPDATE buildings SET valid_from = '2020-06-01 02:00+08' WHERE id = %s",
                     (ids[0],))
        conn.execute("UPDATE buildings SET valid_from = '2020-05-31 23:00+08' WHERE id = %s",
                     (ids[1],))
        total = conn.execute("SELECT count(*) FROM buildings WHERE valid_to IS NULL"
                             ).fetchone()[0]
    home = tmp_path / "serve"
    home.mkdir()
    flt = "valid_from >= DATE('2020-06-01')"
    text = "valid_from >= '2020-06-01'"  # a text literal against a date-time: the same day
    # the query library from the CLI: the profile's clock as well
    from tests.conftest import run_cli

    p = run_cli(["query", "aoi", "--layers", "buildings", "--where", f"buildings:{flt}",
                 "--json"], d.env(), check=True)
    assert json.loads(p.stdout)["layers"]["buildings"]["count"] == total - 1
    with scratch_api(d, home) as base:
        assert _matched(base, "buildings", flt) == total - 1
        assert _matched(base, "buildings", text) == total - 1
        r = requests.get(f"{base}/collections/buildings/items", params={
            "f": "csv", "filter": flt, "filter-lang": "cql2-text", "limit": 10000}, timeout=60)
        assert r.status_code == 200, r.text[:300]
        assert len(list(csv.DictReader(io.StringIO(r.text)))) == total - 1
        # the served aoi process's where
        r = requests.post(f"{base}/processes/aoi/execution", json={"inputs": {
            "layers": ["buildings"], "where": {"buildings": flt}}}, timeout=60)
        assert r.status_code == 200, r.text[:300]
        assert r.json()["layers"]["buildings"]["count"] == total - 1

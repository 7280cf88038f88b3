"""Served parts a probe of session 16 found wrong, over HTTP against the sample server:

- a GeoJSON geometry of a type shapely does not know (MultiSurface, Foo) was a 500 in every
  process taking an area or a line, the web map's section and the approval check;
- a bucketed sensor series from 0001-01-01 or to 9999-12-31 was a 500 (widened to whole
  buckets, the range crossed year 1 or 10000);
- ``stats`` by a date-time class wrote PostgreSQL's text (2026-06-15 01:40:00+00), not RFC
  3339 as the API writes times.

Expected values from SQL on the same rows (the times converted by Python here)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests


@pytest.mark.parametrize("inputs,word", [
    ({"polygon": {"type": "MultiSurface", "coordinates": []}, "layers": ["buildings"]},
     "polygon"),
    ({"polygon": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Foo", "coordinates": []}}]},
      "layers": ["buildings"]}, "polygon"),
])
def test_an_unknown_geojson_type_is_a_400_naming_the_input(api, inputs, word):
    r = requests.post(f"{api}/processes/aoi/execution", json={"inputs": inputs}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert word in r.json()["description"] and "cannot read" in r.json()["description"]


def test_the_web_maps_section_of_an_unknown_type_is_a_400(api):
    line = json.dumps({"type": "Foo", "coordinates": []})
    r = requests.get(f"{api}/map/api/section", params={"line": line}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert "cannot read" in r.json()["description"]


def test_the_approval_check_of_an_unknown_type_is_a_400_naming_the_feature(api):
    project = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "building", "floors_above": 3},
         "geometry": {"type": "GeometryCollection", "coordinates": []}}]}
    r = requests.post(f"{api}/processes/approval-check/execution",
                      json={"inputs": {"project": project, "crs": "EPSG:4490"}}, timeout=120)
    assert r.status_code == 400, r.text[:300]
    text = r.json()["description"]
    assert "geometry cannot be read" in text and "1" in text, text


def _sensor(db) -> str:
    rows = db.rows("SELECT code FROM sensors WHERE valid_to IS NULL ORDER BY code LIMIT 1")
    if not rows:
        pytest.skip("the samples hold no sensor")
    return rows[0][0]


@pytest.mark.parametrize("start,end,field", [
    ("0001-01-01T00:00", "2026-06-16", "start"),
    ("2026-06-15", "9999-12-31", "end"),
])
def test_a_bucketed_series_beyond_the_years_it_holds_is_a_400(api, db, start, end, field):
    code = _sensor(db)
    r = requests.get(f"{api}/iot/sensors/{code}/readings",
                     params={"start": start, "end": end, "bucket": "1d",
                             "limit": "100000"}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert field in r.json()["description"] and "1900" in r.json()["description"]
    # without buckets the same range is read as it was
    r = requests.get(f"{api}/iot/sensors/{code}/readings", params={"start": start, "end": end},
                     timeout=60)
    assert r.status_code == 200, r.text[:300]


def test_stats_by_a_date_time_class_writes_rfc_3339(api, db):
    rows = db.rows("SELECT reported_at FROM cases WHERE valid_to IS NULL "
                   "AND reported_at IS NOT NULL")
    if not rows:
        pytest.skip("the samples hold no case")
    want = {t.astimezone(dt.UTC).isoformat() for t, in rows}
    r = requests.post(f"{api}/processes/stats/execution", json={"inputs": {
        "layer": "cases", "by": "district", "class": "reported_at"}}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    got = {x["class"] for x in r.json()["rows"]}
    assert got == want, (got, want)
    for x in got:
        assert "T" in x and x.endswith("+00:00"), x
        dt.datetime.fromisoformat(x)


def test_tilejson_fields_say_what_the_tiles_hold(api, db):
    """Every field was "String" (a style editor filtered a building's height as text) and
    valid_to, never in a tile, was listed. The types from information_schema here."""
    tj = requests.get(f"{api}/tiles/WebMercatorQuad", params={
        "f": "tilejson", "collections": "buildings,pipe_segments"}, timeout=60).json()
    numeric = {"smallint", "integer", "bigint", "real", "double precision", "numeric"}
    for layer in tj["vector_layers"]:
        kinds = dict(db.rows("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = %s", (layer["id"],)))
        fields = layer["fields"]
        assert "valid_to" not in fields and fields, layer["id"]
        for name, word in fields.items():
            want = "Number" if kinds[name] in numeric else \
                "Boolean" if kinds[name] == "boolean" else "String"
            assert word == want, (layer["id"], name, word, kinds[name])
    by = {la["id"]: la["fields"] for la in tj["vector_layers"]}
    assert by["buildings"]["height"] == "Number" and by["buildings"]["name"] == "String"


def test_a_citys_own_crs_given_the_other_way_round_is_told_so(db):
    """A PROJ string (a city's own CRS) has no area of use: a bbox typed northing first came
    back as "cannot be transformed … got (inf, inf)". The box is the samples' extent in the
    storage CRS (asked of PostGIS), its CRS EPSG:4527's PROJ string."""
    from pyproj import CRS

    from cim.errors import InputError
    from layers.query.aoi import aoi
    from layers.query.area import Area

    proj = CRS.from_epsg(4527).to_proj4()
    x0, y0, x1, y1 = db.rows("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                             "(SELECT ST_Extent(geom) AS e FROM buildings) b")[0]
    with pytest.raises(InputError, match="other axis order"):
        aoi(db.conninfo, Area(bbox=(y0, x0, y1, x1), crs=proj), ["buildings"])
    got = aoi(db.conninfo, Area(bbox=(x0, y0, x1, y1), crs=proj), ["buildings"])
    assert got["layers"]["buildings"]["count"] == db.scalar(
        "SELECT count(*) FROM buildings WHERE valid_to IS NULL")

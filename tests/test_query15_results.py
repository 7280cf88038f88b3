"""The query library over the operations' layers (城市运行: 告警, 案件): ``cim query aoi``, the
``aoi`` process and the web map's area box counted only the loaded layers, so ops staff could
not ask how many cases or alarms lie in a district. Every layer of the catalog is now
queried as the API publishes it (a case's address, its reporter's words and its detail never
returned), and ``on_map`` counts what the one map draws (open cases, active alarms). Expected
counts by shapely on the stored rows, the states read by SQL and filtered in Python."""

from __future__ import annotations

import pytest
import requests
import shapely

from cim.errors import InputError
from layers.query.aoi import aoi
from layers.query.area import Area

CLOSED = {"结案", "作废"}  # the platform loop's final states: cases the map does not draw


def _district(db) -> tuple[str, shapely.Geometry]:
    """The level-3 district holding most current cases."""
    code, wkb = db.rows(
        "SELECT d.code, ST_AsBinary(d.geom) FROM admin_divisions d JOIN cases c ON "
        "ST_Intersects(c.geom, d.geom) AND c.valid_to IS NULL WHERE d.valid_to IS NULL AND "
        "d.level = 3 GROUP BY d.code, d.geom ORDER BY count(*) DESC LIMIT 1")[0]
    return code, shapely.from_wkb(bytes(wkb))


def _inside(db, table: str, area: shapely.Geometry, extra: str = "") -> list[tuple]:
    rows = db.rows(f"SELECT code, ST_AsBinary(geom), {extra or 'NULL'} FROM {table} "
                   "WHERE valid_to IS NULL AND geom IS NOT NULL")
    return [(c, x) for c, g, x in rows if shapely.from_wkb(bytes(g)).intersects(area)]


def test_cases_and_alarms_in_a_district_are_counted(db):
    code, area = _district(db)
    cases = _inside(db, "cases", area, "state")
    alarms = _inside(db, "alarms", area, "status")
    assert cases and alarms, "premise: the sample day's cases and alarms lie in a district"
    got = aoi(db.conninfo, Area(district=code), ["cases", "alarms"])["layers"]
    assert got == {"cases": {"count": len(cases)}, "alarms": {"count": len(alarms)}}
    shown = aoi(db.conninfo, Area(district=code), ["cases", "alarms"], on_map=True)["layers"]
    assert shown == {"cases": {"count": sum(s not in CLOSED for _c, s in cases)},
                     "alarms": {"count": sum(s == "active" for _c, s in alarms)}}
    assert {s for _c, s in cases} - CLOSED  # premise: some cases are open


def test_every_layer_of_the_catalog_by_default(db):
    got = aoi(db.conninfo, None)["layers"]
    assert {"alarms", "cases", "health_indicators", "buildings"} <= set(got)
    assert got["cases"]["count"] == db.scalar("SELECT count(*) FROM cases WHERE valid_to IS "
                                              "NULL AND geom IS NOT NULL")


def test_a_cases_features_carry_what_the_api_publishes_and_no_more(db, api):
    code, _area = _district(db)
    feats = aoi(db.conninfo, Area(district=code), ["cases"], features=True
                )["layers"]["cases"]["features"]
    assert feats
    one = requests.get(f"{api}/collections/cases/items/{feats[0]['id']}", timeout=60).json()
    assert set(feats[0]["properties"]) == set(one["properties"]), \
        set(feats[0]["properties"]) ^ set(one["properties"])
    for f in feats:
        assert not {"description", "address", "detail"} & set(f["properties"]), f


def test_a_where_filter_on_a_cases_state(db):
    code, area = _district(db)
    cases = _inside(db, "cases", area, "state")
    state = sorted({s for _c, s in cases})[0]
    got = aoi(db.conninfo, Area(district=code), ["cases"], [f"cases:state = '{state}'"])
    assert got["layers"]["cases"]["count"] == sum(s == state for _c, s in cases)


def test_an_unpublished_column_cannot_be_filtered_on(db):
    with pytest.raises(InputError, match="address"):
        aoi(db.conninfo, None, ["cases"], ["cases:address = '任城区'"])


def test_the_web_maps_box_counts_what_it_draws(db, api):
    x0, y0, x1, y1 = db.rows("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                             "(SELECT ST_Extent(ST_Transform(geom, 4490)) e FROM cases "
                             "WHERE valid_to IS NULL) q")[0]
    pad = 0.001
    r = requests.get(f"{api}/map/api/aoi", params={
        "bbox": f"{x0 - pad},{y0 - pad},{x1 + pad},{y1 + pad}", "layers": "cases"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    want = db.scalar("SELECT count(*) FROM cases WHERE valid_to IS NULL AND geom IS NOT NULL "
                     "AND state <> ALL(%s)", (list(CLOSED),))
    assert r.json()["layers"]["cases"]["count"] == want


def test_cases_counted_by_district_and_state(db):
    from collections import Counter

    from layers.query.stats import stats

    rows = db.rows("SELECT district_code, state FROM cases WHERE valid_to IS NULL AND "
                   "district_code IS NOT NULL")
    want = Counter(rows)
    got = stats(db.conninfo, "cases", by="district", class_field="state")["rows"]
    assert {(r["unit_code"], r["class"]): r["count"] for r in got} == dict(want)

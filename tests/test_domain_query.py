"""The query library's areas in lon/lat are cut to where the data can lie before PostGIS
projects them (cim.crs.storage_domain), as the items path's are; lon/lat out of range and
NaN coordinates are input errors naming the parameter, not PostGIS/PROJ errors (a 500).
Expected counts from shapely on the hand-drawn city (tests/query_fixture.py), and on the
session database for the HTTP app."""

from __future__ import annotations

import pytest
import requests
from pyproj import Transformer
from shapely.geometry import box

from cim.errors import InputError
from layers.query.aoi import aoi, run
from layers.query.area import Area
from layers.query.section import section
from tests import query_fixture
from tests.query_fixture import BUILDINGS, PIPES, X0, Y0

qdb = query_fixture.qdb
LAYERS = "buildings,pipe_segments"
TO_LONLAT = Transformer.from_crs(4527, 4490, always_xy=True)


def expected(area) -> dict:
    return {"buildings": {"count": sum(g.intersects(area) for g, *_ in BUILDINGS.values())},
            "pipe_segments": {"count": sum(g.intersects(area) for g, *_ in PIPES.values())}}


@pytest.mark.parametrize("bbox,crs", [((-180, -90, 180, 90), None),
                                      ((-90, -180, 90, 180), "EPSG:4490")])
def test_whole_world_bbox_selects_the_city(qdb, bbox, crs):
    got = aoi(qdb.conninfo, Area(bbox=bbox, crs=crs), LAYERS)
    assert got == {"layers": {"buildings": {"count": len(BUILDINGS)},
                              "pipe_segments": {"count": len(PIPES)}}}


def test_half_world_bbox_and_polygon(qdb):
    # X0 is zone 39's central meridian (117°E): the meridian through X0 + 300 is the grid
    # line x = 300 (no convergence there), between B3 (x <= 210) and B4 (x >= 380)
    lon, _ = TO_LONLAT.transform(X0 + 300, Y0 + 50)
    want = expected(box(-1e7, -1e7, 300, 1e7))
    assert want["buildings"]["count"] == 3
    got = aoi(qdb.conninfo, Area(bbox=(-180, -90, lon, 90)), LAYERS)
    assert got == {"layers": want}
    poly = f"POLYGON((-180 -90, {lon} -90, {lon} 90, -180 90, -180 -90))"
    assert aoi(qdb.conninfo, Area(polygon=poly), LAYERS) == {"layers": want}


@pytest.mark.parametrize("area", [Area(bbox=(-10, -10, 10, 10)),
                                  Area(polygon="POLYGON((0 0, 1 0, 1 1, 0 0))"),
                                  Area(point=(1, 2), radius=10)])
def test_area_where_no_data_can_lie_selects_nothing(qdb, area):
    got = aoi(qdb.conninfo, area, LAYERS)
    assert got == {"layers": {"buildings": {"count": 0}, "pipe_segments": {"count": 0}}}


@pytest.mark.parametrize("area,words", [
    (Area(bbox=(200, 100, 300, 120)), ("bbox", "longitude", "-180..180")),
    (Area(bbox=(116, 35, 117, 95)), ("bbox", "latitude", "-90..90")),
    (Area(bbox=(116, -95, 117, 35), crs="EPSG:4490"), ("bbox", "latitude", "-90..90")),
    (Area(bbox=(float("nan"), 35, 117, 36)), ("bbox", "finite")),
    (Area(polygon="POLYGON((116 35, 117 35, 117 NaN, 116 35))"), ("polygon", "finite")),
    (Area(polygon="POLYGON((116 35, 190 35, 117 36, 116 35))"), ("polygon", "longitude")),
    (Area(point=(181, 35), radius=10), ("point", "longitude")),
])
def test_bad_coordinates_are_input_errors(qdb, area, words):
    with pytest.raises(InputError) as e:
        aoi(qdb.conninfo, area, LAYERS)
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("line,words", [
    ("LINESTRING(NaN NaN, 117 35.4)", ("section line", "finite")),
    ("LINESTRING(116 35.4, 117 95)", ("section line", "latitude")),
    ("LINESTRING(116 35.4, 200 35.4)", ("section line", "longitude")),
    ("LINESTRING(10 35.4, 117 35.4)", ("section line", "beyond")),
])
def test_bad_section_line_is_an_input_error(qdb, line, words):
    with pytest.raises(InputError) as e:
        section(qdb.conninfo, line, None, qdb.profile)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_process_run(qdb):
    got = run(qdb.conninfo, {"bbox": [-180, -90, 180, 90], "layers": ["buildings"]})
    assert got == {"layers": {"buildings": {"count": len(BUILDINGS)}}}
    with pytest.raises(InputError, match="longitude"):
        run(qdb.conninfo, {"bbox": [200, 100, 300, 120], "layers": ["buildings"]})


# -- through the HTTP app on the session database -------------------------------------------
def _current(db) -> int:
    return db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")


def test_http_whole_world(api, db):
    r = requests.get(f"{api}/map/api/aoi", params={"bbox": "-180,-90,180,90",
                                                   "layers": "buildings"}, timeout=120)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["layers"]["buildings"]["count"] == _current(db) > 1000
    r = requests.post(f"{api}/processes/aoi/execution", json={"inputs": {
        "bbox": [-180, -90, 180, 90], "layers": ["buildings"]}}, timeout=120)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["layers"]["buildings"]["count"] == _current(db)


def test_http_whole_world_every_layer(api, db):
    """Every layer at once: the area (a million vertices densified) was tested against each
    feature of each layer, past the statement timeout (a 500 after 10 s)."""
    from layers.catalog import layer_defs

    r = requests.get(f"{api}/map/api/aoi", params={"bbox": "-180,-90,180,90"}, timeout=120)
    assert r.status_code == 200, r.text[:300]
    got = {n: v["count"] for n, v in r.json()["layers"].items()}
    assert len(got) > 10 and {"alarms", "cases"} <= set(got)
    defs = layer_defs()  # the box counts what the map draws: each layer's map condition
    assert got == {n: db.scalar(f"SELECT count(*) FROM {defs[n].table} WHERE valid_to IS "
                                f"NULL AND geom IS NOT NULL AND ({defs[n].map_where or 'true'})")
                   for n in got}


@pytest.mark.parametrize("path,params,words", [
    ("/map/api/aoi", {"bbox": "200,100,300,120"}, ("bbox", "longitude")),
    ("/map/api/aoi", {"bbox": "nan,35,117,36"}, ("bbox", "finite")),
    ("/map/api/section", {"line": "LINESTRING(NaN NaN, 117 35.4)"}, ("section line", "finite")),
    ("/map/api/section", {"line": "LINESTRING(116 35.4, 200 35.4)"},
     ("section line", "longitude")),
])
def test_http_bad_coordinates_are_400(api, path, params, words):
    r = requests.get(api + path, params=params, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert all(w in r.json()["description"] for w in words), r.text[:300]


def test_http_process_bad_bbox_is_400(api):
    r = requests.post(f"{api}/processes/aoi/execution", json={"inputs": {
        "bbox": [200, 100, 300, 120], "layers": ["buildings"]}}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert "longitude" in r.text

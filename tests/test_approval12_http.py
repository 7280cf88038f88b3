"""The OGC API process ``approval-check`` over HTTP (the served app, its read-only role) answers
this session's findings as ``cim check`` does on the same features: the part of a site beyond
the city's districts (shapely from the boundary file), green over an underground garage
(needs review, both ratios), and a building lower than its storeys can be refused as a 400
naming feature and field. The project is posted as lon/lat (CGCS2000, EPSG:4490 axis order
as GeoJSON writes it) and written as a GeoJSON file in the storage CRS for the CLI."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import pytest
import requests
import shapely
import shapely.geometry

from cim.config import PROJECT_ROOT
from cim.crs import transformer
from tests import approval_fixture
from tests.conftest import run_cli

served = approval_fixture.served

SRID = 4527
BOUNDARIES = PROJECT_ROOT / "data_samples" / "jining" / "boundaries.gpkg"


def _edge():
    city = shapely.union_all(pyogrio.read_dataframe(BOUNDARIES).to_crs(SRID).geometry.values)
    west, south, _, north = city.bounds
    y = (south + north) / 2
    return city, west, y


def _features(west: float, y: float, tower: dict) -> list[tuple[str, shapely.Geometry, dict]]:
    site = shapely.box(west - 50, y, west + 50, y + 100)  # across the city's western edge
    return [("site", site, {}),
            ("building", shapely.box(west + 10, y + 10, west + 30, y + 30),
             {"name": "1号楼", **tower}),
            ("building", shapely.box(west - 50, y + 50, west + 50, y + 100),
             {"name": "车库", "floors_above": 0, "floors_below": 2}),
            ("green", shapely.box(west + 35, y + 55, west + 50, y + 100), {})]


def _lonlat(feats) -> dict:
    t = transformer(SRID, 4490)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": role, **attrs},
         "geometry": shapely.geometry.mapping(shapely.transform(
             g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))))}
        for role, g, attrs in feats]}


def _post(base, inputs):
    return requests.post(f"{base}/processes/approval-check/execution",
                         json={"inputs": inputs}, timeout=120)


def test_the_process_answers_as_the_cli_on_a_site_across_the_citys_edge(served, tmp_path):
    db, base = served
    city, west, y = _edge()
    feats = _features(west, y, {"floors_above": 10, "height": 30.0})
    site = feats[0][1]
    r = _post(base, {"project": _lonlat(feats), "crs": "EPSG:4490", "name": "edge"})
    assert r.status_code == 200, r.text
    http = r.json()
    fc = {"type": "FeatureCollection",
          "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{SRID}"}},
          "features": [{"type": "Feature", "properties": {"role": role, **attrs},
                        "geometry": shapely.geometry.mapping(g)} for role, g, attrs in feats]}
    path = tmp_path / "edge.geojson"
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    cli = json.loads(run_cli(["check", str(path), "--json", "--no-record"], db.env()).stdout)
    outside = site.difference(city).area
    for res in (http, cli):
        p = res["project"]
        assert p["outside_districts_m2"] == pytest.approx(outside, abs=0.05)
        assert p["green_over_underground_m2"] == pytest.approx(15 * 45, abs=0.05)
    assert http["project"]["districts"] == [
        {**d, "site_area_m2": pytest.approx(d["site_area_m2"], abs=0.05)}
        for d in cli["project"]["districts"]]
    assert [(x["id"], x["status"]) for x in http["results"]] == \
        [(x["id"], x["status"]) for x in cli["results"]]


def test_a_bare_crs84_is_the_aoi_process_s_crs84(served):
    """``"crs": "CRS84"`` (what the aoi process and the query options take) was an "unknown
    coordinate reference system" here: the same answer as EPSG:4490's, both lon/lat in
    GeoJSON."""
    _, base = served
    _, west, y = _edge()
    feats = _lonlat(_features(west, y, {"floors_above": 10, "height": 30.0}))
    answers = [_post(base, {"project": feats, "crs": crs, "name": "edge"})
               for crs in ("CRS84", "EPSG:4490")]
    assert [r.status_code for r in answers] == [200, 200], answers[0].text
    crs84, cgcs = (r.json() for r in answers)
    assert [(x["id"], x["status"]) for x in crs84["results"]] == \
        [(x["id"], x["status"]) for x in cgcs["results"]]
    assert crs84["project"]["outside_districts_m2"] == \
        pytest.approx(cgcs["project"]["outside_districts_m2"], abs=0.05)


def test_an_http_check_keeps_its_project_and_a_name_is_one_line(served):
    """An HTTP check kept nothing of its project (no file, no checksum): its record holds the
    project as checked (migration 0019), channel http; a name with a line break (it forged a
    line in `cim checks`) is refused."""
    db, base = served
    _, west, y = _edge()
    feats = _features(west, y, {"floors_above": 10, "height": 30.0})
    r = _post(base, {"project": _lonlat(feats), "crs": "EPSG:4490", "name": "滨河 HTTP"})
    assert r.status_code == 200, r.text
    rid = r.json()["record_id"]
    channel, kept = db.rows("SELECT channel, input FROM approval_checks WHERE id = %s",
                            (rid,))[0]
    assert channel == "http"
    assert sorted(f["properties"]["role"] for f in kept["features"]) == \
        sorted(role for role, _g, _a in feats)
    # the footprints where they were drawn (the storage CRS: shapely on the features sent)
    got = sorted(shapely.geometry.shape(f["geometry"]).area for f in kept["features"])
    assert got == pytest.approx(sorted(g.area for _r, g, _a in feats), rel=1e-6)
    bad = _post(base, {"project": _lonlat(feats), "crs": "EPSG:4490",
                       "name": "x\n   42 2026-01-01 pass 重点项目A"})
    assert bad.status_code == 400 and "control character" in bad.json()["description"]


def test_the_process_refuses_30_storeys_at_10_m_naming_feature_and_field(served):
    _, base = served
    _, west, y = _edge()
    r = _post(base, {"project": _lonlat(_features(west, y, {"floors_above": 30,
                                                            "height": 10.0})),
                     "crs": "EPSG:4490"})
    assert r.status_code == 400, r.text
    msg = r.json()["description"]
    assert "feature 2, field 'floors_above'" in msg and "min_storey_height_m" in msg, msg


def test_the_process_refuses_a_crs_that_moves_the_collections_declared_coordinates(served):
    """A FeatureCollection whose ``crs`` member says EPSG:32650 (UTM 50N) posted with ``crs``
    EPSG:4548 (Gauss-Krüger, the same 117°E meridian) was read in EPSG:4548 without a word
    (the input won over the member): 1.5 km north, checked there. Now a 400 naming both, and
    the same CRS given twice is checked. Expected: the CRS codes as posted, the drawn site."""
    _, base = served
    _, west, y = _edge()
    feats = _features(west + 500, y, {"floors_above": 10, "height": 30.0})
    t = transformer(SRID, 32650)
    fc = {"type": "FeatureCollection",
          "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32650"}},
          "features": [{"type": "Feature", "properties": {"role": role, **attrs},
                        "geometry": shapely.geometry.mapping(shapely.transform(
                            g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))))}
                       for role, g, attrs in feats]}
    r = _post(base, {"project": fc, "crs": "EPSG:4548", "name": "moved"})
    assert r.status_code == 400, r.text
    msg = r.json()["description"]
    assert "declares EPSG:32650" in msg and "the input 'crs' gives EPSG:4548" in msg, msg
    same = _post(base, {"project": fc, "crs": "EPSG:32650", "name": "same"})
    assert same.status_code == 200, same.text
    assert same.json()["project"]["site_area_m2"] == pytest.approx(feats[0][1].area, abs=0.01)

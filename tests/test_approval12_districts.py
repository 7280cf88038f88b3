"""A site that lies partly outside the city's districts: the result named the districts it
lies in with the part in each (project.districts) and said nothing of the rest — half a site
beyond the city's boundary was filed as 微山县 5,000 m² of a 10,000 m² site, without a word
that the other half is not the city's land to approve (nor that no district is loaded at
all). It says how much lies in no district now, in the JSON, the notes and the report.
Expected areas by shapely from the sample's boundary file."""

from __future__ import annotations

import json

import pyogrio
import pytest
import shapely
import shapely.geometry

from cim.config import PROJECT_ROOT
from tests import approval_fixture
from tests.approval_fixture import SRID, collection, feature
from tests.conftest import make_db, run_cli, server_url

adb = approval_fixture.adb
BOUNDARIES = PROJECT_ROOT / "data_samples" / "jining" / "boundaries.gpkg"


@pytest.fixture(scope="module")
def city_db(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("ap12dist", jining_profile)  # the profile's districts applied
    yield d
    drop_database(server_url(), d.name)


def _districts():
    return pyogrio.read_dataframe(BOUNDARIES).to_crs(SRID)


def _project(tmp_path, site, building):
    fc = {"type": "FeatureCollection",
          "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{SRID}"}},
          "features": [{"type": "Feature", "properties": {"role": role, **attrs},
                        "geometry": shapely.geometry.mapping(g)} for role, g, attrs in (
              ("site", site, {}),
              ("building", building, {"name": "1号楼", "floors_above": 10, "height": 30.0}))]}
    path = tmp_path / "edge.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def test_a_site_partly_beyond_the_citys_districts_says_how_much(city_db, tmp_path):
    d = _districts()
    city = shapely.union_all(d.geometry.values)
    west, south, _, north = city.bounds
    y = (south + north) / 2
    site = shapely.box(west - 50, y, west + 50, y + 100)  # across the city's western edge
    outside = site.difference(city).area
    inside = {c: g.intersection(site).area for c, g in zip(d["code"], d.geometry)}
    inside = {c: a for c, a in inside.items() if a > 0}
    assert outside == pytest.approx(5_000) and len(inside) == 1  # premise
    html = tmp_path / "r.html"
    proc = run_cli(["check", str(_project(tmp_path, site, shapely.box(west + 10, y + 10,
                                                                      west + 30, y + 30))),
                    "--json", "--no-record", "--report", str(html)], city_db.env())
    assert proc.returncode in (0, 1), proc.stderr
    p = json.loads(proc.stdout)["project"]
    assert {x["code"]: x["site_area_m2"] for x in p["districts"]} == {
        c: pytest.approx(a, abs=0.01) for c, a in inside.items()}
    assert p["outside_districts_m2"] == pytest.approx(outside, abs=0.01)
    assert any("in no district" in n and "5,000.00 m²" in n for n in p["notes"]), p["notes"]
    text = html.read_text(encoding="utf-8")
    assert "不在本市行政区内" in text and "5,000 m²" in text


def test_a_site_wholly_in_the_city_has_nothing_outside(city_db, tmp_path):
    d = _districts()
    x, y = d.geometry.values[0].representative_point().coords[0]
    site = shapely.box(x, y, x + 100, y + 100)
    assert sum(g.intersection(site).area for g in d.geometry) == pytest.approx(site.area)
    proc = run_cli(["check", str(_project(tmp_path, site, shapely.box(x + 10, y + 10, x + 30,
                                                                      y + 30))),
                    "--json", "--no-record"], city_db.env())
    p = json.loads(proc.stdout)["project"]
    assert p["outside_districts_m2"] == 0.0
    assert not any("no district" in n for n in p["notes"]), p["notes"]


def test_no_district_loaded_is_said(adb):
    """The approval fixture's database holds no district: the site's districts are unknown,
    not empty."""
    from layers.approval.check import check
    from layers.approval.project import build_project, records_from_geojson

    assert adb.scalar("SELECT count(*) FROM admin_divisions") == 0  # premise
    fc = collection(feature("site", shapely.box(0, 0, 100, 100)),
                    feature("building", shapely.box(10, 10, 30, 30), floors_above=3,
                            height=10))
    proj = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                         storage_srid=SRID)
    p = check(adb.conninfo, proj, adb.profile)[0]["project"]
    assert p["districts"] == [] and p["outside_districts_m2"] is None
    assert any("no district is loaded" in n for n in p["notes"]), p["notes"]

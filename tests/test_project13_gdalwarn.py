"""``cim check`` and GDAL's warnings (session 13): reading a hand-written GeoJSON whose
building ring is left open printed GDAL's raw Python warning, with a line of the loaders'
code — "read.py:316: RuntimeWarning: Non closed ring detected. To avoid accepting it, set
the OGR_GEOMETRY_ACCEPT_UNCLOSED_RING configuration option to NO" — beside a report whose
notes say the ring was read closed. The check now reads within ``loaders.sources.gdal_messages.gdal_warnings``
as ``cim load`` does: a warning the notes tell is dropped, any other is one line naming the
file. And a GeoPackage whose first layer is empty (a template's 拆除) is checked, not
refused as having no features.

Files written by hand (GeoJSON) or by GDAL (pyogrio) through the real CLI; expected values
from the drawn squares (the open ring's 20 × 20 m, the box's 20 × 30 m)."""

from __future__ import annotations

import json

import numpy as np
import shapely
from pyogrio.raw import write
from shapely.geometry import box

from tests import approval_fixture
from tests.approval_fixture import SRID, X0, Y0, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

CRS_MEMBER = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{SRID}"}}
RING_NOTE = "a polygon ring is not closed (its last point is not its first): read closed"


def _square(x, y, w, closed=True):
    pts = [[X0 + x, Y0 + y], [X0 + x + w, Y0 + y], [X0 + x + w, Y0 + y + w], [X0 + x, Y0 + y + w]]
    return {"type": "Polygon", "coordinates": [pts + [pts[0]]] if closed else [pts]}


def _geojson(path, building_ring_closed=True, same_ids=False):
    """A site on the fixture's parcel PA and one building 20 × 20 m inside it."""
    feats = [{"type": "Feature", "properties": {"role": "site"}, "geometry": _square(0, 0, 100)},
             {"type": "Feature", "properties": {"role": "building", "name": "1号楼",
                                                "floors_above": 3, "height": 10.0},
              "geometry": _square(40, 40, 20, building_ring_closed)}]
    if same_ids:  # GDAL: "Several features with id = 1 have been found", renumbering them
        for f in feats:
            f["id"] = 1
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": CRS_MEMBER,
                                "features": feats}, ensure_ascii=False), encoding="utf-8")
    return path


def _check(path, env):
    return run_cli(["check", str(path), "--json", "--no-record"], env)


def test_the_unclosed_ring_warning_is_dropped_the_notes_telling_it(adb, tmp_path):
    path = _geojson(tmp_path / "open_ring.geojson", building_ring_closed=False)
    proc = _check(path, adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    assert "Non closed ring" not in proc.stderr and "RuntimeWarning" not in proc.stderr, \
        proc.stderr
    p = json.loads(proc.stdout)["project"]
    assert [(b["name"], b["footprint_m2"]) for b in p["buildings"]] == [("1号楼", 400.0)]
    assert [n for n in p["notes"] if RING_NOTE in n] == [f"open_ring feature 2: {RING_NOTE}"]


def test_another_gdal_warning_is_one_line_naming_the_file(adb, tmp_path):
    path = _geojson(tmp_path / "same_ids.geojson", same_ids=True)
    proc = _check(path, adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr  # no second line of the loaders' code
    assert lines[0].startswith(f"warning: {path}: ") and "id = 1" in lines[0], lines
    assert "RuntimeWarning" not in proc.stderr, proc.stderr
    assert len(json.loads(proc.stdout)["project"]["buildings"]) == 1


def test_a_geopackage_whose_first_layer_is_empty_is_checked(adb, tmp_path):
    path = tmp_path / "template.gpkg"
    for i, (name, geoms) in enumerate((("拆除", []), ("用地红线", [box(0, 0, 100, 100)]),
                                       ("建筑", [box(10, 10, 30, 40)]))):
        write(str(path), shapely.to_wkb(np.array([to_storage(g) for g in geoms],
                                                 dtype=object)),
              [np.array(["1号楼"] * len(geoms), dtype=object)], fields=["名称"],
              geometry_type="Polygon", crs=f"EPSG:{SRID}", driver="GPKG", layer=name,
              append=i > 0)
    proc = _check(path, adb.env())
    assert proc.returncode in (0, 1), proc.stderr  # was 2: "layer '拆除' is empty"
    p = json.loads(proc.stdout)["project"]
    assert p["site_area_m2"] == 10_000.0
    assert [(b["name"], b["footprint_m2"]) for b in p["buildings"]] == [("1号楼", 600.0)]
    assert not [n for n in p["notes"] if "拆除" in n or "not read" in n], p["notes"]

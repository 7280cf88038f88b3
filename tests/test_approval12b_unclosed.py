"""A polygon ring that is not closed (its last point is not its first), which GDAL reads
from a hand-written GeoJSON or CSV WKT with a warning ("Non closed ring detected"): its WKB
was decoded with ``on_invalid="ignore"`` (loaders.sources.batch), so the feature came out with
no geometry — ``cim check`` said "the geometry is empty" of a building that is there, and
the loaders rejected it as having none — while the HTTP process, whose GeoJSON shapely reads
closing the ring, checked it. Now the ring is closed wherever it is read (only the rows
whose WKB GEOS refused are decoded again, with ``on_invalid="fix"``), and the approval check
says so in its notes, the same words from the file and from the process.

Expected values by construction: the unclosed ring is a 20 × 20 m square (400 m²) drawn
with four corners; the loader's is 10 × 10 m (100 m²)."""

from __future__ import annotations

import json

import psycopg
import pyogrio
import pytest
import requests
import shapely

from cim.config import PROJECT_ROOT
from tests import approval_fixture
from tests.conftest import run_cli

served = approval_fixture.served

SRID = 4527
BOUNDARIES = PROJECT_ROOT / "data_samples" / "jining" / "boundaries.gpkg"
NOTE = "a polygon ring is not closed (its last point is not its first): read closed"


def _inside():
    """A point well inside the city (the districts' union), in the storage CRS."""
    city = shapely.union_all(pyogrio.read_dataframe(BOUNDARIES).to_crs(SRID).geometry.values)
    p = city.buffer(-500).representative_point()
    return round(p.x), round(p.y)


def _ring(x, y, w, closed):
    pts = [[x, y], [x + w, y], [x + w, y + w], [x, y + w]]
    return [pts + [pts[0]]] if closed else [pts]


def _project_text():
    """The project as a GIS user writes it by hand: the building's ring left open."""
    x, y = _inside()
    fc = {"type": "FeatureCollection",
          "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{SRID}"}},
          "features": [
              {"type": "Feature", "properties": {"role": "site"},
               "geometry": {"type": "Polygon", "coordinates": _ring(x, y, 100, True)}},
              {"type": "Feature", "properties": {"role": "building", "name": "1号楼",
                                                 "floors_above": 3, "height": 10.0},
               "geometry": {"type": "Polygon",
                            "coordinates": _ring(x + 40, y + 40, 20, False)}}]}
    return json.dumps(fc, ensure_ascii=False)


def test_cim_check_and_the_process_close_the_ring_and_say_so(served, tmp_path):
    d, base = served
    text = _project_text()
    path = tmp_path / "open_ring.geojson"
    path.write_text(text, encoding="utf-8")
    proc = run_cli(["check", str(path), "--json", "--no-record"], d.env())
    assert proc.returncode in (0, 1), proc.stderr  # checked, not refused as empty
    cli = json.loads(proc.stdout)["project"]
    r = requests.post(f"{base}/processes/approval-check/execution",
                      json={"inputs": {"project": json.loads(text), "name": "p"}}, timeout=120)
    assert r.status_code == 200, r.text
    http = r.json()["project"]
    for p in (cli, http):
        assert [(b["name"], b["footprint_m2"]) for b in p["buildings"]] == [("1号楼", 400.0)]
    # the same note, naming the feature (the file's layer is GDAL's name for it)
    assert [n for n in cli["notes"] if NOTE in n] == [f"open_ring feature 2: {NOTE}"]
    assert [n for n in http["notes"] if NOTE in n] == [f"features feature 2: {NOTE}"]


def test_a_loader_loads_the_ring_closed(served, tmp_path, jining_profile):
    from loaders.buildings import load_buildings

    d, _ = served
    x, y = _inside()
    path = tmp_path / "buildings.csv"  # WKT written by hand, read by OGR's CSV driver
    path.write_text(
        "编号,建筑名称,地上层数,WKT\n"
        f'U1,开口,2,"POLYGON (({x} {y}, {x + 10} {y}, {x + 10} {y + 10}, {x} {y + 10}))"\n'
        f'C1,闭合,2,"POLYGON (({x + 20} {y}, {x + 30} {y}, {x + 30} {y + 10}, {x + 20} {y + 10}, '
        f'{x + 20} {y}))"\n', encoding="utf-8")
    report = load_buildings(d.conninfo, jining_profile, path, crs=f"EPSG:{SRID}")
    assert report.loaded == 2 and not report.rejected, report
    with psycopg.connect(d.conninfo) as conn:
        areas = {k.rsplit(":", 1)[-1]: a for k, a in conn.execute(
            "SELECT source_key, ST_Area(geom) FROM buildings").fetchall()}
    assert areas == {"U1": pytest.approx(100.0), "C1": pytest.approx(100.0)}
    with psycopg.connect(d.conninfo) as conn:
        flags = {k.rsplit(":", 1)[-1]: f for k, f in conn.execute(
            "SELECT source_key, flags FROM buildings").fetchall()}
    # the row says what was done to it (no 建筑用途 in the file: use_missing on both)
    assert flags == {"U1": ["ring_closed", "use_missing"], "C1": ["use_missing"]}
    assert report.flagged_by_reason.get("ring_closed") == 1, report.flagged_by_reason

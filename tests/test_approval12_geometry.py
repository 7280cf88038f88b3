"""A footprint whose ring encloses no area (three points, two of them the same: a CAD
polyline collapsed to a line) was refused as "the geometry is a Polygon; a building needs a
polygon" — a message that contradicts itself. It says what is wrong now, naming file,
feature and field, from the CLI and the process alike. The drawn ring's area (0 m²) by
shapely."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import Polygon, box

from cim.errors import InputError
from layers.approval.project import build_project, records_from_geojson
from tests.approval_fixture import SRID, X0, Y0, collection, feature
from tests.conftest import run_cli

RING = [[X0 + 10, Y0 + 10], [X0 + 20, Y0 + 10], [X0 + 10, Y0 + 10]]


def _fc() -> dict:
    fc = collection(feature("site", box(0, 0, 100, 100)),
                    feature("building", box(30, 30, 40, 40), name="ok", floors_above=3,
                            height=10))
    fc["features"].append({"type": "Feature", "properties": {
        "role": "building", "name": "flat", "floors_above": 3, "height": 10},
        "geometry": {"type": "Polygon", "coordinates": [RING]}})
    fc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{SRID}"}}
    return fc


def test_a_ring_enclosing_no_area_is_named_so():
    assert Polygon(RING).area == 0  # premise
    with pytest.raises(InputError) as e:
        build_project(records_from_geojson(_fc()), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    msg = str(e.value)
    assert "feature 3, field 'geometry'" in msg and "encloses no area" in msg, msg
    assert "is a Polygon" not in msg


def test_the_cli_names_it_too(tmp_path, jining_profile):
    path = tmp_path / "p.geojson"
    path.write_text(json.dumps(_fc()), encoding="utf-8")
    from cim.db.engine import drop_database
    from tests.conftest import make_db, server_url

    d = make_db("ap12geom", jining_profile, apply_profile=False)
    try:
        proc = run_cli(["check", str(path), "--no-record"], d.env())
    finally:
        drop_database(server_url(), d.name)
    assert proc.returncode == 2, proc.stdout
    assert str(path) in proc.stderr and "feature 3, field 'geometry'" in proc.stderr \
        and "encloses no area" in proc.stderr, proc.stderr

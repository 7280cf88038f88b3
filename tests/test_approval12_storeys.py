"""A proposed building whose height is lower than its storeys above ground can be: 30 storeys
at 10 m (0.33 m a storey) was read as given — the 30 storeys made the FAR, the 10 m passed the
parcel's height limit, the 45 m airport zone and the spacing (a 30-storey tower is some 90 m):
one of the two numbers is wrong, and which one decides whether the height rules pass. It is an
input problem naming both fields now, as 地上层数 0 on a tall building is
(tests/test_storey_approval.py). The bound is field_units.yaml's ``min_storey_height_m``
(2.2 m, GB/T 50353-2013's lowest storey counted in full), read here from the file; the
project is the fixture's (tests/approval_fixture.py) situation, drawn here."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml
from shapely.geometry import Point, box

from cim.errors import InputError
from cim.profile import DICTIONARY_DIR
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import SRID, ZONES, collection, feature, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE = box(0, 0, 100, 100)
A, B = box(10, 10, 30, 30), box(60, 10, 80, 30)
ARGS = dict(source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)
MIN_STOREY = float(yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(
    encoding="utf-8"))["min_storey_height_m"])


def _read(a_props: dict, profile=None):
    fc = collection(feature("site", SITE), feature("building", A, name="A", **a_props),
                    feature("building", B, name="B", 地上层数=18, 建筑高度=54))
    return build_project(records_from_geojson(fc), profile=profile, **ARGS)


@pytest.mark.parametrize("props", [{"地上层数": 30, "建筑高度": 10},
                                   {"地上层数": "30层", "建筑高度": "10m"},
                                   {"floors_above": 2, "height": 2 * MIN_STOREY - 0.01}])
def test_a_height_lower_than_its_storeys_can_be_is_refused_naming_both(props):
    floors, height = list(props)
    assert float(str(props[height]).rstrip("m")) < int(str(props[floors]).rstrip("层")) \
        * MIN_STOREY  # premise: lower than that many storeys of the lowest height
    with pytest.raises(InputError) as e:
        _read(props)
    msg = str(e.value)
    assert f"field {floors!r}" in msg and "feature 2" in msg, msg
    assert f"{height}={props[height]}" in msg and "min_storey_height_m" in msg, msg


@pytest.mark.parametrize("floors, height", [(30, 30 * MIN_STOREY), (18, 54.0), (1, 2.5),
                                            (3, None), (None, 10.0),
                                            # one storey is not judged: a gatehouse's height
                                            # given at its eaves
                                            (1, MIN_STOREY - 0.2)])
def test_a_height_its_storeys_fit_in_is_read(floors, height):
    props = {k: v for k, v in (("地上层数", floors), ("建筑高度", height)) if v is not None}
    a = _read(props).buildings[0]
    assert (a.floors_above, a.height) == (floors, height)


def test_a_dxf_label_of_30_storeys_and_h_10_is_refused():
    recs = [{"layer": "用地红线", "row": 1, "properties": {}, "geometry": to_storage(SITE)},
            {"layer": "建筑", "row": 2, "properties": {}, "geometry": to_storage(A)},
            {"layer": "建筑", "row": 3, "properties": {"Text": "名称=1号楼;30F;H=10"},
             "geometry": to_storage(Point(20, 20))}]
    with pytest.raises(InputError) as e:
        build_project(recs, **{**ARGS, "source": "t.dxf"})
    msg = str(e.value)
    assert "field '30F'" in msg and "H=10" in msg and "feature 2" in msg, msg


def test_a_citys_lowest_storey_height_decides(jining_profile, tmp_path):
    """A city whose copy says 2.0 m reads 10 storeys at 21 m (2.1 m a storey); the
    platform's 2.2 m refuses it."""
    units = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(encoding="utf-8"))
    units["min_storey_height_m"] = 2.0
    (tmp_path / "city.yaml").write_text(yaml.safe_dump(units, allow_unicode=True),
                                        encoding="utf-8")
    city = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "field_units": tmp_path / "city.yaml"})
    props = {"地上层数": 10, "建筑高度": 21}
    assert _read(props, city).buildings[0].height == 21
    with pytest.raises(InputError, match="min_storey_height_m"):
        _read(props, jining_profile)


def test_the_cli_refuses_30_storeys_at_10_m_in_the_airport_zone(adb, tmp_path):
    """In the 45 m airport zone (x 0..50) the project passed every height rule (exit 0)."""
    zone, _, limit = ZONES["Z-AIR"]
    assert A.within(zone) and 10 < limit < 30 * MIN_STOREY  # premise: only the 10 m passes
    path = tmp_path / "p.geojson"
    fc = collection(feature("site", SITE), feature("building", A, 名称="A", 地上层数=30,
                                                   建筑高度=10))
    fc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{SRID}"}}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    proc = run_cli(["check", str(path), "--no-record"], adb.env())
    assert proc.returncode == 2, proc.stdout
    assert str(path) in proc.stderr and "field '地上层数'" in proc.stderr \
        and "建筑高度=10" in proc.stderr, proc.stderr

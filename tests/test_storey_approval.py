"""The approval check's reading of 地上层数 0 (no floor above ground: an underground
structure, which covers no ground and keeps no spacing) on a proposed building taller than a
storey (field_units.yaml min_storey_height_m, 2.2 m, as the loaders read it): 地上层数 0 and
建筑高度 54 was read as underground, skipped by the spacing rule and left out of the density;
it is an input problem naming both fields now. Buildings drawn here (tests/approval_fixture.py
situation, no database needed to read a project): A box(10,10,30,30) and B box(35,10,55,30),
5 m apart; which heights pass the threshold is read off the numbers written here."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from shapely.geometry import Point, box

from cim.errors import InputError
from cim.profile import DICTIONARY_DIR
from layers.approval.project import build_project, records_from_geojson
from tests.approval_fixture import SRID, collection, feature, to_storage

SITE = box(0, 0, 100, 100)
A, B = box(10, 10, 30, 30), box(35, 10, 55, 30)
ARGS = dict(source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)


def _read(a_props: dict, profile=None):
    fc = collection(feature("site", SITE), feature("building", A, name="A", **a_props),
                    feature("building", B, name="B", 地上层数=18, 建筑高度=54))
    return build_project(records_from_geojson(fc), profile=profile, **ARGS)


@pytest.mark.parametrize("props", [{"地上层数": 0, "建筑高度": 54},
                                   {"地上层数": "0层", "建筑高度": "54m"},
                                   {"floors_above": 0, "height": 2.21}])
def test_no_floor_above_ground_on_a_building_taller_than_a_storey_is_refused(props):
    with pytest.raises(InputError) as e:
        _read(props)
    msg = str(e.value)
    floors, height = list(props)
    assert f"field {floors!r}" in msg and "feature 2" in msg, msg
    assert f"{height}={props[height]}" in msg and "min_storey_height_m" in msg, msg


@pytest.mark.parametrize("height", [2.0, 2.2, None])
def test_no_floor_above_ground_on_a_structure_at_most_a_storey_high_is_underground(height):
    props = {"地上层数": 0, **({"建筑高度": height} if height is not None else {})}
    a = _read(props).buildings[0]
    assert (a.label, a.underground, a.floors_above, a.height) == ("A", True, 0, height)


def test_a_dxf_label_giving_no_floor_and_a_tall_height_is_refused():
    recs = [{"layer": "用地红线", "row": 1, "properties": {}, "geometry": to_storage(SITE)},
            {"layer": "建筑", "row": 2, "properties": {}, "geometry": to_storage(A)},
            {"layer": "建筑", "row": 3, "properties": {"Text": "名称=1号楼;0F;H=54"},
             "geometry": to_storage(Point(20, 20))}]
    with pytest.raises(InputError) as e:
        build_project(recs, **{**ARGS, "source": "t.dxf"})
    msg = str(e.value)
    assert "field '0F'" in msg and "H=54" in msg and "feature 2" in msg, msg


def test_a_citys_lowest_storey_height_decides(jining_profile, tmp_path):
    """A city whose copy says 3 m: 地上层数 0 on 2.5 m is an underground structure's entry
    there (refused under the platform's 2.2 m); a copy without the key takes 2.2 m."""
    units = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(encoding="utf-8"))
    units["min_storey_height_m"] = 3
    (tmp_path / "city.yaml").write_text(yaml.safe_dump(units, allow_unicode=True),
                                        encoding="utf-8")
    del units["min_storey_height_m"]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(units, allow_unicode=True),
                                       encoding="utf-8")
    city, old = (replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                       "field_units": tmp_path / n})
                 for n in ("city.yaml", "old.yaml"))
    props = {"地上层数": 0, "建筑高度": 2.5}
    assert _read(props, city).buildings[0].underground
    for prof in (jining_profile, old):
        with pytest.raises(InputError, match="2.2 m"):
            _read(props, prof)

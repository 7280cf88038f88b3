"""The approval check's project reader and the planning loaders on a header's brackets:
text naming no unit (地面高程(黄海), 建筑高度(规划), 计容建筑面积(地上)) is a qualifier, as
cim/dictionaries/field_units.yaml's header says, and the value is read in the attribute's unit;
brackets that look like a unit the file does not spell (万, dm, yd, ft²) are refused; a refusal
names the units as a header spells them (万㎡, 亩), never by their ids (wan_m2, mu)."""

from __future__ import annotations

import pytest
import yaml
from shapely.geometry import box

from cim.errors import InputError
from cim.profile import DICTIONARY_DIR
from layers.approval.project import build_project
from tests.approval_fixture import SRID, to_storage

SITE = box(0, 0, 100, 100)
B = box(70, 10, 90, 40)
RAW = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(encoding="utf-8"))


def _project(props: dict):
    recs = [{"layer": "用地红线", "row": 1, "properties": {}, "geometry": to_storage(SITE)},
            {"layer": "建筑", "row": 2, "properties": {"name": "B", **props},
             "geometry": to_storage(B)}]
    return build_project(recs, source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)


@pytest.mark.parametrize("props, attr, want", [
    ({"地面高程(黄海)": 41.5, "建筑高度": 30}, "ground_elevation", 41.5),
    ({"地面高程（1985国家高程基准）": 41.5, "建筑高度": 30}, "ground_elevation", 41.5),
    ({"建筑高度(规划)": 54, "地上层数": 18}, "height", 54.0),
    ({"计容建筑面积(地上)": 25_000, "建筑高度": 30}, "counted_area", 25_000.0),
    ({"建筑高度(H)": 54, "地上层数": 18}, "height", 54.0),  # the quantity's symbol
    ({"地上层数(栋)": 18, "建筑高度": 54}, "floors_above", 18),
    # a qualifier beside a unit: the unit is read (85,000 mm = 85 m)
    ({"建筑高度(mm)(规划)": 85_000, "地上层数": 25}, "height", 85.0),
])
def test_a_qualifier_in_brackets_changes_nothing(props, attr, want):
    b = _project(props).buildings[0]
    assert getattr(b, attr) == pytest.approx(want)


@pytest.mark.parametrize("header", ["计容建筑面积(万)", "计容建筑面积（千）", "计容建筑面积(千㎡)",
                                    "计容建筑面积(万亩)", "计容建筑面积(100m2)",
                                    "计容建筑面积(dm²)", "建筑高度(dm)", "建筑高度(yd)",
                                    "地面高程(单位:dm)", "建筑高度(ft²)"])
def test_brackets_that_look_like_an_unknown_unit_are_refused(header):
    with pytest.raises(InputError) as e:
        _project({header: 10, "地上层数": 3} if "高度" in header else
                 {header: 10, "建筑高度": 9})
    assert f"field {header!r}" in str(e.value) and "feature 2" in str(e.value), str(e.value)
    assert "name no unit the reader knows" in str(e.value)

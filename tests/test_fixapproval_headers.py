"""The approval check's project reader and the planning loaders on a header's brackets:
text naming no unit (地面高程(黄海), 建筑高度(规划), 计容建筑面积(地上)) is a qualifier, as
cim/dictionaries/field_units.yaml's header says, and the value is read in the attribute's unit;
brackets that look like a unit the file does not spell (万, dm, yd, ft²) are refused; a refusal
names the units as a header spells them (万㎡, 亩), never by their ids (wan_m2, mu)."""

from __future__ import annotations

import re

import pytest
import yaml
from shapely.geometry import box

from cim.errors import InputError
from cim.numbers import ValueProblem
from cim.profile import DICTIONARY_DIR
from layers.approval.project import build_project
from layers.approval.units import Units
from loaders import planning_values as pv
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


def _named(msg: str) -> list[str]:
    m = re.search(r"a header may name ([^)]*?)(?:, or no unit)?\)", msg)
    assert m, msg
    return m.group(1).split(", ")


@pytest.mark.parametrize("f, header", [("counted_area", "计容建筑面积(m)"),
                                       ("counted_area", "计容建筑面积(万)"),
                                       ("height", "建筑高度(层)")])
def test_the_approval_message_names_units_as_a_header_spells_them(f, header):
    """Every unit the message offers, written in the header's brackets as told, is read."""
    units = Units.of()
    fac, why = units.factor(f, header)
    assert fac is None and why
    named = _named(why)
    for unit_id in ("wan_m2", "mu", "storeys"):  # ids, no spellings
        assert unit_id not in named, why
    if f == "counted_area":  # the file's first spellings of 万㎡ and 亩
        assert RAW["spellings"]["wan_m2"][0] in named and RAW["spellings"]["mu"][0] in named
        assert len(named) == 1 + len(RAW["conversions"]["m2"])
    for s in named:
        renamed = f"计容建筑面积({s})" if f == "counted_area" else f"建筑高度({s})"
        fac, why2 = units.factor(f, renamed)
        assert fac is not None and why2 is None, (s, why2)


def test_the_area_message_names_units_as_a_header_spells_them():
    units = pv.platform_area_units()
    with pytest.raises(ValueProblem) as e:
        pv.parse_area("10", "m")
    msg = str(e.value)
    named = re.search(r"no unit of area \(([^)]*)\)", msg).group(1).split(", ")
    assert "wan_m2" not in named and "mu" not in named, msg
    assert RAW["spellings"]["wan_m2"][0] in named and RAW["spellings"]["mu"][0] in named, msg
    assert sorted(units.header(f"面积({s})") for s in named) == sorted(units.factors), msg

"""The approval check's layer and field names are city-editable (approval_names.yaml, a
city's copy named in its profile): a design institute's 建筑轮廓 layer and 楼层数 field are read
once the city's copy names them, and not before (the feature has no role, the field is named
as not read). Roles and attributes the copy leaves out keep the platform's names. Expected
values written here (the drawing's numbers), not taken from the code."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from shapely.geometry import box

from cim.errors import InputError
from layers.approval.project import build_project, records_from_geojson
from tests.approval_fixture import SRID, collection, feature

ARGS = dict(source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)


def _records():
    building = feature("x", box(10, 10, 30, 30), 楼层数=6, 建筑高度=18)
    building["properties"] = {"类别": "建筑轮廓", "楼层数": 6, "建筑高度": 18}
    return records_from_geojson(collection(feature("site", box(0, 0, 100, 100)), building))


def test_a_citys_names_for_layers_and_fields_are_read(jining_profile, tmp_path):
    with pytest.raises(InputError) as e:  # the platform's names know neither
        build_project(_records(), profile=jining_profile, **ARGS)
    assert "role '建筑轮廓' is not one of" in str(e.value), str(e.value)
    own = tmp_path / "approval_names.yaml"
    own.write_text(yaml.safe_dump({"roles": {"building": ["建筑轮廓"]},
                                   "fields": {"floors_above": ["楼层数"]}},
                                  allow_unicode=True), encoding="utf-8")
    city = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "approval_names": own})
    proj = build_project(_records(), profile=city, **ARGS)
    (b,) = proj.buildings
    assert (b.floors_above, b.height) == (6, 18)  # height: the platform's 建筑高度 kept
    assert proj.site.area == pytest.approx(100 * 100)  # its role by the platform's names


def test_a_broken_names_file_is_a_configuration_error(jining_profile, tmp_path):
    from cim.errors import ConfigError

    own = tmp_path / "approval_names.yaml"
    own.write_text(yaml.safe_dump({"roles": {"tower": ["塔楼"]}}, allow_unicode=True),
                   encoding="utf-8")
    city = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "approval_names": own})
    with pytest.raises(ConfigError) as e:
        build_project(_records(), profile=city, **ARGS)
    assert "roles.tower" in str(e.value) and str(own) in str(e.value)

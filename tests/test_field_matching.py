"""Delivered field names matched to attributes: a bracket's words tell fields apart, two
fields read alike are refused, a header's unit must be its attribute's. Expected values by
construction: the names written here."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from cim.errors import InputError
from cim.profile import FieldAliases
from loaders.buildings import load_buildings
from loaders.field_names import header_unit, map_fields, match_fields

SPELL = {"m": "m", "米": "m", "cm": "cm", "mm": "mm", "层": "storeys"}
PARCELS = FieldAliases({"max_far": ["容积率", "容积率上限"], "max_height": ["限高"],
                        "source_id": ["地块编码"], "parcel_code": ["地块编码"]},
                       units={"max_height": "m"}, spellings=SPELL)


def test_brackets_words_tell_fields_apart():
    got = map_fields(["地块编码", "容积率(下限)", "容积率（上限）", "限高(m)"], PARCELS)
    assert got == {"max_far": "容积率（上限）", "max_height": "限高(m)", "source_id": "地块编码",
                   "parcel_code": "地块编码"}
    # a qualifier that is no unit and matches no alias as written: as before, the bare name
    assert map_fields(["X(北坐标)"], FieldAliases({"x": ["X"]}, units={"x": "m"},
                                                  spellings=SPELL)) == {"x": "X(北坐标)"}


def test_two_fields_read_alike_are_refused():
    with pytest.raises(InputError) as e:
        map_fields(["容积率(甲)", "容积率(乙)"], PARCELS, where="p.gpkg")
    assert "容积率(甲)" in str(e.value) and "容积率(乙)" in str(e.value) and "p.gpkg" in str(e.value)
    # the mapping file says which
    assert map_fields(["容积率(甲)", "容积率(乙)"], PARCELS, {"max_far": "容积率(乙)"}) == \
        {"max_far": "容积率(乙)"}
    # where the units tell them apart: the attribute's
    assert map_fields(["限高(层)", "限高(米)"], PARCELS)["max_height"] == "限高(米)"


def test_a_header_in_another_unit_is_refused():
    assert header_unit("管径（mm）", SPELL) == "mm" and header_unit("X(北坐标)", SPELL) is None
    for name in ("限高(层)", "限高(cm)"):
        with pytest.raises(InputError) as e:
            map_fields([name], PARCELS, where="p.shp")
        assert e.value.field == name and "read in m" in e.value.message
    assert map_fields(["限高(米)"], PARCELS) == {"max_height": "限高(米)"}
    # a survey table's headers: one header serves one attribute
    assert match_fields(["地块编码"], PARCELS, exclusive=True) == {"source_id": "地块编码"}


def test_a_building_height_in_centimetres_is_refused_whole(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "cm.gpkg"
    gpd.GeoDataFrame({"编号": ["B1"], "建筑高度(cm)": [1200]}, geometry=[box(x, y, x + 10, y + 10)],
                     crs="EPSG:4527").to_file(path, engine="pyogrio")
    with pytest.raises(InputError) as e:
        load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert e.value.field == "建筑高度(cm)" and "cm.gpkg" in str(e.value)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0


def test_a_survey_depth_in_centimetres_is_refused_whole(fresh_db, tmp_path):
    """起点埋深(cm) = 150 was loaded as a depth of 150 m (or rejected as out of range with no
    word of the unit): the survey table is refused, naming the table and the column."""
    import csv

    from tests.test_pipes import E0, N0

    def write(name, rows):
        with open(tmp_path / name, "w", encoding="gbk", newline="") as f:
            csv.writer(f).writerows(rows)

    write("给水_管线段成果表.csv", [["起点号", "终点号", "起点埋深(cm)", "终点埋深(cm)", "材质", "管径(mm)"],
                            ["JS1", "JS2", "150", "150", "钢", "DN300"]])
    write("给水_管线点成果表.csv", [["点号", "特征", "X坐标", "Y坐标", "地面高程(m)"],
                            ["JS1", "直线点", f"{N0:.3f}", f"{E0:.3f}", "36.3"],
                            ["JS2", "直线点", f"{N0 + 20:.3f}", f"{E0:.3f}", "36.3"]])
    from loaders.pipes.load import load_pipes_files

    with pytest.raises(InputError) as e:
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    assert e.value.field in ("起点埋深(cm)", "终点埋深(cm)"), e.value
    assert "管线段成果表" in str(e.value) and "read in m" in e.value.message
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments") == 0


def test_letters_are_quantities_and_the_right_unit_wins_and_a_mapping_is_taken():
    heights = FieldAliases({"height": ["建筑高度", "高度"], "max_height": ["限高", "建筑限高"],
                            "start_depth": ["起点埋深"], "size": ["管径"]},
                           units={"height": "m", "max_height": "m", "start_depth": "m",
                                  "size": "mm"}, spellings=SPELL)
    # H, h, D: the quantity's letter, no unit
    assert map_fields(["建筑高度(H)", "起点埋深(h)", "管径(D)"], heights) == {
        "height": "建筑高度(H)", "start_depth": "起点埋深(h)", "size": "管径(D)"}
    # a field in the attribute's unit is taken before an alias's field in another unit
    assert map_fields(["限高(层)", "建筑限高(米)"], heights)["max_height"] == "建筑限高(米)"
    # what the mapping file names is taken as it is
    assert map_fields(["起点埋深(cm)"], heights, {"start_depth": "起点埋深(cm)"}) == {
        "start_depth": "起点埋深(cm)"}



def test_the_platforms_units_take_letters_as_quantities(jining_profile):
    """With field_units.yaml as shipped: 建筑高度(H), 起点埋深(h), 管径(D), 地面高程(H),
    限高(H) load as before; 起点埋深(cm), 管径(m) and 限高(层) are refused."""
    fa = jining_profile.field_aliases
    assert map_fields(["建筑高度(H)"], fa["buildings"]) == {"height": "建筑高度(H)"}
    segs = map_fields(["起点埋深(h)", "管径(D)"], fa["pipe_segments"])
    assert (segs["start_depth"], segs["size"]) == ("起点埋深(h)", "管径(D)")
    assert map_fields(["地面高程(H)"], fa["pipe_points"]) == {"ground_elevation": "地面高程(H)"}
    assert map_fields(["限高(H)"], fa["planning_parcels"])["max_height"] == "限高(H)"
    assert map_fields(["X(度)", "Y(度)"], fa["sensors"]) == {"x": "X(度)", "y": "Y(度)"}
    assert map_fields(["上报周期(s)"], fa["sensors"]) == {"interval_s": "上报周期(s)"}
    # h and d are hours and days where the attribute is a duration; F storeys, 分 minutes
    for fields, section in ((["起点埋深(cm)"], "pipe_segments"), (["管径(m)"], "pipe_segments"),
                            (["限高(层)"], "planning_parcels"), (["限高(F)"], "height_zones"),
                            (["上报周期(h)"], "sensors"), (["上报周期(d)"], "sensors"),
                            (["上报周期(分)"], "sensors")):
        with pytest.raises(InputError):
            map_fields(fields, fa[section])


def test_a_gbk_name_cut_at_ten_bytes_is_the_alias_it_begins(jining_profile):
    """GDAL cuts a GBK .dbf's field names at 10 bytes: 主管部门代码 → 主管部门代 (five
    characters, a whole one each two bytes: the reader cannot tell it was cut). It is the
    alias it begins when it begins one attribute's; three characters (a UTF-8 cut) are too
    few to tell (最大建: 最大建筑高度 or 最大建筑密度?), and so is a name beginning two
    attributes' aliases."""
    comps = jining_profile.field_aliases["components"]
    got = map_fields(["主管部门代", "权属单位名", "养护单位代"], comps)
    assert got == {"dept_code": "主管部门代", "owner_name": "权属单位名",
                   "maint_code": "养护单位代"}, got
    parcels = jining_profile.field_aliases["planning_parcels"]
    assert "max_density" not in map_fields(["最大建"], parcels)
    assert map_fields(["最大建筑高"], parcels) == {}  # begins no alias


def test_a_city_field_units_copy_keeps_the_platforms_newer_spellings(jining_profile, tmp_path):
    """A city's field_units.yaml copied before 厘米 was spelled: the platform's spellings are
    read under the city's, so 限高(厘米) is still a header in another unit, refused — never
    a height read in m."""
    from dataclasses import replace

    import yaml

    from cim.profile import DICTIONARY_DIR

    units = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(encoding="utf-8"))
    units["spellings"]["cm"] = ["cm"]  # no 厘米
    old = tmp_path / "field_units.yaml"
    old.write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    prof = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "field_units": old})
    with pytest.raises(InputError) as e:
        map_fields(["限高(厘米)"], prof.field_aliases["planning_parcels"], where="p.shp")
    assert e.value.field == "限高(厘米)" and "read in m" in e.value.message

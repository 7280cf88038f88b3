"""The lowest storey height (field_units.yaml ``min_storey_height_m``, 2.2 m): a 0 storeys
above ground on a taller building is the exporter's "unknown" in the loaders. It is a fact a
city edits in its copy of field_units.yaml, not a constant of the code; a city's copy made
before the key was added takes the platform's value. Buildings known by construction: boxes
at known coordinates with heights written by the test; which of them a threshold flags is
read off the heights here."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import pytest
import shapely
import yaml

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, merged_number
from loaders.buildings import load_buildings
from tests.conftest import scratch_db

HEIGHTS = {"S1": 15.0, "S2": 3.0, "S3": 25.0, "S4": 1.5}  # all with 地上层数 0


def _units(tmp_path, name: str, **change) -> dict:
    units = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(encoding="utf-8"))
    for k, v in change.items():
        if v is None:
            units.pop(k, None)
        else:
            units[k] = v
    (tmp_path / name).write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    return units


def _stored(d) -> dict:
    return {k.split(":")[1]: (f, "floors_above_unknown" in flags) for k, f, flags in d.rows(
        "SELECT source_key, floors_above, flags FROM buildings "
        "WHERE source_key LIKE 'survey:%%' AND valid_to IS NULL")}


def _expected(threshold: float) -> dict:
    return {k: (None, True) if h > threshold else (0, False) for k, h in HEIGHTS.items()}


def test_a_citys_lowest_storey_height_decides_and_a_reload_applies_it(jining_profile,
                                                                        tmp_path):
    """Loaded with the platform's 2.2 m, then reloaded unchanged under a city copy saying
    20 m: the 15 m building's 0 is a count (0 storeys) now, the 25 m one's still unknown —
    the reload converts again (the city's dictionary changed), it does not skip the rows."""
    city = tmp_path / "city"
    city.mkdir()
    _units(city, "field_units.yaml", min_storey_height_m=20)
    old = tmp_path / "old"
    old.mkdir()
    _units(old, "field_units.yaml", min_storey_height_m=None)  # a copy from before the key
    with scratch_db("storey", jining_profile) as d:
        x0, y0 = d.x0 + 50, d.y0 + 50
        src = tmp_path / "survey.shp"
        gpd.GeoDataFrame({"编号": list(HEIGHTS), "地上层数": [0] * len(HEIGHTS),
                          "高度": list(HEIGHTS.values())},
                         geometry=[shapely.box(x0 + 20 * k, y0, x0 + 20 * k + 10, y0 + 8)
                                   for k in range(len(HEIGHTS))],
                         crs=f"EPSG:{jining_profile.srid}").to_file(src, encoding="GBK")
        load_buildings(d.conninfo, jining_profile, src)
        assert _stored(d) == _expected(2.2)
        prof = replace(jining_profile, dictionaries={
            **jining_profile.dictionaries, "field_units": city / "field_units.yaml"})
        load_buildings(d.conninfo, prof, src)
        assert _stored(d) == _expected(20.0)
        prof = replace(jining_profile, dictionaries={
            **jining_profile.dictionaries, "field_units": old / "field_units.yaml"})
        load_buildings(d.conninfo, prof, src)
        assert _stored(d) == _expected(2.2)


@pytest.mark.parametrize("value", ["two metres", 0, -1, True])
def test_a_lowest_storey_height_that_is_no_positive_number_is_a_config_error(value):
    with pytest.raises(ConfigError, match="min_storey_height_m"):
        merged_number({"min_storey_height_m": value}, "min_storey_height_m")


def test_a_city_copy_without_the_key_takes_the_platforms():
    platform = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(
        encoding="utf-8"))["min_storey_height_m"]
    assert platform == 2.2  # GB/T 50353-2013: a storey's full area from 2.20 m
    assert merged_number({}, "min_storey_height_m") == 2.2
    assert merged_number({"min_storey_height_m": 3}, "min_storey_height_m") == 3.0

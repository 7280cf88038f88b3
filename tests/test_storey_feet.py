"""A height header in feet: field_units.yaml spells ft (ft, foot, feet, 英尺, [ft_i]). The
loaders convert no header unit: a building survey's 高度(ft) is refused naming the field, where
its brackets were a qualifier before and 100 ft was stored as 100 m. (The approval check's
reader converts it: tests/test_approval_numbers.py; a CityGML measuredHeight uom="ft":
tests/test_citygml_srs_units.py.)"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from cim.errors import InputError
from loaders.buildings import load_buildings
from tests.conftest import scratch_db


@pytest.mark.parametrize("header", ["高度(ft)", "高度(英尺)", "高度(feet)"])
def test_a_survey_height_header_in_feet_is_refused_not_read_as_metres(jining_profile,
                                                                      tmp_path, header):
    with scratch_db("storeyft", jining_profile) as d:
        x0, y0 = d.x0 + 50, d.y0 + 50
        src = tmp_path / "ft.gpkg"
        gpd.GeoDataFrame({"编号": ["F1"], header: [100.0]},
                         geometry=[shapely.box(x0, y0, x0 + 10, y0 + 10)],
                         crs=f"EPSG:{jining_profile.srid}").to_file(src)
        with pytest.raises(InputError) as e:
            load_buildings(d.conninfo, jining_profile, src)
        assert header in str(e.value) and "ft" in str(e.value), str(e.value)
        assert d.rows("SELECT count(*) FROM buildings WHERE height = 100")[0][0] == 0

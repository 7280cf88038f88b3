"""The sample generator is an importable package that still writes the committed sample set.

The committed files under data_samples/jining/ were written by the generator before it was
split into modules, so they are the independent expectation: a refactor that changes one random
draw, one column or one writer option shows up here. Files written by Python alone (profile,
CSVs) must match byte for byte; files written through GDAL or openpyxl must match in content
(their bytes also depend on the library versions installed).
"""

from __future__ import annotations

import subprocess
import sys

import openpyxl
import pandas as pd
import pyogrio
import shapely

from cim.config import PROJECT_ROOT
from data_samples.generate import BUILDING_FIELDS, generate_sample_set
from tests.conftest import SAMPLES

PYTHON_WRITTEN = [
    "profile.yaml",
    "pipes/热力_管线点成果表.csv",
    "pipes/热力_管线段成果表.csv",
    "pipes/电力通信_管线点成果表.csv",
    "pipes/电力通信_管线段成果表.csv",
    "pipes_gis/README.md",
    "sensors/sensors.csv",
    "sensors/readings_day.csv",
]
GDAL_WRITTEN = [  # (file, layer, encoding)
    ("boundaries.gpkg", "districts", None),
    ("grid_cells.gpkg", "grid_cells", None),
    ("buildings/buildings_survey.shp", None, "GBK"),
    ("components/components_points.shp", None, "GBK"),
    ("components/components_lines.shp", None, "GBK"),
    ("components/components_polygons.shp", None, "GBK"),
    ("planning/planning.gpkg", "parcels", None),
    ("planning/planning.gpkg", "control_lines", None),
    ("planning/planning.gpkg", "height_zones", None),
    ("base/roads.gpkg", "roads", None),
    ("base/green_spaces.gpkg", "green_spaces", None),
    ("base/facilities.gpkg", "facilities", None),
    ("base/population.gpkg", "population", None),
    ("pipes_gis/old_water_main.gpkg", "pipes", None),
    ("pipes_gis/old_water_main.gpkg", "nodes", None),
]


def _sheets(path):
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)]
                for ws in wb.worksheets}
    finally:
        wb.close()


def test_regenerated_sample_set_matches_the_committed_one(tmp_path):
    generate_sample_set(tmp_path, verbose=False)
    committed = sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.is_file())
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == committed
    for name in PYTHON_WRITTEN:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name
    for name, layer, encoding in GDAL_WRITTEN:
        got = pyogrio.read_dataframe(tmp_path / name, layer=layer, encoding=encoding)
        want = pyogrio.read_dataframe(SAMPLES / name, layer=layer, encoding=encoding)
        assert got.crs == want.crs, name
        pd.testing.assert_frame_equal(got.drop(columns="geometry"),
                                      want.drop(columns="geometry"), obj=name)
        assert shapely.to_wkb(got.geometry.values).tolist() \
            == shapely.to_wkb(want.geometry.values).tolist(), name
    workbook = "pipes/管线普查成果表.xlsx"
    assert _sheets(tmp_path / workbook) == _sheets(SAMPLES / workbook)


def test_python_dash_m_writes_a_large_building_set(tmp_path):
    out = tmp_path / "b.gpkg"
    subprocess.run([sys.executable, "-m", "data_samples.generate", "buildings", "--count", "300",
                    "--chunk", "128", "--out", str(out)], cwd=PROJECT_ROOT, check=True,
                   capture_output=True)
    gdf = pyogrio.read_dataframe(out, layer="buildings")
    assert list(gdf.columns[:-1]) == list(BUILDING_FIELDS)
    assert gdf["编号"].tolist() == [f"JZ{i:06d}" for i in range(1, 301)]
    geoms = gdf.geometry.values
    assert shapely.is_valid(geoms).all()
    pairs = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    assert (pairs[0] == pairs[1]).all(), "footprints overlap"

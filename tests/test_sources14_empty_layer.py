"""A GeoPackage whose first layer is an empty template (房屋 left empty, the survey's rows in
房屋_2024) was refused as "the input has no features" although a layer further on held
them. The first layer with features is read, and the report says which and why; a file of
empty layers only is still refused. Expected counts by construction (the rows written)."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
import shapely

from cim.errors import InputError
from loaders.sources.read import open_source
from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("empty14", jining_profile) as db:
        yield db


def _layers(d, path, counts: dict[str, int]):
    for name, n in counts.items():
        polys = [shapely.box(d.x0 + 30 * i, d.y0, d.x0 + 30 * i + 20, d.y0 + 20)
                 for i in range(max(n, 1))]
        gdf = gpd.GeoDataFrame({"编号": [f"{name}{i + 1}" for i in range(len(polys))],
                                "地上层数": [3] * len(polys)}, geometry=polys, crs="EPSG:4527")
        pyogrio.write_dataframe(gdf.iloc[:n], path, layer=name, geometry_type="Polygon")
    return path


def test_an_empty_first_layer_gives_way_to_the_first_with_features(d, tmp_path):
    path = _layers(d, tmp_path / "交付.gpkg", {"房屋": 0, "房屋_2024": 3, "附属": 2})
    assert [n for n, _t in pyogrio.list_layers(path)][0] == "房屋"  # as written: empty first
    src = open_source(path)
    assert src.layer == "房屋_2024" and src.feature_count == 3
    assert any("layer '房屋' is empty: read '房屋_2024'" in n for n in src.notes), src.notes
    proc = run_cli(["load", "buildings", str(path), "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert d.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL") == 3
    assert "房屋_2024" in proc.stdout and "'附属' (2 features)" in proc.stdout


def test_only_empty_layers_are_still_refused(d, tmp_path):
    path = _layers(d, tmp_path / "空.gpkg", {"a": 0, "b": 0})
    with pytest.raises(InputError, match="no features"):
        open_source(path)


def test_a_named_empty_layer_is_refused_not_replaced(d, tmp_path):
    path = _layers(d, tmp_path / "named.gpkg", {"a": 0, "b": 2})
    with pytest.raises(InputError, match="layer 'a' is empty"):
        open_source(path, layer="a")


def test_an_empty_polygon_layer_never_gives_way_to_points(d, tmp_path):
    """房屋 (polygons, empty) before 注记 (points): the points are no footprints — a buildings
    load would read them, reject each as wrong_geometry_type and succeed with nothing
    loaded. Refused as the empty layer it is."""
    path = _layers(d, tmp_path / "注记.gpkg", {"房屋": 0})
    pts = gpd.GeoDataFrame({"文字": ["甲", "乙", "丙"]},
                           geometry=[shapely.Point(d.x0 + i, d.y0) for i in range(3)],
                           crs="EPSG:4527")
    pyogrio.write_dataframe(pts, path, layer="注记")
    with pytest.raises(InputError, match="layer '房屋' is empty"):
        open_source(path)
    proc = run_cli(["load", "buildings", str(path)], d.env())
    assert proc.returncode != 0 and "房屋" in proc.stderr, proc.stdout + proc.stderr


def test_buildings_after_points_take_the_first_polygon_layer_with_features(d, tmp_path):
    """注记 (points) first, then 房屋 (polygons, empty), then 房屋_2024 (polygons, 2): the
    footprints are 房屋_2024's."""
    path = tmp_path / "三层.gpkg"
    pts = gpd.GeoDataFrame({"文字": ["甲"]}, geometry=[shapely.Point(d.x0, d.y0)],
                           crs="EPSG:4527")
    pyogrio.write_dataframe(pts, path, layer="注记")
    _layers(d, path, {"房屋": 0, "房屋_2024": 2})
    before = d.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    proc = run_cli(["load", "buildings", str(path), "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert d.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL") == before + 2
    assert "read layer '房屋_2024', the first of polygons with features" in proc.stdout

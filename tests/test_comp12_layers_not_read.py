"""A GeoPackage census delivered as three layers (points, lines, polygons): a load reads one
layer — the first spatial one — and its report said only "read layer 'points' of 3", while
the lines and polygons, never read, were counted nowhere: read = loaded + rejected held for
the points alone and the load succeeded. The note now names each layer not read, with its
features, and how to load it. Counts by construction: the features written to each layer."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import LineString, Point, box

from loaders.components import load_components
from tests.conftest import scratch_db


def test_the_layers_a_load_did_not_read_are_named_with_their_features(jining_profile,
                                                                      tmp_path):
    with scratch_db("c12layers", jining_profile) as d:
        x, y = d.x0, d.y0
        path = tmp_path / "普查.gpkg"
        crs = f"EPSG:{d.profile.srid}"
        gpd.GeoDataFrame({"编号": ["P1", "P2"], "部件小类": ["0101", "0102"]},
                         geometry=[Point(x, y), Point(x + 5, y)], crs=crs).to_file(
            path, layer="部件点", engine="pyogrio")
        gpd.GeoDataFrame({"编号": ["L1", "L2", "L3"], "部件小类": ["0211"] * 3},
                         geometry=[LineString([(x, y + i), (x + 20, y + i)]) for i in (1, 2, 3)],
                         crs=crs).to_file(path, layer="部件线", engine="pyogrio")
        gpd.GeoDataFrame({"编号": ["A1"], "部件小类": ["0405"]},
                         geometry=[box(x, y - 30, x + 20, y - 10)], crs=crs).to_file(
            path, layer="部件面", engine="pyogrio")
        r = load_components(d.conninfo, d.profile, path)
        assert (r.read, r.loaded) == (2, 2), r.text()
        notes = [n for n in r.notes if "not read" in n]
        assert len(notes) == 1, r.notes
        assert "'部件线' (3 features)" in notes[0] and "'部件面' (1 feature)" in notes[0], notes
        assert "--layer" in notes[0], notes
        # the one layer a file holds: no such note
        one = tmp_path / "单层.gpkg"
        gpd.GeoDataFrame({"编号": ["Q1"], "部件小类": ["0101"]},
                         geometry=[Point(x + 9, y)], crs=crs).to_file(one, engine="pyogrio")
        r1 = load_components(d.conninfo, d.profile, one)
        assert r1.loaded == 1 and not [n for n in r1.notes if "not read" in n], r1.notes

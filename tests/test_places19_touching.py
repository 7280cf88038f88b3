"""A feature wholly outside every district that only touches one — a footprint along the
city's outer boundary, a line ending on it — was placed in that district and coded: an area
that only touches a feature had "a share of 0" and, the only one met, won. README says a
feature outside every district is rejected ``outside_area``; a share of 0 is none. The
features are built on an edge of the districts' outer boundary (two of its own vertices), so
what lies inside is known by construction (checked with shapely)."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Polygon

from loaders.buildings import load_buildings
from loaders.city_base import load_base
from loaders.components import load_components
from tests.conftest import scratch_db


@pytest.fixture(scope="module")
def tdb(jining_profile):
    with scratch_db("touch19", jining_profile) as d:
        yield d


def _outer_edge(profile) -> tuple[tuple, tuple, tuple, shapely.Geometry]:
    """Two consecutive vertices A, B of the districts' outer boundary at least 30 m apart, a
    point C 20 m outward of AB's middle, and the districts' union."""
    gdf = pyogrio.read_dataframe(profile.boundaries).to_crs(profile.storage_crs)
    union = shapely.union_all(gdf.geometry.values)
    ring = list(shapely.get_exterior_ring(max(getattr(union, "geoms", [union]),
                                              key=lambda g: g.area)).coords)
    for a, b in zip(ring, ring[1:]):
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = (dx * dx + dy * dy) ** 0.5
        if n < 30:
            continue
        mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        for s in (1, -1):
            c = (mx - s * dy / n * 20, my + s * dx / n * 20)
            tri = Polygon([a, b, c])
            if tri.is_valid and shapely.intersection(tri, union).area == 0 \
                    and not union.covers(shapely.Point(c)):
                return a, b, c, union
    raise AssertionError("no edge of the boundary to build on")


def _inside(profile, union) -> Polygon:
    p = union.representative_point()
    return shapely.box(p.x - 5, p.y - 5, p.x + 5, p.y + 5)


def test_a_footprint_outside_along_the_boundary_is_outside(tdb, tmp_path):
    a, b, c, union = _outer_edge(tdb.profile)
    touching = Polygon([a, b, c])
    assert shapely.intersects(touching, union) and shapely.intersection(touching, union).area == 0
    gdf = gpd.GeoDataFrame({"id": ["IN", "TOUCH"]},
                           geometry=[_inside(tdb.profile, union), touching],
                           crs=tdb.profile.storage_crs)
    p = tmp_path / "touch.gpkg"
    gdf.to_file(p)
    r = load_buildings(tdb.conninfo, tdb.profile, p)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1), r.text()
    got = tdb.rows("SELECT source_key, reason FROM load_rejects WHERE batch_id = %s",
                   (r.batch_id,))
    assert [(k.split(":")[-1], why) for k, why in got] == [("TOUCH", "outside_area")]
    assert tdb.scalar("SELECT count(*) FROM buildings WHERE source_key LIKE '%%TOUCH'") == 0


def test_the_staged_writer_rejects_it_too(tdb, tmp_path):
    a, b, c, union = _outer_edge(tdb.profile)
    gdf = gpd.GeoDataFrame({"name": ["内", "外"], "green_type": ["社区公园", "社区公园"]},
                           geometry=[_inside(tdb.profile, union), Polygon([a, b, c])],
                           crs=tdb.profile.storage_crs)
    p = tmp_path / "green.gpkg"
    gdf.to_file(p)
    r = load_base(tdb.conninfo, tdb.profile, "green", p)
    assert (r.loaded, r.rejected) == (1, 1), r.text()
    assert tdb.rows("SELECT reason FROM load_rejects WHERE batch_id = %s",
                    (r.batch_id,)) == [("outside_area",)]


def test_a_component_line_ending_on_the_boundary_from_outside_is_outside(tdb, tmp_path):
    a, b, c, union = _outer_edge(tdb.profile)
    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    line = LineString([c, mid])  # from 20 m outside to the boundary
    assert shapely.intersection(line, union).length == 0
    inside = union.representative_point()
    gdf = gpd.GeoDataFrame(
        {"部件编码": ["L-IN", "L-OUT"], "小类代码": ["0211", "0211"]},
        geometry=[LineString([(inside.x, inside.y), (inside.x + 10, inside.y)]), line],
        crs=tdb.profile.storage_crs)
    p = tmp_path / "lines.gpkg"
    gdf.to_file(p)
    r = load_components(tdb.conninfo, tdb.profile, p)
    assert (r.loaded, r.rejected) == (1, 1), r.text()
    assert tdb.rows("SELECT reason FROM load_rejects WHERE batch_id = %s",
                    (r.batch_id,)) == [("outside_area",)]


def test_a_pipe_between_two_boundary_nodes_running_outside_is_loaded(tdb, tmp_path):
    """Pipe segments are placed by touch (review of the rule above): a line between two
    nodes on the boundary that runs outside between them kept its nodes — a rejected
    segment would have left them loaded on no segment."""
    from loaders.pipes.load import load_pipes_files

    a, b, c, union = _outer_edge(tdb.profile)
    assert union.covers(shapely.Point(a)) and union.covers(shapely.Point(b))
    p = union.representative_point()
    path = tmp_path / "edge.gpkg"
    gpd.GeoDataFrame({"管段编号": ["P1", "P2"], "起点号": ["A", "C"], "终点号": ["B", "D"]},
                     geometry=[LineString([a, c, b]),
                               LineString([(p.x, p.y), (p.x + 50, p.y)])],
                     crs=tdb.profile.storage_crs).to_file(path, layer="pipes",
                                                          engine="pyogrio")
    r, _ = load_pipes_files(tdb.conninfo, tdb.profile, lines=f"{path}:pipes",
                            class_opt="给水", dataset="edge")
    assert (r.read, r.loaded, r.rejected) == (6, 6, 0), r.text()
    assert r.topology["isolated_points"] == 0

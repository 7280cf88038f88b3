"""The benchmark generators (large_pipes, large_components) deliver consistent data.

Checked on the written files against geometry read back with pyogrio/shapely: each pipe runs
from the node its 起点点号 names to the node its 终点点号 names, heights agree (ground = depth +
pipe elevation at both ends, as survey QA demands), gravity pipes fall along their digitised
direction, every valve lies on the pipe it names, and components stand in the streets, never
inside a block of buildings.
"""

from __future__ import annotations

import numpy as np
import pyogrio
import shapely

from data_samples.generate.large_components import write_components_gpkg
from data_samples.generate.large_pipes import write_pipe_network_gpkg

BUILDINGS = 5_000


def test_pipe_network_is_consistent(tmp_path):
    path = write_pipe_network_gpkg(tmp_path / "net.gpkg", 1_000, BUILDINGS, seed=3)
    pipes = pyogrio.read_dataframe(path, layer="pipes")
    nodes = pyogrio.read_dataframe(path, layer="nodes").set_index("物探点号")
    valves = pyogrio.read_dataframe(path, layer="valves")
    assert 500 <= len(pipes) <= 1_500
    assert set(pipes["管线类别"]) == {"给水", "雨水", "污水", "燃气", "电力", "通信"}
    assert nodes.index.is_unique and pipes["管段编号"].is_unique
    coords = shapely.get_coordinates(pipes.geometry.values, include_z=True).reshape(-1, 2, 3)
    for end, k in (("起点", 0), ("终点", 1)):
        at = nodes.loc[pipes[f"{end}点号"]]
        node_xy = shapely.get_coordinates(at.geometry.values)
        assert np.abs(coords[:, k, :2] - node_xy).max() < 1e-6
        ground = at["地面高程"].to_numpy()
        assert np.abs(ground - pipes[f"{end}埋深"] - pipes[f"{end}高程"]).max() <= 0.002
        assert np.abs(coords[:, k, 2] - pipes[f"{end}高程"]).max() < 1e-6
        # each node carries the class of the pipes that end at it
        assert (at["管线类别"].to_numpy() == pipes["管线类别"].to_numpy()).all()
    gravity = pipes["管线类别"].isin(["雨水", "污水"]).to_numpy()
    assert (pipes["起点高程"][gravity] > pipes["终点高程"][gravity]).all()
    assert (pipes["起点埋深"] > 0.3).all()
    # valves: on water pipes, on the pipe they name, 3 m from its end
    assert len(valves) > 0 and (valves["管线类别"] == "给水").all()
    on = pipes.set_index("管段编号").loc[valves["所在管段"]]
    assert (on["管线类别"] == "给水").all()
    d = shapely.distance(valves.geometry.values, on.geometry.values)
    assert d.max() < 1e-3
    ends = np.minimum(
        shapely.distance(valves.geometry.values, shapely.get_point(on.geometry.values, 0)),
        shapely.distance(valves.geometry.values, shapely.get_point(on.geometry.values, -1)))
    assert np.allclose(ends, 3.0, atol=0.01)


def test_components_stand_in_the_streets(tmp_path):
    from data_samples.generate import write_buildings_gpkg

    comp = pyogrio.read_dataframe(write_components_gpkg(tmp_path / "c.gpkg", 3_000, BUILDINGS))
    blds = pyogrio.read_dataframe(write_buildings_gpkg(tmp_path / "b.gpkg", BUILDINGS))
    assert len(comp) == 3_000 and comp["编号"].is_unique
    assert comp["部件小类"].notna().all() and comp["部件名称"].notna().all()
    # no component inside or within 0.5 m of a footprint: they stand 3–14 m off the street
    # centreline, and footprints keep to their blocks, 15 m from it
    tree = shapely.STRtree(blds.geometry.values)
    hits = tree.query(comp.geometry.values, predicate="dwithin", distance=0.5)
    assert hits.size == 0

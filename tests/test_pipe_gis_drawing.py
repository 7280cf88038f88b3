"""A GIS pipe network's drawing against its attributes: a point's Z beside its 地面高程, the
ground of a node made at a line end, line ends against the nodes their ids name, lines of
several parts meeting at two heights, lines of no length. Files written with GDAL (pyogrio),
loaded into a fresh PostGIS; expected values by construction (the coordinates written here)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from loaders.pipes.gis import merge_parts
from loaders.pipes.load import load_pipes_files

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def _lines(path: Path, rows: list[dict], geoms: list, gtype: str | None = None) -> str:
    df = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4527")
    kw = {"geometry_type": gtype, "promote_to_multi": False} if gtype else {}
    pyogrio.write_dataframe(df, path, layer="pipes", **kw)
    return f"{path}:pipes"


def _nodes(path: Path, nos: list[str], xyz: list[tuple], ground: list[float | None]) -> str:
    df = gpd.GeoDataFrame({"点号": nos, "地面高程": ground},
                          geometry=[shapely.Point(*p) for p in xyz], crs="EPSG:4527")
    pyogrio.write_dataframe(df, path, layer="nodes", append=path.exists())
    return f"{path}:nodes"


def _segments(db, dataset: str) -> dict[str, tuple]:
    return {k.rsplit(":", 1)[1]: (flags, json.loads(attrs), shapely.from_wkt(wkt))
            for k, flags, attrs, wkt in db.rows(
                "SELECT source_key, flags, attrs::text, ST_AsText(geom) FROM pipe_segments "
                "WHERE valid_to IS NULL AND starts_with(source_key, %s)", (dataset + ":",))}


def _points(db, dataset: str) -> dict[str, tuple]:
    return {no: (ground, flags, json.loads(attrs), z) for no, ground, flags, attrs, z in db.rows(
        "SELECT point_no, ground_elevation, flags, attrs::text, ST_Z(geom) FROM pipe_points "
        "WHERE valid_to IS NULL AND starts_with(source_key, %s)", (dataset + ":",))}


def _rejects(db, batch_id) -> dict[str, tuple]:
    return {attrs: (reason, field, message) for attrs, reason, field, message in db.rows(
        "SELECT attrs->>'管段编号', reason, field, message FROM load_rejects "
        "WHERE batch_id = %s", (batch_id,))}


# -- a point's Z and its 地面高程 -------------------------------------------------------------
def test_a_points_z_beside_its_ground_elevation_is_kept_and_flagged(fresh_db, tmp_path):
    """A node delivered at Z 36.5 with 地面高程 40.0 (its Z the pipe's, not the ground's) is
    stored at 40.0, flagged, and keeps 36.5 in attrs; a Z within the tolerance (0.05 m) is
    kept in attrs unflagged; a Z equal to 地面高程 adds nothing."""
    path = tmp_path / "z.gpkg"
    lines = _lines(path, [{"管段编号": "P1", "起点号": "K1", "终点号": "K2"},
                          {"管段编号": "P2", "起点号": "K2", "终点号": "K3"}],
                   [shapely.LineString([(E, N, 38.5), (E + 30, N, 38.4)]),
                    shapely.LineString([(E + 30, N, 38.4), (E + 60, N, 38.3)])])
    nodes = _nodes(path, ["K1", "K2", "K3"],
                   [(E, N, 36.5), (E + 30, N, 40.02), (E + 60, N, 40.0)], [40.0, 40.0, 40.0])
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                             class_opt="给水", dataset="z")
    assert r.rejected == 0, r.text()
    pts = _points(fresh_db, "z")
    ground, flags, attrs, z = pts["K1"]
    assert (ground, z, flags) == (40.0, 40.0, ["z_differs_from_ground"])
    assert attrs["_geometry_z"] == 36.5 and attrs["地面高程"] == 40.0
    ground, flags, attrs, z = pts["K2"]
    assert (ground, z, flags, attrs["_geometry_z"]) == (40.0, 40.0, [], 40.02)
    ground, flags, attrs, z = pts["K3"]
    assert (ground, z, flags) == (40.0, 40.0, []) and "_geometry_z" not in attrs
    (f,) = [f for f in qa.findings if f.rule == "z_differs_from_ground"]
    assert (f.table, f.row, f.field) == ("z.gpkg:nodes", 1, "地面高程")
    assert "36.5" in f.message_en and "40" in f.message_en and "3.5" in f.message_en
    # a reload changes nothing: the Z kept is compared as delivered
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                             class_opt="给水", dataset="z")
    assert (r2.inserted, r2.updated, r2.unchanged) == (0, 0, r.loaded), r2.text()


def test_points_written_in_3d_with_every_z_0_have_no_z(fresh_db, tmp_path):
    """A PointZ export with every Z 0 (ArcGIS, Shapefile) is a 2D layer: no point flagged
    z_differs_from_ground, no Z kept in attrs (each node was, as noise)."""
    path = tmp_path / "z0.gpkg"
    lines = _lines(path, [{"管段编号": "P1", "起点号": "K1", "终点号": "K2"}],
                   [shapely.LineString([(E, N, 0.0), (E + 30, N, 0.0)])])
    nodes = _nodes(path, ["K1", "K2"], [(E, N, 0.0), (E + 30, N, 0.0)], [40.0, 39.9])
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                             class_opt="给水", dataset="z0")
    assert r.rejected == 0, r.text()
    pts = _points(fresh_db, "z0")
    assert {k: (g, f, "_geometry_z" in a) for k, (g, f, a, _z) in pts.items()} == {
        "K1": (40.0, [], False), "K2": (39.9, [], False)}
    assert not [f for f in qa.findings if f.rule == "z_differs_from_ground"]
    # its lines too: no Z — flagged no_z (the layer's placeholder Z 0, which a cross-section
    # interpolates over; unflagged, it read the 0 as the pipe's elevation)
    (flags, _a, _line), = _segments(fresh_db, "z0").values()
    assert flags == ["no_z"], flags


def test_a_blank_ground_elevation_takes_the_z_flagged(fresh_db, tmp_path):
    """A node whose 地面高程 cell is blank in a layer that has the column takes its Z as its
    ground, flagged ground_from_z (it was taken silently)."""
    path = tmp_path / "zb.gpkg"
    lines = _lines(path, [{"管段编号": "P1", "起点号": "K1", "终点号": "K2"}],
                   [shapely.LineString([(E, N, 38.5), (E + 30, N, 38.4)])])
    nodes = _nodes(path, ["K1", "K2"], [(E, N, 40.1), (E + 30, N, 40.0)], [None, 40.0])
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                              class_opt="给水", dataset="zb")
    assert r.rejected == 0, r.text()
    pts = _points(fresh_db, "zb")
    assert {k: (g, f) for k, (g, f, _a, _z) in pts.items()} == {
        "K1": (40.1, ["ground_from_z"]), "K2": (40.0, [])}


# -- the ground of a node made at a line end -----------------------------------------------
def test_a_made_nodes_ground_is_the_pipes_elevation_plus_its_depth(fresh_db, tmp_path):
    """Nodes made at the ends of 3D lines named by node ids: ground = the line's Z + its
    depth there (flagged ground_derived), never the pipe's Z; without a depth: unknown
    (NULL, no_z), as a node without elevation."""
    path = tmp_path / "made.gpkg"
    lines = _lines(path, [{"管段编号": "P1", "起点号": "A", "终点号": "B",
                           "起点埋深": 2.0, "终点埋深": 2.2},
                          {"管段编号": "P2", "起点号": "B", "终点号": "C",
                           "起点埋深": 2.2, "终点埋深": None}],
                   [shapely.LineString([(E, N, 38.0), (E + 30, N, 37.9)]),
                    shapely.LineString([(E + 30, N, 37.9), (E + 60, N, 37.8)])])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines,
                            class_opt="排水", dataset="made")
    assert r.rejected == 0, r.text()
    pts = _points(fresh_db, "made")
    assert pts["A"][0] == pytest.approx(38.0 + 2.0) and pts["A"][1] == ["ground_derived"]
    assert pts["A"][3] == pytest.approx(40.0)
    assert pts["B"][0] == pytest.approx(37.9 + 2.2) and pts["B"][1] == ["ground_derived"]
    assert pts["C"][0] is None and pts["C"][1] == ["no_z"]


def test_a_snapped_nodes_ground_is_the_pipes_elevation_plus_its_depth(fresh_db, tmp_path):
    """The same where the topology is rebuilt by snapping (no node ids)."""
    path = tmp_path / "snap.gpkg"
    lines = _lines(path, [{"管段编号": "W1", "起点埋深": 2.0, "终点埋深": 3.6},
                          {"管段编号": "W2", "起点埋深": 3.6, "终点埋深": None}],
                   [shapely.LineString([(E, N, 38.0), (E + 30, N, 36.4)]),
                    shapely.LineString([(E + 30, N, 36.4), (E + 60, N, 36.3)])])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines,
                            class_opt="排水", dataset="snap")
    assert r.rejected == 0, r.text()
    got = {round(x, 3): (g, flags) for x, g, flags in fresh_db.rows(
        "SELECT ST_X(geom) - %s, ground_elevation, flags FROM pipe_points "
        "WHERE valid_to IS NULL", (E,))}
    assert got[0.0][0] == pytest.approx(40.0) and got[0.0][1] == ["ground_derived"]
    assert got[30.0][0] == pytest.approx(40.0) and got[30.0][1] == ["ground_derived"]
    assert got[60.0] == (None, ["no_z"])


# -- line ends against the nodes their ids name -------------------------------------------
def test_line_ends_are_checked_against_the_nodes_their_ids_name(fresh_db, tmp_path):
    e, n = E, N
    nodes_at = {"K1": (e, n), "K2": (e + 30, n), "K3": (e + 60, n), "K4": (e + 90, n),
                "K5": (e + 120, n), "K6": (e + 150, n), "K7": (e + 180, n)}
    path = tmp_path / "ends.gpkg"
    rows = [  # id, start, end, line
        ("H1", "K1", "K2", [(e, n), (e + 30, n)]),                        # at its nodes
        ("H2", "K2", "K3", [(e + 30, n + 400), (e + 60, n + 400)]),       # 400 m from both
        ("H3", "K3", "K4", [(e + 90, n), (e + 75, n + 1), (e + 60, n)]),  # drawn K4 → K3
        ("H4", "K4", "K5", [(e + 90.03, n), (e + 120, n - 0.04)]),        # 3 cm, 4 cm off
        ("H5", "K5", "K6", [(e + 120, n), (e + 150, n + 2.0)]),           # end 2 m off
        ("H6", "K6", "K7", [(e + 180.5, n), (e + 150, n)]),               # reversed, 0.5 m off
    ]
    lines = _lines(path, [{"管段编号": i, "起点号": a, "终点号": b} for i, a, b, _ in rows],
                   [shapely.LineString([(x, y, 38.0) for x, y in xy]) for *_, xy in rows])
    nodes = _nodes(path, list(nodes_at), [(x, y, 40.0) for x, y in nodes_at.values()],
                   [40.0] * len(nodes_at))
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                             class_opt="给水", dataset="ends")
    rej = _rejects(fresh_db, r.batch_id)
    assert set(rej) == {"H2", "H5"}, rej
    reason, field, message = rej["H2"]
    assert (reason, field) == ("end_not_at_point", "起点号/终点号")
    assert "start point K2 400.000 m away; end point K3 400.000 m away" in message, message
    reason, field, message = rej["H5"]
    assert (reason, field) == ("end_not_at_point", "终点号") and "K6 2.000 m away" in message
    segs = _segments(fresh_db, "ends")
    assert segs["H1"][0] == [] and not any(k.startswith("_") and k.endswith("_m")
                                           for k in segs["H1"][1])
    # drawn from K4 to K3: stored from its start K3 to its end K4, every vertex kept
    flags, attrs, line = segs["H3"]
    assert flags == ["drawn_reversed"]
    assert list(line.coords) == [(e + 60, n, 38.0), (e + 75, n + 1, 38.0), (e + 90, n, 38.0)]
    assert any("drawn_reversed" in x for x in r.notes) or "drawn_reversed" in qa.counts()
    # a few centimetres off: loaded as drawn, flagged, the distances kept
    flags, attrs, line = segs["H4"]
    assert flags == ["end_off_node"]
    assert (attrs["_start_off_node_m"], attrs["_end_off_node_m"]) == (0.03, 0.04)
    assert list(line.coords)[0][:2] == (e + 90.03, n)
    # reversed and then half a metre off at K7
    flags, attrs, line = segs["H6"]
    assert flags == ["drawn_reversed", "end_off_node"]
    assert attrs["_end_off_node_m"] == 0.5 and "_start_off_node_m" not in attrs
    assert list(line.coords)[0][:2] == (e + 150, n)
    (f,) = [f for f in qa.findings if f.rule == "end_off_node" and f.row == 4]
    assert f.field == "起点号/终点号" and "start point K4 0.030 m" in f.message_en
    # the delivery's snapping tolerance decides what is "at" a node
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                             class_opt="给水", dataset="ends_5cm", snap=0.05)
    assert _segments(fresh_db, "ends_5cm")["H4"][0] == []


# -- several parts, one line ------------------------------------------------------------
def test_parts_meeting_at_two_heights_keep_both_vertices(fresh_db, tmp_path):
    """A drop (跌水) where two parts meet at one place, 37.9 above and 36.5 below: both stay;
    parts delivered last-first and drawn backwards join as one line, drawn as its first part."""
    path = tmp_path / "drop.gpkg"
    drop = shapely.MultiLineString([[(E, N, 38.0), (E + 15, N, 37.9)],
                                    [(E + 15, N, 36.5), (E + 30, N, 36.4)]])
    backwards = shapely.MultiLineString([[(E + 60, N, 36.2), (E + 45, N, 36.3)],
                                         [(E + 45, N, 36.3), (E + 30, N, 36.4)]])
    lines = _lines(path, [{"管段编号": "W1"}, {"管段编号": "W2"}], [drop, backwards],
                   "MultiLineString Z")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines,
                            class_opt="排水", dataset="drop")
    assert r.rejected == 0, r.text()
    segs = _segments(fresh_db, "drop")
    assert list(segs["W1"][2].coords) == [(E, N, 38.0), (E + 15, N, 37.9), (E + 15, N, 36.5),
                                          (E + 30, N, 36.4)]
    assert list(segs["W2"][2].coords) == [(E + 60, N, 36.2), (E + 45, N, 36.3),
                                          (E + 30, N, 36.4)]
    assert fresh_db.scalar("SELECT length_m FROM pipe_segments WHERE source_key = "
                           "'drop:PS:W1'") == pytest.approx(30.0)


@pytest.mark.parametrize("parts, want", [
    # a vertical part between two parts: its heights where it stands
    ([[(0, 0, 38), (15, 0, 38)], [(15, 0, 36), (15, 0, 38)], [(15, 0, 36), (30, 0, 36)]],
     [(0, 0, 38), (15, 0, 38), (15, 0, 36), (30, 0, 36)]),
    # parts in any order, the same vertex once
    ([[(10, 0, 1), (20, 0, 1)], [(0, 0, 1), (10, 0, 1)]], [(0, 0, 1), (10, 0, 1), (20, 0, 1)]),
    # a ring of parts
    ([[(0, 0), (1, 0)], [(1, 0), (1, 1)], [(1, 1), (0, 0)]],
     [(0, 0), (1, 0), (1, 1), (0, 0)]),
])
def test_merge_parts_keeps_every_vertex(parts, want):
    line, why = merge_parts(shapely.MultiLineString(parts))
    assert why is None and [tuple(c) for c in line.coords] == [tuple(map(float, w))
                                                                for w in want]


@pytest.mark.parametrize("parts, why", [
    ([[(0, 0), (1, 0)], [(2, 0), (3, 0)]], "2 separate parts"),
    ([[(0, 0), (1, 0)], [(1, 0), (2, 0)], [(1, 0), (1, 1)]], "the parts branch"),
    ([[(0, 0), (1, 0)], [(7, 7), (7, 7)]], "2 separate parts"),
])
def test_parts_that_are_not_one_line(parts, why):
    assert merge_parts(shapely.MultiLineString(parts)) == (None, why)


# -- lines of no length -------------------------------------------------------------------
@pytest.mark.parametrize("ids", [True, False])
def test_a_line_of_no_length_is_too_short_however_it_is_written(fresh_db, tmp_path, ids):
    """A LineString of one point repeated and a MultiLineString of one such part are both
    length_under_min (the latter was 'bad_value: 0 separate parts'), with node ids or ends
    snapped together (not self_loop)."""
    path = tmp_path / "zero.gpkg"
    here = [(E + 30, N, 38.0), (E + 30, N, 38.0)]
    rows = [{"管段编号": "P1", "起点号": "A", "终点号": "B"},
            {"管段编号": "P2", "起点号": "B", "终点号": "C"},
            {"管段编号": "P3", "起点号": "B", "终点号": "D"}]
    if not ids:
        rows = [{"管段编号": x["管段编号"]} for x in rows]
    lines = _lines(path, rows, [shapely.LineString([(E, N, 38.0), (E + 30, N, 38.0)]),
                                shapely.LineString(here), shapely.MultiLineString([here])],
                   "Unknown")
    assert list(pyogrio.read_dataframe(path, layer="pipes").geom_type) == [
        "LineString", "LineString", "MultiLineString"]
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines,
                            class_opt="给水", dataset="zero")
    rej = _rejects(fresh_db, r.batch_id)
    assert {k: v[:2] for k, v in rej.items()} == {"P2": ("length_under_min", "geometry"),
                                                  "P3": ("length_under_min", "geometry")}
    assert all("0 m long" in v[2] for v in rej.values())
    # snapped ends are made names (N@…): the message names the delivered id first
    assert ids or all(f"segment {k} (N@" in v[2] for k, v in rej.items()), rej
    assert r.loaded == 3  # P1 and its two ends


def test_gis_heights_that_disagree_with_the_ground_are_told(fresh_db, tmp_path):
    """起点埋深 2.0 + 起点高程 38.0 = 40.0 at a node whose 地面高程 is 40.0: nothing; at the
    other end 1.0 + 38.0 against 40.0 (1 m off): the segment loads, flagged heights_disagree
    (the survey tables' elevation_mismatch rejects; a GIS layer's heights are told)."""
    path = tmp_path / "h.gpkg"
    lines = _lines(path, [{"管段编号": "P1", "起点号": "K1", "终点号": "K2", "起点埋深": 2.0,
                           "终点埋深": 1.0, "起点高程": 38.0, "终点高程": 38.0}],
                   [shapely.LineString([(E, N, 38.0), (E + 30, N, 38.0)])])
    nodes = _nodes(path, ["K1", "K2"], [(E, N, 40.0), (E + 30, N, 40.0)], [40.0, 40.0])
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, points=nodes,
                             class_opt="给水", dataset="h")
    assert r.rejected == 0, r.text()
    (flags, _a, _l), = _segments(fresh_db, "h").values()
    assert flags == ["heights_disagree"], flags
    (f,) = [f for f in qa.findings if f.rule == "heights_disagree"]
    assert f.severity == "warning" and "K2" in f.message_en and "1" in f.message_en

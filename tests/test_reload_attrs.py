"""A reload compares what the content hash leaves out — the attributes kept in ``attrs`` (a
source field no column holds) and the row's flags — so that a change to them alone gives the
feature its new version instead of being dropped as "unchanged" (loaders/engine/known.py
``Known.same_extras``; the staging writer's merge in loaders/engine/bulk.py). Equal attrs
stay equal whatever their key order or a whole number's spelling, as jsonb compares them."""

from __future__ import annotations

import pyogrio
import pytest

from loaders import buildings
from loaders.buildings import load_buildings
from tests.test_direct_load import _delivery
from tests.test_reload_fingerprint import _new_release


def _load(db, path, processes=0, **kw):
    return load_buildings(db.conninfo, db.profile, path, batch_size=300, processes=processes,
                          **kw)


def _current(db, key: str) -> list[tuple]:
    return db.rows("SELECT attrs, flags FROM buildings WHERE source_key = %s "
                   "AND valid_to IS NULL", (key,))


@pytest.mark.parametrize("processes", [0, 2])
def test_an_attribute_without_a_column_changed_alone_gets_a_new_version(fresh_db, tmp_path,
                                                                          processes):
    path, gdf = _delivery(tmp_path, f"at{processes}")
    gdf["备注X"] = "原"
    pyogrio.write_dataframe(gdf, path)
    _load(fresh_db, path, processes)  # a first load: no content hash stored
    key = f"at{processes}:{gdf.loc[5, '编号']}"
    assert _current(fresh_db, key) == [({"备注X": "原"}, [])]
    for value in ("改一", "改二"):  # against the hash taken from the stored row, then its own
        gdf.loc[5, "备注X"] = value
        pyogrio.write_dataframe(gdf, path)
        r = _load(fresh_db, path, processes)
        assert (r.updated, r.unchanged, r.rejected) == (1, 898, 1)
        assert _current(fresh_db, key) == [({"备注X": value}, [])]
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE source_key = %s", (key,)) == 3
    # a field dropped from the delivery: every row's attrs change
    pyogrio.write_dataframe(gdf.drop(columns=["备注X"]), path)
    r = _load(fresh_db, path, processes)
    assert (r.updated, r.unchanged) == (899, 0)
    assert _current(fresh_db, key) == [({}, [])]
    r = _load(fresh_db, path, processes)
    assert (r.updated, r.unchanged) == (0, 899)


def test_equal_attrs_in_another_key_order_and_spelling_stay_unchanged(fresh_db, tmp_path,
                                                                      monkeypatch):
    """Every row converted again (a new release) with its attributes delivered in another
    column order, a whole number as float, a float whose stored text differs: no row is
    versioned."""
    release = _new_release(monkeypatch, tmp_path)
    path, gdf = _delivery(tmp_path, "ord")
    # floats PostgreSQL writes without their exponent: other texts, equal values (1e23 and
    # 4.40105198001011e+17 are not the whole numbers they are written back as)
    gdf["甲X"], gdf["乙X"], gdf["丙X"], gdf["丁X"] = "a", 5.0, 7, 1e-7
    gdf["戊X"], gdf["己X"] = 1e23, 4.40105198001011e+17
    pyogrio.write_dataframe(gdf, path)
    _load(fresh_db, path)
    key = f"ord:{gdf.loc[0, '编号']}"
    assert fresh_db.scalar("SELECT attrs::text FROM buildings WHERE source_key = %s", (key,)) \
        == ('{"丁X": 0.0000001, "丙X": 7, "乙X": 5.0, "己X": 440105198001011000, '
            '"戊X": 100000000000000000000000, "甲X": "a"}')
    release(2)
    extra = ["己X", "戊X", "丁X", "丙X", "乙X", "甲X"]
    cols = [c for c in gdf.columns if c not in (*extra, "geometry")]
    pyogrio.write_dataframe(gdf[[*extra, *cols, "geometry"]], path)
    r = _load(fresh_db, path)
    assert (r.updated, r.unchanged) == (0, 899)
    # and a plain reload after (a row keyed by its geometry is converted every time)
    r = _load(fresh_db, path)
    assert (r.updated, r.unchanged) == (0, 899)


def test_a_release_that_flags_a_row_gives_it_a_new_version(fresh_db, tmp_path, monkeypatch):
    """The same source under a conversion that flags one more row: that row's stored flags
    are not what the load would write, so it is versioned; the others are found unchanged."""
    release = _new_release(monkeypatch, tmp_path)
    path, gdf = _delivery(tmp_path, "flg")
    _load(fresh_db, path)
    key = f"flg:{gdf.loc[7, '编号']}"
    assert _current(fresh_db, key) == [({}, [])]
    prepare = buildings.prepare

    def flagging(geoms, *a, **kw):
        prep = prepare(geoms, *a, **kw)
        for i, g in enumerate(geoms):
            if g is not None and g.equals(gdf.geometry.iloc[7]):
                prep.flags[i] = prep.flags[i] + ["new_rule"]
        return prep

    monkeypatch.setattr(buildings, "prepare", flagging)
    release(2)
    r = _load(fresh_db, path)
    assert (r.updated, r.unchanged) == (1, 898)
    assert _current(fresh_db, key) == [({}, ["new_rule"])]
    monkeypatch.setattr(buildings, "prepare", prepare)
    release(3)  # the rule withdrawn: the flag goes, in a version of its own
    r = _load(fresh_db, path)
    assert (r.updated, r.unchanged) == (1, 898)
    assert _current(fresh_db, key) == [({}, [])]


def test_a_component_attribute_changed_alone_gets_a_new_version(fresh_db, tmp_path):
    from cim.config import PROJECT_ROOT
    from loaders.components import load_components

    src = PROJECT_ROOT / "data_samples" / "jining" / "components" / "components_points.shp"
    gdf = pyogrio.read_dataframe(src, encoding="GBK")
    gdf["巡查备注X"] = "无"
    path = tmp_path / "census.gpkg"
    pyogrio.write_dataframe(gdf, path)
    first = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    row = next(i for i in range(len(gdf)) if fresh_db.scalar(
        "SELECT count(*) FROM components WHERE valid_to IS NULL AND ST_Equals(geom, "
        "ST_Transform(ST_GeomFromText(%s, %s), ST_SRID(geom)))",
        (gdf.geometry.iloc[i].wkt, gdf.crs.to_epsg())) == 1)
    gdf.loc[row, "巡查备注X"] = "井盖破损"
    pyogrio.write_dataframe(gdf, path)
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.updated, r.unchanged) == (1, first.loaded - 1)
    assert fresh_db.scalar("SELECT count(*) FROM components WHERE valid_to IS NULL "
                           "AND attrs->>'巡查备注X' = '井盖破损'") == 1


def test_a_pipe_remark_changed_alone_gets_a_new_version(fresh_db, tmp_path):
    from loaders.pipes.direct import own_provenance
    from loaders.pipes.load import load_pipes_files, read_delivery
    from tests.test_pipes import _survey

    pts, segs = _survey()
    segs["备注"] = "正常"
    files = [tmp_path / "给水管线点.csv", tmp_path / "给水管线段.csv"]
    pts.to_csv(files[0], index=False, encoding="utf-8")
    segs.to_csv(files[1], index=False, encoding="utf-8")
    first, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files)
    assert first.loaded == 9
    segs.loc[2, "备注"] = "渗漏"
    segs.to_csv(files[1], index=False, encoding="utf-8")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files)
    assert (r.updated, r.unchanged) == (1, 8)
    assert fresh_db.rows("SELECT attrs->>'备注', count(*) FROM pipe_segments "
                         "WHERE valid_to IS NULL GROUP BY 1 ORDER BY 1") == [("正常", 3),
                                                                              ("渗漏", 1)]
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files)
    assert (r.updated, r.unchanged) == (0, 9)
    assert own_provenance(read_delivery(fresh_db.profile, files)) == {}
    # the same survey with its rows in another order: where a row came from (its table and
    # row number, kept in attrs) is no content
    pts.iloc[::-1].to_csv(files[0], index=False, encoding="utf-8")
    segs.iloc[::-1].to_csv(files[1], index=False, encoding="utf-8")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files)
    assert (r.updated, r.unchanged) == (0, 9)


def test_a_staged_layers_attribute_changed_alone_gets_a_new_version(fresh_db, tmp_path):
    """The staging writer (every layer without a direct converter) compares attrs and flags
    in its merge: roads here."""
    import geopandas as gpd
    from shapely.geometry import LineString

    from loaders.city_base import load_base

    _cell, x, y = fresh_db.big_cell()
    recs = [{"编号": f"R{k}", "道路名称": "太白湖路", "道路等级": "主干路", "红线宽度": "40",
             "车道数": 6, "养护单位X": "市政一处"} for k in range(3)]
    geoms = [LineString([(x - 200, y + 10 * k), (x + 200, y + 10 * k)]) for k in range(3)]
    path = tmp_path / "roads.gpkg"

    def write():
        gpd.GeoDataFrame(recs, geometry=geoms, crs="EPSG:4527").to_file(path, driver="GPKG")

    write()
    first = load_base(fresh_db.conninfo, fresh_db.profile, "roads", path)
    assert first.loaded == 3
    recs[1]["养护单位X"] = "市政二处"
    write()
    r = load_base(fresh_db.conninfo, fresh_db.profile, "roads", path)
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 2)
    assert fresh_db.rows("SELECT source_key, attrs->>'养护单位X' FROM roads "
                         "WHERE valid_to IS NULL ORDER BY source_key") == [
        ("roads:R0", "市政一处"), ("roads:R1", "市政二处"), ("roads:R2", "市政一处")]
    r = load_base(fresh_db.conninfo, fresh_db.profile, "roads", path)
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 3)


def test_attrs_texts_are_the_text_postgresql_gives_back(db):
    """Built in jsonb's key order, an attrs text is ``attrs::text`` itself for the values a
    survey holds — escapes, control characters, CJK and longer keys, whole and fixed-point
    numbers — so its digest finds it equal; a float that PostgreSQL writes without the
    exponent is another text of an equal value (the reload then compares values)."""
    import json

    import numpy as np

    from loaders.common import attrs_json
    from loaders.pipes.attrs_json import attrs_texts

    cols = {"编号": np.array(["JZ1", 'a"b\\c', "\t\x01\u2028", None] * 5, dtype=object),
            "z": np.array([1, -7, 2**53 + 1, True] * 5, dtype=object),
            "aa": np.array([0.1 + 0.2, 1.5, -0.25, 12345.0] * 5, dtype=object),
            "Ω": np.array(["é", "𠀀", "", False] * 5, dtype=object),
            "_row": np.array([3, 4, None, 6] * 5, dtype=object)}
    texts = attrs_json(cols, 20)
    rows = [json.loads(t) for t in texts]
    texts += attrs_texts(rows)
    stored = [r[0] for r in db.rows("SELECT t::jsonb::text FROM unnest(%s::text[]) t",
                                    (texts,))]
    assert stored == texts
    odd = attrs_json({"v": np.array([1e-7, 1e20, 1e23, 4.40105198001011e+17], dtype=object)},
                     4)
    back = db.rows("SELECT t::jsonb::text, t::jsonb = (t::jsonb::text)::jsonb "
                   "FROM unnest(%s::text[]) t", (odd,))
    assert all(text != mine and same for (text, same), mine in zip(back, odd))


@pytest.mark.parametrize("prefix", ["", "(2024)"])
def test_a_delivered_row_column_of_the_loaders_name_is_compared(fresh_db, tmp_path, prefix):
    """A survey table with a column named ``_row`` of its own: kept as delivered (the loader
    adds none), so a change to it alone is a new version; the other table's rows, whose
    ``_row`` the loader added, stay the same when re-sorted. A table named in parentheses is
    a source table all the same (only the loader's line ends are no source's)."""
    from loaders.pipes.direct import own_provenance
    from loaders.pipes.load import load_pipes_files, read_delivery
    from tests.test_pipes import _survey

    pts, segs = _survey()
    segs["_row"] = ["甲"] * len(segs)
    files = [tmp_path / f"{prefix}给水管线点.csv", tmp_path / f"{prefix}给水管线段.csv"]
    pts.to_csv(files[0], index=False, encoding="utf-8")
    segs.to_csv(files[1], index=False, encoding="utf-8")
    load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, dataset="own")
    segs.loc[1, "_row"] = "乙"
    segs.to_csv(files[1], index=False, encoding="utf-8")
    pts.iloc[::-1].to_csv(files[0], index=False, encoding="utf-8")  # its _row: the loader's
    assert own_provenance(read_delivery(fresh_db.profile, files)) == {files[1].name: "_row"}
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, dataset="own")
    assert (r.updated, r.unchanged) == (1, 8)
    assert fresh_db.rows("SELECT attrs->>'_row', count(*) FROM pipe_segments "
                         "WHERE valid_to IS NULL GROUP BY 1 ORDER BY 1") == [("乙", 1), ("甲", 3)]


def test_line_ends_made_by_the_loader_stay_when_the_lines_are_resorted(fresh_db, tmp_path):
    """A GIS network whose lines have a ``_row`` column of their own and whose nodes the
    loader makes at the line ends (named by the lines' node ids): the lines re-sorted, every
    line and node is the same (a made node's attrs say which line's row it came from)."""
    from cim.config import PROJECT_ROOT
    from loaders.pipes.load import load_pipes_files

    src = PROJECT_ROOT / "data_samples" / "jining" / "pipes_gis" / "old_water_main.gpkg"
    lines = pyogrio.read_dataframe(src, layer="pipes")
    lines["_row"] = [f"r{i}" for i in range(len(lines))]
    gpkg = tmp_path / "main.gpkg"
    pyogrio.write_dataframe(lines, gpkg, layer="pipes")
    first, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, None,
                                lines=f"{gpkg}:pipes", class_opt="给水", dataset="ends")
    assert fresh_db.scalar("SELECT count(*) FROM pipe_points WHERE valid_to IS NULL "
                           "AND attrs->>'_table' = '(line ends)'") > 0
    pyogrio.write_dataframe(lines.iloc[::-1], gpkg, layer="pipes")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, None,
                            lines=f"{gpkg}:pipes", class_opt="给水", dataset="ends")
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, first.loaded)


def test_a_staged_field_that_only_flags_is_compared(fresh_db, tmp_path):
    """A green space's declared area is held by no column (it only flags a difference from the
    measured one): a change within the tolerance alone is a new version, its attrs the new."""
    import geopandas as gpd
    from shapely.geometry import box

    from loaders.city_base import load_base

    _cell, x, y = fresh_db.big_cell()
    recs = [{"编号": f"G{k}", "名称": f"公园{k}", "绿地类型": "社区公园", "面积": 900.0}
            for k in range(3)]
    geoms = [box(x + 40 * k, y, x + 40 * k + 30, y + 30) for k in range(3)]
    path = tmp_path / "green.gpkg"

    def write():
        gpd.GeoDataFrame(recs, geometry=geoms, crs="EPSG:4527").to_file(path, driver="GPKG")

    write()
    first = load_base(fresh_db.conninfo, fresh_db.profile, "green", path)
    assert first.loaded == 3, first.text()
    recs[1]["面积"] = 920.0
    write()
    r = load_base(fresh_db.conninfo, fresh_db.profile, "green", path)
    assert (r.updated, r.unchanged) == (1, 2)
    assert fresh_db.rows("SELECT source_key, (attrs->>'面积')::float FROM green_spaces "
                         "WHERE valid_to IS NULL ORDER BY 1") == [
        ("green:G0", 900.0), ("green:G1", 920.0), ("green:G2", 900.0)]


def _snapped_lines(tmp_path):
    """The sample's old water main without node ids (the loader snaps the ends together)."""
    from cim.config import PROJECT_ROOT

    src = PROJECT_ROOT / "data_samples" / "jining" / "pipes_gis" / "old_water_main.gpkg"
    lines = pyogrio.read_dataframe(src, layer="pipes").drop(columns=["起点号", "终点号"])
    return lines, tmp_path / "snapped.gpkg"


def _load_snapped(db, gpkg):
    from loaders.pipes.load import load_pipes_files

    r, _ = load_pipes_files(db.conninfo, db.profile, None, lines=f"{gpkg}:pipes",
                            class_opt="给水", dataset="snapped", snap=0.01)
    return r


def test_snapped_nodes_stay_when_the_lines_are_resorted(fresh_db, tmp_path):
    """Nodes the loader makes by snapping line ends are named by where they are, not by the
    order of the lines: the lines re-sorted, every line and node is the same."""
    lines, gpkg = _snapped_lines(tmp_path)
    pyogrio.write_dataframe(lines, gpkg, layer="pipes")
    first = _load_snapped(fresh_db, gpkg)
    made = fresh_db.scalar("SELECT count(*) FROM pipe_points WHERE valid_to IS NULL "
                           "AND attrs->>'_table' = '(line ends)'")
    assert made == 11  # premise: ten lines in one chain, every node made by snapping
    for order in (lines.iloc[::-1], lines.iloc[[3, 7, 0, 9, 1, 5, 2, 8, 4, 6]]):
        pyogrio.write_dataframe(order, gpkg, layer="pipes")
        r = _load_snapped(fresh_db, gpkg)
        assert (r.inserted, r.updated, r.unchanged) == (0, 0, first.loaded)


def test_a_line_added_leaves_the_other_snapped_nodes_alone(fresh_db, tmp_path):
    """A line added at the start of the delivery, apart from the others: it and its two new
    nodes are new, no other node is renumbered or changed."""
    import shapely

    lines, gpkg = _snapped_lines(tmp_path)
    pyogrio.write_dataframe(lines, gpkg, layer="pipes")
    first = _load_snapped(fresh_db, gpkg)
    before = set(fresh_db.rows("SELECT code, ST_AsEWKB(geom) FROM pipe_points "
                               "WHERE valid_to IS NULL"))
    extra = lines.iloc[[0]].copy()
    extra["管段编号"] = "JSG999"
    extra["geometry"] = [shapely.affinity.translate(extra.geometry.iloc[0], 500, 500)]
    pyogrio.write_dataframe(lines.__class__(
        __import__("pandas").concat([extra, lines], ignore_index=True), crs=lines.crs),
        gpkg, layer="pipes")
    r = _load_snapped(fresh_db, gpkg)
    assert (r.inserted, r.updated, r.unchanged) == (3, 0, first.loaded)
    after = set(fresh_db.rows("SELECT code, ST_AsEWKB(geom) FROM pipe_points "
                              "WHERE valid_to IS NULL"))
    assert before < after and len(after - before) == 2


def test_an_unmapped_field_renamed_gives_every_row_its_new_attrs(fresh_db, tmp_path):
    """A row's fingerprint hashes its values, not the fields' names: with a field renamed and
    every value the same, the rows are converted all the same (the source's field names are
    part of the conversion's digest) and each gets its new version with the renamed key."""
    path, gdf = _delivery(tmp_path, "nm")
    gdf["备注X"] = "原"
    pyogrio.write_dataframe(gdf, path)
    first = _load(fresh_db, path)
    pyogrio.write_dataframe(gdf.rename(columns={"备注X": "备注Y"}), path)
    r = _load(fresh_db, path)
    assert (r.updated, r.unchanged) == (first.loaded, 0)
    assert fresh_db.rows("SELECT DISTINCT attrs FROM buildings WHERE valid_to IS NULL "
                         "AND source_key LIKE 'nm:%%'") == [({"备注Y": "原"},)]


def test_snapped_nodes_stored_under_their_old_names_keep_them(fresh_db, tmp_path, monkeypatch):
    """A dataset loaded when made nodes were numbered N000001… in line order: reloaded now,
    every node keeps its stored name and code (nothing new, nothing changed), and so do the
    lines keyed by their ends."""
    from loaders.pipes import topology

    lines, gpkg = _snapped_lines(tmp_path)
    lines = lines.drop(columns=["管段编号"])  # no ids: the lines are keyed by their ends
    pyogrio.write_dataframe(lines, gpkg, layer="pipes")
    numbered = iter(range(1, 1000))
    monkeypatch.setattr(topology, "_place_name", lambda xyz, taken: f"N{next(numbered):06d}")
    first = _load_snapped(fresh_db, gpkg)
    monkeypatch.undo()
    codes = fresh_db.rows("SELECT source_key, code FROM pipe_points WHERE valid_to IS NULL "
                          "UNION ALL SELECT source_key, code FROM pipe_segments "
                          "WHERE valid_to IS NULL ORDER BY 1")
    assert any(k.endswith(":N000001") for k, _ in codes)  # premise: the old names
    assert any("N000001-" in k or "-N000001" in k for k, _ in codes)
    r = _load_snapped(fresh_db, gpkg)
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, first.loaded), r.text()
    assert fresh_db.rows("SELECT source_key, code FROM pipe_points WHERE valid_to IS NULL "
                         "UNION ALL SELECT source_key, code FROM pipe_segments "
                         "WHERE valid_to IS NULL ORDER BY 1") == codes
    # a line added elsewhere: its two nodes are named by their place
    import pandas as pd
    import shapely

    extra = lines.iloc[[0]].copy()
    extra["geometry"] = [shapely.affinity.translate(extra.geometry.iloc[0], 500, 500)]
    pyogrio.write_dataframe(lines.__class__(pd.concat([extra, lines], ignore_index=True),
                                            crs=lines.crs), gpkg, layer="pipes")
    r = _load_snapped(fresh_db, gpkg)
    assert (r.inserted, r.updated) == (3, 0), r.text()
    assert fresh_db.scalar("SELECT count(*) FROM pipe_points WHERE valid_to IS NULL "
                           "AND point_no LIKE 'N@%%'") == 2


def test_a_new_node_beside_an_old_named_one_does_not_take_its_name(fresh_db, tmp_path,
                                                                   monkeypatch):
    """Snapped at 1 mm, a new line ending 5 mm west of a stored N000001… node (a node of its
    own at that snap): the stored node keeps its name at its place, the new end is named by
    its place — one new line, two new nodes, nothing changed."""
    import pandas as pd
    import shapely

    from loaders.pipes import topology
    from loaders.pipes.load import load_pipes_files

    def load():
        r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, None,
                                lines=f"{gpkg}:pipes", class_opt="给水", dataset="snapped",
                                snap=0.001)
        return r

    lines, gpkg = _snapped_lines(tmp_path)
    lines = lines.drop(columns=["管段编号"])
    pyogrio.write_dataframe(lines, gpkg, layer="pipes")
    numbered = iter(range(1, 1000))
    monkeypatch.setattr(topology, "_place_name", lambda xyz, taken: f"N{next(numbered):06d}")
    load()
    monkeypatch.undo()
    nodes = "SELECT point_no, ST_X(geom), ST_Y(geom) FROM pipe_points WHERE valid_to IS NULL"
    before = {n: (x, y) for n, x, y in fresh_db.rows(nodes)}
    x0, y0 = shapely.get_coordinates(lines.geometry.iloc[0])[0]
    extra = lines.iloc[[0]].copy()
    extra["geometry"] = [shapely.LineString([(x0 - 30.0, y0, 34.0), (x0 - 0.005, y0, 34.0)])]
    pyogrio.write_dataframe(lines.__class__(pd.concat([extra, lines], ignore_index=True),
                                            crs=lines.crs), gpkg, layer="pipes")
    r = load()
    assert (r.inserted, r.updated) == (3, 0), r.text()
    after = {n: (x, y) for n, x, y in fresh_db.rows(nodes)}
    assert {n: after[n] for n in before} == before  # every old name where it was

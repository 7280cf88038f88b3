"""A loaded pipe row keeps in ``attrs`` only what no column holds as delivered (issue 12: the
wide row): the delivered columns that are no pipe field, those a dictionary or parse may turn
into another value (class, feature, material, status, a year), and the table and row it came
from; a value the mapping file translates stays as delivered; a row whose values did not parse
keeps them all, as every reject does. Expected attrs are written out from the fixture's own
columns."""

from __future__ import annotations

import pandas as pd

from loaders.pipes.load import load_pipes_files, read_delivery
from tests.conftest import SAMPLES
from tests.test_pipes import _survey


def _files(tmp_path, bad_year: bool = False):
    pts, segs = _survey("AT")
    pts["探测员"] = ["张三"] * len(pts)  # no pipe field: kept
    pts["道路名称"] = ["明德路"] * len(pts)  # a text field: its column holds it
    segs["权属性质"] = ["国有"] * len(segs)
    segs["道路名称"] = ["明德路"] * len(segs)
    segs["状态"] = ["在用"] * len(segs)  # a dictionary's: kept as delivered
    segs["建设年代"] = ["2019-05"] * len(segs)  # a year read off a date: kept
    if bad_year:
        segs.loc[1, "建设年代"] = "某年"
    pts.to_csv(tmp_path / "给水管线点.csv", index=False)
    segs.to_csv(tmp_path / "给水管线段.csv", index=False)
    return [tmp_path / "给水管线点.csv", tmp_path / "给水管线段.csv"], pts, segs


def test_a_loaded_pipe_row_keeps_what_no_column_holds(fresh_db, tmp_path):
    files, pts, segs = _files(tmp_path)
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files)
    assert r.rejected == 0 and r.loaded == len(pts) + len(segs), r.text()
    got = {no: a for no, a in fresh_db.rows(
        "SELECT point_no, attrs FROM pipe_points WHERE batch_id = %s", (r.batch_id,))}
    assert got == {no: {"特征": feat, "附属物": None, "探测员": "张三",
                        "_table": "给水管线点.csv", "_row": i + 2}
                   for i, (no, feat) in enumerate(zip(pts["物探点号"], pts["特征"]))}
    got = {(a, b): x for a, b, x in fresh_db.rows(
        "SELECT start_point_no, end_point_no, attrs FROM pipe_segments WHERE batch_id = %s",
        (r.batch_id,))}
    assert got == {(a, b): {"材质": "PE", "权属性质": "国有", "状态": "在用",
                            "建设年代": "2019-05", "_table": "给水管线段.csv", "_row": i + 2}
                   for i, (a, b) in enumerate(zip(segs["起始点号"], segs["终止点号"]))}
    # what left attrs is in the columns, as delivered
    assert fresh_db.rows("SELECT DISTINCT road, start_depth, size_text, year_built FROM "
                         "pipe_segments WHERE batch_id = %s", (r.batch_id,)) == \
        [("明德路", 1.2, "DN160", 2019)]
    assert fresh_db.rows("SELECT DISTINCT road, ground_elevation IS NOT NULL FROM pipe_points "
                         "WHERE batch_id = %s", (r.batch_id,)) == [("明德路", True)]


def test_a_translated_value_and_a_field_of_the_other_table_stay(fresh_db, tmp_path):
    files, pts, segs = _files(tmp_path)
    pts["管理单位"] = ["水务公司"] * len(pts)  # owner is a segment field: no point column
    pts.to_csv(files[0], index=False)
    segs["道路名称"] = ["明德"] * len(segs)
    segs["管理单位"] = ["水务公司"] * len(segs)
    segs.drop(columns=["权属性质"]).to_csv(files[1], index=False)
    mapping = tmp_path / "mapping.yaml"  # a flat entry: any table with the column
    mapping.write_text("owner: 管理单位\nvalues: {road: {明德: 明德路}}\n", encoding="utf-8")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, mapping=mapping)
    rows = fresh_db.rows("SELECT road, owner, attrs FROM pipe_segments WHERE batch_id = %s",
                         (r.batch_id,))
    assert len(rows) == len(segs) and {(x, o) for x, o, _ in rows} == {("明德路", "水务公司")}
    assert all(a["道路名称"] == "明德" and "管理单位" not in a for _, _, a in rows)
    rows = fresh_db.rows("SELECT attrs FROM pipe_points WHERE batch_id = %s", (r.batch_id,))
    # (the road, a translated attribute, as delivered on every table)
    assert len(rows) == len(pts) and all(a["管理单位"] == "水务公司" and a["道路名称"] == "明德路"
                                         and "物探点号" not in a for a, in rows)


def test_a_row_whose_values_did_not_parse_keeps_them_all(jining_profile, tmp_path):
    files, pts, segs = _files(tmp_path, bad_year=True)
    d = read_delivery(jining_profile, files)
    bad = [s for s in d.segments if s.problems]
    assert [s.row for s in bad] == [3]  # premise: the second segment's year did not parse
    row = pd.read_csv(files[1], dtype=str, keep_default_na=False).iloc[1]  # as delivered
    delivered = {k: (v or None) for k, v in row.items()}
    assert dict(bad[0].attrs.stored()) == {**delivered, "_table": "给水管线段.csv", "_row": 3}
    good = next(s for s in d.segments if not s.problems)
    assert dict(good.attrs.stored()) == {"材质": "PE", "权属性质": "国有", "状态": "在用",
                                         "建设年代": "2019-05", "_table": "给水管线段.csv",
                                         "_row": 2}
    # the record itself keeps every delivered value (rejects and QA read them)
    assert dict(good.attrs)["道路名称"] == "明德路" and dict(good.attrs)["起始点号"] == "AT001"


def test_a_gis_network_row_keeps_what_no_column_holds(fresh_db, tmp_path):
    import pyogrio

    src = SAMPLES / "pipes_gis" / "old_water_main.gpkg"
    lines = pyogrio.read_dataframe(src, layer="pipes")
    nodes = pyogrio.read_dataframe(src, layer="nodes")
    lines["维护班组"] = "一班"
    nodes["井盖材质"] = "铸铁"
    gpkg = tmp_path / "main.gpkg"
    pyogrio.write_dataframe(lines, gpkg, layer="pipes")
    pyogrio.write_dataframe(nodes, gpkg, layer="nodes", append=True)
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, None, lines=f"{gpkg}:pipes",
                            points=f"{gpkg}:nodes", class_opt="给水")
    assert r.rejected == 0 and r.loaded == len(lines) + len(nodes), r.text()
    table = "main.gpkg:pipes"
    got = dict(fresh_db.rows("SELECT source_key, attrs FROM pipe_segments WHERE batch_id = %s",
                             (r.batch_id,)))
    assert sorted(got.values(), key=lambda a: a["_row"]) == [
        {"材质": m, "埋设方式": b, "建设年代": y, "维护班组": "一班", "_table": table,
         "_row": i + 1}
        for i, (m, b, y) in enumerate(zip(lines["材质"], lines["埋设方式"], lines["建设年代"]))]
    got = [a for a, in fresh_db.rows("SELECT attrs FROM pipe_points WHERE batch_id = %s",
                                     (r.batch_id,))]
    assert sorted(got, key=lambda a: a["_row"]) == [
        {"特征": f, "井盖材质": "铸铁", "_table": "main.gpkg:nodes", "_row": i + 1}
        for i, f in enumerate(nodes["特征"])]
    # the columns hold the rest, as delivered or as the dictionaries name it
    assert sorted(x for x, in fresh_db.rows(
        "SELECT split_part(source_key, ':', 3) FROM pipe_segments WHERE batch_id = %s",
        (r.batch_id,))) == sorted(lines["管段编号"])

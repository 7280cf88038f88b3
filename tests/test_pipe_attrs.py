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
    pts["备注"] = ["检修井"] * len(pts)
    segs["权属性质"] = ["国有"] * len(segs)
    segs["道路名称"] = ["明德路"] * len(segs)
    segs["状态"] = ["在用"] * len(segs)  # a dictionary's: kept as delivered
    segs["建设年代"] = ["2019-05"] * len(segs)  # a year read off a date: kept
    segs["备注"] = ["穿越河道"] * len(segs)  # a segment has no note column: kept
    segs["压力"] = ["0.4MPa"] * len(segs)
    segs["权属单位"] = ["水务公司"] * len(segs)
    if bad_year:
        segs.loc[1, "建设年代"] = "某年"
    pts.to_csv(tmp_path / "给水管线点.csv", index=False)
    segs.to_csv(tmp_path / "给水管线段.csv", index=False)
    return [tmp_path / "给水管线点.csv", tmp_path / "给水管线段.csv"], pts, segs


def _delivered(path, keep: list[str]) -> list[dict]:
    """Each row's cells of ``keep`` as the CSV holds them (blank: None), its table and row."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [{**{k: (r[k] or None) for k in keep}, "_table": path.name, "_row": i + 2}
            for i, r in df.iterrows()]


def test_a_loaded_pipe_row_keeps_what_no_column_holds(fresh_db, tmp_path):
    files, pts, segs = _files(tmp_path)
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files)
    assert r.rejected == 0 and r.loaded == len(pts) + len(segs), r.text()
    got = [a for a, in fresh_db.rows("SELECT attrs FROM pipe_points WHERE batch_id = %s "
                                     "ORDER BY point_no", (r.batch_id,))]
    # the class's dictionary fields, X and Y as typed, what no field reads
    assert got == _delivered(files[0], ["特征", "附属物", "X", "Y", "探测员"])
    got = [a for a, in fresh_db.rows("SELECT attrs FROM pipe_segments WHERE batch_id = %s "
                                     "ORDER BY start_point_no", (r.batch_id,))]
    # depths and pipe elevations (computed where blank), dictionaries, the year, the note
    assert got == _delivered(files[1], ["起点埋深", "终点埋深", "材质", "权属性质", "状态",
                                        "建设年代", "备注"])
    # what left attrs is in the columns, as delivered
    assert fresh_db.rows("SELECT DISTINCT road, size_text, year_built, pressure, owner FROM "
                         "pipe_segments WHERE batch_id = %s", (r.batch_id,)) == \
        [("明德路", "DN160", 2019, "0.4MPa", "水务公司")]
    assert fresh_db.rows("SELECT DISTINCT road, note, ground_elevation IS NOT NULL FROM "
                         "pipe_points WHERE batch_id = %s", (r.batch_id,)) == \
        [("明德路", "检修井", True)]


def _values(doc) -> set:
    """Every scalar of a JSON document (a row's columns, attrs and geometry included)."""
    if isinstance(doc, dict):
        return set().union(*map(_values, doc.values())) if doc else set()
    if isinstance(doc, list):
        return set().union(*map(_values, doc)) if doc else set()
    return {doc}


def test_every_delivered_cell_is_somewhere_in_its_loaded_row(fresh_db, tmp_path):
    files, pts, segs = _files(tmp_path)
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files)
    for path, table, order in ((files[0], "pipe_points", "point_no"),
                               (files[1], "pipe_segments", "start_point_no")):
        rows = [_values(t) for t, in fresh_db.rows(
            f"SELECT to_jsonb(t) FROM {table} t WHERE batch_id = %s ORDER BY {order}",
            (r.batch_id,))]
        cells = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert len(rows) == len(cells)
        for values, (_, cell) in zip(rows, cells.iterrows()):
            for name, v in cell.items():
                if not v:
                    continue
                try:  # a number may be stored as a number (1.20 → 1.2)
                    number = float(v)
                except ValueError:
                    number = None
                assert v in values or (number is not None and number in values), \
                    (table, name, v)


def test_a_blank_cell_a_mapping_default_fills_stays_blank_in_attrs(fresh_db, tmp_path):
    files, pts, segs = _files(tmp_path)
    segs.loc[[0, 2], "权属单位"] = None
    segs.to_csv(files[1], index=False)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("defaults: {owner: 供水公司}\n", encoding="utf-8")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, mapping=mapping)
    got = fresh_db.rows("SELECT owner, attrs->'权属单位' FROM pipe_segments WHERE "
                        "batch_id = %s ORDER BY start_point_no", (r.batch_id,))
    assert got == [("供水公司", None), ("水务公司", "水务公司"), ("供水公司", None),
                   ("水务公司", "水务公司")]
    assert all("权属单位" in a for a, in fresh_db.rows(
        "SELECT attrs FROM pipe_segments WHERE batch_id = %s", (r.batch_id,)))


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
    assert dict(good.attrs.stored()) == _delivered(files[1], [
        "起点埋深", "终点埋深", "材质", "权属性质", "状态", "建设年代", "备注"])[0]
    # the record itself keeps every delivered value (rejects and QA read them)
    assert dict(good.attrs)["道路名称"] == "明德路" and dict(good.attrs)["起始点号"] == "AT001"


def test_a_gis_network_row_keeps_what_no_column_holds(fresh_db, tmp_path):
    import pyogrio

    from loaders.common import jsonable

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

    def expected(df, keep, table):
        return [{**{k: jsonable(v[k]) for k in keep}, "_table": table, "_row": i + 1}
                for i, v in df.iterrows()]

    got = [a for a, in fresh_db.rows("SELECT attrs FROM pipe_segments WHERE batch_id = %s",
                                     (r.batch_id,))]
    assert sorted(got, key=lambda a: a["_row"]) == expected(
        lines, ["材质", "建设年代", "埋设方式", "起点埋深", "终点埋深", "维护班组"],
        "main.gpkg:pipes")
    got = [a for a, in fresh_db.rows("SELECT attrs FROM pipe_points WHERE batch_id = %s",
                                     (r.batch_id,))]
    # a blank ground elevation would be taken from Z: kept as delivered
    assert sorted(got, key=lambda a: a["_row"]) == expected(
        nodes, ["特征", "地面高程", "井盖材质"], "main.gpkg:nodes")
    # the columns hold the rest, as delivered
    assert sorted(x for x, in fresh_db.rows(
        "SELECT split_part(source_key, ':', 3) FROM pipe_segments WHERE batch_id = %s",
        (r.batch_id,))) == sorted(lines["管段编号"])


def test_a_gis_line_end_from_snapping_keeps_the_delivered_number(jining_profile, tmp_path):
    import pyogrio

    src = SAMPLES / "pipes_gis" / "old_water_main.gpkg"
    lines = pyogrio.read_dataframe(src, layer="pipes").drop(columns=["终点号"])
    gpkg = tmp_path / "one_end.gpkg"
    pyogrio.write_dataframe(lines, gpkg, layer="pipes")
    d = read_delivery(jining_profile, lines=f"{gpkg}:pipes", class_opt="给水")
    s = d.segments[0]
    assert s.start_no != lines["起点号"][0]  # premise: the ends are the snapped nodes'
    assert dict(s.attrs.stored())["起点号"] == lines["起点号"][0]


def test_every_held_out_attribute_names_a_column_of_its_layer():
    from cim.layerdefs import PIPE_POINTS, PIPE_SEGMENTS
    from loaders.pipes.fields import POINT_HELD, SEGMENT_HELD

    for held, layer in ((POINT_HELD, PIPE_POINTS), (SEGMENT_HELD, PIPE_SEGMENTS)):
        missing = {a: c for a, c in held.items()
                   if c is not None and c not in layer.column_names()}
        assert missing == {}, layer.name

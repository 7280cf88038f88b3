"""A loaded pipe row keeps in ``attrs`` only what no column holds (issue 12: the wide row):
the delivered columns that are no survey field, and the table and row it came from; a value
the mapping file translates stays as delivered; a row whose values did not parse keeps them
all, as every reject does. Expected attrs are written out from the fixture's own columns."""

from __future__ import annotations

import pandas as pd

from loaders.pipes.load import load_pipes_files, read_delivery
from tests.test_pipes import _survey


def _files(tmp_path, bad_year: bool = False):
    pts, segs = _survey("AT")
    pts["探测员"] = ["张三"] * len(pts)  # no survey field: kept
    segs["权属性质"] = ["国有"] * len(segs)
    segs["状态"] = ["在用"] * len(segs)  # a field: its column holds it
    segs["建设年代"] = ["2019"] * len(segs)
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
    assert got == {no: {"探测员": "张三", "_table": "给水管线点.csv", "_row": i + 2}
                   for i, no in enumerate(pts["物探点号"])}
    got = {(a, b): x for a, b, x in fresh_db.rows(
        "SELECT start_point_no, end_point_no, attrs FROM pipe_segments WHERE batch_id = %s",
        (r.batch_id,))}
    assert got == {(a, b): {"权属性质": "国有", "_table": "给水管线段.csv", "_row": i + 2}
                   for i, (a, b) in enumerate(zip(segs["起始点号"], segs["终止点号"]))}
    # what left attrs is in the columns
    assert fresh_db.rows("SELECT DISTINCT status, year_built, material, size_text FROM "
                         "pipe_segments WHERE batch_id = %s", (r.batch_id,)) == \
        [("在用", 2019, "PE", "DN160")]


def test_a_translated_value_stays_as_delivered(fresh_db, tmp_path):
    files, pts, segs = _files(tmp_path)
    segs["材质"] = ["polyethylene"] * len(segs)
    segs.to_csv(files[1], index=False)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("values: {material: {polyethylene: PE}}\n", encoding="utf-8")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, mapping=mapping)
    rows = fresh_db.rows("SELECT material, attrs FROM pipe_segments WHERE batch_id = %s",
                         (r.batch_id,))
    assert len(rows) == len(segs)
    assert {m for m, _ in rows} == {"PE"}
    assert all(a["材质"] == "polyethylene" and "管径" not in a for _, a in rows)


def test_a_row_whose_values_did_not_parse_keeps_them_all(jining_profile, tmp_path):
    files, pts, segs = _files(tmp_path, bad_year=True)
    d = read_delivery(jining_profile, files)
    bad = [s for s in d.segments if s.problems]
    assert [s.row for s in bad] == [3]  # premise: the second segment's year did not parse
    row = pd.read_csv(files[1], dtype=str, keep_default_na=False).iloc[1]  # as delivered
    delivered = {k: (v or None) for k, v in row.items()}
    assert dict(bad[0].attrs.stored()) == {**delivered, "_table": "给水管线段.csv", "_row": 3}
    good = next(s for s in d.segments if not s.problems)
    assert dict(good.attrs.stored()) == {"权属性质": "国有", "_table": "给水管线段.csv",
                                         "_row": 2}
    # the record itself keeps every delivered value (rejects and QA read them)
    assert dict(good.attrs)["建设年代"] == "2019" and dict(good.attrs)["起始点号"] == "AT001"

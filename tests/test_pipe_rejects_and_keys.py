"""Pipe rejects name their own table's row and the field at fault; nodes the loader made at the
ends of rejected GIS lines are not loaded; a survey segment delivered with its ends exchanged
keeps its key and code; a valve on a rejected pipe goes with it. Expected values by
construction (the files written here)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from cim.errors import OutOfAreaError
from loaders.pipes.load import load_pipes_files
from tests.conftest import run_cli
from tests.test_pipes import E0, N0, _survey

PTS = "给水_管线点成果表.csv"
SEGS = "给水_管线段成果表.csv"


def _write(p: Path, rows) -> None:
    with open(p, "w", encoding="gbk", newline="") as f:
        csv.writer(f).writerows(rows)


def _rejects(db, batch_id) -> dict[str, tuple]:
    return {r[1]: r for r in db.rows(
        "SELECT row_number, reason, field, message, attrs->>'_table', (attrs->>'_row')::int "
        "FROM load_rejects WHERE batch_id = %s", (batch_id,))}


# -- fault 1: a reject's row, table and field ---------------------------------------------------
def test_survey_rejects_name_their_tables_row_and_field(fresh_db, tmp_path):
    # the header is each file's row 1: data rows are 2, 3, 4 …
    _write(tmp_path / SEGS, [
        ["起点号", "终点号", "起点埋深(m)", "终点埋深(m)", "材质", "管径(mm)"],
        ["JS1", "JS2", "1.5", "1.5", "钢", "DN300"],     # row 2: loaded
        ["JS2", "JS3", "1.5", "1.5", "钢", "DN300"],     # row 3: JS3 outside → its 终点号
        ["JS1", "JS2", "1.5", "1.5", "钢", "DN300"]])    # row 4: duplicate_segment
    _write(tmp_path / PTS, [
        ["点号", "特征", "X坐标", "Y坐标", "地面高程(m)"],
        ["JS1", "直线点", f"{N0:.3f}", f"{E0:.3f}", "36.3"],          # row 2
        ["JS2", "直线点", f"{N0 + 20:.3f}", f"{E0:.3f}", "36.3"],     # row 3
        ["JS2", "直线点", f"{N0 + 40:.3f}", f"{E0:.3f}", "36.3"],     # row 4: duplicate
        ["JS3", "直线点", f"{N0:.3f}", f"{E0 - 100_000:.3f}", "36.3"]])  # row 5: 100 km west
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    # read: the delivered rows (4 points, 3 segments); loaded JS1, JS2 and JS1-JS2
    assert (r.read, r.loaded, r.rejected) == (7, 3, 4)
    rej = _rejects(fresh_db, r.batch_id)
    assert {k: v[:3] for k, v in rej.items()} == {
        "duplicate_point": (4, "duplicate_point", "点号"),
        "outside_area": (5, "outside_area", "X坐标/Y坐标"),
        "end_point_rejected": (3, "end_point_rejected", "终点号"),
        "duplicate_segment": (4, "duplicate_segment", "起点号/终点号")}
    for reason, (row, _r, _f, message, table, attrs_row) in rej.items():
        table_of = SEGS if reason in ("end_point_rejected", "duplicate_segment") else PTS
        assert (table, attrs_row) == (table_of, row), reason  # the row its attrs record
        assert message.startswith(f"{table_of} row {row}: "), (reason, message)
    # QA's findings name the same rows and fields
    found = {(f.rule, f.table, f.row, f.field) for f in qa.findings if f.severity == "error"}
    assert found == {("duplicate_point", PTS, 4, "点号"),
                     ("duplicate_segment", SEGS, 4, "起点号/终点号")}
    # the listing: each reject with its table's row, its field and its table (in the message)
    proc = run_cli(["rejects", str(r.batch_id)], fresh_db.env(), check=True)
    lines = proc.stdout.splitlines()
    assert lines[-1] == "4 rejected"
    assert any("row 4" in x and "duplicate_point" in x and "[点号]" in x and f"{PTS} row 4" in x
               for x in lines), lines
    assert any("row 3" in x and "end_point_rejected" in x and "[终点号]" in x
               and f"{SEGS} row 3" in x for x in lines), lines
    # table by table, each in its rows' order (rows are numbered per table)
    listed = [(PTS if PTS in x else SEGS, int(x.split()[1])) for x in lines[:-1]]
    tables = [t for k, (t, _) in enumerate(listed) if k == 0 or listed[k - 1][0] != t]
    assert sorted(tables) == sorted([PTS, SEGS]), lines  # each table's rejects together
    for t in tables:
        rows = [n for tt, n in listed if tt == t]
        assert rows == sorted(rows), lines
    # a CSV holds one table: the rejects of two are refused there (read back as one point
    # table, every segment row failed), named, and written to a GeoPackage, a layer a table
    out = tmp_path / "rej.csv"
    proc = run_cli(["rejects", str(r.batch_id), "--export", str(out)], fresh_db.env())
    assert proc.returncode == 3 and not out.exists(), proc.stderr
    assert PTS in proc.stderr and SEGS in proc.stderr and ".gpkg" in proc.stderr, proc.stderr
    out = tmp_path / "rej.gpkg"
    run_cli(["rejects", str(r.batch_id), "--export", str(out)], fresh_db.env(), check=True)
    rows = []
    for name, _kind in pyogrio.list_layers(out):
        frame = pyogrio.read_dataframe(out, layer=name)
        rows += [(x["_table"], str(x["cim_row"]), x["cim_reason"], x["cim_field"])
                 for x in frame.to_dict("records")]
    # the export: cim_row is the row of the reject's own table
    assert sorted(rows) == [
        (SEGS, "3", "end_point_rejected", "终点号"), (SEGS, "4", "duplicate_segment", "起点号/终点号"),
        (PTS, "4", "duplicate_point", "点号"), (PTS, "5", "outside_area", "X坐标/Y坐标")]


def test_survey_value_rejects_name_the_delivered_column(fresh_db, tmp_path):
    """A value that is missing or does not parse is named by the column as the table has it
    (点号, X坐标, 起点号, 起点埋深(m)), not by the standard's name (物探点号, X, 起始点号, 起点埋深),
    as the writer's rejects and QA's findings name theirs."""
    _write(tmp_path / SEGS, [
        ["起点号", "终点号", "起点埋深(m)", "终点埋深(m)", "材质", "管径(mm)"],
        ["JS1", "JS2", "1.5", "1.5", "钢", "DN300"],     # row 2: loaded
        ["", "JS2", "1.5", "1.5", "钢", "DN300"],        # row 3: no start point
        ["JS2", "JS1", "深", "1.5", "钢", "DN300"]])      # row 4: a depth that is no number
    _write(tmp_path / PTS, [
        ["点号", "特征", "X坐标", "Y坐标", "地面高程(m)"],
        ["JS1", "直线点", f"{N0:.3f}", f"{E0:.3f}", "36.3"],          # row 2
        ["JS2", "直线点", f"{N0 + 20:.3f}", f"{E0:.3f}", "36.3"],     # row 3
        ["", "直线点", f"{N0 + 40:.3f}", f"{E0:.3f}", "36.3"],        # row 4: no number
        ["JS4", "直线点", "北", f"{E0:.3f}", "36.3"]])                # row 5: X no number
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    got = {(t, row, reason, field) for row, reason, field, _m, t, _r in (
        (x[0], x[1], x[2], x[3], x[4], x[5]) for x in fresh_db.rows(
            "SELECT row_number, reason, field, message, attrs->>'_table', "
            "(attrs->>'_row')::int FROM load_rejects WHERE batch_id = %s", (r.batch_id,)))}
    assert got == {(PTS, 4, "missing_value", "点号"), (PTS, 5, "bad_value", "X坐标"),
                   (SEGS, 3, "missing_value", "起点号"),
                   (SEGS, 4, "bad_value", "起点埋深(m)")}, got
    found = {(f.table, f.row, f.rule, f.field) for f in qa.findings if f.severity == "error"}
    assert got <= found, found


def test_survey_point_with_a_blank_class_cell_is_named_by_its_class_column(fresh_db, tmp_path):
    """A point table with a class column (管线类型) and a blank cell on a point no segment uses:
    its reject names 管线类型, the table's column (not the standard's 管线类别)."""
    _write(tmp_path / "管线段成果表.csv", [
        ["起点号", "终点号", "管线类型", "起点埋深(m)", "终点埋深(m)", "材质", "管径(mm)"],
        ["JS1", "JS2", "给水", "1.5", "1.5", "钢", "DN300"]])
    _write(tmp_path / "管线点成果表.csv", [
        ["点号", "管线类型", "特征", "X坐标", "Y坐标", "地面高程(m)"],
        ["JS1", "给水", "直线点", f"{N0:.3f}", f"{E0:.3f}", "36.3"],
        ["JS2", "给水", "直线点", f"{N0 + 20:.3f}", f"{E0:.3f}", "36.3"],
        ["JS9", "", "直线点", f"{N0 + 40:.3f}", f"{E0:.3f}", "36.3"]])   # row 4
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    ((row, reason, field, message),) = fresh_db.rows(
        "SELECT row_number, reason, field, message FROM load_rejects WHERE batch_id = %s",
        (r.batch_id,))
    assert (row, reason, field) == (4, "missing_value", "管线类型"), (row, reason, field)
    assert "管线类型" in message, message


def test_gis_value_rejects_name_the_layers_field(fresh_db, tmp_path):
    """A GIS layer's bad value is named by the layer's field (起点埋深(m), 点号 …), as a survey
    table's is, not by the standard's name (起点埋深, 物探点号)."""
    e, n = 39_460_300.0, 3_917_200.0
    path = tmp_path / "v.gpkg"
    gpd.GeoDataFrame({"管段编号": ["P1", "P2"], "起点号": ["A", "B"], "终点号": ["B", "C"],
                      "起点埋深(m)": ["1.5", "深"]},                      # row 2: not a depth
                     geometry=[shapely.LineString([(e, n), (e, n + 50)]),
                               shapely.LineString([(e, n + 50), (e, n + 100)])],
                     crs="EPSG:4527").to_file(path, layer="pipes", engine="pyogrio")
    gpd.GeoDataFrame({"测点号": ["A", None], "地面高程(m)": ["36.1", "36.2"]},  # row 2: no id
                     geometry=[shapely.Point(e, n), shapely.Point(e + 300, n)],
                     crs="EPSG:4527").to_file(path, layer="nodes", engine="pyogrio")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{path}:pipes",
                            points=f"{path}:nodes", class_opt="给水", dataset="v")
    got = sorted(fresh_db.rows(
        "SELECT attrs->>'_table', row_number, reason, field FROM load_rejects "
        "WHERE batch_id = %s AND reason IN ('bad_value', 'missing_value')", (r.batch_id,)))
    assert got == [("v.gpkg:nodes", 2, "missing_value", "测点号"),
                   ("v.gpkg:pipes", 2, "bad_value", "起点埋深(m)")], got


# -- fault 2: nodes made at the ends of rejected lines ----------------------------------------
def _network(path: Path) -> Path:
    """Lines named by node ids (rows 1–4) and a node layer (rows 1–2), EPSG:4527."""
    e, n = 39_460_300.0, 3_917_200.0

    def line(*xy):
        return shapely.LineString([(e + x, n + y, 34.0) for x, y in xy])

    lines = gpd.GeoDataFrame({
        "管段编号": ["P1", "P2", "P1", "P4"],
        "起点号": ["N1", "N2", "N3", "N9"],
        "终点号": ["N2", "N3", "N7", "N9"]},
        geometry=[line((0, 0), (0, 50)),        # row 1: loaded
                  line((0, 50), (0, 100)),      # row 2: loaded
                  line((0, 100), (0, 150)),     # row 3: P1 again (duplicate_source_id)
                  line((200, 0), (200, 50))],   # row 4: N9 to N9 (self_loop)
        crs="EPSG:4527")
    nodes = gpd.GeoDataFrame({"点号": ["N1", "N5"]},
                             geometry=[shapely.Point(e, n, 34.0),          # row 1: P1's start
                                       shapely.Point(e + 400, n, 34.0)],   # row 2: on no line
                             crs="EPSG:4527")
    lines.to_file(path, layer="pipes", engine="pyogrio")
    nodes.to_file(path, layer="nodes", engine="pyogrio")
    return path


def test_nodes_made_for_rejected_lines_are_not_loaded(fresh_db, tmp_path):
    net = _network(tmp_path / "net.gpkg")
    kw = dict(lines=f"{net}:pipes", points=f"{net}:nodes", class_opt="给水", dataset="net")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, **kw)
    # made at line ends: N2, N3 (used by P1 and P2), N7 (the duplicate's), N9 (the loop's)
    # read: 4 lines + 2 delivered nodes + the 2 made nodes a loaded line uses
    assert (r.read, r.loaded, r.rejected) == (8, 6, 2), r.text()
    assert r.rejected_by_reason == {"duplicate_source_id": 1, "self_loop": 1}
    pts = sorted(k.rsplit(":", 1)[1] for (k,) in fresh_db.rows(
        "SELECT source_key FROM pipe_points WHERE valid_to IS NULL"))
    assert pts == ["N1", "N2", "N3", "N5"]  # the delivered N5 stays, on no segment
    # a made node is a 直线点, 起讫点 … by the lines loaded: N3 ends P2 (the duplicate that
    # starts there is not loaded)
    feature = dict(fresh_db.rows("SELECT point_no, feature FROM pipe_points "
                                 "WHERE valid_to IS NULL AND point_no IN ('N2', 'N3')"))
    assert feature == {"N2": "直线点", "N3": "起讫点"}, feature
    assert r.topology["isolated_points"] == 1 and r.topology["segments"] == 2
    rej = _rejects(fresh_db, r.batch_id)
    table = "net.gpkg:pipes"
    assert rej["duplicate_source_id"][:3] == (3, "duplicate_source_id", "管段编号")
    assert rej["self_loop"][:3] == (4, "self_loop", "起点号/终点号")
    for row, _r, _f, message, t, attrs_row in rej.values():
        assert (t, attrs_row) == (table, row) and message.startswith(f"{table} row {row}: ")
    # a reload of the same delivery changes nothing and reads the same
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, **kw)
    assert (r2.read, r2.inserted, r2.updated, r2.unchanged, r2.rejected) == (8, 0, 0, 6, 2)


def test_made_node_outside_the_city_is_a_reject_without_a_row(fresh_db, tmp_path):
    """A node made at a line end has no row of its own: its reject names the line's. The
    line goes with it (end_point_rejected), and the node made at its other end, inside the
    city, is neither loaded nor read: it would be a point on no segment."""
    e, n = 39_460_300.0, 3_917_200.0
    path = tmp_path / "far.gpkg"
    gpd.GeoDataFrame({"管段编号": ["P1", "P2"], "起点号": ["A", "C"], "终点号": ["B", "D"]},
                     geometry=[shapely.LineString([(e, n), (e - 100_000, n)]),  # B far west
                               shapely.LineString([(e, n + 50), (e, n + 100)])],  # inside
                     crs="EPSG:4527").to_file(path, layer="pipes", engine="pyogrio")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{path}:pipes",
                            class_opt="给水", dataset="far")
    # read: the two lines, B (rejected: the reason P1 goes) and C, D (P2's ends); not A
    assert (r.read, r.loaded, r.rejected) == (5, 3, 2), r.text()
    assert r.rejected_by_reason == {"outside_area": 1, "end_point_rejected": 1}
    pts = sorted(k for (k,) in fresh_db.rows(
        "SELECT point_no FROM pipe_points WHERE valid_to IS NULL"))
    assert pts == ["C", "D"]
    assert any("1 nodes made at the ends of rejected lines not loaded" in x for x in r.notes)
    out = [x for x in fresh_db.rows(
        "SELECT row_number, field, message FROM load_rejects WHERE batch_id = %s AND "
        "reason = 'outside_area'", (r.batch_id,))]
    assert len(out) == 1 and out[0][:2] == (None, "geometry"), out
    assert out[0][2].startswith("(line ends) of far.gpkg:pipes row 1: "), out
    msg, field = fresh_db.rows("SELECT message, field FROM load_rejects WHERE batch_id = %s "
                               "AND reason = 'end_point_rejected'", (r.batch_id,))[0]
    assert "end point B" in msg and "outside_area" in msg and field == "终点号", (msg, field)
    # a reload of the same delivery reads and rejects the same, changes nothing
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{path}:pipes",
                             class_opt="给水", dataset="far")
    assert (r2.read, r2.unchanged, r2.inserted, r2.rejected) == (5, 3, 0, 2), r2.text()


def _lines_crossing(path: Path, ids, starts, ends, xys) -> str:
    e, n = 39_460_300.0, 3_917_200.0
    gpd.GeoDataFrame({"管段编号": ids, "起点号": starts, "终点号": ends},
                     geometry=[shapely.LineString([(e + x, n + y) for x, y in xy])
                               for xy in xys],
                     crs="EPSG:4527").to_file(path, layer="pipes", engine="pyogrio")
    return f"{path}:pipes"


FAR = 100_000.0  # 100 km west: outside every district


def test_a_line_crossing_the_city_boundary_alone_is_no_wrong_crs(fresh_db, tmp_path):
    """The delivery's one line has its end B outside: nothing loads, and the load says why
    line by line (B outside_area, the line end_point_rejected) — its inside end A lies in the
    city, so it is no CRS or X/Y mistake (OutOfAreaError is for a delivery wholly outside)."""
    lines = _lines_crossing(tmp_path / "x.gpkg", ["P1"], ["A"], ["B"], [[(0, 0), (-FAR, 0)]])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines,
                            class_opt="给水", dataset="x")
    assert (r.read, r.loaded, r.rejected) == (2, 0, 2), r.text()
    assert r.rejected_by_reason == {"outside_area": 1, "end_point_rejected": 1}
    # wholly outside: that is the CRS's or the X/Y's mistake, and the load says so
    lines = _lines_crossing(tmp_path / "y.gpkg", ["P1"], ["A"], ["B"],
                            [[(-FAR, 0), (-FAR, 50)]])
    with pytest.raises(OutOfAreaError):
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines, class_opt="给水",
                         dataset="y")


def test_a_line_with_an_outside_end_takes_no_id_from_a_later_line(fresh_db, tmp_path):
    """P1 A→B (B outside) goes as end_point_rejected, like a line QA rejects: the later P1
    C→D is the first of its id that may be written, and is loaded (not duplicate_source_id)."""
    lines = _lines_crossing(tmp_path / "d.gpkg", ["P1", "P1"], ["A", "C"], ["B", "D"],
                            [[(0, 0), (-FAR, 0)], [(0, 50), (0, 100)]])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=lines,
                            class_opt="给水", dataset="d")
    assert (r.read, r.loaded, r.rejected) == (5, 3, 2), r.text()
    assert r.rejected_by_reason == {"outside_area": 1, "end_point_rejected": 1}
    assert fresh_db.rows("SELECT start_point_no, end_point_no FROM pipe_segments "
                         "WHERE valid_to IS NULL") == [("C", "D")]


# -- fault 3: a segment surveyed the other way round ---------------------------------------
def _files(tmp_path: Path, pts, segs) -> list[Path]:
    files = [tmp_path / "给水管线点.csv", tmp_path / "给水管线段.csv"]
    pts.to_csv(files[0], index=False, encoding="utf-8")
    segs.to_csv(files[1], index=False, encoding="utf-8")
    return files


def _current_segments(db) -> list[tuple]:
    return db.rows("SELECT source_key, code, start_point_no, end_point_no FROM pipe_segments "
                   "WHERE valid_to IS NULL ORDER BY source_key")


def test_a_segment_with_its_ends_exchanged_keeps_its_key_and_code(fresh_db, tmp_path):
    pts, segs = _survey()  # 5 points, 4 segments JS001-JS002 … JS004-JS005, no segment id

    def load(mode="update"):
        return load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                                _files(tmp_path, pts, segs), dataset="s", mode=mode)[0]

    assert load().loaded == 9
    before = _current_segments(fresh_db)
    key, code = next((k, c) for k, c, a, _ in before if a == "JS002")
    segs.loc[1, ["起始点号", "终止点号"]] = ["JS003", "JS002"]  # surveyed from its other end
    r = load()
    assert (r.read, r.inserted, r.updated, r.unchanged, r.rejected) == (9, 0, 1, 8, 0)
    after = _current_segments(fresh_db)
    # no key and no code changed; the turned one is current once, with its new ends
    assert [x[:2] for x in after] == [x[:2] for x in before]
    assert (key, code, "JS003", "JS002") in after
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments WHERE code = %s", (code,)) == 2
    # the same delivery again: nothing changes; replace retires nothing
    r = load()
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 9)
    r = load("replace")
    assert (r.inserted, r.updated, r.unchanged, r.retired) == (0, 0, 9, 0)
    assert _current_segments(fresh_db) == [x if x[0] != key else (key, code, "JS003", "JS002")
                                           for x in before]
    # turned back: the stored key again, one more version
    segs.loc[1, ["起始点号", "终止点号"]] = ["JS002", "JS003"]
    r = load()
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 8)
    assert _current_segments(fresh_db) == before


def test_report_json_of_a_turned_segment_says_so(fresh_db, tmp_path):
    """The load report notes a segment that kept its stored key (the CLI's --json)."""
    pts, segs = _survey()
    files = _files(tmp_path, pts, segs)
    args = ["load", "pipes", *map(str, files), "--dataset", "s", "--json"]
    run_cli(args, fresh_db.env(), check=True)
    segs.loc[0, ["起始点号", "终止点号"]] = ["JS002", "JS001"]
    _files(tmp_path, pts, segs)
    rep = json.loads(run_cli(args, fresh_db.env(), check=True).stdout)
    assert (rep["inserted"], rep["updated"]) == (0, 1)
    assert any("ends exchanged" in x for x in rep["notes"]), rep["notes"]


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_storm_line_into_a_combined_node_is_no_error(fresh_db, tmp_path, order):
    """A node layer without classes takes the class of the first line naming it: a 雨水 line
    into a 合流 node is a real joint, in either order of the lines (no point_of_other_subclass)."""
    e, n = 39_460_300.0, 3_917_200.0
    rows = [("P1", "A", "B", "雨水", shapely.LineString([(e, n), (e, n + 50)])),
            ("P2", "B", "C", "合流", shapely.LineString([(e, n + 50), (e, n + 100)]))]
    rows = [rows[i] for i in order]
    path = tmp_path / "v.gpkg"
    gpd.GeoDataFrame({"管段编号": [r[0] for r in rows], "起点号": [r[1] for r in rows],
                      "终点号": [r[2] for r in rows], "管线类别": [r[3] for r in rows]},
                     geometry=[r[4] for r in rows], crs="EPSG:4527").to_file(
        path, layer="pipes", engine="pyogrio")
    gpd.GeoDataFrame({"点号": ["A", "B", "C"]},
                     geometry=[shapely.Point(e, n), shapely.Point(e, n + 50),
                               shapely.Point(e, n + 100)],
                     crs="EPSG:4527").to_file(path, layer="nodes", engine="pyogrio")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{path}:pipes",
                            points=f"{path}:nodes", dataset="v")
    got = fresh_db.rows("SELECT attrs->>'管段编号', reason FROM load_rejects "
                        "WHERE batch_id = %s", (r.batch_id,))
    assert got == [], got


def _load_valves(db, tmp_path, path, dataset: str):
    """The GeoPackage's pipes and valves (编号, 所在管段, 附属物) as a 给水 network."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text("valves: {point_no: 编号, segment_id: 所在管段, appurtenance: 附属物}\n",
                       encoding="utf-8")
    r, _ = load_pipes_files(db.conninfo, db.profile, lines=f"{path}:pipes",
                            valves=f"{path}:valves", mapping=mapping, class_opt="给水",
                            dataset=dataset)
    return r


def test_a_valve_on_a_rejected_pipe_goes_with_it(fresh_db, tmp_path):
    """A valve whose pipe id names a pipe that was rejected is rejected with it
    (named_pipe_rejected, naming its pipe-id field, the pipe and why), not attached to the
    nearest other pipe; valves on loaded pipes attach by id, one without a pipe id to the
    nearest pipe (attached_nearest)."""
    e, n = 39_460_300.0, 3_917_200.0
    path = tmp_path / "v.gpkg"
    gpd.GeoDataFrame({"管段编号": ["G1", "G2"], "起点号": ["A", "C"], "终点号": ["B", "D"]},
                     geometry=[shapely.LineString([(e, n, 38), (e + 30, n, 38)]),
                               shapely.MultiLineString([[(e, n + 3, 38), (e + 10, n + 3, 38)],
                                                        [(e + 20, n + 3, 38),
                                                         (e + 30, n + 3, 38)]])],
                     crs="EPSG:4527").to_file(path, layer="pipes", engine="pyogrio")
    gpd.GeoDataFrame({"编号": ["V1", "V2", "V3", "V4"], "所在管段": ["G1", "G2", None, "G9"],
                      "附属物": ["阀门"] * 4},
                     geometry=[shapely.Point(e + 5, n, 40), shapely.Point(e + 5, n + 3, 40),
                               shapely.Point(e + 25, n + 1, 40), shapely.Point(e + 15, n, 40)],
                     crs="EPSG:4527").to_file(path, layer="valves", engine="pyogrio")
    r = _load_valves(fresh_db, tmp_path, path, "v")
    assert r.rejected_by_reason == {"bad_value": 1, "named_pipe_rejected": 1}, r.text()
    ((row, field, message, attrs),) = fresh_db.rows(
        "SELECT row_number, field, message, attrs FROM load_rejects WHERE batch_id = %s AND "
        "reason = 'named_pipe_rejected'", (r.batch_id,))
    assert (row, field, attrs["所在管段"]) == (2, "所在管段", "G2")
    assert message.startswith("v.gpkg:valves row 2: ") and "G2" in message
    assert "bad_value" in message, message
    got = dict(fresh_db.rows("SELECT v.point_no, s.source_key || ' ' || array_to_string("
                             "v.flags, ',') FROM pipe_points v JOIN pipe_segments s ON "
                             "s.code = v.segment_code WHERE v.valid_to IS NULL"))
    # V4 names a pipe no line has (G9): attached to the nearest, and said so
    assert got == {"V1": "v:JS:G1 ", "V3": "v:JS:G1 attached_nearest",
                   "V4": "v:JS:G1 attached_nearest,named_pipe_unknown"}, got
    assert r.appurtenances["attached_by_id"] == 1 and r.appurtenances["attached_nearest"] == 2


def test_a_valve_far_from_the_pipe_its_id_names_is_rejected(fresh_db, tmp_path):
    """A valve whose pipe id names a loaded pipe but which lies farther from it than the
    attach tolerance is rejected (named_pipe_far, naming the pipe-id field and the distance):
    it was attached to that pipe and listed in its isolation however far it was (983 m in a
    real network whose id was wrong)."""
    e, n = 39_460_300.0, 3_917_200.0
    path = tmp_path / "f.gpkg"
    pipe = shapely.LineString([(e, n), (e + 30, n)])
    gpd.GeoDataFrame({"管段编号": ["G1"], "起点号": ["A"], "终点号": ["B"]},
                     geometry=[pipe], crs="EPSG:4527").to_file(path, layer="pipes",
                                                              engine="pyogrio")
    where = [shapely.Point(e + 5, n + 0.3), shapely.Point(e + 5, n + 4.9),
             shapely.Point(e + 5, n + 120)]
    gpd.GeoDataFrame({"编号": ["V1", "V2", "V3"], "所在管段": ["G1"] * 3,
                      "附属物": ["阀门"] * 3}, geometry=where,
                     crs="EPSG:4527").to_file(path, layer="valves", engine="pyogrio")
    r = _load_valves(fresh_db, tmp_path, path, "f")  # --attach 5 m, the default
    assert r.rejected_by_reason == {"named_pipe_far": 1}, r.text()
    ((row, field, message),) = fresh_db.rows(
        "SELECT row_number, field, message FROM load_rejects WHERE batch_id = %s",
        (r.batch_id,))
    far = where[2].distance(pipe)  # independent: shapely on the delivered geometry
    assert (row, field) == (3, "所在管段") and f"{far:.1f} m" in message, message
    got = {p for p, in fresh_db.rows("SELECT point_no FROM pipe_points WHERE valid_to IS NULL "
                                     "AND segment_code IS NOT NULL")}
    assert got == {"V1", "V2"}

"""A UTF-8 Shapefile (its .cpg says UTF-8) holds 10 bytes of a field name: 地上层数 (12 bytes)
is written 地上层, and the loader did not recognise it — the storeys, heights, names and uses
of every building were kept in attrs only, the columns left empty. A name that is the cut of
the aliases of one attribute is now read as that alias and the report says which name was
read as which; one that could be the cut of two attributes' names is not guessed, and named.

The Shapefiles are written by GDAL (pyogrio, ENCODING=UTF-8), which cuts the names itself;
the expected values are the source features' own, as written here."""

from __future__ import annotations

import json
import subprocess

import geopandas as gpd
import pyogrio
import pytest
import shapely

from cim.profile import FieldAliases
from loaders.field_names import dbf_cut, map_fields
from tests.conftest import run_cli, scratch_db

X, Y = 39464200.0, 3915600.0  # well inside 任城区 (CGCS2000 / 3° GK zone 39, EPSG:4527)
FEATURES = {  # 建筑编号: (建筑名称, 地上层数, 地下层数, 建筑高度, 建筑用途, 建成年代)
    "JZ-001": ("甲楼", 3, 1, 9.6, "住宅", 1998),
    "JZ-002": ("乙楼", 12, 0, 38.5, "办公", 2009),
    "JZ-003": ("丙楼", 7, 2, 21.3, "商业", 2015),
}
COLUMNS = ("建筑名称", "地上层数", "地下层数", "建筑高度", "建筑用途", "建成年代")


def _write_utf8_shapefile(path, columns: dict, n: int) -> None:
    frame = gpd.GeoDataFrame(columns, geometry=[shapely.box(X + 30 * k, Y, X + 30 * k + 12,
                                                            Y + 10) for k in range(n)],
                             crs="EPSG:4527")
    # written by ogr2ogr in a process of its own: in the test session's process an earlier
    # test's GDAL state had the .dbf written in GBK, its names whole (8 bytes), whatever
    # ENCODING said (seen in the full suite only)
    gpkg = path.with_suffix(".gpkg")
    pyogrio.write_dataframe(frame, gpkg)
    subprocess.run(["ogr2ogr", "-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", str(path),
                    str(gpkg)], check=True, capture_output=True)
    gpkg.unlink()
    assert path.with_suffix(".cpg").read_text().strip() == "UTF-8"


def _dbf_names(path) -> list[bytes]:
    """The field names as the .dbf holds them (32-byte descriptors after the 32-byte head)."""
    raw = path.with_suffix(".dbf").read_bytes()
    names, at = [], 32
    while raw[at] != 0x0D:
        names.append(raw[at:at + 11].split(b"\0", 1)[0])
        at += 32
    return names


@pytest.fixture(scope="module")
def db(jining_profile):
    with scratch_db("li13cut", jining_profile) as d:
        yield d


def test_a_utf8_shapefile_with_cut_chinese_names_loads_its_attributes(db, tmp_path):
    path = tmp_path / "建筑物普查.shp"
    columns = {"建筑编号": list(FEATURES)}
    for j, c in enumerate(COLUMNS):
        columns[c] = [v[j] for v in FEATURES.values()]
    _write_utf8_shapefile(path, columns, len(FEATURES))
    # the delivery as GDAL wrote it: each name's first 10 bytes, a character cut in two
    assert _dbf_names(path) == [n.encode()[:10] for n in ("建筑编号", *COLUMNS)]

    proc = run_cli(["load", "buildings", str(path), "--json"], db.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["loaded"], report["rejected"]) == (3, 0), report
    got = {k.rsplit(":", 1)[-1]: (name, fa, fb, float(h), use, year) for k, name, fa, fb, h,
           use, year in db.rows("SELECT source_key, name, floors_above, floors_below, height, "
                                "use_name, year_built FROM buildings WHERE valid_to IS NULL "
                                "AND source_key LIKE %s", ("建筑物普查:%",))}
    assert got == FEATURES
    # nothing of the mapped fields left in attrs as an unread copy
    assert db.rows("SELECT DISTINCT attrs FROM buildings WHERE source_key LIKE %s",
                   ("建筑物普查:%",)) == [({},)]
    # the report says which name was read as which
    cut = [n for n in report["notes"] if n.startswith("field names cut at")]
    assert len(cut) == 1, report["notes"]
    for short, whole, attr in (("地上层", "地上层数", "floors_above"),
                               ("地下层", "地下层数", "floors_below"),
                               ("建筑高", "建筑高度", "height"), ("建筑用", "建筑用途", "use"),
                               ("建成年", "建成年代", "year_built"),
                               ("建筑编", "建筑编号", "source_id")):
        assert f"{short} as {whole} ({attr})" in cut[0], cut[0]
    # and so does the batch's stored report (cim batches), not only the printed one
    stored = db.rows("SELECT report->'notes' FROM load_batches WHERE id = %s",
                     (report["batch_id"],))[0][0]
    assert cut[0] in stored, stored


def test_an_ambiguous_cut_name_is_not_guessed_and_named(db, tmp_path):
    """建筑物 is the cut of 建筑物名称 (a name) and of 建筑物编号 (an id): kept in attrs as
    delivered, named in the report; 地上层 beside it is still read."""
    path = tmp_path / "amb.shp"
    _write_utf8_shapefile(path, {"建筑物名称": ["甲楼", "乙楼"], "地上层数": [4, 6]}, 2)
    proc = run_cli(["load", "buildings", str(path), "--json"], db.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["loaded"] == 2, report
    rows = db.rows("SELECT name, floors_above, attrs FROM buildings WHERE valid_to IS NULL "
                   "AND source_key LIKE %s ORDER BY floors_above", ("amb:%",))
    assert rows == [(None, 4, {"建筑物": "甲楼"}), (None, 6, {"建筑物": "乙楼"})]
    assert any(n.startswith("field 建筑物 may be any of 建筑物名称, 建筑物编号")
               and "not guessed" in n for n in report["notes"]), report["notes"]


def test_cut_names_in_utf8_gbk_and_ascii():
    aliases = FieldAliases({"source_id": ["建筑编号", "building_id"],
                            "floors_above": ["地上层数", "building:levels"],
                            "floors_below": ["地下层数", "building:levels:underground"],
                            "height": ["建筑高度", "building_height"],
                            "dept_code": ["主管部门代码"], "dept_name": ["主管部门名称"]})
    assert dbf_cut("地上层数", "utf-8") == "地上层" and dbf_cut("地上层数", "gbk") is None
    assert dbf_cut("主管部门代码", "gb18030") == "主管部门代"
    got = map_fields(["地上层", "主管部门代", "BUILDING_H", "building_l"], aliases)
    # building_l: building:levels or building:levels:underground — not guessed
    assert got == {"floors_above": "地上层", "dept_code": "主管部门代", "height": "BUILDING_H"}
    assert any("building_l may be any of" in n for n in got.notes), got.notes
    # the whole name delivered too: it is read, the short one is no cut of it
    assert map_fields(["地上层数", "地上层"], aliases) == {"floors_above": "地上层数"}
    # a mapping file written for the whole name finds its cut
    assert map_fields(["地上层"], aliases, {"floors_above": "地上层数"}) == \
        {"floors_above": "地上层"}
    # a name that is an alias itself is never read as a cut (主管部门 is no cut of 主管部门代码)
    assert map_fields(["主管部门"], FieldAliases({"dept_code": ["主管部门代码"],
                                              "dept_name": ["主管部门"]})) == \
        {"dept_name": "主管部门"}

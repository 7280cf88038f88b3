"""A .dbf written in two encodings (loaders.sources.dbf, loaders.sources.dbf_utf8): GBK text
with values a program stored as UTF-8. GB18030 decodes most UTF-8 Chinese without an error,
as other characters (中文 as 涓枃), so such a file loaded garbled without a word; it is now
refused naming the .dbf, row and field, unless ``--encoding GBK`` says to read it as GBK
(then the note names them). Shapefiles written with pyogrio in GBK, one value's bytes patched
to UTF-8 (no writer produces the case on purpose); loads into a real PostGIS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from cim.errors import InputError
from loaders.buildings import load_buildings
from loaders.sources.dbf_utf8 import utf8_values

NAMES = ["甲栋住宅", "乙栋住宅", "丙栋商业综合楼", "丁栋", "王堃住宅楼", "济宁市任城区古槐街道"]


def _gbk_shp(tmp_path, x: float, y: float, utf8_row: int, utf8_text: str, cpg: bool = False):
    """A GBK Shapefile (no .cpg unless ``cpg``: then one saying GBK; no language byte) whose
    row ``utf8_row`` (from 1) has its NAME stored as UTF-8 ``utf8_text``."""
    names = list(NAMES)
    names[utf8_row - 1] = utf8_text
    g = gpd.GeoDataFrame({"BH": [f"B{i:03d}" for i in range(len(names))], "NAME": names},
                         geometry=[box(x + 12 * i, y, x + 12 * i + 10, y + 10)
                                   for i in range(len(names))], crs="EPSG:4527")
    p = tmp_path / "mixed.shp"
    g.to_file(p, encoding="GBK", engine="pyogrio")
    dbf = p.with_suffix(".dbf")
    b = bytearray(dbf.read_bytes())
    b[29] = 0
    gbk, utf8 = utf8_text.encode("gbk"), utf8_text.encode("utf-8")
    at = bytes(b).index(gbk)
    assert bytes(b).count(gbk) == 1
    pad = len(utf8) - len(gbk)
    assert b[at + len(gbk):at + len(gbk) + pad] == b" " * pad  # room in the field
    b[at:at + len(utf8)] = utf8
    dbf.write_bytes(bytes(b))
    if cpg:
        p.with_suffix(".cpg").write_text("GBK")
    else:
        p.with_suffix(".cpg").unlink(missing_ok=True)
    return p


def _count(fresh_db) -> int:
    return fresh_db.rows("SELECT count(*) FROM buildings")[0][0]


@pytest.mark.parametrize("text", ["乙栋住宅", "乙栋住"])  # 12 bytes (GB18030 decodes it), 9
def test_a_utf8_value_in_a_gbk_dbf_is_refused_naming_row_and_field(fresh_db, tmp_path, text):
    _code, x, y = fresh_db.big_cell()
    p = _gbk_shp(tmp_path, x - 60, y - 60, 2, text)
    assert p.with_suffix(".dbf").read_bytes().count(text.encode("utf-8")) == 1  # the case
    before = _count(fresh_db)
    with pytest.raises(InputError) as err:
        load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    e = err.value
    assert (e.path, e.row, e.field) == (str(p.with_suffix(".dbf")), 2, "NAME"), str(e)
    assert "two encodings" in str(e) and "1 value is UTF-8" in str(e)
    assert ("--encoding GBK" in str(e)) == (len(text.encode("utf-8")) % 2 == 0)  # GBK too?
    assert _count(fresh_db) == before


def test_a_utf8_value_under_a_cpg_saying_gbk_is_refused(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    p = _gbk_shp(tmp_path, x - 60, y - 60, 5, "王堃住宅楼甲", cpg=True)  # 18 bytes
    with pytest.raises(InputError) as err:
        load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (err.value.row, err.value.field) == (5, "NAME"), str(err.value)
    assert ".cpg says GBK" in str(err.value)


def test_encoding_gbk_given_reads_it_as_gbk_and_names_the_value(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    p = _gbk_shp(tmp_path, x - 60, y - 60, 2, "乙栋住宅")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0, encoding="GBK")
    assert (r.read, r.loaded) == (len(NAMES), len(NAMES)), r.text()
    assert any("look like UTF-8" in n and "row 2, NAME" in n for n in r.notes), r.notes
    got = fresh_db.rows("SELECT name FROM buildings WHERE batch_id = %s AND attrs->>'BH' = "
                        "'B001'", (r.batch_id,))
    assert got == [("乙栋住宅".encode().decode("gb18030"),)]  # as asked: GBK


def test_a_gbk_dbf_of_ordinary_text_loads_as_before(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    p = _gbk_shp(tmp_path, x - 60, y - 60, 1, "甲栋住宅")
    p.with_suffix(".dbf").write_bytes(  # the patch undone: every value GBK
        p.with_suffix(".dbf").read_bytes().replace("甲栋住宅".encode(),
                                                   "甲栋住宅".encode("gbk") + b"    "))
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert r.loaded == len(NAMES), r.text()
    got = fresh_db.rows("SELECT name FROM buildings WHERE batch_id = %s ORDER BY attrs->>'BH'",
                        (r.batch_id,))
    assert [n for (n,) in got] == NAMES


# terms of the survey standards (pipe classes, materials, components, places), each known
# to be Chinese text: none of them stored as GBK is taken for UTF-8; stored as UTF-8, all but
# those of rare characters only are told
TERMS = ["给水", "排水", "雨水", "污水", "燃气", "热力", "电力", "通信", "工业", "综合管廊",
         "铸铁", "球墨铸铁", "钢", "聚乙烯", "混凝土", "阀门", "消火栓", "检查井", "雨水箅子",
         "窨井", "路灯", "公交站亭", "垃圾箱", "广告牌匾", "停车咪表", "怡和街", "太白湖",
         "古槐街道", "任城区", "兖州区", "曲阜市", "微山县", "住宅", "商业", "办公", "学校",
         "医院", "在建", "拆除", "砖混", "钢混", "框架结构", "红线", "绿线", "丢失", "水表"]


def _block(values: list[bytes]) -> np.ndarray:
    w = max(map(len, values)) + 2
    return np.frombuffer(b"".join(v.ljust(w, b" ") for v in values),
                         dtype=np.uint8).reshape(-1, w)


def test_gbk_terms_are_never_taken_for_utf8():
    assert list(utf8_values(_block([t.encode("gbk") for t in TERMS]))) == []
    # and in the values GDAL cuts at a field's width (a GBK lead byte alone at the end)
    cut = [t.encode("gbk")[:-1] for t in TERMS if len(t) > 2]
    assert list(utf8_values(np.stack([np.frombuffer(v, dtype=np.uint8)
                                      for v in cut if len(v) == 5]))) == []


def test_utf8_terms_are_told_but_those_of_rare_characters():
    found = set(utf8_values(_block([t.encode("utf-8") for t in TERMS])))
    assert {TERMS[i] for i in range(len(TERMS)) if i not in found} == {"窨井"}


def test_a_file_neither_utf8_nor_gbk_for_its_utf8_values_is_refused_without_gbk_advice(
        fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    p = _gbk_shp(tmp_path, x - 60, y - 60, 2, "乙栋住")  # 9 bytes: no GBK text
    with pytest.raises(InputError) as err:
        load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (err.value.row, err.value.field) == (2, "NAME") and "two encodings" in str(err.value)
    assert "--encoding GBK" not in str(err.value)  # GBK cannot read it: no such way out


def test_utf8_values_with_the_symbols_surveyors_type_are_told():
    values = ["张·三", "温度℃", "Ⅱ号楼", "①号井", "北—南", "“甲”楼"]
    assert list(utf8_values(_block([v.encode("utf-8") for v in values]))) == \
        list(range(len(values)))
    assert list(utf8_values(_block([v.encode("gbk") for v in values]))) == []

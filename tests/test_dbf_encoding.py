"""A Shapefile's .cpg checked against its .dbf's bytes: tools write GB2312 for files holding
GBK characters, GBK for a file saved as UTF-8, UTF-8 for GBK bytes. Expected values by
construction (the names written here)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from cim.errors import InputError
from loaders.buildings import load_buildings
from loaders.sources.dbf import detect_dbf_encoding

# 堃 and 昇 are GBK but not GB2312, 國 and 華 traditional (GBK only)
NAMES = ["王堃住宅楼", "昇平街國華大廈", "建设银行"]


def _shapefile(tmp_path, db, name: str, encoding: str, cpg: str, names=NAMES,
               fields=("编号", "名称", "备注"), note="老城区·北侧"):
    _code, x, y = db.big_cell()
    g = gpd.GeoDataFrame({fields[0]: [f"{name}{i}" for i in range(len(names))],
                          fields[1]: names, fields[2]: [note] * len(names)},
                         geometry=[box(x + 12 * i, y, x + 12 * i + 10, y + 10)
                                   for i in range(len(names))], crs="EPSG:4527")
    p = tmp_path / f"{name}.shp"
    g.to_file(p, encoding=encoding, engine="pyogrio")
    p.with_suffix(".cpg").write_text(cpg)
    return p


def _names(db, batch_id) -> list[str]:
    return [r[0] for r in db.rows("SELECT name FROM buildings WHERE batch_id = %s "
                                  "ORDER BY source_key", (batch_id,))]


@pytest.mark.parametrize("cpg", ["GB2312", "gb2312", "936", "GBK"])
def test_a_chinese_code_page_reads_every_gbk_character(fresh_db, tmp_path, cpg):
    p = _shapefile(tmp_path, fresh_db, "gb", "GBK", cpg)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (r.read, r.loaded) == (3, 3), r.text()
    assert _names(fresh_db, r.batch_id) == NAMES
    assert any("GB18030" in n for n in r.notes), r.notes


@pytest.mark.parametrize("cpg", ["GBK", "936"])
def test_a_utf8_dbf_under_a_chinese_code_page_is_read_as_utf8(fresh_db, tmp_path, cpg):
    p = _shapefile(tmp_path, fresh_db, "u", "UTF-8", cpg)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert _names(fresh_db, r.batch_id) == NAMES
    assert any("the bytes are UTF-8" in n for n in r.notes), r.notes
    again = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3), again.text()


def test_gbk_bytes_under_a_utf8_cpg_are_read_as_gbk(fresh_db, tmp_path):
    p = _shapefile(tmp_path, fresh_db, "l", "GBK", "UTF-8")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert _names(fresh_db, r.batch_id) == NAMES
    assert any("the bytes are GBK, not UTF-8" in n for n in r.notes), r.notes


def test_bytes_that_are_neither_are_refused_naming_the_file(fresh_db, tmp_path):
    p = _shapefile(tmp_path, fresh_db, "x", "ISO-8859-1", "UTF-8", names=["ÿÿÿÿ", "þÿþÿ"],
                   fields=("BH", "NAME", "BZ"), note="ÿþ")
    with pytest.raises(InputError) as err:
        load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert "x.dbf" in str(err.value) and "--encoding" in str(err.value), str(err.value)
    assert fresh_db.rows("SELECT count(*) FROM buildings")[0][0] == 0


# a mostly-ASCII .dbf with one short Chinese name: decided by the share of its characters
# that fail, not by a count (GBK 中山路 read as UTF-8 fails on two of its three)
SHORT = ["Block A", "Block B", "中山路", "Block D"]


def _short_shp(tmp_path, db, cpg):
    _code, x, y = db.big_cell()
    g = gpd.GeoDataFrame({"BH": [f"B{i}" for i in range(len(SHORT))], "NAME": SHORT},
                         geometry=[box(x + 12 * i, y, x + 12 * i + 10, y + 10)
                                   for i in range(len(SHORT))], crs="EPSG:4527")
    p = tmp_path / "b.shp"
    g.to_file(p, encoding="GBK", engine="pyogrio")
    cp = p.with_suffix(".cpg")
    if cpg is None:
        cp.unlink(missing_ok=True)
        d = p.with_suffix(".dbf")
        b = bytearray(d.read_bytes())
        b[29] = 0  # no language driver: detected from the bytes
        d.write_bytes(bytes(b))
    else:
        cp.write_text(cpg)
    return p


@pytest.mark.parametrize("cpg", ["GBK", "GB2312", None])
def test_one_short_gbk_name_is_read_as_gbk(fresh_db, tmp_path, cpg):
    p = _short_shp(tmp_path, fresh_db, cpg)
    enc, why = detect_dbf_encoding(p.with_suffix(".dbf"))
    assert enc == "GB18030", (enc, why)  # 路's GBK bytes (C2 B7) are valid UTF-8
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    names = sorted(n for (n,) in fresh_db.rows("SELECT name FROM buildings WHERE batch_id = %s",
                                                (r.batch_id,)))
    assert "中山路" in names, (names, detect_dbf_encoding(p.with_suffix(".dbf")))

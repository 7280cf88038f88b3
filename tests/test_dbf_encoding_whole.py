"""A .dbf's encoding judged on all its text, wherever it is (loaders.sources.dbf): GBK text
after a first MiB of ASCII rows, a language byte saying 936 over UTF-8 text, field names GDAL
cut inside a character at 10 bytes, and text that is not what --encoding says. Shapefiles
written with pyogrio (bytes patched where a writer cannot produce the case), loaded into a
real PostGIS; expected values by construction."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from cim.errors import InputError
from loaders.buildings import load_buildings
from loaders.sources.dbf import UTF8_RECODED, detect_dbf_encoding
from loaders.sources.read import iter_batches, open_source
from loaders.sources.tables import read_tables

N_ASCII, N_CN = 4200, 5  # 4,200 rows of a 254-byte 备注: the first 1.07 MB of records ASCII
NOTE_CN = "古槐历史文化街区二类居住用地"
NAME_CN = "王堃住宅楼"  # 堃: GBK, not GB2312


def _set_ldid(dbf, ldid: int) -> None:
    b = bytearray(dbf.read_bytes())
    b[29] = ldid
    dbf.write_bytes(bytes(b))


def _late_gbk_shp(tmp_path, x: float, y: float):
    """A GBK Shapefile without .cpg nor language byte whose first MiB of records is ASCII."""
    n = N_ASCII + N_CN
    g = gpd.GeoDataFrame(
        {"BH": [f"A{i:05d}" for i in range(n)],
         "NAME": [f"Block {i}" for i in range(N_ASCII)] + [f"{NAME_CN}{i}" for i in range(N_CN)],
         "BZ": ["x" * 254] * N_ASCII + [NOTE_CN] * N_CN},
        geometry=[box(x + 3 * (i % 70), y + 3 * (i // 70), x + 3 * (i % 70) + 2,
                      y + 3 * (i // 70) + 2) for i in range(n)], crs="EPSG:4527")
    p = tmp_path / "late.shp"
    g.to_file(p, encoding="GBK", engine="pyogrio")
    p.with_suffix(".cpg").unlink()
    _set_ldid(p.with_suffix(".dbf"), 0)
    return p


def test_gbk_after_a_first_mib_of_ascii_is_detected(tmp_path):
    p = _late_gbk_shp(tmp_path, 0.0, 0.0)
    dbf = p.with_suffix(".dbf")
    header_len = int.from_bytes(dbf.read_bytes()[8:10], "little")
    assert dbf.read_bytes()[header_len:header_len + 1024 * 1024].isascii()  # the case
    enc, why = detect_dbf_encoding(dbf)
    assert enc == "GB18030", (enc, why)
    t = read_tables(dbf)[0]  # a table loader's read (sensors, population tables)
    assert [r[1] for r in t.rows[-N_CN:]] == [f"{NAME_CN}{i}" for i in range(N_CN)]
    assert [r[2] for r in t.rows[-N_CN:]] == [NOTE_CN] * N_CN


def test_gbk_after_a_first_mib_of_ascii_loads(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    p = _late_gbk_shp(tmp_path, x - 100, y - 100)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (r.read, r.loaded) == (N_ASCII + N_CN, N_ASCII + N_CN), r.text()
    got = fresh_db.rows("SELECT name, attrs->>'BZ' FROM buildings WHERE batch_id = %s AND "
                        "name LIKE %s ORDER BY name", (r.batch_id, NAME_CN + "%"))
    assert got == [(f"{NAME_CN}{i}", NOTE_CN) for i in range(N_CN)]
    assert any("GB18030" in n for n in r.notes), r.notes


def test_text_not_what_encoding_says_is_an_input_error_naming_row_and_field(fresh_db,
                                                                            tmp_path):
    _code, x, y = fresh_db.big_cell()
    p = _late_gbk_shp(tmp_path, x - 100, y - 100)
    with pytest.raises(InputError) as err:
        load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0, encoding="UTF-8")
    e = err.value
    # the first Chinese name is row N_ASCII + 1 (NAME comes before BZ in a record)
    assert (e.path, e.row, e.field) == (str(p.with_suffix(".dbf")), N_ASCII + 1, "NAME"), str(e)
    assert "--encoding" in str(e)
    assert fresh_db.rows("SELECT count(*) FROM buildings")[0][0] == 0


def test_text_gdal_passes_on_invalid_is_an_input_error_not_arrows(tmp_path):
    # the reader's own guard: a source read as UTF-8 over GBK bytes (what the check above
    # keeps from happening) fails naming the row and field when read, not when first used
    p = _late_gbk_shp(tmp_path, 0.0, 0.0)
    src = dataclasses.replace(open_source(p), encoding="UTF-8")
    with pytest.raises(InputError) as err:
        for b in iter_batches(src, batch_size=1000):
            for name in b.columns:
                b.columns[name]
    assert (err.value.row, err.value.field) == (N_ASCII + 1, "NAME"), str(err.value)


def test_language_byte_936_over_utf8_text_is_read_as_utf8(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    names = ["古槐历史文化街区", "太白湖北岸"]
    g = gpd.GeoDataFrame({"编号": ["L-01", "L-02"], "名称": names, "备注": ["老城区·北侧"] * 2},
                         geometry=[box(x + 12 * i, y, x + 12 * i + 10, y + 10) for i in range(2)],
                         crs="EPSG:4527")
    p = tmp_path / "ldid.shp"
    g.to_file(p, encoding="UTF-8", engine="pyogrio")
    p.with_suffix(".cpg").unlink()
    _set_ldid(p.with_suffix(".dbf"), 0x4D)
    enc, why = detect_dbf_encoding(p.with_suffix(".dbf"))
    assert (enc, why) == ("UTF-8", ".dbf language driver 0x4D (code page 936, GBK), but the "
                          "bytes are UTF-8")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (r.read, r.loaded) == (2, 2), r.text()
    got = fresh_db.rows("SELECT source_key, name, attrs->>'备注' FROM buildings "
                        "WHERE batch_id = %s ORDER BY source_key", (r.batch_id,))
    # 编号 and 名称 recognised: the key and the name hold them
    assert [(k.split(":")[-1], n, b) for k, n, b in got] == [
        ("L-01", names[0], "老城区·北侧"), ("L-02", names[1], "老城区·北侧")]


def test_language_byte_936_over_gbk_text_is_gbk(tmp_path):
    g = gpd.GeoDataFrame({"名称": [NAME_CN]}, geometry=[Point(0, 0)], crs="EPSG:4527")
    p = tmp_path / "g.shp"
    g.to_file(p, encoding="GBK", engine="pyogrio")
    p.with_suffix(".cpg").unlink()
    _set_ldid(p.with_suffix(".dbf"), 0x4D)
    assert detect_dbf_encoding(p.with_suffix(".dbf")) == (
        "GB18030", ".dbf language driver 0x4D (code page 936, GBK)")


# UTF-8 names GDAL cuts at the .dbf's 10 bytes: 4 characters (12 bytes) keep 3 and 1 byte of
# the 4th, 5 (15 bytes) keep 3 and 1 byte; 楼名 (6 bytes) is whole
CUT = {"建筑物名称": "建筑物", "地上层数": "地上层", "楼名": "楼名"}


def _cut_names_shp(tmp_path, x: float, y: float):
    g = gpd.GeoDataFrame({"建筑物名称": ["一号楼", "二号楼"], "地上层数": ["6", "11"],
                          "楼名": ["甲", "乙"]},
                         geometry=[box(x + 12 * i, y, x + 12 * i + 10, y + 10) for i in range(2)],
                         crs="EPSG:4527")
    p = tmp_path / "cut.shp"
    g.to_file(p, encoding="UTF-8", engine="pyogrio")
    raw = p.with_suffix(".dbf").read_bytes()
    assert "建筑物名称".encode()[:10] in raw and "地上层数".encode()[:10] in raw  # the case
    return p


def test_field_names_cut_inside_a_character_load_without_it(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    p = _cut_names_shp(tmp_path, x, y)
    src = open_source(p)
    assert src.fields == list(CUT.values())
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (r.read, r.loaded) == (2, 2), r.text()
    note = next(n for n in r.notes if "cut inside a character" in n)
    assert note.endswith("read without that character: 建筑物, 地上层)"), note
    # 楼名 (whole) is a name's alias; 地上层, the cut of one alias (地上层数), is read as it;
    # 建筑物 (建筑物名称 or 建筑物编号?) is kept in attrs under its cut name, and named
    got = fresh_db.rows("SELECT attrs->>'建筑物', floors_above, name FROM buildings "
                        "WHERE batch_id = %s", (r.batch_id,))
    assert sorted(got) == sorted([("一号楼", 6, "甲"), ("二号楼", 11, "乙")])
    assert any(n.startswith("field 建筑物 may be any of") for n in r.notes), r.notes


def test_a_table_whose_field_names_were_cut_loads(fresh_db, tmp_path):
    # the sensors loader reads tables (loaders.sources.tables): the cut names are headers
    from loaders.sensors import load_sensors

    g = gpd.GeoDataFrame({"设备编号": ["DBF-1"], "设备名称": ["液位计"], "监测类型": ["井下液位"],
                          "计量单位": ["m"], "监测对象编码": ["pipes:PS:YS0080"]})
    p = tmp_path / "registry.dbf"
    g.to_file(p, encoding="UTF-8", engine="pyogrio")
    t = read_tables(p)[0]
    assert t.headers == ["设备编", "设备名", "监测类", "计量单", "监测对"]
    assert t.rows == [["DBF-1", "液位计", "井下液位", "m", "pipes:PS:YS0080"]]
    assert any("read without that character: 设备编, 设备名, 监测类, 计量单, 监测对" in n
               for n in t.notes), t.notes
    mapping = {"device_id": "设备编", "name": "设备名", "type": "监测类", "unit": "计量单",
               "asset_code": "监测对"}
    r = load_sensors(fresh_db.conninfo, fresh_db.profile, p, mapping=mapping)
    # read through its cut names; no pipe YS0080 in an empty database: rejected on the field
    assert (r.read, r.loaded, r.rejected) == (1, 0, 1), r.text()
    assert fresh_db.rows("SELECT field FROM load_rejects WHERE batch_id = %s",
                         (r.batch_id,)) == [("监测对",)]


def test_utf8_given_with_encoding_reads_cut_names(tmp_path):
    p = _cut_names_shp(tmp_path, 0.0, 0.0)
    src = open_source(p, encoding="UTF-8")
    assert (src.encoding, src.fields) == (UTF8_RECODED, list(CUT.values()))


def test_a_cut_value_that_does_not_fill_its_field_is_not_utf8(tmp_path):
    # 建设 + 1 byte of 路, then padding: no writer's cut (the field has room) — GBK or bad
    # bytes, not UTF-8; with a .cpg saying UTF-8 it is refused naming the row and field
    g = gpd.GeoDataFrame({"NAME": ["中山", "x"]}, geometry=[Point(0, 0), Point(1, 1)],
                         crs="EPSG:4527")
    p = tmp_path / "v.shp"
    g.to_file(p, encoding="UTF-8", engine="pyogrio")
    dbf = p.with_suffix(".dbf")
    raw = dbf.read_bytes()
    bad = "建设".encode() + "路".encode()[:1]
    dbf.write_bytes(raw.replace(b"x" + b" " * (len(bad) - 1), bad, 1))
    with pytest.raises(InputError) as err:
        detect_dbf_encoding(dbf)
    assert (err.value.row, err.value.field) == (2, "NAME"), str(err.value)

"""Encodings other than UTF-8 and GBK, named by a .cpg or ``--encoding``: checked against the
.dbf's bytes as those two are. GDAL's iconv skips a byte it cannot read without a word, so a
GBK file read as Big5 lost characters silently. Expected values by construction."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from cim.errors import InputError
from loaders.buildings import load_buildings
from loaders.sources.dbf import detect_dbf_encoding, python_codec


def _shp(tmp_path, names, encoding: str, cpg: str | None, x=0.0, y=0.0):
    g = gpd.GeoDataFrame({"BH": [f"B{i}" for i in range(len(names))], "NAME": names},
                         geometry=[box(x + 12 * i, y, x + 12 * i + 10, y + 10)
                                   for i in range(len(names))], crs="EPSG:4527")
    p = tmp_path / "b.shp"
    g.to_file(p, encoding=encoding, engine="pyogrio")
    cp = p.with_suffix(".cpg")
    cp.unlink(missing_ok=True)
    if cpg is not None:
        cp.write_text(cpg)
    return p


@pytest.mark.parametrize("name,codec", [("1252", "cp1252"), ("ANSI 1252", "cp1252"),
                                        ("88591", "iso8859-1"), ("Big5", "big5"),
                                        ("65001", "utf-8"), ("no-such", None)])
def test_code_page_names_as_gdal_reads_them(name, codec):
    assert python_codec(name) == codec


def test_gbk_bytes_given_as_big5_are_refused_naming_row_and_field(tmp_path):
    # 昇平街國華大廈's GBK bytes are no Big5 text (its first byte pair is not); 建设银行's are
    p = _shp(tmp_path, ["建设银行", "昇平街國華大廈"], "GBK", None)
    with pytest.raises(InputError) as e:
        detect_dbf_encoding(p.with_suffix(".dbf"), "Big5")
    assert (e.value.row, e.value.field) == (2, "NAME") and "Big5" in str(e.value)


def test_a_cpg_naming_big5_over_gbk_bytes_is_refused(tmp_path):
    p = _shp(tmp_path, ["建设银行", "昇平街國華大廈"], "GBK", "Big5")
    with pytest.raises(InputError) as e:
        detect_dbf_encoding(p.with_suffix(".dbf"))
    assert (e.value.row, e.value.field) == (2, "NAME") and ".cpg" in str(e.value)


def test_an_unknown_encoding_given_is_refused(tmp_path):
    p = _shp(tmp_path, ["建设银行"], "GBK", None)
    with pytest.raises(InputError, match="no encoding known"):
        detect_dbf_encoding(p.with_suffix(".dbf"), "GBK-ish")


def test_big5_and_cp1252_files_load_with_their_names(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    big5 = ["臺北市政府", "國立大學"]
    p = _shp(tmp_path, big5, "Big5", "BIG5", x, y)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert (r.read, r.loaded) == (2, 2), r.text()
    got = [n for n, in fresh_db.rows("SELECT name FROM buildings WHERE batch_id = %s "
                                     "ORDER BY source_key", (r.batch_id,))]
    assert sorted(got) == sorted(big5)
    q = tmp_path / "w"
    q.mkdir()
    latin = ["Café Müller", "Señora Ñandú"]
    p = _shp(q, latin, "cp1252", None, x, y + 50)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, encoding="cp1252",
                       processes=0, dataset="latin")
    got = [n for n, in fresh_db.rows("SELECT name FROM buildings WHERE batch_id = %s "
                                     "ORDER BY source_key", (r.batch_id,))]
    assert sorted(got) == sorted(latin) and any("--encoding cp1252" in n for n in r.notes), r.notes


def _names(db, r) -> list[str]:
    return sorted(n for n, in db.rows("SELECT name FROM buildings WHERE batch_id = %s",
                                      (r.batch_id,)))


@pytest.mark.parametrize("cpg, given", [("ANSI 1252", None), ("1252", None), (None, "1252"),
                                        (None, "ANSI 1252"), (None, "88591")])
def test_code_pages_gdal_does_not_name_load(fresh_db, tmp_path, cpg, given):
    """GDAL reads a code page from a .cpg only when it starts with digits and knows no
    `1252` given as an encoding: those loads were refused ("the text is not 1252: give
    --encoding"). GDAL is told iconv's name now."""
    _code, x, y = fresh_db.big_cell()
    latin = ["Café Müller", "Señora Ñandú"]
    p = _shp(tmp_path, latin, "cp1252", cpg, x, y)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, encoding=given, processes=0)
    assert (r.read, r.loaded) == (2, 2), r.text()
    assert _names(fresh_db, r) == sorted(latin)


def test_utf8_under_a_latin_cpg_is_read_as_utf8(fresh_db, tmp_path):
    # a single-byte code page's check passes almost any bytes: 任城区 was stored as ä»»åŸŽåŒº
    _code, x, y = fresh_db.big_cell()
    p = _shp(tmp_path, ["任城区大厦", "建设银行"], "UTF-8", "1252", x, y)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, processes=0)
    assert _names(fresh_db, r) == sorted(["任城区大厦", "建设银行"])
    assert any("1252, but the bytes are UTF-8" in n for n in r.notes), r.notes


@pytest.mark.parametrize("cpg", ["1252", "ISO-8859-1"])
def test_gbk_under_a_latin_cpg_is_refused_asking_which(tmp_path, cpg):
    p = _shp(tmp_path, ["任城区大厦", "建设银行"], "GBK", cpg)
    with pytest.raises(InputError, match="reads as GBK too"):
        detect_dbf_encoding(p.with_suffix(".dbf"))
    # the user's word is taken: as GBK the names, as 1252 what they say
    assert detect_dbf_encoding(p.with_suffix(".dbf"), "GBK")[0] == "GB18030"
    assert detect_dbf_encoding(p.with_suffix(".dbf"), cpg)[0] in ("CP1252", "ISO-8859-1")


@pytest.mark.parametrize("cpg", ["", "System"])
def test_a_cpg_naming_no_encoding_is_as_none(tmp_path, cpg):
    # refused before ("the text is not UTF-8") where a file without .cpg was detected
    p = _shp(tmp_path, ["任城区大厦", "建设银行"], "GBK", cpg)
    enc, why = detect_dbf_encoding(p.with_suffix(".dbf"))
    assert enc == "GB18030" and "names no encoding" in why, (enc, why)


def test_a_cut_big5_value_under_its_cpg_is_noted(tmp_path):
    # the note was dropped when the .cpg's encoding was left to GDAL (read.py noted only an
    # encoding it was given); GDAL is given it now, and the note goes with it
    from tests.test_dbf_encoding_bytes import _dbf

    dbf = _dbf(tmp_path / "cut.dbf", [b"NAME"], [5], [["臺北市".encode("big5")[:5]],
                                                     ["臺北".encode("big5")]])
    dbf.with_suffix(".cpg").write_text("Big5")
    enc, why = detect_dbf_encoding(dbf)
    assert enc == "BIG5" and "cut inside a character" in why and "1 in NAME" in why, why

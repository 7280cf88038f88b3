"""City profiles: the sample profile, and `cim profile create` for another city."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
import shapely
import yaml

from cim.errors import ConfigError
from cim.profile import load_profile
from tests.conftest import run_cli, scratch_db


def test_sample_profile_is_jining(jining_profile):
    p = jining_profile
    assert (p.city_name, p.city_code, p.srid) == ("济宁市", "370800", 4527)
    assert p.district_name("370811") == "任城区"
    assert p.boundaries.exists() and p.grid.exists()


def test_cli_creates_a_profile_for_another_city(tmp_path, db):
    # 泰安市 泰山区/岱岳区 in CGCS2000 zone 39 by central meridian (EPSG:4548)
    gdf = gpd.GeoDataFrame(
        {"XZQDM": ["370902", "370911"], "XZQMC": ["泰山区", "岱岳区"]},
        geometry=[shapely.box(600000, 4000000, 610000, 4010000),
                  shapely.box(610000, 4000000, 620000, 4010000)], crs="EPSG:4548")
    pyogrio.write_dataframe(gdf, tmp_path / "taian.gpkg")
    out = tmp_path / "taian" / "profile.yaml"
    p = run_cli(["profile", "create", "--name", "泰安市", "--admin-code", "370900", "--crs",
                 "EPSG:4548", "--boundary", str(tmp_path / "taian.gpkg"), "--out", str(out)],
                db.env(), check=True)
    assert "2 districts" in p.stdout
    prof = load_profile(out)
    assert prof.srid == 4548 and [d.name for d in prof.districts] == ["泰山区", "岱岳区"]
    assert prof.boundaries == (tmp_path / "taian.gpkg").resolve()
    raw = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert raw["city"] == {"name": "泰安市", "admin_code": "370900"}


def test_profile_rejects_a_geographic_storage_crs(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("city: {name: X, admin_code: '370800'}\nstorage_crs: EPSG:4490\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError, match="projected"):
        load_profile(f)


@pytest.mark.parametrize("crs,words", [("EPSG:2249", "US survey foot"),
                                       ("EPSG:3857", "scale is off by up to"),
                                       ("EPSG:3395", "scale is off by up to"),
                                       ("ESRI:102025", "scale is off by up to")])
def test_profile_rejects_a_storage_crs_not_in_true_metres(tmp_path, crs, words):
    """Radii, clearances and areas are taken as metres of the storage CRS: a feet CRS
    (Massachusetts state plane, US feet), Web Mercator or world Mercator (a scale of 1/cos φ:
    1.22 at 35°N) or a continental Albers (Asia North) would skew every one of them."""
    f = tmp_path / "p.yaml"
    f.write_text(f"city: {{name: X, admin_code: '370800'}}\nstorage_crs: {crs}\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError, match=words):
        load_profile(f)


def test_bad_profile_errors_name_the_file(tmp_path, db):
    f = tmp_path / "broken.yaml"
    f.write_text("city: [unclosed\n", encoding="utf-8")
    env = db.env()
    env["CIM_PROFILE"] = str(f)
    p = run_cli(["profile", "show"], env)
    assert p.returncode == 2 and "broken.yaml" in p.stderr and "Traceback" not in p.stderr


def _gbk_boundary_without_code_page(tmp_path, codes, names, name="d.shp"):
    """A GBK Shapefile with neither .cpg nor language byte, as many desktop tools leave one."""
    gdf = gpd.GeoDataFrame({"行政区代码": codes, "行政区名称": names},
                           geometry=[shapely.box(10 * i, 0, 10 * i + 10, 10)
                                     for i in range(len(codes))], crs="EPSG:4527")
    p = tmp_path / name
    gdf.to_file(p, encoding="GBK", engine="pyogrio")
    p.with_suffix(".cpg").unlink()
    dbf = p.with_suffix(".dbf")
    b = bytearray(dbf.read_bytes())
    b[29] = 0  # no language driver
    dbf.write_bytes(bytes(b))
    return p


def _create(db, boundary, out, *extra: str, check: bool = False):
    """`cim profile create` for 济宁市 (EPSG:4527) from ``boundary``."""
    return run_cli(["profile", "create", "--name", "济宁市", "--admin-code", "370800", "--crs",
                    "EPSG:4527", "--boundary", str(boundary), "--out", str(out), *extra],
                   db.env(), check=check)


def test_cli_reads_a_gbk_boundary_without_code_page(tmp_path, db):
    """Read as Latin-1 (GDAL's guess), its Chinese field names matched no alias and the
    command failed; the loaders' detection reads them. Codes stored as numbers are ids."""
    p = _gbk_boundary_without_code_page(tmp_path, [370811.0, 370812.0],
                                        ["任城区", "兖州区"])
    out = tmp_path / "profile.yaml"
    r = _create(db, p, out, check=True)
    assert "GB18030" in r.stdout and "2 districts" in r.stdout, r.stdout
    prof = load_profile(out)
    assert [(d.code, d.name) for d in prof.districts] == [("370811", "任城区"),
                                                          ("370812", "兖州区")]


def test_one_code_with_two_names_is_refused_naming_both_rows(tmp_path, db):
    p = _gbk_boundary_without_code_page(tmp_path, ["370811", "370812", "370811"],
                                        ["任城区", "兖州区", "高新区"])
    out = tmp_path / "profile.yaml"
    r = _create(db, p, out)
    assert r.returncode != 0 and not out.exists()
    assert "'任城区' in row 1" in r.stderr and "'高新区'" in r.stderr and "row 3" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_bad_code_names_its_row_and_field_and_writes_nothing(tmp_path, db):
    p = _gbk_boundary_without_code_page(tmp_path, ["370811", "37081"], ["任城区", "兖州区"])
    out = tmp_path / "profile.yaml"
    r = _create(db, p, out)
    assert r.returncode != 0 and not out.exists()
    assert "row 2" in r.stderr and "行政区代码" in r.stderr and "'37081'" in r.stderr, r.stderr


def test_unnamed_and_foreign_districts_are_noted(tmp_path):
    from loaders.divisions import boundary_districts

    p = _gbk_boundary_without_code_page(tmp_path, ["370811", "370902"], ["", "泰山区"])
    districts, notes = boundary_districts(p, city_code="370800")
    assert [(d.code, d.name) for d in districts] == [("370811", "370811"),
                                                     ("370902", "泰山区")]
    assert any("without a name" in n and "370811" in n for n in notes), notes
    assert any("outside the city's 3708xx: 370902" in n for n in notes), notes


def test_a_district_in_parts_is_refused_naming_both_rows(tmp_path, db):
    # `profile apply` loads one feature a district: the second part was rejected there and
    # its area left outside every district, while `create` had taken the file
    p = _gbk_boundary_without_code_page(tmp_path, ["370811", "370812", "370811"],
                                        ["任城区", "兖州区", "任城区"])
    out = tmp_path / "profile.yaml"
    r = _create(db, p, out)
    assert r.returncode != 0 and not out.exists()
    assert "rows 1 and 3" in r.stderr and "dissolve" in r.stderr.lower(), r.stderr


def test_the_encoding_given_to_create_is_the_one_apply_reads_with(tmp_path, db):
    """A Big5 boundary without .cpg: `create --encoding Big5` read its names right, then
    `apply` detected GB18030 and stored garbage without an error."""
    _cell, x, y = db.big_cell()  # where the sample districts are
    names = ["任城區", "兗州區"]
    # ASCII stand-ins of the Big5 names' length, replaced by their Big5 bytes in the .dbf:
    # the bytes by construction, not by GDAL's recoding
    stand_in = [f"N{i}".ljust(len(n.encode("big5")), "x") for i, n in enumerate(names)]
    gdf = gpd.GeoDataFrame({"code": ["370811", "370812"], "name": stand_in},
                           geometry=[shapely.box(x + 10 * i, y, x + 10 * i + 10, y + 10)
                                     for i in range(2)], crs="EPSG:4527")
    p = tmp_path / "big5.shp"
    gdf.to_file(p, engine="pyogrio")
    dbf = p.with_suffix(".dbf")
    raw = dbf.read_bytes()
    for a, n in zip(stand_in, names):
        raw = raw.replace(a.encode(), n.encode("big5"), 1)
    dbf.write_bytes(raw)
    p.with_suffix(".cpg").unlink(missing_ok=True)
    out = tmp_path / "profile.yaml"
    _create(db, p, out, "--encoding", "Big5", check=True)
    prof = load_profile(out)
    assert [d.name for d in prof.districts] == ["任城區", "兗州區"]
    assert prof.encodings == {"boundaries": "Big5"}
    from loaders.divisions import load_districts

    with scratch_db("big5", prof, apply_profile=False) as own:  # not the session's districts
        r = load_districts(own.conninfo, prof, mode="replace")
        assert (r.read, r.loaded) == (2, 2), r.text()
        got = own.rows("SELECT code, name FROM admin_divisions WHERE valid_to IS NULL "
                       "ORDER BY code")
    assert [tuple(g) for g in got] == [("370811", "任城區"), ("370812", "兗州區")]


def test_one_yaml_reader_names_the_file_for_a_dictionary_and_a_mapping(tmp_path):
    from loaders.field_names import read_mapping_file

    bad = tmp_path / "map.yaml"
    bad.write_text("- 编号\n- 名称\n", encoding="utf-8")  # a list, not attribute: field
    with pytest.raises(ConfigError, match="must map attribute: source field") as e:
        read_mapping_file(bad)
    assert e.value.path == str(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read mapping file"):
        read_mapping_file(broken)


def test_dictionaries_read_by_libyaml_are_what_the_python_parser_reads():
    """read_yaml_mapping parses with libyaml where PyYAML has it (a load reads the
    dictionaries a dozen times): every platform YAML dictionary gives what yaml.safe_load
    gives."""
    import yaml

    from cim.profile import DICTIONARY_DIR, read_yaml_mapping

    files = sorted(DICTIONARY_DIR.glob("*.yaml"))
    assert files
    for f in files:
        assert read_yaml_mapping(f, f.name) == yaml.safe_load(f.read_text(encoding="utf-8")), f


@pytest.mark.parametrize("crs", ["EPSG:4527", "EPSG:4548", "EPSG:32650", "EPSG:2056",
                                 "EPSG:27700"])
def test_survey_crss_are_taken(tmp_path, crs):
    """CGCS2000 Gauss-Krüger zones (zone-prefixed and by central meridian), UTM, the Swiss and
    British national grids: scale within 0.3 % of 1 over their areas of use."""
    f = tmp_path / "p.yaml"
    f.write_text(f"city: {{name: X, admin_code: '370800'}}\nstorage_crs: {crs}\n",
                 encoding="utf-8")
    assert load_profile(f).storage_crs == crs


def test_a_city_dictionary_saved_by_a_chinese_spreadsheet_is_read(tmp_path):
    """GBK (Excel's 'CSV' on a Chinese system) and UTF-8 with a BOM are read as the delivered
    tables are; bytes that are neither are a ConfigError naming the file, not an internal
    error."""
    from cim.errors import ConfigError
    from cim.profile import read_csv_dictionary

    text = "code,name_zh,residential\n01,住宅,yes\n08,商住混合,yes\n"
    want = [{"code": "01", "name_zh": "住宅", "residential": "yes"},
            {"code": "08", "name_zh": "商住混合", "residential": "yes"}]
    for name, raw in (("gbk.csv", text.encode("gbk")),
                      ("bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))):
        (tmp_path / name).write_bytes(raw)
        assert read_csv_dictionary(tmp_path / name) == want, name
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"code,name_zh\n01,\xff\xfe\xfd\xfc\x80\n")
    with pytest.raises(ConfigError) as ei:
        read_csv_dictionary(bad)
    assert "bad.csv" in str(ei.value.path) and "dictionary" in ei.value.message
    assert "UTF-8" in ei.value.message and "pass --encoding" not in ei.value.message


@pytest.mark.parametrize("zone", ["Asia", "Asia/", "Asia/Shanghia", "../etc/passwd"])
def test_a_timezone_that_is_no_zone_names_the_field(tmp_path, zone):
    """A folder of the zone database (Asia) is no zone either: a ConfigError naming the file
    and the field, not an internal IsADirectoryError."""
    f = tmp_path / "p.yaml"
    f.write_text("city: {name: X, admin_code: '370800'}\nstorage_crs: EPSG:4527\n"
                 f"timezone: {zone}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no IANA time zone") as exc:
        load_profile(f)
    assert exc.value.field == "timezone" and exc.value.path == str(f)


def test_profile_show_names_the_citys_clock(db):
    """The clock every typed time is read on (probe of 2026-12-07: it was not shown)."""
    import json

    import yaml

    from cim.config import DEFAULT_PROFILE

    want = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8")).get("timezone",
                                                                          "Asia/Shanghai")
    p = run_cli(["profile", "show"], db.env())
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["timezone"] == want

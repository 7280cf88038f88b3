"""Four gaps of the approval check, each against the hand-drawn situation of
tests/approval_fixture.py (existing E2 10..20 × 60..70, 20 m high; water main W1 DN300 along
x = 61.15) with expected values computed here with shapely and read from the data files:

- a gas main of a high pressure class was read only within 5.5 m of the project (the largest
  building clearance of pipe_clearances.csv then, 3.0 m, plus 2.5 m), so a 次高压A main 8 m
  from a building (13.5 m required) passed unseen, and a 高压A one (clearance unknown: GB 50028)
  20 m off too;
- the spacing rule looked at the new buildings only: a tower 5 m from an existing house passed;
- a project delivered as a .zip was refused;
- a building over a pipe was reported with a negative clearance (−0.15 m over a DN300 main).
"""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import psycopg
import pyogrio
import pytest
import yaml
from shapely.geometry import LineString, box

from layers.approval.check import check
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import EXISTING, PIPE_X, SRID, collection, feature, to_storage, wkb
from tests.conftest import PROJECT_ROOT, run_cli

adb = approval_fixture.adb

SITE = box(0, 0, 100, 100)
B1 = box(10, 10, 30, 40)
DICT = PROJECT_ROOT / "cim" / "dictionaries"


def _building_gas_clearance(pressure_class: str) -> float:
    """The building–gas row of pipe_clearances.csv for the class, read as plain CSV."""
    with open(DICT / "pipe_clearances.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["kind"] == "horizontal" and r["a"] == "building" and r["b"] == "03" \
                    and r["b_when"] == f"pressure={pressure_class}":
                return float(r["required_m"])
    raise AssertionError(f"no building–gas row for {pressure_class}")


def _spacing_params() -> dict:
    raw = yaml.safe_load((DICT / "approval_rules.yaml").read_text(encoding="utf-8"))
    return raw["rules"]["building_spacing"]


def _run(adb, *features):
    p = build_project(records_from_geojson(collection(feature("site", SITE), *features)),
                      source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)
    return check(adb.conninfo, p, adb.profile)[0]


def _rule(res, rid):
    return next(r for r in res["results"] if r["id"] == rid)


@pytest.fixture
def gas(adb):
    """Insert gas mains (code, x of the centre line, DN, pressure) for one test."""
    codes: list[str] = []

    def add(code: str, x: float, dn: float, pressure: str) -> None:
        with psycopg.connect(adb.conninfo) as conn:
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, diameter_mm, pressure, geom) "
                "VALUES (%s, '03', '燃气', '03', '53031000', %s, %s, %s, %s, "
                "ST_GeomFromWKB(%s, 4527))",
                (code, code + "a", code + "b", dn, pressure,
                 wkb(LineString([(x, -50, 1), (x, 150, 1)]))))
        codes.append(code)

    yield add
    with psycopg.connect(adb.conninfo) as conn:
        conn.execute("DELETE FROM pipe_segments WHERE code = ANY(%s)", (codes,))


# --- 1. the pipe search reaches the largest clearance of the data file -----------------------

def test_a_sub_high_pressure_main_8_m_off_fails_its_larger_clearance(adb, gas):
    dn = 200.0
    x = 30 + 8.0 + dn / 2000  # the main's outer wall 8 m east of B1's east wall
    gas("G-SHA", x, dn, "次高压A级")
    want = B1.distance(LineString([(x, -50), (x, 150)])) - dn / 2000
    assert want == pytest.approx(8.0)
    required = _building_gas_clearance("次高压A")
    assert required > want  # the premise: its clearance is larger than 8 m
    r = _rule(_run(adb, feature("building", B1, name="1号楼", floors_above=10, height=30)),
              "pipe_clearance")
    item = next(i for i in r["items"] if i.get("pipe") == "G-SHA")
    assert (item["status"], item["measured"], item["required"]) == \
        ("fail", pytest.approx(want, abs=1e-3), required)
    assert r["status"] == "fail"


def test_a_high_pressure_main_of_unknown_clearance_needs_review_farther_out(adb, gas):
    """高压A: no row of the table (GB 50028 grades it by diameter and location class), so its
    clearance is unknown and larger than any row's: one 20 m off needs review; one beyond
    the rules file's unknown_clearance_reach_m is not read."""
    reach = yaml.safe_load((DICT / "approval_rules.yaml").read_text(encoding="utf-8")
                           )["rules"]["pipe_clearance"]["unknown_clearance_reach_m"]
    gas("G-HA20", 30 + 20.0 + 0.1, 200.0, "高压A")
    gas("G-HAFAR", 30 + reach + 5.0 + 0.1, 200.0, "高压A")
    r = _rule(_run(adb, feature("building", B1, name="1号楼", floors_above=10, height=30)),
              "pipe_clearance")
    near = [i for i in r["items"] if i.get("pipe") == "G-HA20"]
    assert [(i["status"], i["measured"]) for i in near] == [("needs_review",
                                                              pytest.approx(20.0, abs=1e-3))]
    assert not [i for i in r["items"] if i.get("pipe") == "G-HAFAR"]
    assert r["status"] == "needs_review"


# --- 4. a building over a pipe has 0 m clearance, not a negative one --------------------------

@pytest.mark.parametrize("b", [box(55, 10, 70, 40),       # over the main's centre line
                               box(40, 10, PIPE_X - 0.05, 40)])  # its wall inside the main
def test_a_building_over_a_pipe_has_no_clearance_not_a_negative_one(adb, b):
    pipe = LineString([(PIPE_X, 0), (PIPE_X, 100)])
    raw = b.distance(pipe) - 300 / 2000
    assert raw < 0  # the bare difference the report showed
    r = _rule(_run(adb, feature("building", b, name="1号楼", floors_above=3, height=10)),
              "pipe_clearance")
    item = next(i for i in r["items"] if i.get("pipe") == "W1")
    assert (item["status"], item["measured"], item["required"]) == ("fail", 0.0, 3.0)
    assert (r["status"], r["measured"]) == ("fail", 0.0)
    assert "over the pipe" in item["note"]


# --- 2. spacing to the existing buildings -----------------------------------------------------

def test_a_new_tower_keeps_the_spacing_to_an_existing_building(adb):
    prm = _spacing_params()
    e2 = EXISTING["E2"]  # 20 m high (approval_fixture.build)
    tower = box(10, 75, 30, 90)
    d = tower.distance(e2)
    assert d == 5.0
    want = max(prm["min_m"], prm["factor"] * min(30.0, 20.0))  # height_of: lower
    assert prm["height_of"] == "lower"
    r = _rule(_run(adb, feature("building", tower, name="塔楼", floors_above=10, height=30)),
              "building_spacing")
    item = next(i for i in r["items"] if i.get("existing") == "E2")
    assert (item["status"], item["measured"], item["required"]) == ("fail", d, want)
    assert (r["status"], r["measured"], r["required"]) == ("fail", d, want)
    # the same tower with E2 to be demolished: nothing to keep apart from
    r = _rule(_run(adb, feature("building", tower, name="塔楼", floors_above=10, height=30),
                   feature("demolish", box(9, 59, 21, 71))), "building_spacing")
    assert not [i for i in r["items"] if i.get("existing") == "E2"]
    assert r["status"] != "fail"


def test_an_existing_building_without_height_is_bounded_or_needs_review(adb):
    prm = _spacing_params()
    with psycopg.connect(adb.conninfo) as conn:
        conn.execute("INSERT INTO buildings (code, height, geom) VALUES ('E9', NULL, "
                     "ST_Multi(ST_GeomFromWKB(%s, 4527)))", (wkb(box(40, 75, 50, 85)),))
    try:
        tower = box(10, 75, 30, 90)  # 10 m west of E9; 5 m north of E2 (fails as above)
        r = _rule(_run(adb, feature("building", tower, name="塔楼", floors_above=10,
                                    height=30)), "building_spacing")
        e9 = next(i for i in r["items"] if i.get("existing") == "E9")
        # the lower of the pair is at most 30 m: between min_m and factor × 30 m, unknown
        assert prm["min_m"] < tower.distance(box(40, 75, 50, 85)) < prm["factor"] * 30
        assert e9["status"] == "needs_review" and e9["required"] is None
    finally:
        with psycopg.connect(adb.conninfo) as conn:
            conn.execute("DELETE FROM buildings WHERE code = 'E9'")


# --- 3. a project delivered as a .zip ---------------------------------------------------------

def _gpkg(path: Path, building=B1) -> None:
    for layer, g, attrs in (("用地红线", SITE, {"名称": "site"}),
                            ("建筑", building, {"名称": "1号楼", "地上层数": 10,
                                                "建筑高度": 30.0})):
        gdf = gpd.GeoDataFrame([attrs], geometry=[to_storage(g)], crs=SRID)
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG")


def _cli(adb, path: Path):
    return run_cli(["check", str(path), "--json", "--no-record"], adb.env())


def test_a_zipped_geopackage_is_checked_as_the_delivery(adb, tmp_path):
    _gpkg(tmp_path / "汇景苑.gpkg")
    z = tmp_path / "delivery.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(tmp_path / "汇景苑.gpkg", "项目/汇景苑.gpkg")
        zf.writestr("__MACOSX/项目/._汇景苑.gpkg", b"\0\5\26\7junk")  # macOS's copy
        zf.writestr("项目/说明.txt", "read me")
    proc = _cli(adb, z)
    assert proc.returncode in (0, 1), proc.stderr
    res = json.loads(proc.stdout)
    assert [b["name"] for b in res["project"]["buildings"]] == ["1号楼"]
    assert res["project"]["site_area_m2"] == SITE.area
    assert res["project"]["source"] == f"/vsizip/{z.resolve()}/项目/汇景苑.gpkg"
    assert res["project"]["file_sha256"] == hashlib.sha256(z.read_bytes()).hexdigest()
    assert "not read from the zip: 项目/说明.txt" in res["project"]["notes"]  # nothing unsaid


class _GbkInfo(zipfile.ZipInfo):
    """A member whose name is written in GBK without the UTF-8 flag."""

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own name
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def _gbk_zip(z: Path, files: dict[str, bytes]) -> None:
    """A zip as a Chinese Windows writes it: member names in GBK, no UTF-8 flag."""
    with zipfile.ZipFile(z, "w") as zf:
        for name, data in files.items():
            zf.writestr(_GbkInfo(name), data)
    with zipfile.ZipFile(z) as zf:  # the premise: read back as CP437 mojibake
        assert all(not (i.flag_bits & 0x800) for i in zf.infolist())
        assert "汇景苑/建筑.shp" not in zf.namelist()


def test_zipped_shapefiles_with_gbk_names_are_one_project(adb, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    for layer, g, attrs in (("用地红线", SITE, {"名称": "site"}),
                            ("建筑", B1, {"名称": "1号楼", "地上层数": 10, "建筑高度": 30.0})):
        gdf = gpd.GeoDataFrame([attrs], geometry=[to_storage(g)], crs=SRID)
        pyogrio.write_dataframe(gdf, folder / f"{layer}.shp", encoding="GBK")
    z = tmp_path / "shp.zip"
    _gbk_zip(z, {f"汇景苑/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())})
    proc = _cli(adb, z)
    assert proc.returncode in (0, 1), proc.stderr
    res = json.loads(proc.stdout)
    assert [b["name"] for b in res["project"]["buildings"]] == ["1号楼"]
    assert res["project"]["source"] == f"/vsizip/{z.resolve()}/汇景苑"


def test_a_zip_of_several_projects_is_refused_listing_them(adb, tmp_path):
    _gpkg(tmp_path / "a.gpkg")
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(tmp_path / "a.gpkg", "方案一.gpkg")
        zf.write(tmp_path / "a.gpkg", "方案二/方案二.gpkg")
    proc = _cli(adb, z)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "方案一.gpkg" in proc.stderr and "方案二/方案二.gpkg" in proc.stderr
    assert str(z) in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_member_is_named_in_the_error(adb, tmp_path):
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("项目.gpkg", b"this is no GeoPackage")
    proc = _cli(adb, z)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"/vsizip/{z.resolve()}/项目.gpkg" in proc.stderr, proc.stderr
    assert "cim-check-zip-" not in proc.stderr  # the scratch folder is no name to give


def test_a_zip_with_a_damaged_stream_is_bad_input_not_an_internal_error(adb, tmp_path):
    z = tmp_path / "damaged.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("建筑.geojson", "0123456789abcdef" * 5000)
    b = bytearray(z.read_bytes())
    at = b.index("建筑.geojson".encode()) + len("建筑.geojson".encode()) + 20
    for i in range(at, at + 40):  # inside the member's compressed data (zlib.error)
        b[i] ^= 0x5A
    z.write_bytes(bytes(b))
    proc = _cli(adb, z)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # cim check's bad input
    assert "not a readable zip" in proc.stderr and str(z) in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr

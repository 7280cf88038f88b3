"""The building loader on the sample survey (GBK Shapefile) and on files written with GDAL."""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import pyogrio
import pytest
import shapely

from cim.errors import InputError, OutOfAreaError
from loaders.buildings import load_buildings
from tests.conftest import SAMPLE_BUILDINGS, run_cli
from tests.placement_oracle import district_sql, grid_sql


def test_sample_load_accounts_for_every_feature(db):
    r = db.sample_report
    assert r.read == 1500
    assert r.read == r.loaded + r.rejected
    assert r.loaded == db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    assert r.encoding == "GB18030"
    batch = db.rows("SELECT status, read, loaded, rejected FROM load_batches WHERE id = %s",
                    (r.batch_id,))[0]
    assert batch == ("succeeded", r.read, r.loaded, r.rejected)
    # the delivery's checksum (read beside the load, recorded with its outcome): of every
    # file of the Shapefile (its attributes are in the .dbf), by name and checksum
    parts = sorted(p for p in SAMPLE_BUILDINGS.parent.iterdir()
                   if p.stem == SAMPLE_BUILDINGS.stem and p.suffix.lower() != ".xml")
    assert {p.suffix.lower() for p in parts} >= {".shp", ".shx", ".dbf", ".prj"}
    lines = "".join(f"{p.name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
                    for p in parts)
    assert db.scalar("SELECT source_sha256 FROM load_batches WHERE id = %s", (r.batch_id,)) \
        == hashlib.sha256(lines.encode()).hexdigest()


def test_gbk_attributes_are_decoded_and_mapped(db):
    rows = dict(db.rows("SELECT source_key, name FROM buildings"))
    sample = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", read_geometry=False)
    for _, rec in sample.head(50).iterrows():
        assert rows[f"buildings_survey:{rec['编号']}"] == (rec["建筑名称"] or None)
    uses = {r[0] for r in db.rows("SELECT DISTINCT use_name FROM buildings")}
    assert {"住宅", "商业", "办公"} <= uses


def test_bow_ties_are_repaired_and_flagged_and_null_heights_kept(db):
    flagged = dict(db.rows("SELECT source_key, flags FROM buildings WHERE flags <> '{}'"))
    assert flagged["buildings_survey:JZ000625"] == ["geometry_repaired"]
    assert flagged["buildings_survey:JZ000649"] == ["geometry_repaired"]
    assert db.scalar("SELECT count(*) FROM buildings WHERE NOT ST_IsValid(geom)") == 0
    assert db.scalar("SELECT count(*) FROM buildings WHERE height IS NULL AND source_key IN "
                     "('buildings_survey:JZ000172', 'buildings_survey:JZ000187', "
                     "'buildings_survey:JZ000447')") == 3


def test_districts_and_grid_cells_come_from_a_spatial_join(db):
    wrong = db.scalar(
        "SELECT count(*) FROM buildings b WHERE b.district_code IS DISTINCT FROM "
        + district_sql("b.geom") + " OR b.grid_code IS DISTINCT FROM "
        + grid_sql("b.geom", "b.district_code"))
    assert wrong == 0
    assert db.scalar("SELECT count(DISTINCT district_code) FROM buildings") == 2
    assert db.scalar("SELECT count(*) FROM buildings WHERE grid_code IS NULL") == 0
    assert db.scalar("SELECT count(*) FROM buildings WHERE left(grid_code, 6) <> district_code") == 0


def test_reload_adds_nothing_and_keeps_codes(db):
    before = dict(db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
    total = db.scalar("SELECT count(*) FROM buildings")
    r = load_buildings(db.conninfo, db.profile, SAMPLE_BUILDINGS)
    assert (r.read, r.loaded, r.inserted, r.updated, r.unchanged) == (1500, 1500, 0, 0, 1500)
    assert db.scalar("SELECT count(*) FROM buildings") == total
    after = dict(db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
    assert after == before


def _write(tmp_path, name, gdf, **kw):
    path = tmp_path / name
    pyogrio.write_dataframe(gdf, path, **kw)
    return path


def _sample(n=20) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=n)


def test_a_changed_feature_keeps_its_code_and_history(fresh_db, tmp_path):
    gdf = _sample(10)
    p = _write(tmp_path, "delivery.gpkg", gdf)
    load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    code = fresh_db.scalar("SELECT code FROM buildings WHERE source_key = 'delivery:JZ000001'")
    gdf.loc[0, "建筑高度"] = 99.5
    p = _write(tmp_path, "delivery.gpkg", gdf)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    assert (r.updated, r.unchanged, r.inserted) == (1, 9, 0)
    versions = fresh_db.rows("SELECT code, height, valid_to IS NULL FROM buildings "
                             "WHERE source_key = 'delivery:JZ000001' ORDER BY valid_from")
    assert [v[0] for v in versions] == [code, code]
    assert versions[1][1:] == (99.5, True) and versions[0][2] is False


def test_english_fields_and_another_crs_are_handled(fresh_db, tmp_path):
    gdf = _sample(15).rename(columns={"编号": "id", "建筑名称": "name", "建筑用途": "usage",
                                      "地上层数": "floors", "建筑高度": "height"})
    gdf = gdf.to_crs("EPSG:4490")
    p = _write(tmp_path, "english.geojson", gdf, driver="GeoJSON")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    assert (r.read, r.loaded, r.rejected) == (15, 15, 0)
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE floors_above IS NOT NULL") == 15
    # stored in EPSG:4527 at the same place (mm) as the original survey coordinates
    orig = _sample(1).geometry.iloc[0]
    got = shapely.from_wkb(bytes(fresh_db.scalar(
        "SELECT ST_AsBinary(geom) FROM buildings WHERE source_key = 'english:JZ000001'")))
    assert shapely.hausdorff_distance(orig, got) < 0.001


def test_outside_the_profile_area_fails_and_loads_nothing(fresh_db, tmp_path):
    gdf = _sample(5).to_crs("EPSG:4490")
    gdf["geometry"] = gdf.geometry.translate(xoff=-0.2, yoff=4.5)  # Beijing
    p = _write(tmp_path, "beijing.gpkg", gdf)
    with pytest.raises(OutOfAreaError, match="outside the city profile"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    assert fresh_db.scalar("SELECT status FROM load_batches ORDER BY id DESC LIMIT 1") == "failed"
    # a failed batch still says which file it was
    assert fresh_db.scalar("SELECT source_sha256 FROM load_batches ORDER BY id DESC LIMIT 1") \
        == hashlib.sha256(p.read_bytes()).hexdigest()


def test_swapped_xy_is_diagnosed(fresh_db, tmp_path):
    gdf = _sample(5)
    gdf["geometry"] = shapely.transform(gdf.geometry.values, lambda c: c[:, ::-1])
    p = _write(tmp_path, "swapped.gpkg", gdf)
    with pytest.raises(OutOfAreaError, match="swapped"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, p)


def test_missing_prj_uses_zone_prefix_and_wrong_crs_is_explained(fresh_db, tmp_path):
    gdf = _sample(5)
    p = _write(tmp_path, "noprj.shp", gdf, encoding="GBK")
    p.with_suffix(".prj").unlink()
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    assert r.loaded == 5 and r.source_crs == "EPSG:4527"
    with pytest.raises(InputError, match="zone-prefixed"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, p, crs="EPSG:4548")


def test_feature_rows_with_bad_values_are_rejected_with_row_and_field(fresh_db, tmp_path):
    gdf = _sample(6)
    gdf["地上层数"] = gdf["地上层数"].astype(object)
    gdf.loc[2, "地上层数"] = "十二层"
    gdf.loc[4, "geometry"] = None
    p = _write(tmp_path, "bad.gpkg", gdf)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    assert (r.read, r.loaded, r.rejected) == (6, 4, 2)
    rej = fresh_db.rows("SELECT row_number, reason, field, message, attrs->>'编号' FROM "
                        "load_rejects WHERE batch_id = %s ORDER BY row_number", (r.batch_id,))
    assert rej[0][:3] == (3, "bad_value", "地上层数") and "十二层" in rej[0][3]
    assert rej[0][4] == "JZ000003"
    assert rej[1][:2] == (5, "empty_geometry")


def test_cli_load_json_report(fresh_db, tmp_path):
    p = _write(tmp_path, "cli.gpkg", _sample(8))
    out = run_cli(["load", "buildings", str(p), "--json"], fresh_db.env(), check=True).stdout
    rep = json.loads(out)
    assert {"read", "loaded", "rejected", "batch_id"} <= rep.keys()
    assert rep["read"] == rep["loaded"] + rep["rejected"] == 8


def test_cli_district_override_and_clear_errors(fresh_db, tmp_path):
    p = _write(tmp_path, "override.gpkg", _sample(4))
    out = run_cli(["load", "buildings", str(p), "--district", "370826", "--json"],
                  fresh_db.env(), check=True).stdout
    assert json.loads(out)["loaded"] == 4
    assert {r[0] for r in fresh_db.rows("SELECT district_code FROM buildings")} == {"370826"}
    assert {r[0][:6] for r in fresh_db.rows("SELECT code FROM buildings")} == {"370826"}
    bad = run_cli(["load", "buildings", str(tmp_path / "nope.shp")], fresh_db.env())
    assert bad.returncode == 3 and "nope.shp" in bad.stderr and "not found" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_source_without_known_fields_loads_and_says_so_in_the_batch(fresh_db, tmp_path):
    gdf = _sample(3)[["geometry"]].assign(foo=["a", "b", "c"])
    p = _write(tmp_path, "anon.gpkg", gdf)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, encoding="GBK")
    assert (r.read, r.loaded) == (3, 3)
    notes = fresh_db.scalar("SELECT report->'notes' FROM load_batches WHERE id = %s",
                            (r.batch_id,))
    assert any("no attribute field was recognised" in n for n in notes)
    assert any("--encoding GBK ignored" in n for n in notes)
    keys = [k for (k,) in fresh_db.rows("SELECT source_key FROM buildings")]
    assert all(k.startswith("anon:g") for k in keys)
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE attrs->>'foo' IS NOT NULL") == 3


def test_rejects_keep_the_delivered_geometry_in_the_input_crs(fresh_db, tmp_path):
    gdf = _sample(4).to_crs("EPSG:4490")
    gdf["地上层数"] = gdf["地上层数"].astype(object)
    gdf.loc[1, "地上层数"] = "十二层"  # rejected for a value, after its geometry was transformed
    x, y = gdf.geometry.iloc[2].exterior.coords[0]
    gdf.loc[2, "geometry"] = shapely.Point(x, y)  # rejected for its geometry type
    # collinear in lon/lat, a sliver of ~1e-6 m² once projected: no footprint
    gdf.loc[3, "geometry"] = shapely.Polygon([(x, y), (x + 1e-4, y), (x + 2e-4, y)])
    p = _write(tmp_path, "lonlat.gpkg", gdf)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    assert r.rejected_by_reason == {"bad_value": 1, "wrong_geometry_type": 1,
                                    "invalid_geometry": 1}
    for row, wkt in fresh_db.rows("SELECT row_number, geom_wkt FROM load_rejects "
                                  "WHERE batch_id = %s ORDER BY row_number", (r.batch_id,)):
        g = shapely.from_wkt(wkt)
        assert shapely.equals_exact(g, gdf.geometry.iloc[row - 1], 1e-9), row


def test_heights_typed_as_surveyors_write_them_and_those_that_cannot_be_read(fresh_db, tmp_path):
    """A text height column (a CSV turned GeoPackage): grouped thousands and a metre sign read;
    a decimal comma, another unit or a digit separator is never a number ten or a thousand
    times off — the row is rejected naming its field, nothing else lost. Full-width forms (an
    IME's full-width mode) read as their ASCII twins, a full-width decimal comma is refused."""
    gdf = _sample(9)
    gdf["建筑高度"] = ["12 m", "1,5", "0,500", "24米", "12mm", "1_5", "１８．５ｍ", "1，200",
                     "０，５"]
    p = _write(tmp_path, "typed.gpkg", gdf)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    assert (r.read, r.loaded + r.rejected) == (9, 9)
    heights = dict(fresh_db.rows("SELECT source_key, height FROM buildings "
                                 "WHERE valid_to IS NULL"))
    assert heights == {"typed:JZ000001": 12.0, "typed:JZ000004": 24.0, "typed:JZ000007": 18.5}
    rejects = fresh_db.rows("SELECT source_key, field, message, attrs->>'建筑高度' "
                            "FROM load_rejects ORDER BY row_number")
    assert [(k, f, a) for k, f, _, a in rejects] == [
        ("typed:JZ000002", "建筑高度", "1,5"), ("typed:JZ000003", "建筑高度", "0,500"),
        ("typed:JZ000005", "建筑高度", "12mm"), ("typed:JZ000006", "建筑高度", "1_5"),
        ("typed:JZ000008", "建筑高度", "1，200"), ("typed:JZ000009", "建筑高度", "０，５")]
    assert "'1,5'" in rejects[0][2] and "comma" in rejects[0][2]

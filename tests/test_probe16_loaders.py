"""Loader findings of session 16's probe, each against a file written here (values known by
construction):

- 地上层数 ``3层`` (how Chinese building surveys often write a floor count; ``３Ｆ`` full-width)
  was refused as "not a number" by ``cim load buildings`` while the approval check read it
  (field_units.yaml declared storeys for the project, not for buildings); a count in another
  unit (``3米``) is still refused, naming the row and field;
- a component table without its class field exited 2 (configuration), where roads, sensors
  and every other layer lacking its field exit 3 (input)."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from loaders.buildings import load_buildings
from tests.conftest import run_cli, scratch_db


def test_a_floor_count_with_its_unit_is_read(jining_profile, tmp_path):
    with scratch_db("floorunits", jining_profile) as d:
        _code, x, y = d.big_cell()
        path = tmp_path / "floors.gpkg"
        floors = ["3层", "３Ｆ", "12", "3米"]
        below = ["1层", None, "0", None]
        gpd.GeoDataFrame({"编号": ["F1", "F2", "F3", "F4"], "建筑用途": ["住宅"] * 4,
                          "地上层数": floors, "地下层数": below, "建筑高度": ["10"] * 4},
                         geometry=[box(x + 20 * i, y, x + 20 * i + 10, y + 10)
                                   for i in range(4)], crs="EPSG:4527").to_file(path)
        r = load_buildings(d.conninfo, d.profile, path, processes=0, dataset="floors")
        assert (r.read, r.loaded, r.rejected) == (4, 3, 1), r.text()
        got = dict((k, (a, b)) for k, a, b in d.rows(
            "SELECT source_key, floors_above, floors_below FROM buildings "
            "WHERE valid_to IS NULL"))
        assert got == {"floors:F1": (3, 1), "floors:F2": (3, None), "floors:F3": (12, 0)}
        (row, reason, field), = d.rows("SELECT row_number, reason, field FROM load_rejects "
                                       "WHERE batch_id = %s", (r.batch_id,))
        assert (row, reason, field) == (4, "bad_value", "地上层数")


def test_a_component_table_without_its_class_field_is_an_input_error(fresh_db, tmp_path):
    path = tmp_path / "部件.gpkg"
    _code, x, y = fresh_db.big_cell()
    gpd.GeoDataFrame({"编号": ["C1"], "名称": ["井盖"]},
                     geometry=[box(x, y, x + 1, y + 1).centroid],
                     crs="EPSG:4527").to_file(path)
    before = fresh_db.rows("SELECT (SELECT count(*) FROM components), "
                           "(SELECT count(*) FROM load_batches WHERE status = 'ok')")
    p = run_cli(["load", "components", str(path)], fresh_db.env())
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert "no component class field" in p.stderr and "编号" in p.stderr
    assert fresh_db.rows("SELECT (SELECT count(*) FROM components), "
                         "(SELECT count(*) FROM load_batches WHERE status = 'ok')") == before


def test_a_layer_the_file_has_not_is_refused_naming_its_layers(fresh_db, tmp_path):
    """GDAL said only "Layer 'nope' could not be opened"; the file's layers are named now (the
    layers written here), and a layer named in another case is the layer (GeoPackage)."""
    from shapely.geometry import Point

    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "two.gpkg"
    gpd.GeoDataFrame({"编号": ["P1"]}, geometry=[Point(x, y)], crs="EPSG:4527").to_file(
        path, layer="井点")
    gpd.GeoDataFrame({"编号": ["B1"], "建筑用途": ["住宅"]},
                     geometry=[box(x, y, x + 10, y + 10)], crs="EPSG:4527").to_file(
        path, layer="Houses")
    p = run_cli(["load", "buildings", str(path), "--layer", "nope"], fresh_db.env())
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert "no layer 'nope'" in p.stderr and "'井点', 'Houses'" in p.stderr, p.stderr
    p = run_cli(["load", "buildings", str(path), "--layer", "houses"], fresh_db.env())
    assert p.returncode == 0, p.stderr
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE source_key LIKE '%%:B1'") == 1


def test_a_row_with_x_and_y_exchanged_is_told_so(fresh_db, tmp_path):
    """One row of a census table typed Y, X: it lay outside every district and its reject
    said only that. Now it names the district the row lies in with its X and Y exchanged
    (the big cell of 370811, by construction); a row far away for another reason is not
    told so."""
    from loaders.components import load_components

    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,X坐标,Y坐标\n"
                    f"S1,0101,{n},{e}\nS2,0101,{n + 5},{e + 5}\nS3,0101,{e + 9},{n + 9}\n"
                    f"S4,0101,{n + 900_000},{e}\n", encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (4, 2, 2), r.text()
    got = dict(fresh_db.rows("SELECT row_number, message FROM load_rejects WHERE batch_id = %s",
                             (r.batch_id,)))
    assert set(got) == {4, 5}
    assert "370811" in got[4] and "swapped" in got[4], got[4]
    assert "outside every district" in got[5] and "swapped" not in got[5], got[5]


def test_a_geojson_written_latitude_first_is_told_so(fresh_db, tmp_path):
    """EPSG:4490's own axis order (latitude, longitude) written into a GeoJSON, with its crs
    member or without: it was "no coordinate reference system … pass --crs" (cim check) —
    the declared CRS dropped as "not degrees". Now the refusal says the coordinates are
    written latitude first (the numbers written here)."""
    import json

    ring = [[35.3601, 116.6060], [35.3600, 116.6077], [35.3609, 116.6078], [35.3601, 116.6060]]
    for crs in ({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}, None):
        doc = {"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"role": "site"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
        if crs:
            doc["crs"] = crs
        path = tmp_path / "latlon.geojson"
        path.write_text(json.dumps(doc), encoding="utf-8")
        p = run_cli(["check", str(path), "--no-record"], fresh_db.env())
        assert p.returncode == 2, (p.stdout, p.stderr)
        assert "latitude first" in p.stderr and "116.608" in p.stderr, p.stderr
        p = run_cli(["load", "buildings", str(path)], fresh_db.env())
        assert p.returncode == 3 and "latitude first" in p.stderr, p.stderr


def test_a_site_grid_in_metres_is_not_taken_for_latitude_first(tmp_path):
    """Small local coordinates in metres (x 12–78, y 104–165: exchanged they lie outside
    China) in a GeoJSON without a crs member keep their way in (--crs), as before (review
    16): only degrees that, exchanged, lie in China are refused as latitude first."""
    import json

    from loaders.sources.read import open_source

    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[[12.5, 104], [78, 104], [78, 165],
                                                         [12.5, 165], [12.5, 104]]]}}]}
    path = tmp_path / "site.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    src = open_source(path)
    assert src.crs is None and any("CRS ignored" in n for n in src.notes), src.notes

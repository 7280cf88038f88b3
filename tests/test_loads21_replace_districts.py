"""A replace delivery retires only in the districts it has features in (session 21's 城管
probe). Each district's surveyor names the file 城市部件.shp: one dataset, and a replace of
微山县's retired every component of 任城区 — `--district 370826` or not. Now those are kept and
the report says so; a replace within the district still retires what it left out. Files
written with GDAL (pyogrio) into a fresh PostGIS; the points placed by construction inside a
grid cell of each district."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
import shapely

from loaders.components import load_components


def _cell_points(db, district: str, n: int) -> list[shapely.Point]:
    (x, y), = db.rows("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM "
                      "grid_cells WHERE valid_to IS NULL AND district_code = %s ORDER BY code "
                      "LIMIT 1) c", (district,))
    return [shapely.Point(x + 0.5 * i, y) for i in range(n)]


def _write(folder, ids: list[str], points: list[shapely.Point]):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "城市部件.shp"  # the same name in every district's delivery
    gdf = gpd.GeoDataFrame({"部件编码": ids, "小类代码": ["0101"] * len(ids)},
                           geometry=points, crs="EPSG:4527")
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    return path


def _current(db, district: str) -> int:
    return db.scalar("SELECT count(*) FROM components WHERE valid_to IS NULL AND "
                     "district_code = %s", (district,))


@pytest.mark.parametrize("processes", [0, None])
def test_a_replace_of_one_district_keeps_another_districts_features(fresh_db, tmp_path,
                                                                     processes):
    p = fresh_db.profile
    a = _write(tmp_path / "rc", [f"BJ{i:06d}" for i in range(1, 5)],
               _cell_points(fresh_db, "370811", 4))
    kw = {"processes": processes} if processes is not None else {}
    first = load_components(fresh_db.conninfo, p, a, **kw)
    assert first.loaded == 4 and _current(fresh_db, "370811") == 4
    # 微山县's own file of the same name and ids of its own numbering
    b = _write(tmp_path / "ws", ["WS000001", "WS000002"], _cell_points(fresh_db, "370826", 2))
    for extra in ({}, {"district": "370826"}):
        r = load_components(fresh_db.conninfo, p, b, mode="replace", **extra, **kw)
        assert r.retired == 0, r.text()
        assert _current(fresh_db, "370811") == 4
        assert any("kept, not retired" in n and "370811" in n for n in r.notes), r.notes
    # a replace within 任城区 still retires what it left out there
    a2 = _write(tmp_path / "rc2", [f"BJ{i:06d}" for i in range(1, 4)],
                _cell_points(fresh_db, "370811", 3))
    r = load_components(fresh_db.conninfo, p, a2, mode="replace", **kw)
    assert r.retired == 1, r.text()  # BJ000004; 微山县's two are in no district of it
    assert (_current(fresh_db, "370811"), _current(fresh_db, "370826")) == (3, 2)
    assert fresh_db.scalar("SELECT valid_to IS NOT NULL FROM components WHERE "
                           "attrs->>'部件编码' = 'BJ000004' ORDER BY id DESC LIMIT 1")


def test_a_replace_of_one_layer_keeps_the_other_layers_of_its_file(fresh_db, tmp_path):
    """部件.gpkg with points, lines and polygons, each loaded with --layer (one dataset, the
    file's name): a replace of the points retired the guardrail and the cover."""
    p = fresh_db.profile
    pts = _cell_points(fresh_db, "370811", 3)
    path = tmp_path / "部件.gpkg"
    x, y = pts[0].x, pts[0].y
    layers = {
        "points": gpd.GeoDataFrame({"部件编码": ["P1", "P2"], "小类代码": ["0101", "0101"]},
                                   geometry=pts[:2], crs="EPSG:4527"),
        "lines": gpd.GeoDataFrame({"部件编码": ["L1"], "小类代码": ["0211"]},
                                  geometry=[shapely.LineString([(x, y + 1), (x + 20, y + 1)])],
                                  crs="EPSG:4527"),
        "polys": gpd.GeoDataFrame({"部件编码": ["G1"], "小类代码": ["0102"]},
                                  geometry=[shapely.box(x + 2, y + 2, x + 2.3, y + 2.3)],
                                  crs="EPSG:4527")}
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf, path, layer=name, append=path.exists())
    for name in layers:
        r = load_components(fresh_db.conninfo, p, path, source_layer=name)
        assert r.loaded == 1 or r.loaded == 2, r.text()
    # next month's 部件.gpkg in a folder of its own, its points layer with one point gone:
    # the missing point retired, the lines and polygons of last month's file kept
    import shutil

    (tmp_path / "next").mkdir()
    nxt = tmp_path / "next" / "部件.gpkg"
    shutil.copy(path, nxt)
    pyogrio.write_dataframe(layers["points"].iloc[:1], nxt, layer="points")
    r = load_components(fresh_db.conninfo, p, nxt, source_layer="points", mode="replace")
    assert r.retired == 1, r.text()
    current = {c for (c,) in fresh_db.rows("SELECT attrs->>'部件编码' FROM components WHERE "
                                           "valid_to IS NULL")}
    assert current == {"P1", "L1", "G1"}
    assert any("lines" in n and "polys" in n and "kept, not retired" in n for n in r.notes), \
        r.notes

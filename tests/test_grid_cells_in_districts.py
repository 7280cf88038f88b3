"""A grid cell's code names its district (its first six digits); a cell drawn mostly outside
that district — 370811… lying in 370826, or across the two — is flagged
outside_coded_district with its share kept in attrs (it loaded without a word). A name too
long for a text is a reject naming the row and field (an internal error). The cells are
squares placed by construction against the profile's own district boundaries."""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import box

from loaders.divisions import load_grid
from tests.conftest import scratch_db


def test_cells_outside_their_coded_district_are_flagged(jining_profile, tmp_path):
    with scratch_db("gridcheck", jining_profile, apply_profile=False) as d:
        from loaders.divisions import load_districts

        load_districts(d.conninfo, d.profile, mode="replace")
        # a point inside each district, well away from its boundary
        inner = dict(d.rows(
            "SELECT code, ST_AsText(ST_PointOnSurface(ST_Buffer(geom, -300))) "
            "FROM admin_divisions WHERE valid_to IS NULL AND level = 3 ORDER BY code"))
        (a, pa), (b, pb) = list(inner.items())[:2]
        pa, pb = shapely.from_wkt(pa), shapely.from_wkt(pb)

        def cell(p):
            return box(p.x - 50, p.y - 50, p.x + 50, p.y + 50)

        cells = {f"{a}001001001": cell(pa),          # in its district
                 f"{a}001001002": cell(pb),          # coded a, drawn in b
                 f"{b}001001003": cell(pb)}          # in its district
        path = tmp_path / "grid.gpkg"
        gpd.GeoDataFrame({"网格编码": list(cells), "网格名称": ["甲", "乙", "丙"]},
                         geometry=list(cells.values()),
                         crs=f"EPSG:{d.profile.srid}").to_file(path, engine="pyogrio")
        r = load_grid(d.conninfo, d.profile, path, mode="replace")
        assert (r.read, r.loaded, r.rejected) == (3, 3, 0), r.text()
        got = {c: (f, s) for c, f, s in d.rows(
            "SELECT code, flags, (attrs->>'_share_in_coded_district')::float FROM grid_cells "
            "WHERE valid_to IS NULL")}
        assert got == {f"{a}001001001": ([], None),
                       f"{a}001001002": (["outside_coded_district"], 0.0),
                       f"{b}001001003": ([], None)}, got
        long = tmp_path / "long.gpkg"
        gpd.GeoDataFrame({"网格编码": [f"{a}001001009"], "网格名称": ["名" * 1200]},
                         geometry=[cell(pa)], crs=f"EPSG:{d.profile.srid}").to_file(
            long, engine="pyogrio")
        r2 = load_grid(d.conninfo, d.profile, long, mode="append")
        assert (r2.loaded, r2.rejected) == (0, 1), r2.text()
        assert d.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s",
                      (r2.batch_id,)) == [(1, "bad_value", "网格名称")]


def test_a_district_of_the_profile_missing_from_the_boundaries_is_noted(jining_profile,
                                                                       tmp_path):
    import pyogrio

    from loaders.divisions import load_districts

    with scratch_db("distmissing", jining_profile, apply_profile=False) as d:
        gdf = pyogrio.read_dataframe(jining_profile.boundaries)
        code_col = next(c for c in gdf.columns if gdf[c].astype(str).str.len().eq(6).all()
                        and c != "geometry")
        dropped = str(gdf[code_col].iloc[0])
        path = tmp_path / "part.gpkg"
        pyogrio.write_dataframe(gdf.iloc[1:], path)
        r = load_districts(d.conninfo, d.profile, path, mode="replace")
        assert any(n.startswith("districts of the profile with no boundary: " + dropped)
                   for n in r.notes), r.notes
        assert not any("overlap" in n for n in r.notes), r.notes
        # the first district grown by 1 km over its neighbours: its overlap is noted
        grown = gdf.copy()
        grown.loc[grown.index[0], "geometry"] = grown.geometry.iloc[0].buffer(1000)
        path2 = tmp_path / "grown.gpkg"
        pyogrio.write_dataframe(grown, path2)
        r2 = load_districts(d.conninfo, d.profile, path2, mode="replace")
        assert any(n.startswith("districts overlap") and dropped in n for n in r2.notes), \
            r2.notes



def test_a_grid_code_twice_names_its_field(jining_profile, tmp_path):
    """A cell's code repeated in a delivery: its reject named no field (the staged writer's
    field was the id's, which districts and grid cells have none of)."""
    with scratch_db("gridtwice", jining_profile, apply_profile=False) as d:
        from loaders.divisions import load_districts

        load_districts(d.conninfo, d.profile, mode="replace")
        code, p = d.rows("SELECT code, ST_AsText(ST_PointOnSurface(ST_Buffer(geom, -300))) "
                         "FROM admin_divisions WHERE valid_to IS NULL AND level = 3 "
                         "ORDER BY code LIMIT 1")[0]
        p = shapely.from_wkt(p)
        path = tmp_path / "grid.gpkg"
        gpd.GeoDataFrame({"网格编码": [f"{code}001001001", f"{code}001001001"]},
                         geometry=[box(p.x - 50, p.y - 50, p.x, p.y),
                                   box(p.x, p.y, p.x + 50, p.y + 50)],
                         crs=f"EPSG:{d.profile.srid}").to_file(path, engine="pyogrio")
        r = load_grid(d.conninfo, d.profile, path, mode="replace")
        assert (r.loaded, r.rejected) == (1, 1), r.text()
        assert d.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s",
                      (r.batch_id,)) == [(2, "duplicate_source_id", "网格编码")]

"""Grid cells that overlap each other (a cell drawn across its neighbour, or across the
district line into the next district's cells): a component there goes to the lower code, so
the other cell silently loses it — and a 370811… cell reaching into 370826 hands 370826's
components a grid code of another district. Such a delivery loaded with a word only for the
share outside the coded district; the overlap itself is noted as the districts' is. The
cells are squares placed by construction: the overlaps' areas are known."""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import box

from loaders.divisions import load_grid
from tests.conftest import scratch_db


def test_overlapping_grid_cells_are_noted_with_their_area(jining_profile, tmp_path):
    with scratch_db("c12gridov", jining_profile, apply_profile=False) as d:
        from loaders.divisions import load_districts

        load_districts(d.conninfo, d.profile, mode="replace")
        code, wkt = d.rows(
            "SELECT code, ST_AsText(ST_PointOnSurface(ST_Buffer(geom, -600))) "
            "FROM admin_divisions WHERE valid_to IS NULL AND level = 3 ORDER BY code")[0]
        p = shapely.from_wkt(wkt)
        x, y = p.x, p.y
        cells = {f"{code}001001001": box(x, y, x + 100, y + 100),
                 # 50 m into the first: 50 × 100 = 5,000 m² shared
                 f"{code}001001002": box(x + 50, y, x + 150, y + 100),
                 # touching the first along its top edge only: no overlap
                 f"{code}001001003": box(x, y + 100, x + 100, y + 200),
                 # far off, alone
                 f"{code}001001004": box(x + 300, y, x + 400, y + 100)}
        path = tmp_path / "grid.gpkg"
        gpd.GeoDataFrame({"网格编码": list(cells), "网格名称": ["甲", "乙", "丙", "丁"]},
                         geometry=list(cells.values()),
                         crs=f"EPSG:{d.profile.srid}").to_file(path, engine="pyogrio")
        r = load_grid(d.conninfo, d.profile, path, mode="replace")
        assert (r.read, r.loaded, r.rejected) == (4, 4, 0), r.text()
        notes = [n for n in r.notes if "overlap" in n]
        assert len(notes) == 1, r.notes
        assert notes[0].startswith("grid cells overlap"), notes
        assert f"{code}001001001 and {code}001001002 (5,000 m²)" in notes[0], notes
        assert f"{code}001001003" not in notes[0] and f"{code}001001004" not in notes[0]
        # the same file again changes nothing: no second note over an unchanged grid
        r2 = load_grid(d.conninfo, d.profile, path, mode="replace")
        assert not [n for n in r2.notes if "overlap" in n], r2.notes


def test_a_grid_without_overlaps_gets_no_overlap_note(jining_profile):
    with scratch_db("c12gridok", jining_profile, apply_profile=False) as d:
        from loaders.divisions import load_districts

        load_districts(d.conninfo, d.profile, mode="replace")
        r = load_grid(d.conninfo, d.profile, mode="replace")
        assert r.loaded == r.read > 0 and not [n for n in r.notes if "overlap" in n], r.notes

"""Features loaded before the unit grid cells kept ``grid_code`` NULL for ever (a reload finds
their content unchanged), and features loaded before a district boundary moved kept their
old district: the units' load now counts them and `cim places refresh` places them again,
in place, recorded in a batch, a second run changing nothing.

Built by construction: footprints at known coordinates around a point inside a district,
grid cells loaded after them, a district boundary moved over one footprint afterwards; the
expected cell and district of each footprint are computed here with shapely (the area
covering it, else the one holding the larger share, then the lower code)."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import box

from loaders.buildings import load_buildings
from loaders.divisions import load_districts, load_grid
from tests.conftest import SAMPLE_BUILDINGS, run_cli, scratch_db


def _expected(geom, areas: dict[str, object]) -> str | None:
    """The loaders' rule, independently: the lowest code covering it, else the larger share
    (then the lower code); none intersecting: None."""
    covering = sorted(c for c, a in areas.items() if a.covers(geom))
    if covering:
        return covering[0]
    shares = sorted((-a.intersection(geom).area, c) for c, a in areas.items()
                    if a.intersects(geom))
    return shares[0][1] if shares else None


def test_grid_loaded_after_features_and_a_moved_boundary(jining_profile, tmp_path):
    srid = jining_profile.srid
    with scratch_db("placesref", jining_profile, apply_profile=False) as d:
        load_districts(d.conninfo, d.profile, mode="replace")
        inner = dict(d.rows(
            "SELECT code, ST_AsText(ST_PointOnSurface(ST_Buffer(geom, -1000))) "
            "FROM admin_divisions WHERE valid_to IS NULL AND level = 3 ORDER BY code"))
        (a, pa), (b, _pb) = list(inner.items())[:2]
        x, y = shapely.from_wkt(pa).x, shapely.from_wkt(pa).y
        feet = {"B1": box(x - 10, y - 10, x + 10, y + 10),       # inside cell 1
                "B2": box(x + 60, y - 10, x + 80, y + 10),       # inside cell 2
                "B3": box(x + 30, y - 10, x + 100, y + 10),      # 20 m in cell 1, 50 m in 2
                "B4": box(x + 400, y - 10, x + 420, y + 10)}     # in no cell
        attrs = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=4)
        gdf = gpd.GeoDataFrame(attrs.drop(columns="geometry").assign(
            编号=list(feet)), geometry=list(feet.values()), crs=f"EPSG:{srid}")
        bpath = tmp_path / "feet.gpkg"
        pyogrio.write_dataframe(gdf, bpath)
        r = load_buildings(d.conninfo, d.profile, bpath)
        assert (r.loaded, r.rejected) == (4, 0), r.text()
        assert d.scalar("SELECT count(*) FROM buildings WHERE grid_code IS NOT NULL") == 0

        cells = {f"{a}001001001": box(x - 50, y - 50, x + 50, y + 50),
                 f"{a}001001002": box(x + 50, y - 50, x + 150, y + 50)}
        gpath = tmp_path / "grid.gpkg"
        gpd.GeoDataFrame({"网格编码": list(cells), "网格名称": ["甲", "乙"]},
                         geometry=list(cells.values()), crs=f"EPSG:{srid}").to_file(
            gpath, engine="pyogrio")
        want_grid = {k: _expected(g, cells) for k, g in feet.items()}
        assert want_grid == {"B1": f"{a}001001001", "B2": f"{a}001001002",
                             "B3": f"{a}001001002", "B4": None}  # the fixture as built
        gr = load_grid(d.conninfo, d.profile, gpath, mode="replace")
        note = [n for n in gr.notes if n.startswith("buildings:")]
        assert len(note) == 1 and "grid cell: 3 without one, 0 in one no longer theirs" \
            in note[0] and "cim places refresh --layer buildings" in note[0], gr.notes
        # the load itself left them as they were
        assert d.scalar("SELECT count(*) FROM buildings WHERE grid_code IS NOT NULL") == 0
        # the same cells again change no unit: not asked again (it reads every placed layer)
        again = load_grid(d.conninfo, d.profile, gpath, mode="replace")
        assert (again.inserted, again.updated, again.retired) == (0, 0, 0)
        assert not [n for n in again.notes if n.startswith("buildings:")], again.notes

        def stored():
            return {k.split(":")[-1]: (dc, gc) for k, dc, gc in d.rows(
                "SELECT source_key, district_code, grid_code FROM buildings "
                "WHERE valid_to IS NULL")}

        versions = d.scalar("SELECT count(*) FROM buildings")
        dry = run_cli(["places", "refresh", "--dry-run"], d.env(), check=True)
        assert "buildings: 4 current, 3 out of place" in dry.stdout, dry.stdout
        assert all(v[1] is None for v in stored().values())

        out = run_cli(["places", "refresh"], d.env(), check=True)
        assert "buildings: 4 current, 3 re-placed" in out.stdout, out.stdout
        got = stored()
        assert {k: v[1] for k, v in got.items()} == want_grid, got
        assert d.scalar("SELECT count(*) FROM buildings") == versions  # in place
        assert d.rows("SELECT layer, mode, status, loaded FROM load_batches "
                      "WHERE mode = 'refresh'") == [("buildings", "refresh", "succeeded", 3)]

        again = run_cli(["places", "refresh", "--json"], d.env(), check=True)
        assert '"changed": 0' in again.stdout and '"changed": 1' not in again.stdout
        assert d.scalar("SELECT count(*) FROM load_batches WHERE mode = 'refresh'") == 1
        assert stored() == got

        # district a loses a square around B1 to district b: B1 now lies in b, B3 stays
        bounds = pyogrio.read_dataframe(d.profile.boundaries)
        col = next(c for c in bounds.columns if c != "geometry"
                   and bounds[c].astype(str).str.len().eq(6).all())
        moved = box(x - 25, y - 25, x + 45, y + 25)
        ia = bounds.index[bounds[col].astype(str) == a][0]
        ib = bounds.index[bounds[col].astype(str) == b][0]
        bounds.loc[ia, "geometry"] = bounds.geometry[ia].difference(moved)
        bounds.loc[ib, "geometry"] = bounds.geometry[ib].union(moved)
        dpath = tmp_path / "districts.gpkg"
        pyogrio.write_dataframe(bounds, dpath)
        dr = load_districts(d.conninfo, d.profile, dpath, mode="replace")
        districts = {str(c): g for c, g in zip(bounds[col], bounds.geometry)}
        want_district = {k: _expected(g, districts) for k, g in feet.items()}
        assert want_district == {"B1": b, "B2": a, "B3": a, "B4": a}  # as built
        assert any(n.startswith("buildings:") and "district: 1 in one no longer theirs" in n
                   for n in dr.notes), dr.notes
        out = run_cli(["places", "refresh", "--layer", "buildings"], d.env(), check=True)
        assert "buildings: 4 current, 1 re-placed" in out.stdout, out.stdout
        got = stored()
        assert {k: v[0] for k, v in got.items()} == want_district, got
        assert {k: v[1] for k, v in got.items()} == want_grid, got
        from loaders.places_refresh import refresh
        assert [r.changed for r in refresh(d.conninfo, dry_run=True) if r.changed] == []
        assert run_cli(["places", "refresh", "--layer", "risk_points"], d.env()).returncode \
            not in (0, 1)


def test_a_forced_district_is_kept_and_a_failed_refresh_writes_nothing(jining_profile,
                                                                     tmp_path, monkeypatch):
    from loaders import places_refresh

    srid = jining_profile.srid
    with scratch_db("placesforced", jining_profile, apply_profile=False) as d:
        load_districts(d.conninfo, d.profile, mode="replace")
        inner = dict(d.rows(
            "SELECT code, ST_AsText(ST_PointOnSurface(ST_Buffer(geom, -1000))) "
            "FROM admin_divisions WHERE valid_to IS NULL AND level = 3 ORDER BY code"))
        (a, pa), (b, _pb) = list(inner.items())[:2]
        x, y = shapely.from_wkt(pa).x, shapely.from_wkt(pa).y
        foot = box(x - 10, y - 10, x + 10, y + 10)  # in district a, loaded as b (--district)
        attrs = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=1)
        bpath = tmp_path / "one.gpkg"
        pyogrio.write_dataframe(gpd.GeoDataFrame(
            attrs.drop(columns="geometry"), geometry=[foot], crs=f"EPSG:{srid}"), bpath)
        r = load_buildings(d.conninfo, d.profile, bpath, district=b)
        assert r.loaded == 1, r.text()
        cell = f"{a}001001001"
        gpath = tmp_path / "grid.gpkg"
        gpd.GeoDataFrame({"网格编码": [cell]}, geometry=[box(x - 50, y - 50, x + 50, y + 50)],
                         crs=f"EPSG:{srid}").to_file(gpath, engine="pyogrio")
        load_grid(d.conninfo, d.profile, gpath, mode="replace")

        real = places_refresh._decide

        def failing(conn, layer, *args):
            if layer.name != "buildings":  # after the buildings' update ran
                raise RuntimeError("disk full")
            return real(conn, layer, *args)

        monkeypatch.setattr(places_refresh, "_decide", failing)
        try:
            places_refresh.refresh(d.conninfo)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the refresh did not fail")
        assert d.rows("SELECT district_code, grid_code FROM buildings") == [(b, None)]
        assert d.scalar("SELECT count(*) FROM load_batches WHERE mode = 'refresh'") == 0

        monkeypatch.setattr(places_refresh, "_decide", real)
        (res,) = places_refresh.refresh(d.conninfo, "buildings")
        assert (res.changed, res.grid_missing, res.district_stale, res.district_kept) == \
            (1, 1, 0, 1), res
        assert d.rows("SELECT district_code, grid_code FROM buildings") == [(b, cell)]

"""A grid cell drawn across a district line (profile apply notes the overlap) covers
features of the next district beside that district's own cell. The rule gives a feature a
grid cell of its own district first — a grid code names its district, so a 370826
component given the lower-coded 370811 cell would be coded against itself — in the direct
write (components) and the staged one (facilities) alike. Expected answers: by construction
(which district the point lies in, from shapely on the stored boundaries) and the
independent placement rule in PostGIS (tests.placement_oracle)."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import Point, box

from loaders.city_base import load_base
from loaders.components import load_components
from loaders.divisions import load_districts, load_grid
from tests.conftest import scratch_db
from tests.placement_oracle import grid_sql


def _cross_line_grid(d, tmp_path) -> tuple[str, str, Point]:
    """Districts loaded, and a grid of two cells: the lower district's drawn 150 m over the
    line, the higher one's own cell; a point 20 m into the higher district covered by both."""
    load_districts(d.conninfo, d.profile, mode="replace")
    (lo, lo_wkb), (hi, hi_wkb) = d.rows(
        "SELECT code, ST_AsBinary(geom) FROM admin_divisions WHERE valid_to IS NULL "
        "AND level = 3 ORDER BY code")
    low_d, high_d = shapely.from_wkb(bytes(lo_wkb)), shapely.from_wkb(bytes(hi_wkb))
    line = shapely.line_merge(shapely.intersection(low_d.boundary, high_d.boundary))
    edge = max(getattr(line, "geoms", [line]), key=lambda g: g.length)
    on = edge.interpolate(0.5, normalized=True)
    # a point 20 m into the higher-coded district, beside the shared line
    p = next(q for dx, dy in ((20, 0), (-20, 0), (0, 20), (0, -20))
             if high_d.contains(q := Point(on.x + dx, on.y + dy))
             and not low_d.intersects(q.buffer(5)))
    own = box(p.x - 40, p.y - 40, p.x + 40, p.y + 40)
    # the lower district's cell reaches 150 m over the line: it covers p too, with the
    # lower code
    across = on.buffer(150, 4).envelope
    assert across.covers(p) and own.covers(p) and lo < hi
    cells = {f"{lo}001001001": across, f"{hi}001001001": own}
    gpath = tmp_path / "grid.gpkg"
    gpd.GeoDataFrame({"网格编码": list(cells), "网格名称": ["跨界", "本区"]},
                     geometry=list(cells.values()),
                     crs=f"EPSG:{d.profile.srid}").to_file(gpath, engine="pyogrio")
    r = load_grid(d.conninfo, d.profile, gpath, mode="replace")
    assert r.loaded == 2, r.text()
    return lo, hi, p


def test_a_feature_gets_a_grid_cell_of_its_own_district(jining_profile, tmp_path):
    with scratch_db("grid12own", jining_profile, apply_profile=False) as d:
        lo, hi, p = _cross_line_grid(d, tmp_path)

        census = tmp_path / "census.gpkg"
        pyogrio.write_dataframe(gpd.GeoDataFrame(
            {"部件编码": ["C1"], "小类代码": ["0101"]}, geometry=[p],
            crs=f"EPSG:{d.profile.srid}"), census)
        rc = load_components(d.conninfo, d.profile, census)
        assert rc.loaded == 1, rc.text()
        fac = tmp_path / "facilities.gpkg"
        gpd.GeoDataFrame([{"编号": "F1", "设施名称": "幼儿园", "设施类型": "幼儿园"}],
                         geometry=[p], crs=f"EPSG:{d.profile.srid}").to_file(fac,
                                                                             driver="GPKG")
        rf = load_base(d.conninfo, d.profile, "facilities", fac)
        assert rf.loaded == 1, rf.text()

        for table in ("components", "facilities"):
            got = d.rows(f"SELECT t.district_code, t.grid_code, "
                         f"{grid_sql('t.geom', 't.district_code')} "
                         f"FROM {table} t WHERE t.valid_to IS NULL")
            assert got == [(hi, f"{hi}001001001", f"{hi}001001001")], (table, got)


def test_a_case_and_a_risk_point_are_placed_by_the_same_rule(jining_profile, tmp_path):
    """Cases and risk points take their district and grid cell by the loaders' rule
    (cim.coding.places): the higher district's own cell, not the lower-coded cell over the
    line."""
    import psycopg

    from layers.cases import store
    from layers.risk import generate

    with scratch_db("grid12case", jining_profile, apply_profile=False) as d:
        lo, hi, p = _cross_line_grid(d, tmp_path)
        with psycopg.connect(d.conninfo) as conn:
            c = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                                role="监督员", point=(p.x, p.y), profile=d.profile)
            assert (c["district_code"], c["grid_code"]) == (hi, f"{hi}001001001"), c
            generate.create_candidates(conn)
            conn.execute("INSERT INTO _risk_cand (source_key, source, geom) VALUES "
                         "('k', 'manual', ST_SetSRID(ST_MakePoint(%s, %s), %s))",
                         (p.x, p.y, d.profile.srid))
            generate.place_candidates(conn)
            assert conn.execute("SELECT district_code, grid_code FROM _risk_cand").fetchone() \
                == (hi, f"{hi}001001001")
            conn.rollback()

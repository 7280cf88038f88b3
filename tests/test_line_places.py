"""Lines and polygons land in the grid cell and district the rule gives, whichever way a line
is digitised, and the direct write (components) and the staged SQL join (roads, green spaces)
agree.

The rule (README, docs/coding.md): an area covering the feature, the lowest code when several
do; else the area holding the larger share of it (a line's length, a polygon's area), a grid
cell of the feature's own district first, then the lower code. Pieces of a guardrail cut at
a cell boundary, as a census cuts lines per cell, lie wholly in one cell and touch the next
at one end — their point on surface (an end, for two vertices) is no answer. The features are
built on two 500 m cells of the Jining profile sharing an edge, so the expected cells are
known by construction; the district-crossing line's shares are measured with shapely on the
profile's own polygons (premises), one area at a time.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from loaders.city_base import load_base
from loaders.components import load_components
from tests.conftest import make_db, server_url

CRS = "EPSG:4527"


@pytest.fixture(scope="module")
def pdb(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("lplaces", jining_profile)
    yield d
    drop_database(server_url(), d.name)


def _pair(db) -> tuple[str, str, float, float]:
    """Two whole 500 m cells of 任城区 side by side: (west code, east code, the x of their
    shared edge, their lower y)."""
    return db.rows(
        "SELECT w.code, e.code, ST_XMax(w.geom), ST_YMin(w.geom) FROM grid_cells w "
        "JOIN grid_cells e ON e.valid_to IS NULL AND e.district_code = w.district_code "
        " AND ST_XMin(e.geom) = ST_XMax(w.geom) AND ST_YMin(e.geom) = ST_YMin(w.geom) "
        " AND ST_Equals(e.geom, ST_Envelope(e.geom)) AND ST_Area(e.geom) = 250000 "
        "WHERE w.valid_to IS NULL AND w.district_code = '370811' "
        " AND ST_Equals(w.geom, ST_Envelope(w.geom)) AND ST_Area(w.geom) = 250000 "
        "ORDER BY w.code LIMIT 1")[0]


def _areas(db, table: str) -> dict[str, shapely.Geometry]:
    extra = " AND level = 3" if table == "admin_divisions" else ""
    return {c: shapely.from_wkt(w) for c, w in db.rows(
        f"SELECT code, ST_AsText(geom) FROM {table} WHERE valid_to IS NULL{extra}")}


# a guardrail 700 m long across the border of 任城区 (370811) and 嘉祥县 (370826): its first
# 39 m in 370826 (the lower end), three cells (two of 370811)
BORDER_LINE = [(39460300.5, 3913700.5), (39460300.5, 3914400.5)]


def _scene(db) -> tuple[list[tuple[str, shapely.Geometry, str | None]], dict]:
    """(id, geometry, expected grid cell) of each feature: lines and their reverses (ids
    ending f / r), polygons; the facts the expectations rest on."""
    west, east, bx, y0 = _pair(db)
    low = min(west, east)
    lines: list[tuple[str, list, str]] = []
    for k in range(8):  # census pieces: wholly in one cell, one end on the shared edge
        y = y0 + 20.5 + 57 * k
        lines.append((f"E{k}", [(bx, y), (bx + 30.25 + 53 * k, y)], east))
        lines.append((f"W{k}", [(bx - 30.25 - 53 * k, y + 9), (bx, y + 9)], west))
    y = y0 + 480.5
    lines += [
        ("EDGE", [(bx, y0 + 100), (bx, y0 + 160)], low),  # along the edge: both cover it
        ("XE", [(bx - 100, y), (bx + 300, y)], east),  # 300 m of 400 in the east cell
        ("XW", [(bx - 300, y - 5), (bx + 100, y - 5)], west),
        ("TIE", [(bx - 150, y - 10), (bx + 150, y - 10)], low),  # 150 and 150: lower code
        # wholly in the east cell, its middle vertex (its point on surface) on the edge
        ("V", [(bx + 100, y0 + 300), (bx, y0 + 350), (bx + 100, y0 + 400)], east),
        ("BORDER", BORDER_LINE, None),
    ]
    feats = []
    for name, pts, cell in lines:
        feats.append((f"{name}f", LineString(pts), cell))
        feats.append((f"{name}r", LineString(pts[::-1]), cell))
    # polygons: wholly in the east cell touching the edge; and 4,000 m² in the east cell
    # against 1,000 in the west, its point on surface (the middle of its widest crossing at
    # half height) in the west one
    y = y0 + 200
    feats.append(("PE", box(bx, y, bx + 30, y + 20), east))
    feats.append(("PX", Polygon([(bx - 100, y + 45), (bx, y + 45), (bx, y), (bx + 40, y),
                                 (bx + 40, y + 100), (bx, y + 100), (bx, y + 55),
                                 (bx - 100, y + 55)]), east))
    facts = {"west": west, "east": east, "low": low}
    return feats, facts


@pytest.fixture(scope="module")
def loaded(pdb, tmp_path_factory):
    """The scene loaded as components (direct write), roads and green spaces (staged)."""
    feats, facts = _scene(pdb)
    tmp = tmp_path_factory.mktemp("places")
    lines = [(i, g) for i, g, _ in feats if g.geom_type == "LineString"]
    polys = [(i, g) for i, g, _ in feats if g.geom_type == "Polygon"]

    def write(name, recs, geoms):
        path = tmp / f"{name}.gpkg"
        gpd.GeoDataFrame(recs, geometry=geoms, crs=CRS).to_file(path, driver="GPKG")
        return path

    comps = write("guardrails", [{"编号": i, "部件小类": "交通护栏"} for i, _ in lines] +
                  [{"编号": i, "部件小类": "停车场"} for i, _ in polys],
                  [g for _, g in lines] + [g for _, g in polys])
    roads = write("roads", [{"编号": i, "道路名称": i, "道路等级": "支路"} for i, _ in lines],
                  [g for _, g in lines])
    green = write("green", [{"编号": i, "名称": i, "绿地类型": "游园"} for i, _ in polys],
                  [g for _, g in polys])
    reports = [load_components(pdb.conninfo, pdb.profile, comps),
               load_base(pdb.conninfo, pdb.profile, "roads", roads),
               load_base(pdb.conninfo, pdb.profile, "green", green)]
    for r in reports:
        assert r.rejected == 0, r.rejected_by_reason
    got = {}
    for table in ("components", "roads", "green_spaces"):
        got[table] = {k.split(":", 1)[1]: (c, d, g) for k, c, d, g in pdb.rows(
            f"SELECT source_key, code, district_code, grid_code FROM {table} "
            "WHERE valid_to IS NULL")}
    return feats, facts, got


def test_the_scene_is_what_it_claims(pdb, loaded):
    """Premises: the pieces lie wholly in their cell and touch the other one, their point on
    surface (an end: which one, as digitised) is on the edge; the crossing polygon's point on surface is in the smaller part;
    the border line has most of its length in 370811 but its point on surface elsewhere."""
    feats, facts, _ = loaded
    grid = _areas(pdb, "grid_cells")
    west, east = grid[facts["west"]], grid[facts["east"]]
    on_edge = set()
    for name, g, cell in feats:
        if name[0] in "EW" and name[1:-1].isdigit():
            assert grid[cell].covers(g) and west.intersects(g) and east.intersects(g), name
            pos = shapely.point_on_surface(g)
            if west.intersects(pos) and east.intersects(pos):
                on_edge.add(name[:-1])
    assert len(on_edge) == 16  # one way or the other, each piece's point is on the edge
    px = dict((n, g) for n, g, _ in feats)["PX"]
    assert east.intersection(px).area == 4000 and west.intersection(px).area == 1000
    assert not east.intersects(shapely.point_on_surface(px))
    districts = _areas(pdb, "admin_divisions")
    line = LineString(BORDER_LINE)
    shares = {c: d.intersection(line).length for c, d in districts.items()}
    assert sorted(shares) == ["370811", "370826"] and shares["370811"] > 600 > 50 > \
        shares["370826"] > 0
    assert districts["370826"].intersects(shapely.point_on_surface(line))  # the old answer


def test_each_feature_lands_in_its_cell_and_district_either_way(pdb, loaded):
    feats, facts, got = loaded
    comps = got["components"]
    grid = _areas(pdb, "grid_cells")
    districts = _areas(pdb, "admin_divisions")
    cell_district = dict(pdb.rows("SELECT code, district_code FROM grid_cells "
                                  "WHERE valid_to IS NULL"))
    for name, g, cell in feats:
        code, district, grid_code = comps[name]
        if cell is None:  # the border line: the larger share, and its cell in 370811
            assert district == "370811", (name, comps[name])
            mine = {c: a.intersection(g).length for c, a in grid.items()
                    if cell_district[c] == "370811"}
            cell = max(sorted(mine), key=lambda c: mine[c])
            assert mine[cell] > 0 and max(a.intersection(g).length for c, a in grid.items()
                                          if cell_district[c] != "370811") < mine[cell]
        else:
            assert districts[district].covers(g)
        assert grid_code == cell, (name, comps[name], facts)
        assert code[:6] == district == cell_district[grid_code], (name, comps[name])
    # the same way or the other: the same district and cell
    for name in {n[:-1] for n, g, _ in feats if n[-1] in "fr"}:
        assert comps[name + "f"][1:] == comps[name + "r"][1:], name


def test_the_staged_sql_join_agrees_with_the_direct_write(loaded):
    """Roads (lines) and green spaces (polygons) go through the staged writer's SQL join:
    each lands where the same geometry loaded as a component did."""
    feats, _, got = loaded
    comps = got["components"]
    lines = {n for n, g, _ in feats if g.geom_type == "LineString"}
    assert set(got["roads"]) == lines and set(got["green_spaces"]) == set(comps) - lines
    for table in ("roads", "green_spaces"):
        for name, (code, district, grid_code) in got[table].items():
            assert (district, grid_code) == comps[name][1:], (table, name)
            assert code[:6] == district

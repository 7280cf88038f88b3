"""CityGML as deliveries write it beyond one solid per building (review 10):

- a building with its LOD1 block and another geometry property after it — its LOD2 solid, a
  terrain intersection curve (schema order puts both after ``lod1Solid``) — was read by GDAL
  from the last one: the height of the LOD2 roof, or the footprint of a curve, without a word;
- a file whose srsNames name two CRSs (a delivery merged from two exports) was read in the
  first: the other's buildings rejected as ``outside_area``, the CRS never named;
- the real Potsdam delivery: each stored footprint and height against the solids parsed from
  the file with ElementTree and shapely.

Buildings known by construction: boxes at known coordinates of EPSG:25833 (the storage CRS,
so stored coordinates are the file's)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Polygon

from cim.db.engine import drop_database
from tests.conftest import REAL, make_db, profile_around, run_cli, server_url
from tests.test_citygml_srs_units import COMPOUND, X, Y, _building, _solid, _write

GML = "{http://www.opengis.net/gml}"
BLDG1 = "{http://www.opengis.net/citygml/building/1.0}"


def _lod2(solid: str) -> str:
    return solid.replace("lod1Solid", "lod2Solid")


def _terrain(x0, y0, x1, y1, z):
    """A terrain intersection as exporters write it: open curves along two walls."""
    lines = [[(x0, y0), (x1, y0)], [(x1, y0), (x1, y1)]]
    members = "".join(
        '<gml:curveMember><gml:LineString><gml:posList srsDimension="3">'
        + " ".join(f"{x} {y} {z}" for x, y in line)
        + "</gml:posList></gml:LineString></gml:curveMember>" for line in lines)
    return ("<bldg:lod1TerrainIntersection><gml:MultiCurve>" + members
            + "</gml:MultiCurve></bldg:lod1TerrainIntersection>")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    work = tmp_path_factory.mktemp("cgp10")
    box = _write(work / "box.gml", _building("B", _solid(X, Y, X + 10, Y + 8, 40, 52),
                                             X, Y, X + 10, Y + 8))
    profile = profile_around(box, None, work, name="Potsdam (test)", admin_code="990700",
                             crs="EPSG:25833", src_crs="EPSG:25833")
    d = make_db("cgp10", profile)
    yield d
    drop_database(server_url(), d.name)


def _stored(db, key):
    return db.rows("SELECT height, ST_Area(geom), ST_AsBinary(geom), flags FROM buildings "
                   "WHERE source_key = %s AND valid_to IS NULL", (key,))


def test_the_lod1_block_is_read_beside_a_lod2_solid_and_a_terrain_curve(db, tmp_path):
    # A: LOD1 block 20 × 10 m, 15 m tall; its LOD2 solid (after it, as the schema orders
    # them) 22 × 12 m and 18 m to the ridge. B: LOD1 block 12 × 6 m, 9 m tall, then its terrain
    # intersection (two open curves). No measuredHeight: the height is the solid's only.
    src = _write(
        tmp_path / "lods.gml",
        _building("A", _solid(X, Y, X + 20, Y + 10, 40, 55)
                  + _lod2(_solid(X - 1, Y - 1, X + 21, Y + 11, 40, 58)),
                  X - 1, Y - 1, X + 21, Y + 11, srs=COMPOUND),
        _building("B", _solid(X + 50, Y, X + 62, Y + 6, 40, 49)
                  + _terrain(X + 50, Y, X + 62, Y + 6, 40),
                  X + 50, Y, X + 62, Y + 6, srs=COMPOUND))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"], r["rejected"]) == (2, 2, 0)
    assert any("other geometries set aside" in n and "lod2Solid" in n
               and "lod1TerrainIntersection" in n for n in r["notes"]), r["notes"]
    (h, area, wkb, flags), = _stored(db, "lods:A")
    assert h == pytest.approx(15.0) and area == pytest.approx(200.0)
    assert "footprint_of_solid" in flags
    assert shapely.from_wkb(bytes(wkb)).equals(shapely.box(X, Y, X + 20, Y + 10))
    (h, area, wkb, flags), = _stored(db, "lods:B")
    assert h == pytest.approx(9.0) and area == pytest.approx(72.0)
    assert shapely.from_wkb(bytes(wkb)).equals(shapely.box(X + 50, Y, X + 62, Y + 6))
    # the delivery is read as it is: nothing written beside it
    assert sorted(q.name for q in tmp_path.iterdir()) == ["lods.gml"]


def test_a_gml_whose_srsnames_name_two_crss_is_refused_naming_them(db, tmp_path):
    gx, gy = pyproj.Transformer.from_crs(25833, 31469, always_xy=True).transform(X + 100, Y)
    src = _write(
        tmp_path / "merged.gml",
        _building("A", _solid(X, Y, X + 10, Y + 8, 40, 52), X, Y, X + 10, Y + 8,
                  srs="EPSG:25833"),
        _building("B", _solid(gx, gy, gx + 10, gy + 8, 40, 60), gx, gy, gx + 10, gy + 8,
                  srs="EPSG:31469"))
    before = db.scalar("SELECT count(*) FROM buildings")
    batches = db.scalar("SELECT count(*) FROM load_batches")
    p = run_cli(["load", "buildings", str(src)], db.env())
    assert p.returncode == 3, (p.stdout, p.stderr)
    err = p.stderr
    assert str(src) in err and "'EPSG:25833'" in err and "'EPSG:31469'" in err, err
    assert "line 3" in err and "line 4" in err, err  # HEAD is two lines, one building a line
    assert db.scalar("SELECT count(*) FROM buildings") == before
    assert db.scalar("SELECT count(*) FROM load_batches") == batches


def test_one_crs_spelled_three_ways_is_one_crs(db, tmp_path):
    src = _write(
        tmp_path / "spelled.gml",
        _building("A", _solid(X, Y, X + 10, Y + 8, 40, 52), X, Y, X + 10, Y + 8,
                  srs="EPSG:25833"),
        _building("B", _solid(X + 20, Y, X + 30, Y + 8, 40, 52), X + 20, Y, X + 30, Y + 8,
                  srs=COMPOUND),
        _building("C", _solid(X + 40, Y, X + 50, Y + 8, 40, 52), X + 40, Y, X + 50, Y + 8,
                  srs="urn:ogc:def:crs:EPSG::25833"))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"]) == (3, 3)


def _rings(el):
    pl = el.find(f"{GML}posList")
    if pl is not None:
        return np.array(pl.text.split(), float).reshape(-1, 3)
    return np.array([q.text.split() for q in el.findall(f"{GML}pos")], float)


def _independent(src):
    """gml:id → (footprint, height) from the file's LOD1 polygons: the union of every face
    with an area in plan, the z extent of all its vertices."""
    out = {}
    for b in ET.parse(src).getroot().iter(f"{BLDG1}Building"):
        polys, zs = [], []
        for lod in b.iter():
            if not lod.tag.endswith(("lod1Solid", "lod1MultiSurface")):
                continue
            for poly in lod.iter(f"{GML}Polygon"):
                ext = _rings(poly.find(f"{GML}exterior/{GML}LinearRing"))
                holes = [_rings(h)[:, :2] for h in poly.findall(f"{GML}interior/{GML}LinearRing")]
                zs.append(ext[:, 2])
                flat = Polygon(ext[:, :2], holes)
                if flat.area > 1e-6:
                    polys.append(shapely.make_valid(flat))
        z = np.concatenate(zs)
        out[b.get(f"{GML}id")] = (shapely.union_all(polys), float(z.max() - z.min()))
    return out


def test_potsdam_footprints_and_heights_match_the_solids_in_the_file(tmp_path_factory):
    src = REAL / "potsdam_lod1.gml"
    if not src.exists():
        pytest.skip(f"real data not present: {src}")
    profile = profile_around(src, None, tmp_path_factory.mktemp("pd10"), name="Potsdam",
                             admin_code="990800", crs="EPSG:25833", src_crs="EPSG:25833")
    d = make_db("pd10", profile)
    try:
        p = run_cli(["load", "buildings", str(src), "--json"], d.env())
        assert p.returncode == 0, p.stderr
        want = _independent(src)
        rows = d.rows("SELECT source_key, height, ST_AsBinary(geom) FROM buildings "
                      "WHERE valid_to IS NULL")
        assert len(rows) == len(want) == 97
        for key, height, wkb in rows:
            footprint, h = want[key.split(":", 1)[1]]
            got = shapely.from_wkb(bytes(wkb))
            assert got.area == pytest.approx(footprint.area, abs=0.01), key
            assert shapely.hausdorff_distance(got, footprint) < 0.01, key
            assert height == pytest.approx(round(h, 2), abs=0.006), key
    finally:
        drop_database(server_url(), d.name)



def test_an_unresolvable_srsname_beside_a_crs_is_named_in_the_notes(db, tmp_path):
    src = _write(
        tmp_path / "unres.gml",
        _building("A", _solid(X, Y, X + 10, Y + 8, 40, 52), X, Y, X + 10, Y + 8,
                  srs="EPSG:25833"),
        _building("B", _solid(X + 20, Y, X + 30, Y + 8, 40, 52), X + 20, Y, X + 30, Y + 8,
                  srs="local:site-grid"))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    notes = json.loads(p.stdout)["notes"]
    assert any("'local:site-grid' (first on line 4) cannot be resolved" in n
               for n in notes), notes


def _two_d(solid: str) -> str:
    """The solid with its posLists in 2D (srsDimension 2): a block written without heights."""
    import re

    def cut(m):
        v = m.group(1).split()
        return ('<gml:posList srsDimension="2">'
                + " ".join(f"{v[k]} {v[k + 1]}" for k in range(0, len(v), 3))
                + "</gml:posList>")
    return re.sub(r'<gml:posList srsDimension="3">([^<]*)</gml:posList>', cut, solid)


def test_a_solid_without_height_or_out_of_range_is_no_height(db, tmp_path):
    # F: a block written flat (z 40 throughout), measuredHeight 12.5; T: written in 2D,
    # measuredHeight 12; M: z in millimetres (40,000–52,000: 12,000 "m"); K: a good block
    src = _write(
        tmp_path / "heights.gml",
        _building("F", _solid(X, Y, X + 10, Y + 8, 40, 40), X, Y, X + 10, Y + 8,
                  srs=COMPOUND, height=12.5),
        _building("T", _two_d(_solid(X + 20, Y, X + 30, Y + 8, 0, 12)), X + 20, Y, X + 30,
                  Y + 8, srs=COMPOUND, height=12),
        _building("M", _solid(X + 40, Y, X + 50, Y + 8, 40000, 52000), X + 40, Y, X + 50,
                  Y + 8, srs=COMPOUND),
        _building("K", _solid(X + 60, Y, X + 70, Y + 8, 40, 61.5), X + 60, Y, X + 70, Y + 8,
                  srs=COMPOUND, height=99))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr  # was an internal error: the table's height check
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"], r["rejected"]) == (4, 3, 1)
    rej = db.rows("SELECT row_number, reason, field, message FROM load_rejects "
                  "WHERE batch_id = %s", (r["batch_id"],))
    assert [(n, reason) for n, reason, _f, _m in rej] == [(3, "bad_value")]
    assert rej[0][2] is not None and "12,000.00" in rej[0][3], rej
    got = {k.split(":")[1]: (h, "solid_without_height" in f) for k, h, f in db.rows(
        "SELECT source_key, height, flags FROM buildings WHERE valid_to IS NULL "
        "AND batch_id = %s", (r["batch_id"],))}
    assert got == {"F": (12.5, True), "T": (12.0, True), "K": (21.5, False)}


def test_a_function_given_twice_keeps_every_buildings_functions_as_values(db, tmp_path):
    """A CityGML StringList (bldg:function twice on one building) went through the solids'
    GeoPackage as GDAL's text of a list: every building's function read ``(1:residential)``
    — which the use dictionary did not know — and ``(2:Wohnhaus,(allgemein))`` (probe of
    session 19, the real Potsdam export). One value is itself; several a JSON array."""
    def fn(*values):
        return "".join(f"<bldg:function>{v}</bldg:function>" for v in values)

    one = _building("F1", _solid(X, Y, X + 10, Y + 8, 40, 52), X, Y, X + 10, Y + 8)
    two = _building("F2", _solid(X + 20, Y, X + 30, Y + 8, 40, 52), X + 20, Y, X + 30, Y + 8)
    one = one.replace("<bldg:lod1Solid>", fn("residential") + "<bldg:lod1Solid>")
    two = two.replace("<bldg:lod1Solid>", fn("Wohnhaus", "(allgemein)") + "<bldg:lod1Solid>")
    src = _write(tmp_path / "functions.gml", one, two)
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    got = dict(db.rows("SELECT source_key, jsonb_build_array(use_name, attrs->'function') "
                       "FROM buildings WHERE valid_to IS NULL AND source_key LIKE "
                       "'functions:%%'"))
    assert got["functions:F1"][0] == "住宅", got  # (its column holds it: not in attrs)
    assert got["functions:F2"][1] == json.dumps(["Wohnhaus", "(allgemein)"],
                                                ensure_ascii=False), got

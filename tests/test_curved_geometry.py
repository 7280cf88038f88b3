"""Curved geometries (CurvePolygon, MultiSurface, CircularString, CompoundCurve …, with Z/M)
in a source GDAL reads: straightened by GDAL as ``ogr2ogr -nlt CONVERT_TO_LINEAR`` does,
loaded, and flagged ``curve_linearized`` (loaders.sources.wkb.faces_wkb); a plain row beside
them is left as it is and not flagged. The files are written by GDAL's ogr2ogr from WKT; the
expected areas and lengths are the true arcs', computed with math: GDAL puts its vertices
on the arc, at most 4° apart (its default step), so a straightened disc's area lies between
the true area and that of the inscribed polygon of 4° steps, an arc's length likewise."""

from __future__ import annotations

import math
import struct
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import shapely

from loaders.sources.read import Batch
from loaders.sources.wkb import CURVE_FLAG, faces_wkb

STEP = math.radians(4)  # GDAL's default arc step (OGR_ARC_STEPSIZE)
X0, Y0 = 39460300, 3914800  # inside the Jining profile's area, EPSG:4527


def _inscribed(true: float, *, area: bool) -> float:
    """The least a straightened arc's area (or length) can be: that of the inscribed polygon
    whose chords span at most 4° (a chord of angle θ keeps sin(θ/2)/(θ/2) of its arc, its
    sector's triangle sin θ/θ of the sector's area)."""
    kept = math.sin(STEP) / STEP if area else math.sin(STEP / 2) / (STEP / 2)
    return true * kept


def _within(got: float, true: float, *, area: bool) -> bool:
    return _inscribed(true, area=area) * (1 - 1e-9) <= got <= true * (1 + 1e-9)


def _gpkg(tmp_path: Path, name: str, header: str, rows: list[tuple[str, str]]) -> Path:
    """A GeoPackage written by ogr2ogr from WKT (layer type GEOMETRY: curved and plain rows
    side by side, as GDAL keeps them), EPSG:4527."""
    csv = tmp_path / f"{name}.csv"
    csv.write_text(header + "\n" + "\n".join(f'"{w}",{rest}' for w, rest in rows) + "\n",
                   encoding="utf-8")
    out = tmp_path / f"{name}.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), str(csv), "-oo",
                    "GEOM_POSSIBLE_NAMES=WKT", "-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs",
                    "EPSG:4527", "-nln", name, "-nlt", "GEOMETRY"], check=True,
                   capture_output=True)
    return out


def _half_disc(x: float, y: float, r: float, z: str = "") -> str:
    """A half disc over the diameter (x, y)–(x + 2r, y), its arc above (area π r² / 2)."""
    zz = " 5" if z else ""
    pts = [(x, y), (x + r, y + r), (x + 2 * r, y)]
    arc = ", ".join(f"{a} {b}{zz}" for a, b in pts)
    return (f"CURVEPOLYGON {z}(COMPOUNDCURVE {z}(CIRCULARSTRING {z}({arc}), "
            f"({x + 2 * r} {y}{zz}, {x} {y}{zz})))").replace("  ", " ")


def _square(x: float, y: float, a: float) -> str:
    return (f"(({x} {y}, {x + a} {y}, {x + a} {y + a}, {x} {y + a}, {x} {y}))")


def _stored(db, table: str, measure: str) -> dict[str, tuple[float, list[str]]]:
    rows = db.rows(f"SELECT source_key, {measure}(geom), flags FROM {table} "
                   "WHERE valid_to IS NULL")
    return {k.rsplit(":", 1)[-1]: (m, list(f or [])) for k, m, f in rows}


# -- buildings: CurvePolygon (2D and Z) and MultiSurface beside a plain polygon -------------

R1, R2, R3 = 50.0, 30.0, 20.0
BUILDINGS = [
    ("POLYGON " + _square(X0, Y0, 100), "B1"),
    (_half_disc(X0 + 200, Y0, R1), "B2"),
    (f"MULTISURFACE (CURVEPOLYGON (CIRCULARSTRING ({X0 + 400} {Y0}, {X0 + 400 + 2 * R2} {Y0}, "
     f"{X0 + 400} {Y0})), {_square(X0 + 500, Y0, 40)})", "B3"),
    (_half_disc(X0 + 600, Y0, R3, z="Z "), "B4"),
]
BUILDING_AREAS = {"B1": (100 * 100, False), "B2": (math.pi * R1 ** 2 / 2, True),
                  "B3": (math.pi * R2 ** 2 + 40 * 40, True),
                  "B4": (math.pi * R3 ** 2 / 2, True)}


def _check_areas(got: dict[str, tuple[float, list[str]]],
                 expected: dict[str, tuple[float, bool]]) -> None:
    assert set(got) == set(expected)
    for key, (true, curved) in expected.items():
        area, flags = got[key]
        if curved:
            # the plain square of B3 is exact: only the disc's area is approximated
            exact = 40 * 40 if key == "B3" else 0.0
            assert _within(area - exact, true - exact, area=True), (key, area, true)
            assert CURVE_FLAG in flags, key
        else:
            assert area == pytest.approx(true, rel=1e-12), key
            assert CURVE_FLAG not in flags, key


def test_buildings_with_curve_polygons_and_a_multisurface(fresh_db, tmp_path):
    from loaders.buildings import load_buildings

    src = _gpkg(tmp_path, "b", "WKT,编号", BUILDINGS)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, src)
    assert (r.read, r.loaded, r.rejected) == (4, 4, 0), r.text()
    assert r.flagged_by_reason.get(CURVE_FLAG) == 3, r.flagged_by_reason
    _check_areas(_stored(fresh_db, "buildings", "ST_Area"), BUILDING_AREAS)
    assert fresh_db.scalar("SELECT bool_and(ST_IsValid(geom) AND NOT ST_HasArc(geom)) "
                           "FROM buildings")
    again = load_buildings(fresh_db.conninfo, fresh_db.profile, src)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 4, 0)


# -- a staged layer: green spaces ------------------------------------------------------------

def test_green_spaces_with_curve_polygons(fresh_db, tmp_path):
    from loaders.city_base import load_base

    rows = [(w, f"{k},游园") for w, k in BUILDINGS[:3]]
    src = _gpkg(tmp_path, "g", "WKT,绿地编号,绿地类型", rows)
    r = load_base(fresh_db.conninfo, fresh_db.profile, "green", src)
    assert (r.read, r.loaded, r.rejected) == (3, 3, 0), r.text()
    assert r.flagged_by_reason.get(CURVE_FLAG) == 2, r.flagged_by_reason
    _check_areas(_stored(fresh_db, "green_spaces", "ST_Area"),
                 {k: BUILDING_AREAS[k] for k in ("B1", "B2", "B3")})
    again = load_base(fresh_db.conninfo, fresh_db.profile, "green", src)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)


# -- a GIS pipe network (--lines): CircularString, CompoundCurve -----------------------------

PY = 3917200
PIPES = [
    (f"LINESTRING ({X0} {PY}, {X0} {PY + 50})", "P1,N1,N2"),
    # a half circle of radius 25 from N2 to N3 (length 25π)
    (f"CIRCULARSTRING ({X0} {PY + 50}, {X0 + 25} {PY + 75}, {X0} {PY + 100})", "P2,N2,N3"),
    # 30 m straight, then a quarter circle of radius 20 (length 30 + 10π)
    (f"COMPOUNDCURVE (({X0} {PY + 100}, {X0} {PY + 130}), CIRCULARSTRING ({X0} {PY + 130}, "
     f"{X0 + 20 - 20 * math.cos(math.pi / 4)} {PY + 130 + 20 * math.sin(math.pi / 4)}, "
     f"{X0 + 20} {PY + 150}))", "P3,N3,N4"),
]
PIPE_LENGTHS = {"P1": (50.0, 0.0), "P2": (0.0, 25 * math.pi), "P3": (30.0, 10 * math.pi)}


def test_gis_pipes_with_circular_strings_and_compound_curves(fresh_db, tmp_path):
    from loaders.pipes.load import load_pipes_files

    src = _gpkg(tmp_path, "pipes", "WKT,管段编号,起点号,终点号", PIPES)

    def load():
        r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{src}:pipes",
                                class_opt="给水")
        return r

    r = load()
    segs = fresh_db.rows("SELECT attrs, ST_Length(geom), ST_HasArc(geom), flags "
                         "FROM pipe_segments WHERE valid_to IS NULL")
    assert r.rejected == 0 and len(segs) == 3, r.text()
    by_row = {int(a["_row"]): (length, arc) for a, length, arc, _ in segs}
    assert {int(a["_row"]): "curve_linearized" in f for a, *_, f in segs} == {
        1: False, 2: True, 3: True}
    for row, key in enumerate(PIPE_LENGTHS, start=1):
        straight, arc = PIPE_LENGTHS[key]
        length, has_arc = by_row[row]
        assert not has_arc
        if arc:
            assert _within(length - straight, arc, area=False), (key, length)
        else:
            assert length == pytest.approx(straight, rel=1e-12)
    again = load()
    assert (again.updated, again.rejected) == (0, 0), again.text()
    assert again.unchanged == r.loaded


# -- the WKB itself: every curve type, Z/M, byte orders, collections -------------------------

def _wkb(order: str, code: int, body: bytes) -> bytes:
    return struct.pack(order + "BI", 1 if order == "<" else 0, code) + body


def _points(order: str, pts: list[tuple[float, ...]]) -> bytes:
    return struct.pack(order + "I", len(pts)) + b"".join(
        struct.pack(order + "d" * len(p), *p) for p in pts)


ARC = [(0.0, 0.0), (10.0, 10.0), (20.0, 0.0)]  # a half circle of radius 10: length 10π


def _arc(order: str, dims: int) -> bytes:
    """A CircularString of ``ARC`` (2: XY, 3: XYZ, 4: XYZM; -3: XYM)."""
    extra = {2: (), 3: (7.0,), 4: (7.0, 9.0), -3: (9.0,)}[dims]
    code = {2: 8, 3: 1008, 4: 3008, -3: 2008}[dims]
    return _wkb(order, code, _points(order, [p + extra for p in ARC]))


def test_every_curve_is_straightened_and_nothing_else():
    plain = shapely.to_wkb(shapely.LineString(ARC), flavor="iso")
    coll = shapely.to_wkb(shapely.GeometryCollection([shapely.Point(1, 2)]), flavor="iso")
    cases = [
        (plain, None),
        (_arc("<", 2), "LineString"),
        (_arc(">", 2), "LineString"),
        (_arc("<", 3), "LineString Z"),
        # GDAL's straightening keeps Z and drops M (as ogr2ogr -nlt CONVERT_TO_LINEAR)
        (_arc("<", -3), "LineString"),
        (_arc(">", 4), "LineString Z"),
        # a CompoundCurve of the arc; a MultiCurve of it
        (_wkb("<", 9, struct.pack("<I", 1) + _arc("<", 2)), "LineString"),
        (_wkb("<", 11, struct.pack("<I", 1) + _arc("<", 2)), "MultiLineString"),
        # a collection holding a curve, one holding none (left as it is)
        (_wkb("<", 7, struct.pack("<I", 1) + _arc("<", 2)), "GeometryCollection"),
        (coll, None),
        (None, None),
        # a CircularString claiming more points than it holds: missing, not an error
        (_wkb("<", 8, struct.pack("<I", 1000) + struct.pack("<dd", 0, 0)), "missing"),
    ]
    wkbs = np.array([w for w, _ in cases], dtype=object)
    for arrow in (None, pa.array(wkbs, pa.binary()), pa.array(wkbs, pa.large_binary())):
        out, rows = faces_wkb(wkbs, arrow, return_straightened=True)
        assert rows.tolist() == [i for i, (_, t) in enumerate(cases) if t not in (None,
                                                                                   "missing")]
        for i, (w, want) in enumerate(cases):
            if want is None:
                assert out[i] is w, i
            elif want == "missing":
                assert out[i] is None, i
            else:
                g = shapely.from_wkb(out[i])
                kind = g.geom_type + (" Z" if g.has_z else "") + (" M" if g.has_m else "")
                assert kind.replace("Z M", "ZM") == want, (i, kind)
                assert _within(g.length, 10 * math.pi, area=False), (i, g.length)
                assert np.allclose(shapely.get_coordinates(g)[[0, -1]], [ARC[0], ARC[-1]])
    batch = Batch(first_row=1, columns={}, wkb=wkbs, wkb_arrow=pa.array(wkbs, pa.binary()))
    assert batch.straightened.tolist() == rows.tolist()
    part = batch.take(np.array([1, 0, 7]))
    assert part.straightened.tolist() == [0, 2]


def test_a_batch_without_curves_is_given_back_as_it_is():
    poly = shapely.to_wkb(shapely.box(0, 0, 1, 1), flavor="iso")
    wkbs = np.array([poly, None, poly], dtype=object)
    out, rows = faces_wkb(wkbs, pa.array(wkbs, pa.binary()), return_straightened=True)
    assert out is wkbs and rows.size == 0
    assert Batch(first_row=1, columns={}, wkb=wkbs).straightened.size == 0


def test_prepare_flags_the_straightened_rows_whatever_subset_it_is_given():
    from loaders.geometry import prepare

    sq = shapely.to_wkb(shapely.box(X0, Y0, X0 + 10, Y0 + 10), flavor="iso")
    disc = _wkb("<", 10, struct.pack("<I", 1) + _wkb("<", 8, _points(
        "<", [(X0, Y0), (X0 + 20, Y0), (X0, Y0)])))
    wkbs = np.array([sq, disc, sq], dtype=object)
    batch = Batch(first_row=1, columns={}, wkb=wkbs)
    p = prepare(batch.geometries, None, "polygon")
    assert p.flags == [[], [CURVE_FLAG], []]
    assert not p.reject.marked.any()
    assert _within(p.geoms[1].area, math.pi * 100, area=True)
    sub = batch.geometries[[1, 2]].copy()
    assert prepare(sub, None, "polygon").flags == [[CURVE_FLAG], []]

"""PolyhedralSurface/TIN WKB (CityGML solids read through ogr2ogr) renamed to the MultiPolygon
of their faces (loaders.sources.wkb.faces_wkb), the surfaces being found among a batch's
WKB with NumPy. The inputs are written by hand (GEOS cannot write these types); what they
must become is what shapely makes of the faces as polygons."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import shapely

from loaders.sources.read import Batch, faces_wkb

# ISO type codes: + 1000 Z, + 2000 M, + 3000 ZM
POLYGON, POLYHEDRALSURFACE, TIN, TRIANGLE = 3, 15, 16, 17


def _geom(order: str, code: int, body: bytes) -> bytes:
    return struct.pack(order + "BI", 1 if order == "<" else 0, code) + body


def _polygon(order: str, code: int, rings: list[list[tuple[float, ...]]]) -> bytes:
    body = struct.pack(order + "I", len(rings))
    for ring in rings:
        body += struct.pack(order + "I", len(ring))
        body += b"".join(struct.pack(order + "d" * len(p), *p) for p in ring)
    return _geom(order, code, body)


def _surface(order: str, code: int, faces: list[bytes]) -> bytes:
    return _geom(order, code, struct.pack(order + "I", len(faces)) + b"".join(faces))


SQUARE = [(0, 0, 10), (4, 0, 10), (4, 4, 10), (0, 4, 10), (0, 0, 10)]
HOLE = [(1, 1, 10), (2, 1, 10), (2, 2, 10), (1, 1, 10)]
WALL = [(0, 0, 0), (4, 0, 0), (4, 0, 10), (0, 0, 10), (0, 0, 0)]
TRI_A = [(0, 0, 1), (1, 0, 2), (1, 1, 3), (0, 0, 1)]
TRI_B = [(0, 0, 1), (1, 1, 3), (0, 1, 2), (0, 0, 1)]


def _2d(ring):
    return [p[:2] for p in ring]


def _zm(ring):
    return [(*p, 7.5) for p in ring]


def _zm_multipolygon(faces: list[list[tuple[float, ...]]]) -> shapely.Geometry:
    """shapely builds no ZM polygon from coordinates: the faces in WKT."""
    text = ", ".join("((" + ", ".join(" ".join(map(str, p)) for p in _zm(f)) + "))"
                     for f in faces)
    return shapely.from_wkt(f"MULTIPOLYGON ZM ({text})")


def _cases() -> list[tuple[bytes | None, shapely.Geometry | None]]:
    """(WKB, the MultiPolygon it must read as; None: left as it is)."""
    return [
        # a plain polygon, little- and big-endian: left as it is
        (shapely.to_wkb(shapely.Polygon(SQUARE), byte_order=1, flavor="iso"), None),
        # a PolyhedralSurface Z (a solid's faces), little-endian
        (_surface("<", 1000 + POLYHEDRALSURFACE,
                  [_polygon("<", 1000 + POLYGON, [SQUARE, HOLE]),
                   _polygon("<", 1000 + POLYGON, [WALL])]),
         shapely.MultiPolygon([shapely.Polygon(SQUARE, [HOLE]), shapely.Polygon(WALL)])),
        (None, None),
        # too short to hold a type code and a count (though its code is a surface's)
        (b"\x01\x0f\x00\x00\x00", None),
        (b"\x01\x0f\x00\x00\x00\x00\x00\x00", None),
        # a 2D TIN whose faces are written as polygons, little-endian
        (_surface("<", TIN, [_polygon("<", POLYGON, [_2d(TRI_A)]),
                             _polygon("<", POLYGON, [_2d(TRI_B)])]),
         shapely.MultiPolygon([shapely.Polygon(_2d(TRI_A)), shapely.Polygon(_2d(TRI_B))])),
        # the same PolyhedralSurface Z, big-endian
        (_surface(">", 1000 + POLYHEDRALSURFACE,
                  [_polygon(">", 1000 + POLYGON, [SQUARE, HOLE]),
                   _polygon(">", 1000 + POLYGON, [WALL])]),
         shapely.MultiPolygon([shapely.Polygon(SQUARE, [HOLE]), shapely.Polygon(WALL)])),
        (shapely.to_wkb(shapely.Polygon(SQUARE), byte_order=0, flavor="iso"), None),
        # a TIN Z of Triangles, big-endian
        (_surface(">", 1000 + TIN, [_polygon(">", 1000 + TRIANGLE, [TRI_A]),
                                    _polygon(">", 1000 + TRIANGLE, [TRI_B])]),
         shapely.MultiPolygon([shapely.Polygon(TRI_A), shapely.Polygon(TRI_B)])),
        # a TIN ZM of Triangles, little-endian
        (_surface("<", 3000 + TIN, [_polygon("<", 3000 + TRIANGLE, [_zm(TRI_A)])]),
         _zm_multipolygon([TRI_A])),
        # a big-endian surface whose faces are little-endian
        (_surface(">", 1000 + POLYHEDRALSURFACE, [_polygon("<", 1000 + POLYGON, [WALL])]),
         shapely.MultiPolygon([shapely.Polygon(WALL)])),
    ]


def _check(wkbs: np.ndarray, out: np.ndarray, expected: list) -> None:
    assert out is not wkbs and out.dtype == object and len(out) == len(wkbs)
    for i, (w, want) in enumerate(zip(wkbs, expected, strict=True)):
        if want is None:  # the very same value
            assert out[i] is w, i
            continue
        assert isinstance(out[i], bytes) and len(out[i]) == len(w), i
        got = shapely.from_wkb(out[i])
        assert got.geom_type == "MultiPolygon", i
        assert got.equals(want), i
        assert shapely.has_z(got) == shapely.has_z(want), i
        assert shapely.has_m(got) == shapely.has_m(want), i
        np.testing.assert_array_equal(
            shapely.get_coordinates(got, include_z=True, include_m=True),
            shapely.get_coordinates(want, include_z=True, include_m=True))
        if out[i][0] == out[i][9]:  # one byte order throughout: shapely writes the same bytes
            dims = 4 if shapely.has_m(want) else 3 if shapely.has_z(want) else 2
            assert out[i] == shapely.to_wkb(want, byte_order=out[i][0], flavor="iso",
                                            output_dimension=dims), i
    assert [w for w in wkbs] == [c[0] for c in _cases()]  # the input is left alone


def test_surfaces_among_a_mixed_batch_are_renamed_and_nothing_else():
    cases = _cases()
    wkbs = np.array([w for w, _ in cases], dtype=object)
    _check(wkbs, faces_wkb(wkbs), [e for _, e in cases])


def test_the_arrow_buffers_find_the_same_surfaces():
    cases = _cases()
    wkbs = np.array([w for w, _ in cases], dtype=object)
    expected = [e for _, e in cases]
    _check(wkbs, faces_wkb(wkbs, pa.array(wkbs, type=pa.binary())), expected)
    _check(wkbs, faces_wkb(wkbs, pa.array(wkbs, type=pa.large_binary())), expected)
    # an Arrow slice (offset into its buffers) and a batch taken from a batch
    whole = pa.array([b"\x00" * 20, None] + list(wkbs), type=pa.binary())
    _check(wkbs, faces_wkb(wkbs, whole.slice(2)), expected)
    batch = Batch(first_row=1, columns={}, wkb=wkbs, wkb_arrow=pa.array(wkbs, pa.binary()))
    got = batch.geometries
    for g, want in zip(got, expected, strict=True):
        assert want is None or g.equals(want)
    part = batch.take(np.array([6, 7, 2]))
    assert [g is None for g in part.geometries] == [False, False, True]
    assert part.geometries[0].equals(expected[6])


def test_a_batch_without_surfaces_is_given_back_as_it_is():
    poly = shapely.to_wkb(shapely.Polygon(SQUARE), flavor="iso")
    for wkbs in (np.array([poly, None, b"\x01\x0f", poly], dtype=object),
                 np.array([None, None], dtype=object), np.array([], dtype=object)):
        assert faces_wkb(wkbs) is wkbs
        assert faces_wkb(wkbs, pa.array(wkbs, type=pa.binary())) is wkbs


def test_a_surface_whose_counts_run_past_its_end_is_left_for_geos_to_refuse():
    """A TIN claiming 2³¹ rings in 18 bytes was walked ring by ring (a hang); one claiming a
    few more faces than it holds raised IndexError. Both are left as read, and GEOS refuses
    them (the row is then rejected)."""
    import subprocess
    import sys

    huge = bytes([1, 15, 0, 0, 0, 1, 0, 0, 0, 1, 17, 0, 0, 0]) + b"\xff\xff\xff\x7f"
    short = bytes([1, 16, 0, 0, 0, 3, 0, 0, 0, 1, 17, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0])
    code = ("import numpy as np, shapely\n"
            "from loaders.sources.wkb import faces_wkb\n"
            f"w = np.array([{huge!r}, {short!r}], dtype=object)\n"
            "out = faces_wkb(w)\n"
            "assert [bytes(x) for x in out] == list(w), out\n"
            "assert shapely.from_wkb(out, on_invalid='ignore').tolist() == [None, None]\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

"""What a batch's WKB holds, read from its bytes with NumPy (the Arrow column's offsets and
data): the surfaces GEOS cannot hold, renamed to MultiPolygons of their faces as read; the
curves GEOS cannot hold either, straightened by GDAL; and the footprints whose WKB as read
is what GEOS would write of them, so that a converter does not write it again. A Python pass
over every row costs as much as the rest of a batch."""

from __future__ import annotations

import ctypes
import operator
from typing import Any

import numpy as np
import pyarrow
import pyarrow.compute
import shapely

from loaders.sources.marks import STRAIGHTENED

# ISO WKB type codes of surfaces GEOS cannot hold, and what their bytes are once renamed:
# a PolyhedralSurface/TIN is laid out exactly like a MultiPolygon of its faces (triangles are
# polygons), so renaming the type codes is a lossless conversion.
_SURFACE_TO_MULTIPOLYGON = {15: 6, 16: 6, 1015: 1006, 1016: 1006, 2015: 2006, 2016: 2006,
                            3015: 3006, 3016: 3006}
_TRIANGLE_TO_POLYGON = {17: 3, 1017: 1003, 2017: 2003, 3017: 3003}


_SURFACE_CODES = np.array(sorted(_SURFACE_TO_MULTIPOLYGON), dtype=np.uint16)
# ISO WKB type codes of curved geometries (CircularString, CompoundCurve, CurvePolygon,
# MultiCurve, MultiSurface, and the abstract Curve and Surface; Z, M, ZM), which GDAL reads
# (GML arcs, GeoPackage/PostGIS curves, Esri curves) and GEOS cannot hold; and of the
# collections, which may hold them. GDAL straightens them as ``ogr2ogr -nlt
# CONVERT_TO_LINEAR`` does (OGR_G_GetLinearGeometry, its default arc step: 4°, or the
# OGR_ARC_STEPSIZE option; Z kept, M dropped)
_CURVE_CODES = np.array(sorted(k + c for k in (0, 1000, 2000, 3000) for c in range(8, 15)),
                        dtype=np.uint16)
_COLLECTIONS = {7, 1007, 2007, 3007}
_SPECIAL_CODES = np.union1d(np.union1d(_SURFACE_CODES, _CURVE_CODES),
                            np.array(sorted(_COLLECTIONS), dtype=np.uint16))
# the flag of a row whose curves GDAL straightened
CURVE_FLAG = "curve_linearized"


def binary_column(wkbs: np.ndarray, arrow: pyarrow.Array | None = None
                  ) -> pyarrow.Array | pyarrow.ChunkedArray:
    """``wkbs`` as an Arrow binary column: ``arrow`` itself when it is the column they were
    converted from (no copy), else built from them (one C++ pass; chunked past 2 GiB)."""
    if isinstance(arrow, pyarrow.ExtensionArray):
        arrow = arrow.storage
    if (arrow is None or len(arrow) != len(wkbs)
            or not (pyarrow.types.is_binary(arrow.type)
                    or pyarrow.types.is_large_binary(arrow.type))):
        arrow = pyarrow.array(wkbs, type=pyarrow.binary(), from_pandas=False)
    return arrow


def buffers(arr: pyarrow.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of one binary array: its ``len + 1`` value offsets (int64, a slice's
    own) into its data bytes (uint8). A null has length 0."""
    n = len(arr)
    _validity, offsets_buf, data_buf = arr.buffers()[:3]
    large = pyarrow.types.is_large_binary(arr.type)
    if n == 0 or offsets_buf is None:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if large else np.int32,
                            count=arr.offset + n + 1)[arr.offset:].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else \
        np.zeros(0, dtype=np.uint8)
    return offsets, data


def faces_wkb(wkbs: np.ndarray, arrow: pyarrow.Array | None = None, *,
              return_straightened: bool = False) -> Any:
    """WKB GEOS can read: ``wkbs`` with PolyhedralSurface/TIN geometries rewritten as
    MultiPolygons of their faces and curved geometries (a collection holding one among them)
    straightened by GDAL — ``wkbs`` itself when there is none, else a copy with those rows
    rewritten; with ``return_straightened``, (that, the positions of the rows straightened
    as an int64 array).

    Both are found among the type codes with NumPy, read from the buffers of ``arrow`` (the
    Arrow binary column ``wkbs`` was converted from) when given; only they are visited in
    Python. None and WKB shorter than 9 bytes are left as they are."""
    arrow = binary_column(wkbs, arrow)
    chunks = arrow.chunks if isinstance(arrow, pyarrow.ChunkedArray) else [arrow]
    rows, codes, start = [], [], 0
    for chunk in chunks:
        at, code = _special_rows(chunk)
        rows.extend((at + start).tolist())
        codes.extend(code.tolist())
        start += len(chunk)
    straightened: list[int] = []
    out = wkbs
    for i, code in zip(rows, codes):
        if code in _SURFACE_TO_MULTIPOLYGON:
            new = _rename_surface(bytes(wkbs[i]))
        else:
            new = _straightened(bytes(wkbs[i]), code in _COLLECTIONS)
            if new is None:  # a collection without a curve
                continue
            if new:
                straightened.append(i)
            else:  # GDAL cannot parse it: missing
                new = None
        if out is wkbs:
            out = wkbs.copy()
        out[i] = new
    return (out, np.array(straightened, dtype=np.int64)) if return_straightened else out


def _special_rows(arr: pyarrow.Array) -> tuple[np.ndarray, np.ndarray]:
    """(positions, type codes) in a binary array of the WKB of at least 9 bytes whose type
    code (bytes 1..4, in the byte order byte 0 gives: 1 little-endian, anything else big) is
    a surface's, a curve's or a collection's, from its offsets and data buffers."""
    offsets, data = buffers(arr)
    long_enough = np.diff(offsets) >= 9
    if arr.null_count:
        long_enough &= ~arr.is_null().to_numpy(zero_copy_only=False)
    cand = np.flatnonzero(long_enough)
    start = offsets[cand]
    b0, b1, b2, b3, b4 = (data[start + k] for k in range(5))
    # every such code is below 2**16: its two high bytes are zero, its low two tell
    little = b0 == 1
    low = np.where(little, b1, b4).astype(np.uint16)
    high = np.where(little, b2, b3).astype(np.uint16)
    zero = np.where(little, b3 | b4, b1 | b2) == 0
    code = low | high << 8
    hit = np.flatnonzero(zero & np.isin(code, _SPECIAL_CODES))
    return cand[hit], code[hit]


def _rename_surface(w: bytes) -> bytes:
    """The surface's WKB with its type codes renamed; ``w`` itself when its counts run past
    its end (GEOS then refuses it, and the row is rejected, instead of a count of 2³¹ rings
    being walked)."""
    buf = bytearray(w)
    order = "little" if buf[0] == 1 else "big"
    code = int.from_bytes(buf[1:5], order)
    buf[1:5] = _SURFACE_TO_MULTIPOLYGON[code].to_bytes(4, order)
    n = int.from_bytes(buf[5:9], order)
    pos = 9
    dims = 3 if code // 1000 in (1, 2) else 4 if code // 1000 == 3 else 2
    for _ in range(n):  # each face: byte order, type, rings, points
        if pos + 9 > len(buf):
            return w
        o = "little" if buf[pos] == 1 else "big"
        t = int.from_bytes(buf[pos + 1:pos + 5], o)
        if t in _TRIANGLE_TO_POLYGON:
            buf[pos + 1:pos + 5] = _TRIANGLE_TO_POLYGON[t].to_bytes(4, o)
        rings = int.from_bytes(buf[pos + 5:pos + 9], o)
        pos += 9
        for _ in range(rings):
            if pos + 4 > len(buf):
                return w
            pts = int.from_bytes(buf[pos:pos + 4], o)
            pos += 4 + pts * dims * 8
    return bytes(buf) if pos <= len(buf) else w


class _Gdal:
    """The few OGR C functions that straighten a geometry, called through ctypes in the GDAL
    library pyogrio reads with (the one already loaded into the process): GDAL's own
    approximation, with nothing else to install. Loaded when a curve is first met."""

    lib: ctypes.CDLL | None = None

    @classmethod
    def get(cls) -> ctypes.CDLL:
        if cls.lib is None:
            lib = ctypes.CDLL(_gdal_library())
            vp, sz = ctypes.c_void_p, ctypes.c_size_t
            for name, res, args in (
                    ("OGR_G_CreateFromWkbEx", ctypes.c_int,
                     [ctypes.c_char_p, vp, ctypes.POINTER(vp), sz]),
                    ("OGR_G_HasCurveGeometry", ctypes.c_int, [vp, ctypes.c_int]),
                    ("OGR_G_GetLinearGeometry", vp, [vp, ctypes.c_double, vp]),
                    ("OGR_G_WkbSizeEx", sz, [vp]),
                    ("OGR_G_ExportToIsoWkb", ctypes.c_int, [vp, ctypes.c_int, ctypes.c_char_p]),
                    ("OGR_G_ExportToIsoWkt", ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_char_p)]),
                    ("VSIFree", None, [vp]),
                    ("OGR_G_DestroyGeometry", None, [vp])):
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = res, args
            cls.lib = lib
        return cls.lib


def _gdal_library() -> str:
    """The path of the GDAL library pyogrio uses: as mapped into the process (Linux), else
    beside pyogrio (its wheels' bundled copy), else the system's."""
    import ctypes.util
    import glob
    import os

    import pyogrio  # loads its GDAL

    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and os.path.basename(parts[5]).startswith("libgdal"):
                    return parts[5].strip()
    except OSError:
        pass
    here = os.path.dirname(pyogrio.__file__)
    for pattern in ("../pyogrio.libs/*gdal*", ".dylibs/libgdal*", "../pyogrio.libs/libgdal*"):
        found = sorted(glob.glob(os.path.join(here, pattern)))
        if found:
            return found[0]
    name = ctypes.util.find_library("gdal")
    if name is None:
        raise RuntimeError("the GDAL library pyogrio uses cannot be found (to straighten "
                           "curved geometries)")
    return name


def _straightened(w: bytes, collection: bool) -> bytes | None:
    """The little-endian ISO WKB GDAL makes of the curved geometry ``w`` straightened
    (``OGR_G_GetLinearGeometry``, as ``ogr2ogr -nlt CONVERT_TO_LINEAR``); for a
    ``collection``, None where it holds no curve (left as it is); b"" where GDAL cannot parse
    ``w`` (counts past its end: the row then reads as missing, and is rejected so)."""
    gdal = _Gdal.get()
    h = ctypes.c_void_p()
    if gdal.OGR_G_CreateFromWkbEx(w, None, ctypes.byref(h), len(w)) != 0 or not h.value:
        return None if collection else b""
    try:
        if collection and not gdal.OGR_G_HasCurveGeometry(h, 0):
            return None
        lin = gdal.OGR_G_GetLinearGeometry(h, 0.0, None)
        if not lin:
            return b""
        try:
            buf = ctypes.create_string_buffer(gdal.OGR_G_WkbSizeEx(lin))
            if gdal.OGR_G_ExportToIsoWkb(lin, 1, buf) != 0:
                return b""
            return buf.raw
        finally:
            gdal.OGR_G_DestroyGeometry(lin)
    finally:
        gdal.OGR_G_DestroyGeometry(h)


def gdal_wkt(w: bytes) -> str | None:
    """The ISO WKT GDAL writes of the WKB ``w`` — for a geometry GDAL read that GEOS refuses
    (a line of one point: "point array must contain 0 or >1 elements"), which a reject keeps
    as delivered; None when GDAL cannot parse it either."""
    gdal = _Gdal.get()
    h = ctypes.c_void_p()
    if gdal.OGR_G_CreateFromWkbEx(w, None, ctypes.byref(h), len(w)) != 0 or not h.value:
        return None
    try:
        out = ctypes.c_char_p()
        if gdal.OGR_G_ExportToIsoWkt(h, ctypes.byref(out)) != 0 or out.value is None:
            return None
        try:
            return out.value.decode("ascii", errors="replace")
        finally:
            gdal.VSIFree(ctypes.cast(out, ctypes.c_void_p))
    finally:
        gdal.OGR_G_DestroyGeometry(h)


def remember_straightened(geoms: np.ndarray, rows: np.ndarray) -> None:
    """Note ``geoms[rows]`` as straightened curves, so that :func:`loaders.geometry.prepare`
    flags them whichever loader reads them and whatever subset of a batch it takes."""
    STRAIGHTENED.remember(geoms, rows)


def straightened_rows(geoms: np.ndarray) -> np.ndarray:
    """Positions in ``geoms`` of the geometries read from curves GDAL straightened (the same
    objects, as :attr:`loaders.sources.read.Batch.geometries` gave them)."""
    return STRAIGHTENED.rows(geoms)


def as_read_wkb(wkbs: np.ndarray | None, read: np.ndarray, geoms: np.ndarray,
                arrow: pyarrow.Array | None = None) -> np.ndarray:
    """Per row, the WKB as read (``wkbs``, parsed into ``read``; ``arrow`` the Arrow column
    they came from, if known) where it is byte for byte what GEOS writes of the row's
    geometry ``geoms[i]`` (``shapely.to_wkb``, little-endian, ISO, Z kept): the row still
    holds the geometry parsed from it (the same object: not transformed, flattened or
    repaired), and it is a little-endian 2D Polygon, or MultiPolygon of one little-endian
    part, of exactly its rings' length (no trailing bytes; a multi of several parts is
    written again: each part may have its own byte order). None elsewhere. Writing a
    million footprints' WKB again cost ~0.85 s of CPU."""
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    if wkbs is None or not n:
        return out
    ok = np.fromiter(map(operator.is_, geoms, read), dtype=bool, count=n)
    ok &= ~shapely.is_missing(geoms)
    if not ok.any():
        return out
    col = binary_column(wkbs, arrow)
    if isinstance(col, pyarrow.ChunkedArray):  # past 2 GiB: a batch never is
        return out
    offsets, data = buffers(col)
    size = np.diff(offsets)
    ok &= size >= 18
    cand = np.flatnonzero(ok)
    # byte order, type, then a polygon's rings, or a multi's parts, its first part's order,
    # type and rings (all little-endian where used)
    head = data[offsets[cand][:, None] + np.arange(18)]

    def u4(at: int) -> np.ndarray:
        return head[:, at:at + 4].copy().view("<u4")[:, 0].astype(np.int64)

    one = (head[:, 0] == 1) & (u4(1) == 3)
    multi = (head[:, 0] == 1) & (u4(1) == 6) & (u4(5) == 1) & (head[:, 9] == 1) & \
        (u4(10) == 3)
    rings = np.where(multi, u4(14), u4(5))
    keep = one | multi
    cand, multi, rings = cand[keep], multi[keep], rings[keep]
    # GEOS read it: its coordinates fill exactly the rings the header gives, no byte after
    fits = size[cand] == 9 + 9 * multi + 4 * rings + 16 * shapely.get_num_coordinates(
        geoms[cand])
    cand = cand[fits]
    out[cand] = np.asarray(wkbs, dtype=object)[cand]
    return out


def ewkb_from_iso(iso: np.ndarray | pyarrow.Array, srid: int) -> pyarrow.Array | None:
    """EWKB (SRID set) of 2D little-endian ISO WKB (bytes, or an Arrow binary array), by
    rewriting the 5-byte header, as an Arrow binary array (what the COPY buffer is built from:
    no Python bytes a row); None if a geometry is not 2D little-endian (the caller then asks
    shapely)."""
    arr = iso if isinstance(iso, pyarrow.Array) else pyarrow.array(iso, pyarrow.binary())
    n = len(arr)
    if n == 0:
        return pyarrow.array([], pyarrow.binary())
    if arr.null_count:
        return None
    head = pyarrow.compute.binary_slice(arr, 0, 5)
    raw = np.frombuffer(head.buffers()[2], dtype=np.uint8)
    if len(raw) != 5 * n:
        return None
    raw = raw.reshape(n, 5)
    types = raw[:, 1:5].copy().view("<u4").ravel()
    if (raw[:, 0] != 1).any() or (types >= 1000).any():
        return None
    hdr = np.empty((n, 9), dtype=np.uint8)
    hdr[:, 0] = 1
    hdr[:, 1:5] = (types | 0x20000000).astype("<u4").view(np.uint8).reshape(n, 4)
    hdr[:, 5:9] = np.frombuffer(np.uint32(srid).astype("<u4").tobytes(), dtype=np.uint8)
    heads = pyarrow.FixedSizeBinaryArray.from_buffers(pyarrow.binary(9), n, [None, pyarrow.py_buffer(
        hdr.tobytes())]).cast(pyarrow.binary())
    return pyarrow.compute.binary_join_element_wise(heads, pyarrow.compute.binary_slice(arr, 5, 2**31 - 1), b"")

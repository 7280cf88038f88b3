"""The stored multi geometry's WKB written around a single part's (loaders.geometry), and the
batch check of attribute values done in Arrow (loaders.common.check_attrs_batch): both must
give exactly what the plain way gives — shapely building the MultiPolygon, the row-by-row
check — or a reload would see every feature as changed."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely
import shapely.affinity

from loaders.common import check_attrs, check_attrs_batch
from loaders.geometry import as_multi, multi_iso_wkb, prepare
from loaders.sources.wkb import as_read_wkb


def _shapely_multi_wkb(geoms: np.ndarray, family: str) -> list[bytes | None]:
    """The reference: shapely's own one-part multis, written by shapely."""
    out: list[bytes | None] = []
    for g in geoms:
        if g is None:
            out.append(None)
            continue
        if family == "polygon" and g.geom_type == "Polygon":
            g = shapely.MultiPolygon([g])
        if family == "line" and g.geom_type == "LineString":
            g = shapely.MultiLineString([g])
        out.append(shapely.to_wkb(g, byte_order=1, flavor="iso", output_dimension=3))
    return out


def test_polygons_are_written_as_their_one_part_multipolygons():
    box = shapely.box(500_000, 3_900_000, 500_010, 3_900_020)
    geoms = np.array([
        box,
        None,
        shapely.Polygon(box.exterior, [shapely.box(500_002, 3_900_002, 500_004,
                                                   3_900_004).exterior.coords]),
        shapely.MultiPolygon([box, shapely.box(500_100, 3_900_000, 500_110, 3_900_010)]),
        shapely.Polygon([(0, 0, 5.5), (1, 0, 6), (1, 1, 7), (0, 0, 5.5)]),
        shapely.MultiPolygon([shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 1)])]),
    ], dtype=object)
    got = multi_iso_wkb(geoms, "polygon")
    want = _shapely_multi_wkb(geoms, "polygon")
    assert [None if w is None else bytes(w) for w in got] == want
    # a Z polygon becomes a MultiPolygon Z (ISO type 1006)
    assert int.from_bytes(got[4][1:5], "little") == 1006
    # and the geometries as_multi builds are those shapely builds
    built = shapely.to_wkb(as_multi(geoms, "polygon"), byte_order=1, flavor="iso",
                           output_dimension=3)
    assert [None if w is None else bytes(w) for w in built] == want


def test_lines_are_written_as_their_one_part_multilines():
    geoms = np.array([shapely.LineString([(0, 0), (3, 4)]),
                      shapely.LineString([(0, 0, 1), (3, 4, 2)]),
                      shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]), None],
                     dtype=object)
    got = multi_iso_wkb(geoms, "line")
    assert [None if w is None else bytes(w) for w in got] == _shapely_multi_wkb(geoms, "line")


def test_written_in_arrow_from_the_column_as_read_gives_the_same_bytes():
    """The converter's path (``arrow``: the column as read; rows as read kept, the others
    written by shapely — repaired, transformed, surfaces, missing): the same bytes as
    shapely's one-part multis of the stored geometries, as an Arrow array."""
    box = shapely.box(500_000, 3_900_000, 500_010, 3_900_020)
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    read = np.array([box, shapely.MultiPolygon([box]), bowtie, None,
                     shapely.Polygon([(0, 0, 5.5), (1, 0, 6), (1, 1, 7), (0, 0, 5.5)]),
                     shapely.MultiPolygon([box, shapely.box(0, 0, 1, 1)]),
                     shapely.affinity.translate(box, 1.0)], dtype=object)
    wkbs = np.array([None if g is None else shapely.to_wkb(g, byte_order=1, flavor="iso")
                     for g in read], dtype=object)
    column = pa.array(wkbs.tolist(), pa.binary())
    stored = read.copy()  # the rows the converter left as they were read: the same objects
    stored[2] = shapely.make_valid(bowtie)  # repaired: a MultiPolygon of two parts
    stored[6] = shapely.affinity.translate(read[6], 2.0)  # as if transformed: not as read
    as_read = as_read_wkb(wkbs, read, stored, column)
    # as read: a polygon and a one-part multi; the Z polygon, the multi of two parts
    # and the rows changed are written by shapely
    assert [w is not None for w in as_read] == [True, True, False, False, False, False, False]
    got = multi_iso_wkb(stored, "polygon", as_read, arrow=column)
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == _shapely_multi_wkb(stored, "polygon")
    # every row as read and a single part (the usual batch): the column's own bytes, headed
    singles = np.array([box, shapely.box(0, 0, 1, 1)], dtype=object)
    col = pa.array([shapely.to_wkb(g, byte_order=1, flavor="iso") for g in singles])
    got = multi_iso_wkb(singles, "polygon", as_read_wkb(
        np.array(col.to_pylist(), dtype=object), singles, singles, col), arrow=col)
    assert got.to_pylist() == _shapely_multi_wkb(singles, "polygon")


def test_points_written_from_their_coordinates_are_what_shapely_writes():
    from loaders.geometry import points_iso_wkb

    rng = np.random.default_rng(7)
    xy = np.c_[rng.uniform(-1e8, 1e8, 500), rng.uniform(-1e3, 4e6, 500)]
    xy[0] = (-0.0, 0.0)
    xy[1] = (39_470_123.456789, 3_914_000.000001)
    pts = shapely.points(xy)
    got = points_iso_wkb(pts)
    assert got.to_pylist() == [shapely.to_wkb(p, byte_order=1, flavor="iso",
                                              output_dimension=3) for p in pts]
    # anything but non-empty 2D points: left to shapely
    for other in ([shapely.Point(1, 2, 3)], [shapely.Point()], [None],
                  [shapely.LineString([(0, 0), (1, 1)])]):
        assert points_iso_wkb(np.array([pts[0], *other], dtype=object)) is None


def test_prepare_without_multis_keeps_the_same_rejects_and_repairs():
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    geoms = np.array([shapely.box(0, 0, 5, 5), None, shapely.Polygon(), bowtie,
                      shapely.LineString([(0, 0), (1, 1)]), shapely.box(0, 0, 0.01, 0.01)],
                     dtype=object)
    multi = prepare(geoms, None, "polygon")
    single = prepare(geoms, None, "polygon", make_multi=False)
    assert single.reject == multi.reject
    assert [r[0] if r else None for r in single.reject] == [
        None, "empty_geometry", "empty_geometry", None, "wrong_geometry_type",
        "invalid_geometry"]
    assert single.flags[3] == ["geometry_repaired"]
    assert [None if w is None else bytes(w) for w in multi_iso_wkb(single.geoms, "polygon")] \
        == [None if g is None else shapely.to_wkb(g, byte_order=1, flavor="iso",
                                                   output_dimension=3) for g in multi.geoms]


def test_the_arrow_check_finds_what_the_row_check_finds():
    names = np.array(["甲", "x" * 10_001, "a\x00b", None, "乙" * 10_000], dtype=object)
    floors = np.array([1, 2, 3, 4, 5], dtype=object)
    cols = {"名称": names, "层数": floors}
    batch = pa.record_batch([pa.array(names.tolist(), pa.string()),
                             pa.array(floors.tolist(), pa.int32())], names=["名称", "层数"])
    want = {i: check_attrs(cols, i) for i in range(5) if check_attrs(cols, i)}
    assert set(want) == {1, 2}  # by construction: too long, NUL; 10,000 characters is allowed
    assert check_attrs_batch(cols, arrow=batch) == want
    assert check_attrs_batch(cols) == want


def test_ids_read_by_arrow_are_blank_exactly_where_python_says():
    """Source keys of a reload come from the id column as Arrow read it: an id is blank
    where ``str.strip()`` leaves nothing (also \\x1f and the ideographic space), else it is
    what ``str.strip()`` leaves (" JZ1 " is JZ1: migration 0014)."""
    from loaders.common import _PY_WHITESPACE, source_keys

    # the characters Arrow trims are exactly those str.strip() strips
    assert set(_PY_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}

    ids = [" ", "\x1f", "\u3000", "", None, " JZ1 ", "JZ2\t", "a\\b", "x\ny", "甲"]
    want = [None if v is None or v.strip() == "" else f"d:{v.strip()}" for v in ids]
    assert want[:5] == [None] * 5 and want[5] == "d:JZ1"  # by construction
    got = source_keys("d", [("编号", pa.array(ids, pa.string()))], None, n=len(ids))
    assert got == want
    assert source_keys("d", [("编号", np.array(ids, dtype=object))], None, n=len(ids)) == want
    # a second id field fills the blanks of the first; numbers lose a whole float's .0
    more = pa.array([1.0, 2.5, None, 4.0, 5.0, None, None, None, None, None], pa.float64())
    got = source_keys("d", [("编号", pa.array(ids, pa.string())), ("osm_id", more)], None,
                      n=len(ids))
    assert got[:5] == ["d:osm_id=1", "d:osm_id=2.5", None, "d:osm_id=4", "d:osm_id=5"]
    assert got[5:] == want[5:]


def test_a_polygon_as_read_is_reused_only_where_shapely_would_write_the_same_bytes():
    """The WKB as read stands for the stored geometry's only where GEOS writes those bytes:
    the expected bytes are shapely's own, written from the stored geometries."""
    box = shapely.box(500_000, 3_900_000, 500_010, 3_900_020)
    holed = shapely.Polygon(box.exterior, [shapely.box(500_002, 3_900_002, 500_004,
                                                       3_900_004).exterior.coords])
    le = shapely.to_wkb(box, byte_order=1, flavor="iso")
    wkbs = np.array([
        le,                                                      # 0 reused
        shapely.to_wkb(holed, byte_order=1, flavor="iso"),       # 1 reused (two rings)
        shapely.to_wkb(box, byte_order=0, flavor="iso"),         # 2 big-endian: written
        le + b"\x00\x01",                                        # 3 trailing bytes: written
        shapely.to_wkb(shapely.MultiPolygon([box, shapely.box(0, 0, 1, 1)]), byte_order=1,
                       flavor="iso"),                            # 4 two parts: written
        shapely.to_wkb(shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 1)]), byte_order=1,
                       flavor="iso", output_dimension=3),        # 5 Z: written
        le,                                                      # 6 replaced below: written
        None,                                                    # 7 missing
        shapely.to_wkb(shapely.MultiPolygon([holed]), byte_order=1,
                       flavor="iso"),                            # 8 one part: reused
        bytes(shapely.to_wkb(shapely.MultiPolygon([box]), byte_order=1, flavor="iso")[:9])
        + shapely.to_wkb(box, byte_order=0, flavor="iso"),       # 9 part big-endian: written
    ], dtype=object)
    read = shapely.from_wkb(wkbs)
    stored = read.copy()
    stored[6] = shapely.affinity.translate(read[6], 1.0)  # e.g. transformed
    got = as_read_wkb(wkbs, read, stored)
    assert [i for i, w in enumerate(got) if w is not None] == [0, 1, 8]
    reused = multi_iso_wkb(stored, "polygon", got)
    want = _shapely_multi_wkb(stored, "polygon")
    assert [None if w is None else bytes(w) for w in reused] == want
    assert as_read_wkb(None, read, stored).tolist() == [None] * len(wkbs)
    # read from the Arrow column the WKB came from (here a slice of a longer one): the same
    column = pa.array([b"\x01"] + list(wkbs), pa.binary()).slice(1)
    assert as_read_wkb(wkbs, read, stored, column).tolist() == got.tolist()


def test_real_footprints_as_read_give_what_shapely_writes():
    """Real OSM footprints from a GeoPackage written by GDAL, read as the loader reads them:
    every reused row's bytes equal shapely's."""
    import pathlib

    import pyogrio
    import pytest

    path = pathlib.Path(__file__).resolve().parents[2] / "shared/data/real/li_buildings.gpkg"
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    table = pyogrio.read_arrow(path, max_features=20_000)[1]
    wkbs = np.asarray(table.column(table.schema.names[-1]).to_numpy(zero_copy_only=False),
                      dtype=object)
    read = shapely.from_wkb(wkbs)
    got = as_read_wkb(wkbs, read, read)
    hit = np.flatnonzero(got != None)  # noqa: E711
    assert len(hit) > 0
    want = shapely.to_wkb(read[hit], byte_order=1, flavor="iso", output_dimension=3)
    assert [bytes(w) for w in got[hit]] == [bytes(w) for w in want]

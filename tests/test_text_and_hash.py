"""One text normaliser for every dictionary look-up (cim/text.py) and one content hash for
every layer (loaders/hashing.py), checked against values computed here from the documented
recipe with hashlib and struct, and against the rows a real load stores in PostGIS."""

from __future__ import annotations

import hashlib
import math
import struct

import geopandas as gpd
import numpy as np
import pytest
import shapely

from cim.text import norm_key, norm_name
from loaders.common import ClassLookup, content_hash, content_hashes
from loaders.components import ComponentDictionary
from loaders.geometry import ewkb
from loaders.pipes.dictionaries import PipeDictionaries

E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527)


# -- the normaliser ------------------------------------------------------------------------
def test_norm_key_folds_spaces_width_and_case():
    same = ["办公", "办 公", "办公 ", "\u3000办公", "办\u3000公", "办\u200b公", "\ufeff办公\t"]
    assert {norm_key(s) for s in same} == {"办公"}
    assert norm_key("ＪＳ") == norm_key("j s") == norm_key("Js") == "js"
    assert norm_key("（ＰＥ）") == "(pe)"
    assert norm_key(None) == ""
    assert norm_name("起点埋深（ｍ）") == norm_name("起点 埋深 (m)") == "起点埋深"
    assert norm_name("Building_Height") == norm_name("building-height") == "buildingheight"


ODD = [lambda s: s, lambda s: f"{s[0]} {s[1:]}", lambda s: f"{s} ", lambda s: f"\u3000{s}",
       lambda s: s.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),  # full width
       lambda s: s.upper(), lambda s: s.lower()]


@pytest.mark.parametrize("spell", ODD, ids=["plain", "inner space", "trailing space",
                                             "ideographic space", "full width", "upper",
                                             "lower"])
def test_odd_spellings_resolve_alike_in_buildings_components_and_pipes(jining_profile, spell):
    uses = ClassLookup(jining_profile, "building_use")
    assert uses.find(spell("办公"))["code"] == "03"
    assert uses.find(spell("office"))["code"] == "03"
    comps = ComponentDictionary(jining_profile)
    assert comps.find(spell("雨水井盖"))["code"] == "0103"
    assert comps.find(spell("0103"))["code"] == "0103"
    pipes = PipeDictionaries(jining_profile)
    assert pipes.find_class(spell("JS")).name == "给水"
    assert pipes.find_class(spell("给水")).name == "给水"
    assert pipes.find_class(spell("雨水")).subclass_name == "雨水"
    js = pipes.find_class("JS")
    assert pipes.feature(js, "附属物", spell("消火栓")).name == "消防栓"
    assert pipes.materials.find(spell("PE")) == ("PE", pipes.materials.find("PE")[1])


# -- the content hash ----------------------------------------------------------------------
def _field(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _polygon_wkb(ring: list[tuple[float, float]]) -> bytes:
    """ISO WKB, little-endian, of a one-ring polygon, written byte by byte."""
    out = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", len(ring))
    return out + b"".join(struct.pack("<dd", x, y) for x, y in ring)


RING = [(E0, N0), (E0 + 10.5, N0), (E0 + 10.5, N0 + 8.25), (E0, N0 + 8.25), (E0, N0)]


def test_the_hash_of_a_fixture_row_follows_the_documented_recipe():
    values = ("综合楼", "03", "办公", None, 5, 0, 18.5, 1998)
    expected = hashlib.sha256(
        _field("S综合楼".encode()) + _field(b"S03") + _field("S办公".encode()) + _field(b"N")
        + _field(b"#5") + _field(b"#0") + _field(b"#18.5") + _field(b"#1998")
        + _field(b"G" + _polygon_wkb(RING))).hexdigest()
    poly = shapely.Polygon(RING)
    stored = ewkb(np.array([poly]), 4527)[0]  # what the loaders hold: EWKB with the SRID
    assert content_hash(values, stored) == expected
    assert content_hash(values, poly) == expected
    # the same content held differently is the same hash: 5.0 for 5, NaN for NULL, numpy types
    assert content_hash(("综合楼", "03", "办公", float("nan"), 5.0, np.int64(0),
                         np.float64(18.5), 1998.0), poly) == expected
    # the batch path (buildings) and the row path (components, divisions, pipes) agree
    cols = {k: np.array([v, v], dtype=object) for k, v in zip("abcdefgh", values)}
    assert content_hashes(cols, np.array([stored, poly], dtype=object)).tolist() == \
        [expected, expected]
    # text is hashed as stored; a change anywhere changes the hash
    assert content_hash(("综合楼 ",) + values[1:], poly) != expected
    assert content_hash(values[:-1] + (1999,), poly) != expected
    assert content_hash(values, shapely.Polygon([(x + 0.001, y) for x, y in RING])) != expected


def test_three_d_points_nulls_and_other_types():
    p = shapely.Point(E0, N0, 35.25)
    wkb = struct.pack("<BI", 1, 1001) + struct.pack("<ddd", E0, N0, 35.25)
    import datetime as dt

    values = (True, dt.date(2021, 5, 12), b"\x01\x02", float("inf"), -0.0, 1e-7, "")
    expected = hashlib.sha256(
        _field(b"B1") + _field(b"D2021-05-12") + _field(b"X\x01\x02") + _field(b"#inf")
        + _field(b"#0") + _field(b"#1e-07") + _field(b"S") + _field(b"G" + wkb)).hexdigest()
    assert content_hash(values, ewkb(np.array([p]), 4527, with_z=True)[0]) == expected
    assert content_hash((None,), None) == hashlib.sha256(_field(b"N") * 2).hexdigest()



def test_batch_hashes_of_dates_and_zoned_times_follow_the_recipe():
    """A column of dates is encoded once per distinct date; two aware times that are equal
    (the same instant in two zones) are different text, so different content."""
    import datetime as dt

    utc, cst = dt.UTC, dt.timezone(dt.timedelta(hours=8))
    dates = [dt.date(2021, 5, 12), None, dt.date(2021, 5, 12), dt.date(1999, 1, 2)]
    zoned = [dt.datetime(2021, 5, 12, 0, 0, tzinfo=utc), dt.date(2021, 5, 12),
             dt.datetime(2021, 5, 12, 8, 0, tzinfo=cst), None]
    text = {None: b"N", dt.date(2021, 5, 12): b"D2021-05-12", dt.date(1999, 1, 2):
            b"D1999-01-02"}
    want_dates = [hashlib.sha256(_field(text[d]) + _field(b"N")).hexdigest() for d in dates]
    assert content_hashes({"d": np.array(dates, dtype=object)}, [None] * 4).tolist() == \
        want_dates
    zoned_text = [b"D2021-05-12T00:00:00+00:00", b"D2021-05-12", b"D2021-05-12T08:00:00+08:00",
                  b"N"]
    assert content_hashes({"d": np.array(zoned, dtype=object)}, [None] * 4).tolist() == \
        [hashlib.sha256(_field(t) + _field(b"N")).hexdigest() for t in zoned_text]


def test_batch_hashes_of_a_float_column_follow_the_recipe():
    """A column of floats (encoded for the whole column at once): a whole value is written
    as its integer however large, -0.0 as 0, others as Python writes them, NaN as NULL."""
    values = [2.5, -0.0, 1e20, -(2.0 ** 70), 4_611_686_018_427_387_904.0, 1e-7, float("inf"),
              float("nan"), 39_464_200.125, 2.5, None, 18.0]
    text = [b"#2.5", b"#0", b"#100000000000000000000", b"#-1180591620717411303424",
            b"#4611686018427387904", b"#1e-07", b"#inf", b"N", b"#39464200.125", b"#2.5", b"N",
            b"#18"]
    want = [hashlib.sha256(_field(t) + _field(b"N")).hexdigest() for t in text]
    got = content_hashes({"f": np.array(values, dtype=object)}, [None] * len(values))
    assert got.tolist() == want


def test_batch_hashes_of_a_text_column_follow_the_recipe():
    """A column of texts (tagged in Arrow): S and the UTF-8 bytes, empty text kept, None NULL."""
    values = ["JS0001", None, "中文 管线", "", "JS0001", "a\nb"]
    text = [b"SJS0001", b"N", "S中文 管线".encode(), b"S", b"SJS0001", b"Sa\nb"]
    want = [hashlib.sha256(_field(t) + _field(b"N")).hexdigest() for t in text]
    got = content_hashes({"s": np.array(values, dtype=object)}, [None] * len(values))
    assert got.tolist() == want


def _recipe(values: tuple, wkb: bytes) -> str:
    """The documented recipe, written again here for values as PostgreSQL returns them."""
    out = b""
    for v in values:
        if v is None:
            out += _field(b"N")
        elif isinstance(v, str):
            out += _field(b"S" + v.encode())
        elif isinstance(v, float) and not v.is_integer():
            out += _field(b"#" + repr(v).encode())
        else:
            assert isinstance(v, (int, float)) and math.isfinite(v), v
            out += _field(b"#" + str(int(v)).encode())
    return hashlib.sha256(out + _field(b"G" + wkb)).hexdigest()


def test_a_loaded_building_carries_the_hash_of_its_stored_row(fresh_db, tmp_path):
    """End to end: the row hash of each stored building is the recipe applied to its stored
    columns (declared order) and its stored geometry as PostGIS writes it (ST_AsBinary NDR),
    whether the loader took it (a reload's rows) or it is taken from the stored row later
    (a first load leaves it unset: loaders.hashing.stored_hashes); odd spellings of the use
    resolve as the dictionary's name does."""
    import psycopg

    from loaders.buildings import HASHED, load_buildings
    from loaders.hashing import stored_hashes

    polys = [shapely.Polygon([(x + 30 * i, y) for x, y in RING]) for i in range(4)]
    src = tmp_path / "b.gpkg"
    # a first load of the dataset (one feature) takes no hash
    gpd.GeoDataFrame({"编号": ["B0"], "名称": ["门卫室"], "用途": ["其他"], "结构": ["砖木"],
                      "层数": [1], "建筑高度": [3.25], "建成年代": [2001]},
                     geometry=polys[3:], crs="EPSG:4527").to_file(src, driver="GPKG")
    assert load_buildings(fresh_db.conninfo, fresh_db.profile, src).loaded == 1
    assert fresh_db.rows("SELECT row_hash FROM buildings") == [(None,)]
    # the next load of the dataset (the features it converts may be compared): hashed
    gdf = gpd.GeoDataFrame({"编号": ["B1", "B2", "B3"], "名称": ["综合楼", None, "仓库"],
                            "用途": ["办 公", "ＯＦＦＩＣＥ", "仓储\u3000"],
                            "结构": ["砖混", "框架", None], "层数": [5, 12, 1],
                            "建筑高度": [18.5, 40.0, None], "建成年代": [1998, 2010, None]},
                           geometry=polys[:3], crs="EPSG:4527")
    gdf.to_file(src, driver="GPKG")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, src)
    assert r.loaded == 3, r.text()
    rows = fresh_db.rows(
        "SELECT source_key, row_hash, use_code, name, use_code, use_name, structure, "
        "floors_above, floors_below, height, year_built, ST_AsBinary(geom, 'NDR'), id "
        "FROM buildings WHERE valid_to IS NULL ORDER BY source_key")
    assert [r_[0] for r_ in rows] == ["b:B0", "b:B1", "b:B2", "b:B3"]
    assert [r_[2] for r_ in rows] == ["99", "03", "03", "07"]
    with psycopg.connect(fresh_db.conninfo) as conn:
        taken = stored_hashes(conn, "buildings", HASHED, [r_[12] for r_ in rows])
    assert [r_[1] is None for r_ in rows] == [True, False, False, False]
    for row in rows:
        expected = _recipe(tuple(row[3:11]), bytes(row[11]))
        assert taken[row[12]] == expected, row[0]
        if row[1] is not None:
            assert row[1] == expected, row[0]


def test_source_fingerprints_hash_each_value_as_the_plain_recipe():
    """Text is hashed once per distinct value, bytes row by row (loaders.hashing._arrow_hashes): the
    fingerprint must be the documented one — per row, pandas' hash_array of each column's
    values (nulls marked apart), mixed column after column in name order."""
    import pyarrow as pa
    from pandas.util import hash_array

    from loaders.hashing import _FP_KEY, _FP_NULL, source_fingerprints

    names = ["甲", None, "", "甲", "é", "甲"]
    blobs = [b"\x01\x03", None, b"", b"\x01\x03", b"\x00", b"z"]
    floors = [1, None, 3, 1, 5, 6]
    batch = pa.record_batch([pa.array(names, pa.string()), pa.array(blobs, pa.binary()),
                             pa.array(floors, pa.int32())], names=["名称", "geom", "层数"])
    context = "ctx"
    h = np.full(6, int.from_bytes(hashlib.blake2b(context.encode(), digest_size=8).digest(),
                                  "little"), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in (blobs, names, floors):  # name order: geom, 名称, 层数
            if col is floors:
                values = np.array([0 if v is None else v for v in col], dtype=np.int64)
            else:
                values = np.array(col, dtype=object)
            hc = hash_array(values, hash_key=_FP_KEY, categorize=False)
            hc ^= np.array([_FP_NULL if v is None else 0 for v in col], dtype=np.uint64)
            h = (h * np.uint64(0x100000001B3)) ^ hc
    got = source_fingerprints(batch, None, context)
    assert got.tolist() == h.view(np.int64).tolist()
    # equal rows, equal fingerprints; a null is not an empty text
    assert got[0] == got[3] and got[1] != got[2]


def test_source_fingerprints_of_mostly_distinct_texts_are_the_plain_recipe():
    """A text column of mostly distinct values (an id) is hashed row by row from its UTF-8
    bytes, not through a dictionary (loaders.hashing._arrow_hashes): still pandas' hash_array
    of the texts themselves, nulls marked apart."""
    import pyarrow as pa
    from pandas.util import hash_array

    from loaders.hashing import _FP_KEY, _FP_NULL, source_fingerprints

    ids = [f"编号-{i}é" if i % 7 else None for i in range(3000)]
    batch = pa.record_batch([pa.array(ids, pa.string())], names=["编号"])
    h = np.full(len(ids), int.from_bytes(hashlib.blake2b(b"c", digest_size=8).digest(),
                                         "little"), dtype=np.uint64)
    hc = hash_array(np.array(ids, dtype=object), hash_key=_FP_KEY, categorize=False)
    hc ^= np.array([_FP_NULL if v is None else 0 for v in ids], dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = (h * np.uint64(0x100000001B3)) ^ hc
    got = source_fingerprints(batch, None, "c")
    assert got.tolist() == h.view(np.int64).tolist()
    assert len(set(got[[i for i, v in enumerate(ids) if v]].tolist())) == len(ids) - 429

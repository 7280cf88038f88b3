"""A code prefix the scheme cannot read is refused by the allocator, never issued: a city's
class dictionary saved by Excel (01 → 1) made 17-digit building codes, registered and stored,
that ``decode`` refuses. The prefix is district 6 + layer 2 + class 2 (or district 6 +
component subclass 4): 10 digits, known by construction of the scheme (docs/coding.md)."""

from __future__ import annotations

import csv
from dataclasses import replace

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import LineString, box

from cim.coding.allocator import allocate_codes, reserve_serials
from cim.errors import CodeError
from cim.profile import DICTIONARY_DIR
from tests.conftest import scratch_db


@pytest.fixture(scope="module")
def pdb(jining_profile):
    with scratch_db("codepfx", jining_profile) as d:
        yield d


def _counters(db):
    return dict(db.rows("SELECT prefix, last_serial FROM code_counters"))


@pytest.mark.parametrize("prefix, width", [("370811811", 8), ("37081181011", 8),
                                           ("3708110A01", 8), ("370811010", 6)])
def test_the_allocator_refuses_a_prefix_of_another_length(pdb, prefix, width):
    before = _counters(pdb)
    with psycopg.connect(pdb.conninfo) as conn:
        conn.execute("CREATE TEMP TABLE stg (row_no int, source_key text, prefix text, "
                      "code text)")
        conn.execute("INSERT INTO stg VALUES (1, 't:a', %s, NULL), (2, 't:b', '3708118101', "
                      "NULL)", (prefix,))
        with pytest.raises(CodeError, match=f"{prefix!r}.*not 10 digits"):
            allocate_codes(conn, "stg", "buildings", width, None)
        conn.rollback()
        with pytest.raises(CodeError, match="leading zeros"):
            reserve_serials(conn, {prefix: 3, "3708118101": 2}, width)
        conn.rollback()
    assert _counters(pdb) == before
    # the right length still allocates
    with psycopg.connect(pdb.conninfo) as conn:
        base = reserve_serials(conn, {"3708118101": 2}, 8)
    assert base == {"3708118101": before.get("3708118101", 0)}


def test_a_dictionary_saved_by_excel_stops_the_load_without_a_code(pdb, tmp_path):
    from loaders.buildings import load_buildings
    from loaders.city_base import load_base

    def excel_copy(name):
        rows = list(csv.DictReader(open(DICTIONARY_DIR / f"{name}.csv", encoding="utf-8-sig")))
        for r in rows:
            r["code"] = str(int(r["code"]))  # 01 → 1
        out = tmp_path / f"{name}.csv"
        with open(out, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return out

    before = _counters(pdb)
    prof = replace(pdb.profile, dictionaries={
        **pdb.profile.dictionaries, "building_use": excel_copy("building_use"),
        "road_classes": excel_copy("road_classes")})
    prof.__dict__.pop("field_aliases", None)
    sq = box(pdb.x0, pdb.y0, pdb.x0 + 10, pdb.y0 + 10)
    b = tmp_path / "b.gpkg"
    gpd.GeoDataFrame({"编号": ["A1"], "用途": ["住宅"]}, geometry=[sq],
                     crs="EPSG:4527").to_file(b)
    with pytest.raises(CodeError, match="'370811811' is not 10 digits"):
        load_buildings(pdb.conninfo, prof, b, processes=0)  # the direct writer
    r = tmp_path / "r.gpkg"
    gpd.GeoDataFrame({"编号": ["R1"], "道路等级": ["主干路"]},
                     geometry=[LineString(sq.exterior.coords)], crs="EPSG:4527").to_file(r)
    with pytest.raises(CodeError, match="'370811872' of layer roads is not 10 digits"):
        load_base(pdb.conninfo, prof, "roads", r)  # the staged writer
    assert pdb.scalar("SELECT count(*) FROM code_registry WHERE layer IN ('buildings', "
                      "'roads')") == 0
    assert pdb.scalar("SELECT count(*) FROM buildings") == 0
    assert pdb.scalar("SELECT count(*) FROM roads") == 0
    assert _counters(pdb) == before

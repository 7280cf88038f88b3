"""The direct write of buildings (loaders/engine/direct.py, copybuf.py): binary COPY buffers
built from whole columns, the converter process, decisions taken beside the data."""

from __future__ import annotations

import datetime as dt
import math
import os

import numpy as np
import psycopg
import pyogrio
import shapely

from loaders.buildings import load_buildings
from loaders.engine import copybuf
from tests.conftest import SAMPLE_BUILDINGS
from tests.placement_oracle import district_sql, grid_sql


def test_copy_buffers_hold_what_was_given(fresh_db):
    texts = ["a", None, "建筑\t名", "", "x\\y"]
    ints = [1, None, -3, 2**31 - 1, 0]
    floats = [1.5, None, -0.0, float("nan"), 1e-7]
    jsons = ['{"a": 1}', "{}", None, '{"名": "x"}', "[]"]
    arrays = [[], ["x", "y"], [], ["geometry_repaired"], []]
    geoms = [shapely.MultiPolygon([shapely.box(0, 0, i + 1, 1)]) for i in range(5)]
    wkb = shapely.to_wkb(shapely.set_srid(np.array(geoms), 4527), include_srid=True)
    dates = [dt.date(2000, 1, 1), None, dt.date(1969, 12, 31), dt.date(2026, 12, 2),
             dt.date(1, 1, 1)]
    data, starts = copybuf.rows([copybuf.text(texts), copybuf.int4(np.array(ints, dtype=object)),
                                 copybuf.float8(np.array(floats, dtype=object)),
                                 copybuf.int8([7] * 5), copybuf.jsonb(jsons),
                                 copybuf.text_array(arrays), copybuf.binary(list(wkb)),
                                 copybuf.date(dates), copybuf.int2([1, None, -2, 3, 4])], 5)
    assert starts[0] == 0 and len(starts) == 5
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("CREATE TEMP TABLE t (n serial, a text, b int4, f float8, i int8, "
                     "j jsonb, fl text[], geom geometry(MultiPolygon, 4527), d date, s int2)")
        with conn.cursor().copy("COPY t (a, b, f, i, j, fl, geom, d, s) FROM STDIN "
                                "(FORMAT BINARY)") as cp:
            cp.write(copybuf.HEADER + data + copybuf.TRAILER)
        got = conn.execute("SELECT a, b, f, i, j, fl, ST_AsBinary(geom), d, s FROM t ORDER BY n"
                           ).fetchall()
    assert [r[0] for r in got] == texts
    assert [r[1] for r in got] == ints
    # a NaN given in an object column is a missing value
    assert [r[2] for r in got][:3] == [1.5, None, 0.0] and got[3][2] is None
    assert got[4][2] == 1e-7 and math.copysign(1, got[2][2]) == -1
    assert [r[3] for r in got] == [7] * 5
    assert [r[4] for r in got] == [{"a": 1}, {}, None, {"名": "x"}, []]
    assert [r[5] for r in got] == arrays
    assert [shapely.from_wkb(bytes(r[6])) for r in got] == geoms
    assert [r[7] for r in got] == dates and [r[8] for r in got] == [1, None, -2, 3, 4]


def test_patch_writes_serials_where_the_placeholders_are():
    data, starts = copybuf.rows([copybuf.text(["AB0000", "CD0000"]), copybuf.text(["x", "y"])],
                                2)
    buf = bytearray(data)
    assert copybuf.digits(np.array([42, 107]), 4).tobytes() == b"00420107"
    copybuf.patch(buf, starts + 6 + 2, copybuf.digits(np.array([42, 107]), 4))
    assert b"AB0042" in buf and b"CD0107" in buf and b"0000" not in buf


def _delivery(tmp_path, name: str, n: int = 900):
    """The sample survey's first ``n`` rows; row 401 repeats row 11's id (a duplicate in
    another batch when read 300 at a time)."""
    gdf = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=n)
    gdf.loc[400, "编号"] = gdf.loc[10, "编号"]
    path = tmp_path / f"{name}.gpkg"
    pyogrio.write_dataframe(gdf, path)
    return path, gdf


def _stored(db, dataset: str) -> dict[str, tuple]:
    return {r[0].split(":", 1)[1]: r[1:] for r in db.rows(
        "SELECT source_key, left(code, 10), row_hash, district_code, grid_code, use_code, "
        "flags, attrs, ST_AsBinary(geom) FROM buildings WHERE valid_to IS NULL "
        "AND source_key LIKE %s", (dataset + ":%",))}


def test_the_converter_process_decides_as_the_load_in_one_process(fresh_db, tmp_path,
                                                                  monkeypatch):
    from loaders import buildings

    path, gdf = _delivery(tmp_path, "d")
    # two converter processes take batches in turn: rows 1-300 and 601-900 in one, the
    # duplicate (row 401) in the other, which never saw row 11
    a = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="proc",
                       batch_size=300, processes=2)
    b = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="inline",
                       batch_size=300, processes=0)
    c = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="one",
                       batch_size=200, processes=1)
    for r in (a, b, c):
        assert (r.read, r.loaded, r.rejected) == (900, 899, 1)
        assert r.rejected_by_reason == {"duplicate_source_id": 1}
    assert _stored(fresh_db, "proc") == _stored(fresh_db, "inline") == _stored(fresh_db, "one")
    # first loads take no content hash; a new converter version converts every row again,
    # each way, finds them unchanged and writes none again (their ids are recorded as
    # verified under it, migration 0013): the same every way too
    monkeypatch.setattr(buildings, "CONVERTER_VERSION", "buildings-next")
    for dataset, size, procs in (("proc", 300, 2), ("inline", 300, 0), ("one", 200, 1)):
        r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset=dataset,
                           batch_size=size, processes=procs)
        assert (r.updated, r.unchanged) == (0, 899)
    assert _stored(fresh_db, "proc") == _stored(fresh_db, "inline") == _stored(fresh_db, "one")
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE row_hash IS NULL") == \
        fresh_db.scalar("SELECT count(*) FROM buildings") == 3 * 899
    # each dataset's rows all found unchanged: recorded at once, up to the reload's batch
    assert fresh_db.scalar("SELECT count(*) FROM load_verified WHERE upto_batch = batch_id") \
        == 3
    for r in (a, b, c):  # the row repeated named, whichever process took it
        rej = fresh_db.rows("SELECT row_number, message, attrs->>'编号' FROM load_rejects "
                            "WHERE batch_id = %s", (r.batch_id,))
        assert rej[0][0] == 401 and "(row 11 has it)" in rej[0][1], rej
        assert rej[0][2] == pyogrio.read_dataframe(path, max_features=11)["编号"].iloc[10]
    # the district and grid cell by the placement rule, as PostGIS finds them
    assert fresh_db.scalar(
        "SELECT count(*) FROM buildings b WHERE b.district_code IS DISTINCT FROM "
        + district_sql("b.geom") + " OR b.grid_code IS DISTINCT FROM "
        + grid_sql("b.geom", "b.district_code")) == 0
    # serials follow the delivery's row order within each prefix
    row = {f"proc:{k}": i for i, k in reversed(list(enumerate(gdf["编号"])))}
    by_prefix: dict[str, list[str]] = {}
    for key, code in fresh_db.rows("SELECT source_key, code FROM buildings WHERE source_key "
                                   "LIKE 'proc:%%' ORDER BY code"):
        by_prefix.setdefault(code[:10], []).append(key)
    for keys in by_prefix.values():
        assert [row[k] for k in keys] == sorted(row[k] for k in keys)
    # serials dense per prefix, registry and counters agree
    for prefix, n, top in fresh_db.rows(
            "SELECT left(code, 10), count(*), max(right(code, 8)::int) FROM code_registry "
            "WHERE layer = 'buildings' GROUP BY 1"):
        assert n == top == fresh_db.scalar(
            "SELECT last_serial FROM code_counters WHERE prefix = %s", (prefix,))
    assert fresh_db.scalar("SELECT count(*) FROM buildings b JOIN code_registry r USING (code) "
                           "WHERE r.source_key = b.source_key") == 3 * 899


def test_a_reload_versions_only_the_changed_features(fresh_db, tmp_path):
    path, gdf = _delivery(tmp_path, "r")
    load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=2)
    before = dict(fresh_db.rows("SELECT source_key, code FROM buildings"))
    changed = [5, 350, 899]
    for i in changed:
        gdf.loc[i, "建筑名称"] = f"改{i}"
    pyogrio.write_dataframe(gdf, path)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=250,
                       processes=2)
    assert (r.inserted, r.updated, r.unchanged, r.rejected) == (0, 3, 896, 1)
    assert (r.codes_issued, r.codes_reused) == (0, 3)
    rows = fresh_db.rows("SELECT source_key, code, name, valid_to IS NULL, batch_id FROM "
                         "buildings WHERE batch_id = %s OR valid_to IS NOT NULL", (r.batch_id,))
    ids = {f"r:{gdf.loc[i, '编号']}" for i in changed}
    assert {k for k, *_ in rows} == ids and len(rows) == 6
    for key, code, name, current, batch in rows:
        assert code == before[key]
        assert (batch == r.batch_id) == current and ((name or "").startswith("改") == current)


def test_forked_converters_take_unset_hashes_from_the_stored_rows(fresh_db, tmp_path,
                                                                  monkeypatch):
    """A first load leaves the content hashes unset; a reload whose converter processes
    convert every row (a new converter version) takes each one's from its stored row, on the
    process's own connection, and versions none."""
    from loaders import buildings

    path, _ = _delivery(tmp_path, "fh")
    first = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300,
                           processes=2)
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE row_hash IS NULL") == \
        first.loaded == 899
    monkeypatch.setattr(buildings, "CONVERTER_VERSION", "buildings-next")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=250, processes=2)
    assert (r.inserted, r.updated, r.unchanged, r.rejected) == (0, 0, 899, 1)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 899
    # found unchanged, none written again (their ids recorded as verified, migration 0013)
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE row_hash IS NULL") == 899
    assert fresh_db.rows("SELECT upto_batch, ids FROM load_verified") == [(r.batch_id, None)]


def test_a_bug_in_a_converter_process_fails_the_load_as_itself(fresh_db, tmp_path, monkeypatch):
    from loaders.engine import direct

    path, _ = _delivery(tmp_path, "bug")
    prepare = direct.DirectConverter.prepare

    def buggy(self, batch):
        if batch.first_row > 300:  # the second batch: the other converter process
            raise KeyError("injected in a converter")
        return prepare(self, batch)

    monkeypatch.setattr(direct.DirectConverter, "prepare", buggy)  # forked: the children see it
    try:
        load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=2)
    except KeyError as exc:
        assert "injected in a converter" in str(exc)
        assert any("in converter process 1" in n for n in exc.__notes__)
    else:
        raise AssertionError("the load did not fail")
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    assert fresh_db.scalar("SELECT count(*) FROM code_registry WHERE layer = 'buildings'") == 0
    assert fresh_db.rows("SELECT status FROM load_batches WHERE layer = 'buildings'") == \
        [("failed",)]



def test_converter_processes_ask_for_no_huge_pages(fresh_db, tmp_path, monkeypatch):
    """The forked converters inherit the load's small pages: no huge-page advice from NumPy,
    transparent huge pages off (loaders.engine.pages); the loading process gets its settings
    back."""
    from loaders.engine import direct
    from tests.test_pages import numpy_advice, thp_enabled

    path, _ = _delivery(tmp_path, "pages")
    prepare = direct.DirectConverter.prepare
    before = (numpy_advice(), thp_enabled())

    def checked(self, batch):
        if numpy_advice() or thp_enabled():
            raise AssertionError(f"huge pages in converter process {os.getpid()}")
        return prepare(self, batch)

    monkeypatch.setattr(direct.DirectConverter, "prepare", checked)  # forked: children see it
    for processes in (2, 0):
        r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300,
                           processes=processes, dataset=f"p{processes}")
        assert (r.read, r.loaded) == (900, 899)
        assert (numpy_advice(), thp_enabled()) == before

"""A reload converts only the rows whose source changed (loaders/engine/fingerprint.py,
``source_hash``): the same outcome as converting everything — versions, counts, flags,
duplicates, replace mode — with the unchanged rows never converted."""

from __future__ import annotations

import time

import numpy as np
import psycopg
import pyogrio
import pytest

from cim.layerdefs import BUILDINGS
from loaders import buildings
from loaders.buildings import load_buildings
from loaders.engine import direct, known
from tests.test_direct_load import _delivery


def _load(db, path, **kw):
    return load_buildings(db.conninfo, db.profile, path, batch_size=300, processes=0, **kw)


def test_a_reload_converts_only_the_changed_rows(fresh_db, tmp_path, converted):
    path, gdf = _delivery(tmp_path, "fp")
    first = _load(fresh_db, path)
    assert sum(converted) == 900
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE source_hash IS NULL") == 0
    changed = [5, 350, 899]
    for i in changed:
        gdf.loc[i, "建筑名称"] = f"改{i}"
    pyogrio.write_dataframe(gdf, path)
    converted.clear()
    r = _load(fresh_db, path)
    # the 3 changed rows and row 401, which repeats row 11's id with another geometry (its
    # fingerprint is not the stored one of row 11): converted; the 896 others not
    assert sum(converted) == 4
    assert (r.inserted, r.updated, r.unchanged, r.rejected) == (0, 3, 896, 1)
    assert r.rejected_by_reason == {"duplicate_source_id": 1}
    assert r.flagged_by_reason == first.flagged_by_reason  # the skipped rows' stored flags
    rej = fresh_db.rows("SELECT row_number FROM load_rejects WHERE batch_id = %s",
                        (r.batch_id,))
    assert rej == [(401,)]
    names = dict(fresh_db.rows("SELECT source_key, name FROM buildings WHERE valid_to IS NULL"))
    for i in changed:
        assert names[f"fp:{gdf.loc[i, '编号']}"] == f"改{i}"
    # unchanged again: nothing converted but the duplicate
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 1 and (r.updated, r.unchanged, r.rejected) == (0, 899, 1)


def test_flags_of_skipped_rows_are_reported(fresh_db, tmp_path, converted):
    path, gdf = _delivery(tmp_path, "fl")
    gdf.loc[0:49, "建筑用途"] = None  # 50 rows loaded with use_missing
    pyogrio.write_dataframe(gdf, path)
    first = _load(fresh_db, path)
    assert first.flagged_by_reason.get("use_missing", 0) >= 50
    converted.clear()
    again = _load(fresh_db, path)
    assert sum(converted) == 1  # row 401 only
    assert again.flagged_by_reason == first.flagged_by_reason


def test_a_new_converter_version_converts_every_row_and_versions_none(fresh_db, tmp_path,
                                                                       converted, monkeypatch):
    path, _ = _delivery(tmp_path, "ver")
    _load(fresh_db, path)
    monkeypatch.setattr(buildings, "CONVERTER_VERSION", "buildings-test")
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 900  # another context: no fingerprint matches
    assert (r.updated, r.unchanged) == (0, 899)  # the content hash still decides
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 899


def test_replace_mode_keeps_the_skipped_rows(fresh_db, tmp_path, converted):
    path, gdf = _delivery(tmp_path, "rep")
    _load(fresh_db, path)
    gone = gdf.loc[100:109, "编号"].tolist()
    pyogrio.write_dataframe(gdf.drop(index=range(100, 110)), path)
    converted.clear()
    r = _load(fresh_db, path, mode="replace")
    assert sum(converted) == 1
    assert (r.retired, r.unchanged, r.updated) == (10, 889, 0)
    current = {k for (k,) in fresh_db.rows("SELECT source_key FROM buildings "
                                            "WHERE valid_to IS NULL")}
    assert len(current) == 889 and not {f"rep:{g}" for g in gone} & current


def test_a_component_reload_converts_only_the_changed_rows(fresh_db, tmp_path, converted):
    from cim.config import PROJECT_ROOT
    from loaders.components import load_components

    src = PROJECT_ROOT / "data_samples" / "jining" / "components" / "components_points.shp"
    gdf = pyogrio.read_dataframe(src, encoding="GBK")
    path = tmp_path / "census.gpkg"
    pyogrio.write_dataframe(gdf, path)
    first = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert first.loaded > 100 and sum(converted) == len(gdf)
    gdf.loc[[3, 40], "geometry"] = gdf.loc[[3, 40], "geometry"].translate(xoff=0.5)
    pyogrio.write_dataframe(gdf, path)
    converted.clear()
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert sum(converted) == 2 + first.rejected  # moved rows, and the rejected ones again
    assert (r.updated, r.unchanged, r.rejected) == (2, first.loaded - 2, first.rejected)
    assert r.rejected_by_reason == first.rejected_by_reason
    assert r.flagged_by_reason == first.flagged_by_reason


def test_rows_keyed_by_geometry_keep_the_hash_taken_from_their_stored_row(
        fresh_db, tmp_path, converted, monkeypatch):
    """A row without an id is converted by every reload (its key is its geometry's): the
    first reload takes its hash from the stored row and writes it, later ones find it."""
    path, gdf = _delivery(tmp_path, "noid", n=300)
    pyogrio.write_dataframe(gdf.drop(columns=["编号"]), path)
    first = _load(fresh_db, path)
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE row_hash IS NULL") == \
        first.loaded == 300
    taken: list[int] = []
    rehash = known.Known._read

    def spying_read(self, keys):
        if self.rehash is not None and not hasattr(self.rehash, "spied"):
            inner = self.rehash
            self.rehash = lambda ids: taken.append(len(ids)) or inner(ids)
            self.rehash.spied = True
        return rehash(self, keys)

    monkeypatch.setattr(known.Known, "_read", spying_read)
    for _ in range(2):
        converted.clear()
        r = _load(fresh_db, path)
        assert sum(converted) == first.read and (r.updated, r.unchanged) == (0, 300)
        assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE row_hash IS NULL") == 0
    assert sum(taken) == 300  # all by the first reload, none by the second
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 300


def test_a_new_component_converter_converts_every_row_and_versions_none(
        fresh_db, tmp_path, converted, monkeypatch):
    """The first load left the content hashes unset: the reload compares each converted row
    with the hash of its stored row (district and grid cell hashed as None), and finds every
    one unchanged."""
    from cim.config import PROJECT_ROOT
    from loaders import components
    from loaders.components import load_components

    src = PROJECT_ROOT / "data_samples" / "jining" / "components" / "components_points.shp"
    path = tmp_path / "census.gpkg"
    pyogrio.write_dataframe(pyogrio.read_dataframe(src, encoding="GBK"), path)
    first = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert fresh_db.scalar("SELECT count(*) FROM components WHERE row_hash IS NULL") == \
        first.loaded > 100
    monkeypatch.setattr(components, "CONVERTER_VERSION", "components-next")
    converted.clear()
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert sum(converted) == first.read
    assert (r.updated, r.unchanged, r.inserted) == (0, first.loaded, 0)
    assert fresh_db.scalar("SELECT count(*) FROM components") == first.loaded


def test_retired_features_come_back_with_their_codes(fresh_db, tmp_path, converted):
    path, gdf = _delivery(tmp_path, "back", n=300)  # 301 rows: the last repeats row 11's id
    _load(fresh_db, path)
    codes = dict(fresh_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
    # every feature retired (as a replace by another delivery would): none current, all coded
    fresh_db.scalar("UPDATE buildings SET valid_to = now() WHERE valid_to IS NULL RETURNING 1")
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 301  # no current version, no fingerprint to match
    assert (r.inserted, r.rejected, r.codes_issued, r.codes_reused) == (300, 1, 0, 300)
    assert dict(fresh_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL")) \
        == codes


@pytest.mark.parametrize("odd", [["A\n1", "B\t2", "C\\3", "D\\n4", "E\\\\t5"],
                                 # no newline: the keys are read as stored, not escaped
                                 ["B\t2", "C\\3", "D\\n4", "E\\\\t5", "F\\"]])
def test_ids_with_newlines_tabs_and_backslashes_reload_unchanged(fresh_db, tmp_path,
                                                                  converted, odd):
    path, gdf = _delivery(tmp_path, "odd", n=300)
    for i, v in enumerate(odd):
        gdf.loc[20 + i, "编号"] = v
    gdf.loc[20:24, "建筑用途"] = None  # flagged: their flags come back by key too
    pyogrio.write_dataframe(gdf, path)
    first = _load(fresh_db, path)
    keys = {k for (k,) in fresh_db.rows("SELECT source_key FROM buildings")}
    assert {f"odd:{v}" for v in odd} <= keys
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 1  # the duplicate only: every odd key found with its fingerprint
    assert (r.updated, r.unchanged) == (0, first.loaded)
    assert r.flagged_by_reason == first.flagged_by_reason


def test_ids_in_any_script_are_found_by_fingerprint_and_by_text(fresh_db, tmp_path,
                                                                converted, monkeypatch):
    # the known keys come as one UTF-8 buffer cut at its newlines (known._key_array): ids of
    # one to four bytes a character, case and accents that a linguistic order would mix
    ids = ["建筑7", "b-1", "B-1", "Ä1", "é2", "\U00020000-3", "z9", "Z9", "ß", "a b"]
    by_text: list[str] = []  # the keys a load looked up by text (a spy: the reads run)
    read = known.Known._read

    def spying_read(self, keys):
        by_text.extend(keys)
        return read(self, keys)

    monkeypatch.setattr(known.Known, "_read", spying_read)
    path, gdf = _delivery(tmp_path, "script", n=300)
    for i, v in enumerate(ids):
        gdf.loc[20 + i, "编号"] = v
    pyogrio.write_dataframe(gdf, path)
    first = _load(fresh_db, path)
    codes = dict(fresh_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 1  # the duplicate only: every id found by its fingerprint
    assert (r.updated, r.unchanged) == (0, first.loaded)
    dup = f"script:{gdf.loc[400, '编号']}"  # row 401 repeats row 11's id
    assert by_text == [dup]  # by text: only the key whose fingerprint is not the stored one
    # changed rows are found by their text: new versions under their codes, nothing new
    for i in (20, 23, 25):
        gdf.loc[i, "建筑名称"] = f"改{i}"
    pyogrio.write_dataframe(gdf, path)
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 4 and (r.inserted, r.updated) == (0, 3)
    assert dict(fresh_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL")) \
        == codes
    names = dict(fresh_db.rows("SELECT source_key, name FROM buildings WHERE valid_to IS NULL"))
    assert [names[f"script:{ids[i - 20]}"] for i in (20, 23, 25)] == ["改20", "改23", "改25"]


def test_known_rows_are_found_by_fingerprint_then_by_text(fresh_db, tmp_path):
    path, _ = _delivery(tmp_path, "lk", n=300)
    _load(fresh_db, path)
    stored = fresh_db.rows("SELECT source_key, source_hash FROM buildings "
                           "WHERE valid_to IS NULL ORDER BY id")
    (k0, _), (k1, f1), (k2, f2), (k3, _) = stored[:4]
    # k0 keeps no fingerprint; k2 and k3 hold one fingerprint: none of them by fingerprint
    fresh_db.scalar("UPDATE buildings SET source_hash = CASE source_key WHEN %s THEN 0 "
                    "ELSE %s END WHERE source_key IN (%s, %s, %s) RETURNING 1",
                    (k0, f2, k0, k2, k3))
    # stored flags, a line a row: one flag, two, none
    fresh_db.scalar("UPDATE buildings SET flags = CASE WHEN id %% 7 = 0 THEN '{a_flag}'::text[] "
                    "WHEN id %% 11 = 0 THEN '{one,two}' ELSE '{}' END RETURNING 1", ())
    flags = dict(fresh_db.rows("SELECT source_key, flags FROM buildings WHERE valid_to IS NULL "
                               "AND cardinality(flags) > 0"))
    hashes = dict(fresh_db.rows("SELECT source_key, source_hash FROM buildings "
                                "WHERE valid_to IS NULL"))
    with psycopg.connect(fresh_db.conninfo) as conn:
        kn = known.fetch_known(conn, BUILDINGS, "lk", fresh_db.conninfo)
    try:
        assert kn.current == len(stored)
        rows = {k: i for i, k in enumerate(kn.keys.to_pylist())}
        assert len(rows) == kn.current
        # every column read in the keys' order
        assert {kn.keys[i].as_py(): f for i, f in kn.flags.items()} == flags
        assert {k: int(kn.source_hash[i]) for k, i in rows.items()} == hashes
        others = [(k, f) for k, f in stored[4:]]
        keys = np.array([k for k, _ in others], dtype=object)
        fps = np.array([f for _, f in others], dtype=np.int64)
        at = kn.positions(keys, fps)
        assert at.tolist() == [rows[k] for k in keys]
        assert kn._text_rows == {}  # every one by its fingerprint: the server not asked
        # another row's fingerprint, none, one two rows hold, an unknown key, no key
        keys = np.array([k1, k0, k2, k3, "lk:nosuch", None], dtype=object)
        at = kn.positions(keys, np.array([fps[0], 0, f2, f2, f1, f1], dtype=np.int64))
        assert at.tolist() == [rows[k1], rows[k0], rows[k2], rows[k3], -1, -1]
        assert set(kn._text_rows) == {k1, k0, k2, k3, "lk:nosuch"}
        # found by text: hashes and codes filled from the server
        code = fresh_db.scalar("SELECT code FROM buildings WHERE source_key = %s AND "
                               "valid_to IS NULL", (k1,))
        assert kn.filled[rows[k1]] and kn.code[rows[k1]].decode() == code
    finally:
        kn.close()


def test_the_known_keys_are_one_arrow_array_over_the_servers_bytes():
    keys = ["a:建筑7", "a:x", "a:\U00020000", "a:"]
    got = known._key_array("\n".join(keys).encode(), len(keys))
    assert got.to_pylist() == keys
    assert known._key_array(b"a:1", 1).to_pylist() == ["a:1"]
    assert len(known._key_array(None, 0)) == 0
    assert known._key_array(b"a:1\n2\na:3", 2) is None  # a key holds a newline


def test_a_value_changed_from_null_to_the_text_none_is_converted(fresh_db, tmp_path,
                                                                  converted):
    # pandas hashes a missing value as the text of None/NaN: a null name and the name
    # "None" (or "nan") must not share a fingerprint, or the change is never loaded
    path, gdf = _delivery(tmp_path, "nul", n=300)
    gdf.loc[5, "建筑名称"] = None
    gdf.loc[6, "建筑名称"] = None
    pyogrio.write_dataframe(gdf, path)
    _load(fresh_db, path)
    gdf.loc[5, "建筑名称"] = "None"
    gdf.loc[6, "建筑名称"] = "nan"
    pyogrio.write_dataframe(gdf, path)
    converted.clear()
    r = _load(fresh_db, path)
    assert r.updated == 2
    names = dict(fresh_db.rows("SELECT source_key, name FROM buildings WHERE valid_to IS NULL"))
    assert names[f"nul:{gdf.loc[5, '编号']}"] == "None"
    assert names[f"nul:{gdf.loc[6, '编号']}"] == "nan"


def test_a_reload_after_a_district_is_retired_rejects_as_a_full_conversion(fresh_db, tmp_path,
                                                                            converted):
    # a feature's district (or its rejection outside every district) is decided beside its
    # conversion, from the current boundaries: a reload must not keep, unconverted, a feature
    # that now lies outside them
    path, _ = _delivery(tmp_path, "ar", n=300)
    _load(fresh_db, path)
    district = fresh_db.scalar("SELECT district_code FROM buildings WHERE valid_to IS NULL "
                               "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    fresh_db.scalar("UPDATE admin_divisions SET valid_to = now() WHERE valid_to IS NULL "
                    "AND level = 3 AND code = %s RETURNING 1", (district,))
    # the same file as a new dataset: every row converted (nothing known to skip)
    whole = _load(fresh_db, path, dataset="whole")
    assert whole.rejected_by_reason.get("outside_area", 0) > 0
    r = _load(fresh_db, path)
    assert r.rejected_by_reason == whole.rejected_by_reason
    assert r.loaded == whole.loaded


def test_a_new_context_keeps_its_fingerprints_for_the_next_reload(fresh_db, tmp_path,
                                                                  converted, monkeypatch):
    path, _ = _delivery(tmp_path, "refp")
    _load(fresh_db, path)
    # a first load takes no content hash (loaders.hashing): the reload below takes them
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE row_hash IS NULL") == 899
    before = fresh_db.rows("SELECT id, source_key, batch_id, valid_from FROM buildings "
                           "ORDER BY id")
    fresh_db.scalar("UPDATE buildings SET source_hash = NULL RETURNING 1")  # as before 0009
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 900 and (r.updated, r.unchanged) == (0, 899)
    # the same versions (no new one, same batch and time), now with fingerprints
    assert fresh_db.rows("SELECT id, source_key, batch_id, valid_from FROM buildings "
                         "ORDER BY id") == before
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE source_hash IS NULL") == 0
    # and with the content hashes taken from the stored rows, kept for the next comparison
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE row_hash IS NULL") == 0
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 1 and r.unchanged == 899  # the duplicate row only
    # a new converter version: converted once, then skipped again
    monkeypatch.setattr(buildings, "CONVERTER_VERSION", "buildings-next")
    converted.clear()
    _load(fresh_db, path)
    assert sum(converted) == 900
    converted.clear()
    _load(fresh_db, path)
    assert sum(converted) == 1


def test_an_integer_changed_from_null_to_any_value_is_converted(fresh_db, tmp_path,
                                                                converted):
    path, gdf = _delivery(tmp_path, "inul", n=300)
    gdf["地下层数"] = gdf["地下层数"].astype("Int64")
    gdf.loc[5, "地下层数"] = None
    pyogrio.write_dataframe(gdf, path)
    _load(fresh_db, path)
    # the value a null integer was once fingerprinted as (0 marked with a constant)
    gdf.loc[5, "地下层数"] = 0x5BD1E995
    pyogrio.write_dataframe(gdf, path)
    converted.clear()
    _load(fresh_db, path)
    assert sum(converted) == 2  # row 6 and the duplicate of row 11


def test_two_current_versions_with_one_key_do_not_stop_a_reload(fresh_db, tmp_path,
                                                                converted):
    # the layer's source-key index is not unique: a second current row with a key (another
    # code) can exist — a reload must still run (it did with a dict, a pandas index refused)
    path, _ = _delivery(tmp_path, "twin", n=300)
    _load(fresh_db, path)
    fresh_db.scalar(
        "INSERT INTO buildings (code, source_key, valid_from, flags, attrs, geom, row_hash, "
        "source_hash) SELECT left(code, 12) || '999999', source_key, now(), flags, attrs, "
        "geom, row_hash, source_hash FROM buildings WHERE valid_to IS NULL "
        "ORDER BY id LIMIT 1 RETURNING 1")
    converted.clear()
    r = _load(fresh_db, path)
    assert r.read == 301 and r.loaded + r.rejected == 301


@pytest.mark.parametrize("how", ["in process", "two processes", "fingerprinted ahead"])
def test_repeated_ids_on_a_reload_are_decided_in_row_order_across_processes(
        fresh_db, tmp_path, monkeypatch, how):
    # read 300 rows at a time, two converter processes take batches 1 and 3, and 2: every
    # repeat below is of a row the other process handled. A repeated key the layer holds is
    # told by its row in Known, a new one by its text (DirectConverter.saw)
    path, gdf = _delivery(tmp_path, "dup")
    gdf.iloc[400] = gdf.iloc[10]  # row 401 a copy of row 11: its fingerprint is row 11's
    pyogrio.write_dataframe(gdf, path)
    processes = 0 if how == "in process" else 2
    first = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300,
                           processes=processes)
    assert (first.loaded, first.rejected) == (899, 1)
    gdf.loc[500, "编号"] = gdf.loc[30, "编号"]  # row 501: row 31's id with other values
    gdf.loc[[350, 650], "编号"] = "NEW-1"  # rows 351 and 651: a new id, twice
    pyogrio.write_dataframe(gdf, path)
    if how == "fingerprinted ahead":  # the keys read slowly: the load fingerprints every batch
        from loaders.engine import direct, fingerprint

        ahead: list[int] = []
        slow = direct.fetch_known

        def read_slowly(*a, **kw):
            time.sleep(3)
            return slow(*a, **kw)

        def counted(read, batches, fp):
            known, done = read_while(read, batches, fp)
            ahead.append(len(done))
            return known, done

        read_while = fingerprint.read_while_fingerprinting
        monkeypatch.setattr(direct, "fetch_known", read_slowly)
        monkeypatch.setattr(fingerprint, "read_while_fingerprinting", counted)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300,
                       processes=processes)
    if how == "fingerprinted ahead":
        assert ahead == [3]
    # 401 repeats row 11 unconverted, 501 row 31 converted, 651 row 351's new id
    assert (r.read, r.inserted, r.updated, r.unchanged, r.rejected) == (900, 1, 0, 896, 3)
    assert r.rejected_by_reason == {"duplicate_source_id": 3}
    rej = fresh_db.rows("SELECT row_number FROM load_rejects WHERE batch_id = %s "
                        "ORDER BY row_number", (r.batch_id,))
    assert rej == [(401,), (501,), (651,)]
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL "
                           "AND source_key = 'dup:NEW-1'") == 1
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 900



def test_new_conversion_code_converts_every_row_and_versions_none(fresh_db, tmp_path,
                                                                  converted, monkeypatch):
    """A release whose conversion code differs in any byte (here: a module of the shared
    conversion code, written again) converts every row once on its first reload — nobody
    has to remember to bump a version — and the content hash still decides the versions."""
    from loaders.engine import fingerprint as fp

    mod = tmp_path / "cim_fake_conversion.py"
    mod.write_text("RULE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(fp, "CONVERSION_MODULES", (*fp.CONVERSION_MODULES,
                                                   "cim_fake_conversion"))
    fp.code_digest.cache_clear()
    path, _ = _delivery(tmp_path, "code")
    _load(fresh_db, path)
    converted.clear()
    fp.code_digest.cache_clear()
    _load(fresh_db, path)
    assert sum(converted) == 1  # the same code: only the duplicate row again
    mod.write_text("RULE = 2\n")  # the next release
    fp.code_digest.cache_clear()
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 900
    assert (r.updated, r.unchanged) == (0, 899)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 899
    fp.code_digest.cache_clear()


def _new_release(monkeypatch, tmp_path):
    """A module of the shared conversion code that the test rewrites: each write a release."""
    from loaders.engine import fingerprint as fp

    name = f"cim_fake_release_{tmp_path.name}"  # a module of its own: imported ones stay
    mod = tmp_path / f"{name}.py"
    mod.write_text("RULE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(fp, "CONVERSION_MODULES", (*fp.CONVERSION_MODULES, name))
    fp.code_digest.cache_clear()

    def release(rule: int) -> None:
        mod.write_text(f"RULE = {rule}\n")
        fp.code_digest.cache_clear()

    return release


def _versions(db) -> dict[int, str]:
    """Each row's id and tuple version (xmin): an UPDATE of a row makes a new one."""
    return dict(db.rows("SELECT id, xmin::text FROM buildings"))


def test_a_new_release_rewrites_no_unchanged_row_and_the_next_reload_skips_them(
        fresh_db, tmp_path, converted, monkeypatch):
    """Rows found unchanged under a new conversion are recorded once, by id, for their
    dataset (load_verified), not rewritten one by one (1M rows: 29 s and a new version of
    every tuple, docs/benchmarks.md); the reload after skips them by their fingerprints."""
    release = _new_release(monkeypatch, tmp_path)
    path, _ = _delivery(tmp_path, "rel")
    first = _load(fresh_db, path)
    before = _versions(fresh_db)
    release(2)
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 900 and (r.updated, r.unchanged) == (0, 899)
    assert _versions(fresh_db) == before  # no row written again
    # every current row found unchanged: one record, up to the reload's batch
    assert fresh_db.rows("SELECT upto_batch, ids FROM load_verified WHERE layer = 'buildings' "
                         "AND dataset = 'rel'") == [(r.batch_id, None)]
    converted.clear()
    again = _load(fresh_db, path)
    assert sum(converted) == 1  # only the row repeating another's id
    assert (again.updated, again.unchanged) == (0, 899)
    assert fresh_db.rows("SELECT id, conversion IS NOT NULL FROM load_batches WHERE id IN "
                         "(%s, %s, %s) ORDER BY id",
                         (first.batch_id, r.batch_id, again.batch_id)) == [
        (first.batch_id, True), (r.batch_id, True), (again.batch_id, True)]
    # the release after: the older arrays go, the rows are found unchanged once more
    release(3)
    converted.clear()
    third = _load(fresh_db, path)
    assert sum(converted) == 900 and (third.updated, third.unchanged) == (0, 899)
    assert fresh_db.rows("SELECT batch_id FROM load_verified WHERE dataset = 'rel'") == [
        (third.batch_id,)]
    assert _versions(fresh_db) == before


def test_a_feature_changed_in_a_new_release_gets_its_version_and_the_rest_are_verified(
        fresh_db, tmp_path, converted, monkeypatch):
    release = _new_release(monkeypatch, tmp_path)
    path, gdf = _delivery(tmp_path, "chg")
    _load(fresh_db, path)
    release(2)
    gdf.loc[5, "建筑名称"] = "改过的名称"
    pyogrio.write_dataframe(gdf, path)
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 900 and (r.updated, r.unchanged) == (1, 898)
    # the changed one retired, the others found unchanged: all of them covered at once
    assert fresh_db.rows("SELECT upto_batch, ids FROM load_verified WHERE dataset = 'chg'") \
        == [(r.batch_id, None)]
    converted.clear()
    again = _load(fresh_db, path)
    assert sum(converted) == 1 and (again.updated, again.unchanged) == (0, 899)


def test_a_partial_delivery_verifies_only_its_rows(fresh_db, tmp_path, converted,
                                                   monkeypatch):
    """After a new release, a delivery holding a third of the dataset's features (same file
    name: same dataset, update mode) finds those unchanged; the whole delivery after it
    converts the other two thirds, not the third verified already."""
    release = _new_release(monkeypatch, tmp_path)
    path, gdf = _delivery(tmp_path, "part")
    _load(fresh_db, path)
    release(2)
    part_dir = tmp_path / "part_only"
    part_dir.mkdir()
    part = part_dir / "part.gpkg"
    pyogrio.write_dataframe(gdf.iloc[:300], part)
    converted.clear()
    r = _load(fresh_db, part)
    assert sum(converted) == 300 and (r.updated, r.unchanged, r.retired) == (0, 300, 0)
    (ids,) = fresh_db.rows("SELECT ids FROM load_verified WHERE dataset = 'part'")[0]
    assert sorted(np.frombuffer(bytes(ids), dtype=">i8").tolist()) == sorted(
        i for i, in fresh_db.rows("SELECT id FROM buildings WHERE source_key = ANY(%s)",
                                  ([f"part:{k}" for k in gdf["编号"].iloc[:300]],)))
    converted.clear()
    whole = _load(fresh_db, path)
    assert sum(converted) == 600  # rows 301–900 (the repeated id among them)
    assert (whole.updated, whole.unchanged) == (0, 899)
    # the rest found unchanged too: all of them now, one record
    assert fresh_db.rows("SELECT upto_batch, ids FROM load_verified WHERE dataset = 'part'") \
        == [(whole.batch_id, None)]
    converted.clear()
    _load(fresh_db, path)
    assert sum(converted) == 1


def test_the_known_hashes_and_codes_never_ask_for_huge_pages():
    """A reload writes the hashes and codes of the few rows it converts into arrays sized for
    every key: their mapping must be advised against huge pages (Linux's VmFlags ``nh``), or
    each first write zeroes (and may compact memory for) 2 MB."""
    from pathlib import Path

    import numpy as np

    from loaders.engine.known import sparse_zeros
    from tests.test_pages import mappings_of

    if not Path("/proc/self/smaps").exists() or not Path("/sys/kernel/mm/transparent_hugepage").exists():
        pytest.skip("not Linux, or a kernel without transparent huge pages")
    a = sparse_zeros(1_000_000, "S64")
    assert a.shape == (1_000_000,) and a.dtype == np.dtype("S64") and not a.any()
    a[123_456] = b"f" * 64
    assert a[123_456] == b"f" * 64 and a[:123_456].tobytes().count(0) == 123_456 * 64
    flags = [m["VmFlags"].split() for m in mappings_of(a)]
    assert flags, "the array's memory is not in /proc/self/smaps"
    assert all("nh" in f and "hg" not in f for f in flags), flags


def test_the_conversion_digest_covers_the_modules_a_converted_row_depends_on():
    """Every module of the direct write's conversion that the building and component
    converters import (reading a batch's WKB, placing rows in districts and grid cells, the
    COPY buffers …) is in the digest: a change in one left out would let a reload skip rows
    that the new code converts otherwise. Known not to decide a row: the writer, the load's
    session and process plumbing."""
    import json
    import subprocess
    import sys

    from loaders.engine import fingerprint as fp

    plumbing = {"loaders.engine.bulk", "loaders.engine.retire_scope",  # (out of bulk)
                "loaders.engine.pipeline", "loaders.engine.session",
                "loaders.engine.workers", "loaders.engine.direct_writer",
                "loaders.engine.indexes", "loaders.engine.report", "loaders.engine.rows",
                "loaders.engine.batch", "loaders.engine.pages", "loaders.engine.fingerprint",
                "loaders.engine.copycols", "loaders.engine.checksum",
                # work begun while the command imports (checksum, number check): no row's
                "loaders.engine.ahead",
                "loaders.engine.conversions",
                # which process reads a batch (its rows are the batch read whole: tested)
                "loaders.engine.ranges",
                # the source CRS it resolves is in the conversion's context already
                "loaders.engine.area",
                "loaders.sources.precheck",
                # where a read writes what it needs; which state of a GeoPackage is read (its
                # committed rows, whose content the fingerprints then digest)
                "loaders.sources.scratch", "loaders.sources.gpkg_state"}
    # what the two loaders import, in an interpreter of their own (this one holds whatever
    # other tests imported)
    code = ("import json, sys, loaders.buildings, loaders.components\n"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                       capture_output=True, text=True).stdout)
    loader_modules = {"loaders.buildings", "loaders.components"}  # digested as the loader's
    used = {m for m in loaded if m.startswith("loaders.") and m.count(".") == 1
            and m not in loader_modules | {"loaders.engine", "loaders.sources"}}
    used |= {m for m in loaded
             if m.startswith(("loaders.engine.", "loaders.sources.")) and m not in plumbing}
    assert used - set(fp.CONVERSION_MODULES) == set()
    # the core's readers of values and names: numbers (as_float's), texts, CRSs
    assert {"cim.numbers", "cim.text", "cim.crs"} <= set(fp.CONVERSION_MODULES)


def test_the_writers_reader_is_closed_before_the_converters_fork(fresh_db, tmp_path,
                                                                   monkeypatch):
    """GDAL reads a GeoPackage's next batch on a thread of its own: a converter forked while
    that thread held SQLite's allocator mutex waited for it forever (a reload of 1M footprints
    hung in the bench). Every reader the writer's process opened is closed when a converter
    process starts — on a first load and on a reload that fingerprints batches ahead."""
    import multiprocessing.context as mpc
    import os

    from loaders.engine import fingerprint, pipeline

    parent = os.getpid()
    readers: list = []
    at_fork: list[list[bool]] = []
    iter_batches, start = pipeline.iter_batches, mpc.ForkProcess.start

    def spied_iter_batches(*a, **kw):
        gen = iter_batches(*a, **kw)
        if os.getpid() == parent:
            readers.append(gen)
        return gen

    def spied_start(self):
        at_fork.append([g.gi_frame is None for g in readers])
        return start(self)

    def read_slowly(*a, _slow=direct.fetch_known, **kw):
        time.sleep(2)  # the keys read slowly: the writer reads and fingerprints ahead
        return _slow(*a, **kw)

    monkeypatch.setattr(pipeline, "iter_batches", spied_iter_batches)
    monkeypatch.setattr(mpc.ForkProcess, "start", spied_start)
    path, gdf = _delivery(tmp_path, "fork")
    first = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300,
                           processes=2)
    assert first.read == 900
    gdf.loc[5, "建筑名称"] = "改"
    pyogrio.write_dataframe(gdf, path)
    ahead: list[int] = []
    read_while = fingerprint.read_while_fingerprinting

    def counted(read, batches, fp):
        known_, done = read_while(read, batches, fp)
        ahead.append(len(done))
        return known_, done

    monkeypatch.setattr(direct, "fetch_known", read_slowly)
    monkeypatch.setattr(fingerprint, "read_while_fingerprinting", counted)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300,
                       processes=2)
    assert (r.updated, r.unchanged) == (1, first.loaded - 1)
    assert ahead and ahead[0] >= 1  # batches were read ahead in the writer's process
    assert len(at_fork) == 4 and all(at_fork) and all(all(f) for f in at_fork), at_fork


def test_batches_fingerprinted_ahead_give_their_keys_back_as_made():
    """A batch fingerprinted while the keys are read is held with its keys as one Arrow
    array (a forked converter taking a list of the parent's strings copied the pages they lie
    in): the converter gets the same keys, a row without an id (null) included."""
    import threading

    import numpy as np
    import pyarrow as pa

    from loaders.engine import fingerprint

    class B:
        def __init__(self, first_row):
            self.first_row = first_row

    made = {1: ["ds:a", None, "ds:数"], 4: ["ds:d", "ds:e", None]}
    fps = {k: np.arange(k, k + 3, dtype=np.int64) for k in made}
    go = threading.Event()

    def read():
        go.wait(5)  # until every batch is fingerprinted
        return "known"

    def fp(batch, with_keys=True):
        if batch.first_row == 4:
            go.set()
        return (pa.array(made[batch.first_row], pa.string()) if with_keys else None), \
            fps[batch.first_row]

    got, done = fingerprint.read_while_fingerprinting(read, [B(1), B(4)], fp)
    assert got == "known" and sorted(done) == [1, 4]
    take = fingerprint.ahead(fp, done)
    keys, f = take(B(1))
    assert isinstance(keys, pa.Array) and keys.to_pylist() == ["ds:a", None, "ds:数"]
    assert f.tolist() == [1, 2, 3]
    keys, f = take(B(4), with_keys=False)
    assert keys is None and f.tolist() == [4, 5, 6]


def test_the_keys_a_reload_fingerprints_are_made_in_arrow_as_the_loaders_make_them():
    """loaders.common.id_keys (Arrow, for the fingerprint) gives each row the key
    source_keys gives it: the first id field's trimmed text, else a further field's as
    field=value, null where every id is blank — here written out by hand."""
    import pyarrow as pa

    from loaders.common import id_keys, source_keys

    first = pa.array(["Q-01 ", None, "  ", "\u3000甲\u3000", "x", "", "a\tb"])
    second = pa.array(["w1", "w2", None, "w4", " ", "w6", "w7"])
    want = ["ds:Q-01", "ds:osm_way_id=w2", None, "ds:甲", "ds:x", "ds:osm_way_id=w6",
            "ds:a\tb"]
    cols = [("id", first), ("osm_way_id", second)]
    assert id_keys("ds", cols, 7).to_pylist() == want
    assert source_keys("ds", cols, None, n=7) == want
    # numbers as read: the loaders' text of them (no Arrow text to work on)
    assert id_keys("ds", [("id", pa.array([1, None, 3]))], 3).to_pylist() == \
        ["ds:1", None, "ds:3"]

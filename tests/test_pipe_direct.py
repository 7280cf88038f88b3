"""A pipe delivery is written directly (loaders/pipes/write.py on loaders/engine/direct.py):
an initial load of a large delivery builds both pipe layers' indexes after its rows — the same
rows as a load that maintains them, every declared index there afterwards, after a failed load
too — and a pipe layer left without an index (a killed initial load) gets it back at the next
pipe load."""

from __future__ import annotations

import psycopg
import pytest

from cim.db.schema import schema_drift
from loaders.pipes import write
from loaders.pipes.load import load_pipes_files
from tests.conftest import SAMPLES
from tests.test_registry_partitions import vacuums

PIPES = SAMPLES / "pipes"
TABLES = ("pipe_points", "pipe_segments")
INDEXES = ("SELECT c.relname, c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
           "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY 1")
# the declared indexes (cim/layerdefs.py, the migrations), named here by hand
DECLARED = {
    "pipe_points": {"pipe_points_code_current_uq", "pipe_points_source_key_current_idx",
                    "pipe_points_geom_gist", "pipe_points_segment_current_idx"},
    "pipe_segments": {"pipe_segments_code_current_uq", "pipe_segments_source_key_current_idx",
                      "pipe_segments_geom_gist", "pipe_segments_start_point_current_idx",
                      "pipe_segments_end_point_current_idx"},
}


def _indexes(db) -> dict[str, dict[str, int]]:
    return {t: dict(db.rows(INDEXES, (t,))) for t in TABLES}


def _drift(db) -> list[str]:
    return [d for d in schema_drift(db.conninfo, db.profile.srid) if "pipe_" in d]


def _stored(db, dataset: str) -> dict[str, list[tuple]]:
    """Each pipe layer's current rows of ``dataset`` by source key (the dataset left out):
    every column but ids, times and the batch, codes (their own and those they reference)
    without their serials, and the content hash (it covers the referenced codes)."""
    out = {}
    for t in TABLES:
        refs = ("start_point_code", "end_point_code") if t == "pipe_segments" \
            else ("segment_code",)
        drop = " ".join(f"- '{c}'" for c in ("id", "batch_id", "valid_from", "valid_to",
                                             "source_key", "code", "row_hash", *refs))
        out[t] = sorted((r[0], r[1], r[2:-1], r[-1]) for r in db.rows(
            f"SELECT split_part(source_key, ':', 2) || ':' || split_part(source_key, ':', 3), "
            f"(to_jsonb(t) {drop} - 'geom')::text, "
            + ", ".join(f"left({c}, 10)" for c in ("code", *refs)) +
            f", ST_AsEWKB(geom) FROM {t} t WHERE valid_to IS NULL AND source_key LIKE %s",
            (dataset + ":%",)))
    return out


def test_an_initial_pipe_load_builds_the_indexes_after_its_rows(fresh_db, monkeypatch):
    before = _indexes(fresh_db)
    assert {t: set(v) for t, v in before.items()} == DECLARED  # premise: the names above
    vacuumed = {t: vacuums(fresh_db, t) for t in TABLES}
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [PIPES], dataset="after")
    assert r.read == qa.points + qa.segments > 500 and r.read == r.loaded + r.rejected
    after = _indexes(fresh_db)
    for t in TABLES:  # every declared index, each built anew
        assert set(after[t]) == DECLARED[t] and not set(after[t].values()) & \
            set(before[t].values()), t
    assert _drift(fresh_db) == []
    for t in TABLES:  # vacuumed after the bulk load (pages all-visible: see vacuums)
        assert vacuums(fresh_db, t) == vacuumed[t] + 1, t
    # the layers are not empty now: the next load maintains the indexes as they are
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [PIPES], dataset="kept")
    assert _indexes(fresh_db) == after
    assert (r2.read, r2.loaded, r2.rejected) == (r.read, r.loaded, r.rejected)
    a, k = _stored(fresh_db, "after"), _stored(fresh_db, "kept")
    assert a == k and all(len(a[t]) > 100 for t in TABLES)
    plan = "\n".join(x[0] for x in fresh_db.rows(
        "EXPLAIN SELECT 1 FROM pipe_segments WHERE valid_to IS NULL AND source_key = 'after:x'"))
    assert "pipe_segments_source_key_current_idx" in plan


def test_a_failed_initial_pipe_load_leaves_empty_layers_with_their_indexes(fresh_db,
                                                                          monkeypatch):
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    seen = {}

    def failing(session, conn, *args, **kw):  # the points are in, the segments fail
        seen["points"] = conn.execute("SELECT count(*) FROM pipe_points").fetchone()[0]
        seen["indexes"] = len(conn.execute(INDEXES, ("pipe_points",)).fetchall())
        raise KeyError("injected")

    monkeypatch.setattr(write, "_write_segments", failing)
    with pytest.raises(KeyError, match="injected"):
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, [PIPES])
    assert seen["points"] > 500 and seen["indexes"] == 0  # premise: it failed mid-load
    for t in TABLES:
        assert fresh_db.scalar(f"SELECT count(*) FROM {t}") == 0
    assert fresh_db.scalar("SELECT count(*) FROM code_registry WHERE layer = ANY(%s)",
                           (list(TABLES),)) == 0
    assert {t: set(v) for t, v in _indexes(fresh_db).items()} == DECLARED
    assert _drift(fresh_db) == []
    assert fresh_db.scalar("SELECT status FROM load_batches ORDER BY id DESC LIMIT 1") == \
        "failed"


def test_a_pipe_layer_without_an_index_gets_it_back_at_the_next_pipe_load(fresh_db):
    # what a killed initial load leaves: the empty layer without (some of) its indexes
    with psycopg.connect(fresh_db.conninfo, autocommit=True) as conn:
        conn.execute("DROP INDEX pipe_points_geom_gist")
        conn.execute("DROP INDEX pipe_segments_start_point_current_idx")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [PIPES])  # < 100,000 rows
    assert r.loaded > 0
    assert {t: set(v) for t, v in _indexes(fresh_db).items()} == DECLARED
    assert _drift(fresh_db) == []


def test_an_invalid_pipe_index_is_built_again_at_the_next_pipe_load(fresh_db):
    # what a DROP INDEX CONCURRENTLY cancelled half-way leaves (the catalog flag set by hand)
    with psycopg.connect(fresh_db.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE pg_index SET indisvalid = false "
                     "WHERE indexrelid = 'pipe_segments_geom_gist'::regclass")
    valid = ("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
             "ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass AND NOT i.indisprimary")
    assert dict(fresh_db.rows(valid, ("pipe_segments",)))["pipe_segments_geom_gist"] is False
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [PIPES])
    assert r.loaded > 0
    for t in TABLES:
        assert dict(fresh_db.rows(valid, (t,))) == {n: True for n in DECLARED[t]}, t

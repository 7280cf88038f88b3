"""Keys read early (loaders/engine/keyread.py): taken only when no load has committed since,
only for the layer and dataset they were read for; a load given stale ones reads them again."""

from __future__ import annotations

import psycopg
import pyogrio

from cim.layerdefs import BUILDINGS
from loaders.buildings import load_buildings
from loaders.engine import batch
from loaders.engine.keyread import EarlyKeys, read_keys
from tests.conftest import run_cli
from tests.test_direct_load import _delivery


def _early(db, dataset: str) -> EarlyKeys:
    return EarlyKeys(db.conninfo, BUILDINGS.table, BUILDINGS.name, dataset)


def test_keys_read_early_are_taken_only_if_no_load_committed_since(fresh_db, tmp_path):
    path, _ = _delivery(tmp_path, "ek", n=200)
    load_buildings(fresh_db.conninfo, fresh_db.profile, path)
    early, other, stale = _early(fresh_db, "ek"), _early(fresh_db, "other"), _early(fresh_db, "ek")
    with psycopg.connect(fresh_db.conninfo) as conn:
        raw = early.take(conn, BUILDINGS.table, BUILDINGS.name, "ek")
        assert raw is not None and raw.count == 200
        assert raw == read_keys(conn, BUILDINGS.table, BUILDINGS.name, "ek")
        assert early.take(conn, BUILDINGS.table, BUILDINGS.name, "ek") is None  # taken once
        assert other.take(conn, BUILDINGS.table, BUILDINGS.name, "ek") is None  # another dataset's
    stale._thread.join()
    # a load commits after the early read: its keys are not taken
    load_buildings(fresh_db.conninfo, fresh_db.profile, tmp_path / "ek.gpkg", dataset="more")
    with psycopg.connect(fresh_db.conninfo) as conn:
        assert stale.take(conn, BUILDINGS.table, BUILDINGS.name, "ek") is None


def test_a_load_given_stale_early_keys_reads_them_again(fresh_db, tmp_path):
    """Keys read before another load of the dataset committed: the load must not judge its
    rows against them (every row would be new: twin current versions of each key)."""
    path, gdf = _delivery(tmp_path, "sk", n=200)
    early = _early(fresh_db, "sk")  # the layer holds nothing of the dataset yet
    early._thread.join()
    load_buildings(fresh_db.conninfo, fresh_db.profile, path)  # commits 200 features
    gdf.loc[3, "建筑名称"] = "改"
    pyogrio.write_dataframe(gdf, path)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, early=early)
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 199)
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL") == 200


def test_the_cli_reload_with_keys_read_early(fresh_db, tmp_path):
    path, gdf = _delivery(tmp_path, "ck", n=200)
    run_cli(["load", "buildings", str(path), "--quiet"], fresh_db.env(), check=True)
    gdf.loc[[3, 7], "建筑名称"] = "改"
    pyogrio.write_dataframe(gdf, path)
    out = run_cli(["load", "buildings", str(path), "--json"], fresh_db.env(), check=True)
    assert '"updated": 2' in out.stdout
    assert fresh_db.rows("SELECT count(*) FILTER (WHERE valid_to IS NULL), count(*) "
                         "FROM buildings") == [(200, 202)]


def test_a_succeeded_batch_is_never_recorded_failed_afterwards(fresh_db, tmp_path):
    """A COMMIT that went through though its reply was lost makes the session record a
    failure: the batch's record stays 'succeeded' (the count EarlyKeys compares never goes
    down, which would let keys read before that load pass for current)."""
    path, _ = _delivery(tmp_path, "fb", n=50)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path)
    before = fresh_db.scalar("SELECT count(*) FROM load_batches WHERE status = 'succeeded'")
    batch.finish_batch(fresh_db.conninfo, r, error="the server closed the connection")
    assert fresh_db.scalar("SELECT status FROM load_batches WHERE id = %s",
                           (r.batch_id,)) == "succeeded"
    assert fresh_db.scalar("SELECT count(*) FROM load_batches WHERE status = 'succeeded'") == \
        before

"""The lifecycle of one load batch (:class:`LoadSession`): its record, its transaction, its end.

Apart from :mod:`loaders.engine.pipeline` (what a load does) because every loader that writes
layers — the single-layer pipeline, the pipe survey's two tables, the sensors — takes the same
session: one batch, one transaction, the batch's outcome recorded on every path.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from pathlib import Path
from typing import Any

import psycopg

from cim import interrupts
from cim.errors import CimError, InputError
from cim.layerdefs import LAYERS, LayerDef
from loaders.engine import batch, bulk, indexes
from loaders.engine.checksum import delivery_files, files_sha256_job, files_sha256_started
from loaders.engine.report import LoadReport
from loaders.engine.retire_scope import RetireScope

APPLICATION_NAME = "cim-load"


class LoadSession:
    """The lifecycle of one load batch, for loaders that write one layer or several.

    On enter: the batch is recorded as running with its advisory lock held
    (:mod:`loaders.engine.batch`); :meth:`begin` opens the load's transaction on
    ``self.conn``. On a clean exit the caller's writers' work and the batch's 'succeeded'
    record commit together; on any exception — the COMMIT's included — everything rolls back
    and the batch is marked failed with the error.
    """

    def __init__(self, conninfo: str, layer_name: str, path: Path, mode: str,
                 options: dict[str, Any], report: LoadReport,
                 files: list[Path] | None = None, source: str | None = None) -> None:
        dataset = options.get("dataset")
        if isinstance(dataset, str) and (":" in dataset or not dataset.strip()):
            # a source key is dataset:id: with a colon, dataset "a" would own the keys of
            # dataset "a:b" (a replace of "a" would retire them)
            raise InputError(f"dataset name {dataset!r}: give a non-empty name without ':' "
                             "(--dataset; the default is the file name)", path=str(path))
        self.conninfo = conninfo
        self.layer_name = layer_name
        self.path = path
        # what load_batches.source_path records: the path, or the paths a delivery was given
        # as (a pipe survey's folder, or its point and segment tables: `cim batches` named
        # the first table only)
        self.source = source or str(path.resolve())
        self.files = files or delivery_files(path)
        self.mode = mode
        self.options = options
        self.report = report
        self.conn: psycopg.Connection | None = None
        self.scope: RetireScope | None = None
        self.t0 = time.monotonic()
        self._sha: concurrent.futures.Future | None = None

    def __enter__(self) -> LoadSession:
        # the delivery's checksum is for the batch's record only: read beside the load (the
        # hash runs without the GIL) instead of before it (0.4 s for a 280 MB GeoPackage),
        # written with the batch's outcome. Its hash objects are made here: the thread may
        # still run when the converters fork, and only feeds them (loaders.engine.checksum)
        # (begun while the command imported its modules, if it was: checksum.start_files_sha256)
        self._sha = files_sha256_started(self.files)
        if self._sha is None:
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cim-sha256")
            self._sha = pool.submit(files_sha256_job(self.files))
            pool.shutdown(wait=False)
        self.report.batch_id = batch.start_batch(
            self.conninfo, self.layer_name, self.source, None, self.mode,
            self.options)
        interrupts.begun(self._work())
        return self

    def _work(self) -> str:
        return f"load batch {self.report.batch_id}"


    def sha256(self) -> str | None:
        """The delivery's checksum (None if its files could not be read again)."""
        try:
            return self._sha.result() if self._sha is not None else None
        except OSError:
            return None

    def begin(self) -> psycopg.Connection:
        # named, so that a DBA (and the kill -9 test) can tell a load in pg_stat_activity
        self.conn = psycopg.connect(self.conninfo, application_name=APPLICATION_NAME)
        indexes.restore_before_load(self.conn, LAYERS.get(self.layer_name))
        self.scope = RetireScope(self.conn, self.report.batch_id)
        return self.conn

    def writer(self, layer: LayerDef, srid: int, layer_code: str | None) -> bulk.BulkWriter:
        assert self.conn is not None and self.scope is not None, "call begin() first"
        return bulk.BulkWriter(self.conn, layer, srid, self.report.batch_id, layer_code,
                               scope=self.scope)

    def retire(self, layer: LayerDef | None = None) -> int:
        """Replace mode: retire what the whole delivery left out of ``layer`` (of every layer
        written so far if None). Call it once a layer's last write is done; :meth:`succeed`
        retires whatever is left."""
        assert self.scope is not None, "call begin() first"
        n = self.scope.retire(layer)
        self.report.retired += n
        for table, dataset, kept, (where,) in self.scope.kept:
            self.report.notes.append(
                f"replace: {kept} current {table} feature(s) of dataset {dataset!r} in "
                f"{where} are not in this delivery: kept, not retired (another district's "
                "file or another layer of the same name? --dataset names a delivery's own)")
        self.scope.kept.clear()
        return n

    def succeed(self) -> None:
        """Record success inside the load's transaction (commits with the data)."""
        r = self.report
        assert self.conn is not None
        self.retire()
        r.rejected = self.conn.execute("SELECT count(*) FROM load_rejects WHERE batch_id = %s",
                                       (r.batch_id,)).fetchone()[0]
        if r.loaded + r.rejected != r.read:
            raise CimError(f"internal accounting error: read {r.read} ≠ loaded {r.loaded} + "
                           f"rejected {r.rejected}; nothing loaded")
        r.seconds = time.monotonic() - self.t0
        r.status = "succeeded"
        self.conn.execute(
            "UPDATE load_batches SET status = 'succeeded', finished_at = now(), read = %s, "
            "loaded = %s, rejected = %s, report = %s, source_crs = %s, source_sha256 = %s "
            "WHERE id = %s",
            (r.read, r.loaded, r.rejected, json.dumps(r.to_dict(), ensure_ascii=False),
             r.source_crs, self.sha256(), r.batch_id))

    def __exit__(self, exc_type, exc, tb) -> None:
        """Commit or roll back, close the load's connection and end the batch — on every
        path: the COMMIT itself may fail (a deferred constraint, a serialization failure,
        the connection lost), and then the batch is recorded failed with that error."""
        failure, commit_error = exc, None
        if self.conn is not None:
            try:
                if exc is None:
                    self.conn.commit()
                else:
                    self.conn.rollback()
            except BaseException as e:  # noqa: BLE001 - recorded below, then re-raised
                if exc is None:
                    failure = commit_error = e
            finally:
                self.conn.close()  # a broken transaction is discarded with the connection
        if failure is None:
            r = self.report
            interrupts.ended(self._work(), f"{self._work()} ({r.layer}) succeeded: read {r.read}"
                             f", loaded {r.loaded}, rejected {r.rejected}")
            batch.release_batch(self.report.batch_id)
            return
        if isinstance(failure, Exception):  # (an interrupt leaves the work under way)
            interrupts.ended(self._work(), None)
        self.report.seconds = time.monotonic() - self.t0
        msg = str(failure) if isinstance(failure, CimError) \
            else f"{type(failure).__name__}: {failure}"
        try:
            batch.finish_batch(self.conninfo, self.report, error=msg, sha256=self.sha256())
        except psycopg.Error as e:  # the database is gone: the next load marks it failed
            failure.add_note(f"batch {self.report.batch_id} could not be recorded as failed "
                             f"({e}); the next load records it")
        if commit_error is not None:
            raise commit_error

"""The direct write's writer: :class:`DirectWriter` takes the converters' ready batches
(:class:`loaders.engine.converted.DirectBatch`) into the layer and the code registry, inside the
load's transaction, under the layer's merge lock.

It runs in the load's own process, on the critical path (the server waits while it works), so
it does NumPy work only: serials reserved for a batch's prefixes at once, their digits patched
into the buffers in place, the buffers sent as they came.
"""

from __future__ import annotations

import time

import numpy as np
from psycopg import sql

from cim.coding.allocator import reserve_serials
from cim.coding.registry import NewPartition
from loaders.engine import conversions, copybuf
from loaders.engine.bulk import BulkWriter, MergeResult, merge_lock
from loaders.engine.converted import DirectBatch
from loaders.engine.direct import REGISTRY_COLUMNS, layer_copy_columns, serial_width
from loaders.engine.known import Known


class DirectWriter:
    """Writes :class:`DirectBatch` es into the layer inside the load's transaction."""

    def __init__(self, writer: BulkWriter) -> None:
        self.w = writer
        self.conn = writer.conn
        self.layer = writer.layer
        self.width = serial_width(self.layer)
        self.result = MergeResult()
        self.seen_table = None
        self.known_current = 0
        self.seconds: dict[str, float] = {}  # where the writer's time went, by phase
        self._t = 0.0
        names = sql.SQL(", ").join(map(sql.Identifier, layer_copy_columns(self.layer)))
        self.copy_layer = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(self.layer.table), names)
        self.copy_registry = sql.SQL("COPY code_registry ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.SQL(", ").join(map(sql.Identifier, REGISTRY_COLUMNS)))
        self.partition: NewPartition | None = None
        # the digest of the load's conversion and what the layer held (Known); rows of Known
        # of older conversions found unchanged, or changed (loaders.engine.conversions)
        self.conversion: str | None = None
        self.known: Known | None = None
        self.verified: list[np.ndarray] = []
        self.stale_changed: list[np.ndarray] = []
        self.retire = sql.SQL(
            "UPDATE {} SET valid_to = now() WHERE valid_to IS NULL AND source_key = ANY(%s)"
        ).format(sql.Identifier(self.layer.table))
        # a fingerprint is no content: kept in place, no new version
        self.refresh = sql.SQL(
            "UPDATE {} t SET source_hash = v.fp, row_hash = v.h "
            "FROM unnest(%s::text[], %s::int8[], %s::text[]) AS v(key, fp, h) "
            "WHERE t.valid_to IS NULL AND t.source_key = v.key"
        ).format(sql.Identifier(self.layer.table))

    def convert_as(self, conversion: str, known: Known) -> None:
        """The digest of the conversion the load's rows are written (or found unchanged)
        under (:mod:`loaders.engine.fingerprint`), and what the layer held when the load began:
        recorded when it finishes (:func:`loaders.engine.conversions.record`)."""
        self.conversion, self.known = conversion, known

    def lock(self) -> None:
        """The layer's merge lock, for the whole load (see the module docstring)."""
        merge_lock(self.conn, self.layer.table)

    def own_registry_partition(self, conninfo: str) -> NewPartition | None:
        """For a layer's initial load: its codes into a registry partition of its own, filled
        and indexed on a connection of its own (:mod:`cim.coding.registry`), if the layer has
        no code yet; the partition (None: the codes go into the registry)."""
        self.partition = NewPartition.start(self.conn, conninfo, self.layer.name)
        return self.partition

    def attach_registry_partition(self) -> None:
        """Attach the layer's new registry partition: the load's last statement before its
        commit (the attach locks the default partition until then)."""
        if self.partition is not None:
            self.partition.attach(self.conn)

    def _tick(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._t
        self._t = now

    def write(self, b: DirectBatch) -> None:
        conn, r = self.conn, self.result
        self._t = time.perf_counter()
        self.known_current = b.known_current
        if b.rejects:
            self.w.copy_rejects(b.rejects)
            self._tick("rejects")
        r.unchanged += b.unchanged
        if b.refresh[0]:
            conn.execute(self.refresh, b.refresh)
            self._tick("refresh fingerprints")
        if b.changed_keys:
            r.updated += conn.execute(self.retire, (b.changed_keys,)).rowcount
            self._tick("retire changed")
        new = len(b.new_prefix)
        if b.layer_rows:
            if new:
                # the batch's prefixes come factorized (the converter's work): counts, bases
                # and digits are NumPy work, the buffers patched in place (this process owns
                # the batch), never copied
                counts = np.bincount(b.new_prefix, minlength=len(b.prefixes))
                base = reserve_serials(conn, dict(zip(b.prefixes, counts.tolist())),
                                       self.width)
                bases = np.array([base[p] for p in b.prefixes], dtype=np.int64)
                digits = copybuf.digits(bases[b.new_prefix] + b.new_rank, self.width)
                # patched where they are: a converter process's buffers arrive as this
                # process's own bytearrays, a batch converted here holds writable views of
                # its own fresh Arrow buffers (copybuf.rows)
                copybuf.patch(b.layer_data, b.layer_code_pos, digits)
                copybuf.patch(b.registry_data, b.registry_code_pos, digits[b.registry_order])
                r.issued += new
                self._tick("serials")
            with conn.cursor().copy(self.copy_layer) as cp:
                cp.write(copybuf.HEADER)
                # a view: psycopg sends a large buffer in 128 KiB slices, and slices of a
                # bytearray are copies (~0.5 GB a million footprints)
                cp.write(memoryview(b.layer_data))
                cp.write(copybuf.TRAILER)
            self._tick("COPY layer")
            if new and self.partition is not None:  # COPYed by the partition's connection
                self.partition.write(copybuf.HEADER, memoryview(b.registry_data),
                                     copybuf.TRAILER)
                self._tick("COPY registry")
            elif new:
                with conn.cursor().copy(self.copy_registry) as cp:
                    cp.write(copybuf.HEADER)
                    cp.write(memoryview(b.registry_data))
                    cp.write(copybuf.TRAILER)
                self._tick("COPY registry")
            r.inserted += b.layer_rows
            r.reused += b.reused
        if b.seen_keys is not None:
            self._seen(b.seen_keys)
        if len(b.verified):
            self.verified.append(b.verified)
        if len(b.stale_changed):
            self.stale_changed.append(b.stale_changed)

    def _seen(self, keys: list[str]) -> None:
        if self.seen_table is None:
            # one a layer: a delivery may write a layer twice (pipe nodes, then valves); the
            # retire scope takes what both brought
            self.seen_table = f"_cim_direct_seen_{self.layer.table}"
            self.conn.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (source_key text) "
                                      "ON COMMIT DROP").format(sql.Identifier(self.seen_table)))
        with self.conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(
                sql.Identifier(self.seen_table))) as cp:
            cp.write(copybuf.HEADER)
            cp.write(copybuf.rows([copybuf.text(np.asarray(keys, dtype=object))], len(keys),
                                  copy=False)[0])
            cp.write(copybuf.TRAILER)

    def finish(self, mode: str, dataset: str | None) -> MergeResult:
        r = self.result
        if self.conversion is not None and self.known is not None:
            conversions.record(self.conn, self.layer, dataset, self.w.batch_id,
                               self.conversion, self.known, self.verified, self.stale_changed)
        r.inserted -= r.updated  # a changed feature's new version is counted as updated
        if mode == "replace" and dataset is not None:
            if self.seen_table is None:
                self._seen([])
            self.w.scope.add(self.layer, self.seen_table, dataset)
        return r

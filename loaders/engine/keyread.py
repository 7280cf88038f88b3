"""The dataset's source keys as the layer holds them, read in one scan (:func:`read_keys`) —
and read early (:class:`EarlyKeys`): a load command starts the scan before it imports its
modules, so that the server scans while Python imports (a reload's first ~0.6 s, with a core
idle otherwise).

A scan read early is taken only if no load has committed since: the load reads the count of
succeeded load batches again once it holds the layer's merge lock, and reads the keys anew if
it changed. For the layers it is used for (buildings, components: ``cim load`` commands) every
write is a load, whose batch turns 'succeeded' in the transaction that writes its rows
(:mod:`loaders.engine.session`), and a succeeded batch is never recorded otherwise afterwards
(:func:`loaders.engine.batch.finish_batch`): an unchanged count means an unchanged layer. Not
for layers written otherwise (risk points are written by the risk rules, without a batch).
This module imports nothing heavy: it runs before the loaders' modules are imported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg
from psycopg import sql

# every load that changed a layer, counted as the layer's readers see it
SUCCEEDED = "SELECT count(*) FROM load_batches WHERE status = 'succeeded'"


def like_prefix(dataset: str) -> str:
    """The LIKE pattern of the dataset's source keys (``dataset:…``)."""
    return dataset.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + ":%"


# a source key with its backslashes, newlines and tabs escaped (an id may hold any of them), so
# that keys can be joined by newlines
ESCAPED = ("replace(replace(replace(source_key, '\\', '\\\\'), chr(10), '\\n'), "
           "chr(9), '\\t')")


@dataclass
class RawKeys:
    """The scan's aggregates (see :func:`read_keys`)."""

    keys: bytes | None  # newline-joined UTF-8, escaped if ``escaped``
    count: int
    fps: bytes | None  # 8 big-endian bytes a row
    ids: bytes | None
    batches: tuple[int | None, int | None]  # the least and greatest batch that wrote a row
    flags: str | None  # a line a row
    flagged: bool | None
    escaped: bool
    coded: bool  # whether the registry holds any key of the dataset


def read_keys(conn: psycopg.Connection, table: str, layer_name: str, dataset: str
              ) -> RawKeys:
    """The dataset's current keys with their fingerprints, ids and flags, each column as one
    aggregated value (keys newline-joined — escaped only when one holds a newline, which the
    count of rows tells; fingerprints and ids one bytea of 8 bytes each; flags a line a row;
    the range of the batches that wrote them),
    to be taken apart in C (:mod:`loaders.engine.known`): a row per key cost a Python call
    each (a million keys took 8 s as a text COPY, 4.9 s fetched as rows)."""
    tbl = sql.Identifier(table)
    like = sql.Literal(like_prefix(dataset))
    parallel = conn.execute("SELECT current_setting('max_parallel_workers_per_gather')"
                            ).fetchone()[0]
    # one Agg node feeds every row to all the aggregates in turn, so they list the rows in one
    # order; parallel partial aggregates would not
    conn.execute("SELECT set_config('max_parallel_workers_per_gather', '0', false)")
    try:
        with conn.cursor(binary=True) as cur:
            def read(escaped: bool) -> tuple:
                key = ESCAPED if escaped else "source_key"
                # flags: a line a row (flag codes have no newline), blank without any
                return cur.execute(sql.SQL(
                    "SELECT convert_to(string_agg(" + key + ", chr(10)), 'UTF8'), count(*), "
                    "string_agg(int8send(coalesce(source_hash, 0)), ''), "
                    "string_agg(int8send(id), ''), "
                    "min(coalesce(batch_id, 0)), max(batch_id), "
                    "string_agg(array_to_string(flags, chr(31)), chr(10)), "
                    "bool_or(cardinality(flags) > 0) "
                    "FROM {} WHERE valid_to IS NULL AND source_key LIKE {}").format(tbl, like)
                ).fetchone()

            # the keys as stored (escaping every key cost the server ~0.2 s a million); read
            # again escaped, all columns in one scan's order, only if one held a newline
            row = read(escaped=False)
            escaped = bool(row[0]) and bytes(row[0]).count(b"\n") != row[1] - 1
            if escaped:
                row = read(escaped=True)
            coded = cur.execute(sql.SQL(
                "SELECT EXISTS (SELECT 1 FROM code_registry WHERE layer = {} "
                "AND source_key LIKE {})").format(sql.Literal(layer_name), like)).fetchone()[0]
    finally:
        conn.execute("SELECT set_config('max_parallel_workers_per_gather', %s, false)",
                     (parallel,))
    keys, count, fps, ids, first, last, flags, flagged = row
    return RawKeys(keys=bytes(keys) if keys is not None else None, count=count,
                   fps=bytes(fps) if fps is not None else None,
                   ids=bytes(ids) if ids is not None else None,
                   batches=(first, last), flags=flags,
                   flagged=flagged, escaped=escaped, coded=coded)


class EarlyKeys:
    """:func:`read_keys` on a connection and thread of its own, in one snapshot with the count
    of succeeded loads; :meth:`take` gives it to the load that asks for the same layer and
    dataset if no load has committed since (else None: the load reads them itself)."""

    def __init__(self, conninfo: str, table: str, layer_name: str, dataset: str) -> None:
        self.table, self.layer_name, self.dataset = table, layer_name, dataset
        self._done: int | None = None  # the count of succeeded batches in the snapshot
        self._counted = threading.Event()  # set once _done is known (or the read failed)
        self._conn: psycopg.Connection | None = None
        self._raw: RawKeys | None = None
        self._thread = threading.Thread(target=self._run, args=(conninfo,),
                                        name="cim-early-keys", daemon=True)
        self._thread.start()

    def _run(self, conninfo: str) -> None:
        try:
            with psycopg.connect(conninfo, application_name="cim-load-keys") as conn:
                self._conn = conn
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                self._done = conn.execute(SUCCEEDED).fetchone()[0]
                self._counted.set()
                self._raw = read_keys(conn, self.table, self.layer_name, self.dataset)
        except Exception:  # noqa: BLE001 - only an early start: the load reads them itself
            self._raw = None
        finally:
            self._conn = None
            self._counted.set()

    def take(self, conn: psycopg.Connection, table: str, layer_name: str, dataset: str
             ) -> RawKeys | None:
        """The keys read early, if they are of this layer and dataset and no load has
        committed since (``conn``: the load's, holding the layer's merge lock); else None,
        the early scan cancelled if it still runs."""
        self._counted.wait()
        if self._done is None or (table, layer_name, dataset) != (
                self.table, self.layer_name, self.dataset) or \
                conn.execute(SUCCEEDED).fetchone()[0] != self._done:
            early = self._conn
            if early is not None:
                try:
                    early.cancel()  # a scan no one will take
                except Exception:  # noqa: BLE001 - it ends by itself all the same
                    pass
            self._done = None  # taken once
            return None
        self._done = None
        self._thread.join()
        raw, self._raw = self._raw, None
        return raw

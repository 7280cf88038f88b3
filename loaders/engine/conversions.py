"""Which conversion a layer's current rows are of (migration 0013): ``load_batches.conversion``
and ``load_verified``, read before a reload converts (:func:`of_this_conversion`) and written
in its transaction (:func:`record`).

A reload skips a row whose raw-source fingerprint is the stored one only if the row's content
is what the load's conversion writes (:mod:`loaders.engine.fingerprint`: its digest covers
loader version, code, mapping, CRS, options, boundaries). A row is of a conversion when the
batch that wrote it ran it, or when a load under it found the row unchanged since. That last
is recorded once for the dataset, not row by row: every current row up to the load's batch
when the load found each one unchanged or changed (``upto_batch``), else the ids of those it
found unchanged (a partial delivery). Rewriting each such row instead cost a million footprints
29 s and a new version of every tuple on the first reload after each release
(docs/benchmarks.md, 2026-12-04).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import psycopg
from psycopg import sql

from cim.layerdefs import LayerDef
from loaders.engine.keyread import like_prefix

if TYPE_CHECKING:
    from loaders.engine.known import Known

# the succeeded batches of a layer after a record's batch that ran another conversion
_OTHER = """SELECT id FROM load_batches WHERE layer = %(layer)s AND status = 'succeeded'
    AND id > %(upto)s AND conversion IS DISTINCT FROM %(conversion)s"""


def of_this_conversion(conn: psycopg.Connection, layer: LayerDef, dataset: str,
                       conversion: str, batches: tuple[int | None, int | None],
                       ids: np.ndarray) -> np.ndarray | None:
    """Per current row of the dataset (``ids``, in the key scan's order; ``batches``: the
    least and greatest batch that wrote one, a row without a batch counted as 0): whether its
    content is of ``conversion``. None: every row's is — a reload under the conversion of the
    loads before asks one question, not one a row.

    Rows up to the dataset's last complete record are; rows of later batches are if their
    batch ran this conversion; the others (a new release's first reload, or rows after a
    partial delivery) are read by id and looked up among the ids recorded."""
    if not len(ids):
        return None
    first, last = batches
    upto = conn.execute(
        "SELECT coalesce(max(upto_batch), 0) FROM load_verified WHERE layer = %s "
        "AND dataset = %s AND conversion = %s", (layer.name, dataset, conversion)).fetchone()[0]
    args = {"layer": layer.name, "upto": upto, "conversion": conversion}
    if first is not None and (first > 0 or upto > 0) and not conn.execute(
            f"SELECT EXISTS ({_OTHER} AND id BETWEEN %(first)s AND %(last)s)",
            {**args, "first": first, "last": last}).fetchone()[0]:
        return None
    # the current rows of other conversions' batches, or of none (written before 0013), by id
    (stale,) = conn.execute(sql.SQL(
        "SELECT string_agg(int8send(id), '') FROM {} WHERE valid_to IS NULL "
        "AND source_key LIKE %(like)s AND ((batch_id IS NULL AND %(upto)s = 0) "
        "OR batch_id IN (" + _OTHER + "))"
    ).format(sql.Identifier(layer.table)), {**args, "like": like_prefix(dataset)},
        binary=True).fetchone()
    now = np.ones(len(ids), dtype=bool)
    if stale is None:
        return now
    stale_ids = np.sort(np.frombuffer(bytes(stale), dtype=">i8").astype(np.int64))
    recorded = [np.frombuffer(r[0], dtype=">i8").astype(np.int64) for r in conn.execute(
        "SELECT ids FROM load_verified WHERE layer = %s AND dataset = %s AND conversion = %s "
        "AND ids IS NOT NULL", (layer.name, dataset, conversion), binary=True)]
    if recorded:
        stale_ids = stale_ids[~np.isin(stale_ids, np.concatenate(recorded))]
    if len(stale_ids):
        i = np.minimum(np.searchsorted(stale_ids, ids), len(stale_ids) - 1)
        now &= stale_ids[i] != ids
    return now


def record(conn: psycopg.Connection, layer: LayerDef, dataset: str | None, batch_id: int,
           conversion: str, known: Known, verified: list[np.ndarray],
           stale_changed: list[np.ndarray]) -> None:
    """In the load's transaction: the conversion its rows were written under, on its batch;
    and, where it found current rows of older conversions, what it verified of them —
    ``verified``, rows of ``known`` found unchanged, and ``stale_changed``, those changed
    (retired) — instead of rewriting each. The dataset's records of other conversions that
    reach past this batch go: batch ids are taken before the layer's merge lock, so a lower
    one may commit after them, and its rows are of its own conversion."""
    conn.execute("UPDATE load_batches SET conversion = %s WHERE id = %s", (conversion, batch_id))
    if dataset is None:
        return
    conn.execute("DELETE FROM load_verified WHERE layer = %s AND dataset = %s "
                 "AND conversion <> %s AND upto_batch > %s",
                 (layer.name, dataset, conversion, batch_id))
    if known.converted_now is None:
        return
    covered = known.converted_now.copy()
    for rows in (*verified, *stale_changed):
        covered[rows] = True
    complete = bool(covered.all())
    if not complete and not verified:
        return
    # the older records of the dataset go: all of them when this one covers every row
    conn.execute("DELETE FROM load_verified WHERE layer = %s AND dataset = %s AND "
                 "(conversion <> %s OR %s)", (layer.name, dataset, conversion, complete))
    ids = None if complete else \
        np.sort(known.ids[np.concatenate(verified)]).astype(">i8").tobytes()
    conn.execute("INSERT INTO load_verified (batch_id, layer, dataset, conversion, upto_batch, "
                 "ids) VALUES (%s, %s, %s, %s, %s, %s)",
                 (batch_id, layer.name, dataset, conversion, batch_id if complete else None,
                  ids))

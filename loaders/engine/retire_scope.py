"""Replace mode's retirement: what one delivery left out of its dataset, retired once, at its
end — in the districts it has features in, and not the features another layer of its file
delivered (:meth:`RetireScope.retire`)."""

from __future__ import annotations

from collections import Counter

import psycopg
from psycopg import sql

from cim.layerdefs import LayerDef
from loaders.engine.keyread import like_prefix


class RetireScope:
    """What one delivery brought, per layer, for replace mode; retired ONCE, at its end.

    A delivery may write a layer several times (pipe nodes, then valves, both pipe_points).
    Each write only adds its source keys here; :meth:`retire` then retires the dataset's current
    features that no write of the delivery brought, so a later write never retires what an
    earlier one just loaded. The seen keys live in temporary tables of the load's transaction.
    """

    def __init__(self, conn: psycopg.Connection, batch_id: int) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self._pending: dict[str, tuple[LayerDef, str]] = {}
        self._closed: set[str] = set()
        # (table, dataset, features kept, districts): left out of the delivery in districts
        # it has no feature in (see retire)
        self.kept: list[tuple[str, str, int, list[str]]] = []

    @staticmethod
    def _seen(layer: LayerDef) -> sql.Identifier:
        return sql.Identifier(f"_cim_seen_{layer.table}")

    def add(self, layer: LayerDef, staging: str, dataset: str) -> None:
        """Remember every source key staged for ``layer`` (rejected ones too: replace mode
        never retires a feature that was delivered, even if its new version was rejected)."""
        known = self._pending.get(layer.table)
        if layer.table in self._closed:
            raise RuntimeError(f"{layer.table} was already retired in this load")
        if known is not None and known[1] != dataset:
            raise ValueError(f"one load replaces one dataset of {layer.table}, not "
                             f"{known[1]!r} and {dataset!r}")
        seen = self._seen(layer)
        self.conn.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (source_key text "
                                  "PRIMARY KEY) ON COMMIT DROP").format(seen))
        self.conn.execute(sql.SQL("INSERT INTO {} SELECT DISTINCT source_key FROM {} WHERE "
                                  "source_key IS NOT NULL ON CONFLICT DO NOTHING")
                          .format(seen, sql.Identifier(staging)))
        self._pending[layer.table] = (layer, dataset)

    def retire(self, layer: LayerDef | None = None) -> int:
        """Retire what the delivery left out of ``layer`` (of every pending layer if None) —
        in the districts the delivery has features in: a district's file named as another
        district's (城市部件.shp from each) is one dataset, and its replace retired every
        feature of the other district, ``--district`` or not. Those are kept and said
        (:attr:`kept`: table, dataset, count, districts)."""
        tables = [layer.table] if layer is not None else list(self._pending)
        retired = 0
        for table in tables:
            if table not in self._pending:
                continue
            lay, dataset = self._pending.pop(table)
            retired += self._retire(lay, dataset)
            self.conn.execute(sql.SQL("DROP TABLE {}").format(self._seen(lay)))
            self._closed.add(table)
        return retired

    def _retire(self, lay: LayerDef, dataset: str) -> int:
        """The retirement of one layer: done, then looked at — the districts of what it
        retired that the delivery has no feature in, and the features another layer of the
        same file delivered (a GeoPackage's points, lines and polygons of components, each
        loaded with --layer, are one dataset: a replace of the points retired the lines) —
        and, when there are such, undone and done again without them (a savepoint; the
        common case retires few or none, so nothing is read twice)."""
        tbl, seen = sql.Identifier(lay.table), self._seen(lay)
        by_district = lay.assign_district and "district_code" in lay.column_names()
        district = sql.SQL("l.district_code" if by_district else "NULL::text")

        def update(away: list[str], batches: list[int]) -> psycopg.Cursor:
            return self.conn.execute(sql.SQL(
                "WITH u AS (UPDATE {tbl} l SET valid_to = now() WHERE l.valid_to IS NULL "
                "AND l.source_key LIKE %s AND NOT EXISTS (SELECT 1 FROM {seen} s "
                "WHERE s.source_key = l.source_key) AND NOT EXISTS (SELECT 1 FROM load_rejects "
                "r WHERE r.batch_id = %s AND r.source_key = l.source_key){away}{batches} "
                "RETURNING {district} AS d, l.batch_id AS b) "
                "SELECT d, b, count(*) FROM u GROUP BY d, b").format(
                tbl=tbl, seen=seen, district=district,
                away=sql.SQL(" AND (l.district_code IS NULL OR l.district_code <> ALL(%s))"
                             if away else ""),
                batches=sql.SQL(" AND (l.batch_id IS NULL OR l.batch_id <> ALL(%s))"
                                if batches else "")),
                (like_prefix(dataset), self.batch_id, *([away] if away else []),
                 *([batches] if batches else [])))

        with self.conn.transaction() as sp:
            # (district, batch, how many): a few rows whatever the count retired
            rows = update([], []).fetchall()
            districts = Counter()
            for d, _b, n in rows:
                if d is not None:
                    districts[d] += n
            away = [d for d in sorted(districts) if not self.conn.execute(sql.SQL(
                "SELECT EXISTS (SELECT 1 FROM {seen} s JOIN {tbl} c ON c.source_key = "
                "s.source_key AND c.valid_to IS NULL WHERE c.district_code = %s)").format(
                seen=seen, tbl=tbl), (d,)).fetchone()[0]]
            others = self._other_layers(sorted({b for _d, b, _n in rows if b is not None}))
            if away or others:
                raise psycopg.Rollback(sp)  # the savepoint undone; the block left quietly
        if not away and not others:
            return sum(n for *_, n in rows)
        if away:
            self.kept.append((lay.table, dataset, sum(districts[d] for d in away),
                              [f"district(s) {', '.join(away)}, which the delivery has no "
                               "feature in"]))
        if others:
            n = sum(k for _d, b, k in rows if b in others)
            self.kept.append((lay.table, dataset, n, [
                f"layer(s) {', '.join(sorted(set(others.values())))} of the same file, "
                "loaded on their own"]))
        return sum(n for *_, n in update(away, sorted(others)).fetchall())

    def _other_layers(self, batches: list[int]) -> dict[int, str]:
        """Of ``batches``, those that loaded another layer of this load's file: {batch: its
        layer}."""
        if not batches:
            return {}
        return dict(self.conn.execute(
            # the same file by its name (deliveries come in dated folders: the lines of
            # last month's 部件.gpkg are the lines of this month's)
            "SELECT ob.id, ob.options->>'layer' FROM load_batches ob, load_batches me "
            "WHERE me.id = %s AND ob.id = ANY(%s) AND regexp_replace(ob.source_path, "
            "'^.*[/\\\\]', '') = regexp_replace(me.source_path, '^.*[/\\\\]', '') "
            "AND me.options ? 'layer' AND ob.options ? 'layer' "
            "AND ob.options->>'layer' IS DISTINCT FROM me.options->>'layer'",
            (self.batch_id, batches)).fetchall())

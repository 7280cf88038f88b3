"""The one bulk writer of every loader.

Lifecycle of a load (osm2pgsql-style): the batch row is committed as ``running`` with its
lock held (:mod:`loaders.engine.batch`); then, in ONE transaction on another connection, rows
are binary-COPYed into a temporary (unlogged) staging table, districts and grid cells are
joined, duplicates and out-of-area rows are moved to ``load_rejects`` (with the geometry as
delivered, which each staged row carries beside the converted one: ``rows.DELIVERED``), codes
are allocated and the staging rows are merged into the layer. Either all of it commits, or the
layer is exactly as it was and the batch is marked ``failed``.

Readers of a layer never wait for a load: the merge takes only row-level locks on the layer
(ROW EXCLUSIVE), and its indexes are maintained as rows go in, never dropped and rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb

from cim.coding import places as place_sql
from cim.coding.allocator import allocate_codes
from cim.coding.scheme import COMPONENT_SERIAL_WIDTH, FEATURE_SERIAL_WIDTH
from cim.db.locks import MERGE_LOCK_SPACE
from cim.errors import DatabaseError
from cim.layerdefs import LayerDef
from loaders import jsonb
from loaders.engine import samegeom
from loaders.engine.copycols import copy_data
from loaders.engine.places import TOUCH_TOLERANCE, share_geometry_sql, share_sql
from loaders.engine.report import LoadReport, Reject
from loaders.engine.retire_scope import RetireScope
from loaders.engine.rows import (  # noqa: F401
    BASE_COLUMNS,
    DELIVERED,
    RowShapeError,
    StagedRows,
    staging_columns,
)


def _dumps(v) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


MODES = ("append", "update", "replace")


def merge_lock(conn: psycopg.Connection, table: str) -> None:
    """The layer's merge lock for the rest of the transaction: loads of one layer decide and
    write one at a time, against committed data (readers never take it)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (MERGE_LOCK_SPACE, table))

class EWKB(bytes):
    """Geometry as EWKB bytes, sent to PostGIS in binary COPY without conversion."""


def _register_geometry(conn: psycopg.Connection) -> int:
    info = TypeInfo.fetch(conn, "geometry")
    if info is None:
        raise DatabaseError("PostGIS is not installed in this database")

    class GeometryBinaryDumper(Dumper):
        format = Format.BINARY
        oid = info.oid

        def dump(self, obj: bytes) -> bytes:
            return bytes(obj)

    conn.adapters.register_dumper(EWKB, GeometryBinaryDumper)
    return info.oid


class JsonText(str):
    """A JSON document already serialised (in bulk, by pandas); sent to jsonb as it is."""


def _register_json(conn: psycopg.Connection) -> None:
    from psycopg.types.json import JsonbBinaryDumper

    class JsonbTextBinaryDumper(JsonbBinaryDumper):
        def dump(self, obj):
            if isinstance(obj, JsonText):
                return b"\x01" + obj.encode()  # jsonb binary format: version 1, then text
            return super().dump(obj)

    conn.adapters.register_dumper(JsonText, JsonbTextBinaryDumper)


@dataclass
class MergeResult:
    """Counts of one write; retirements are counted by the :class:`RetireScope`."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    issued: int = 0
    reused: int = 0

    def apply_to(self, report: LoadReport, writer: BulkWriter) -> None:
        """Add this layer's merge counts to the load report (several layers may add up)."""
        report.inserted += self.inserted
        report.updated += self.updated
        report.unchanged += self.unchanged
        report.codes_issued += self.issued
        report.codes_reused += self.reused
        report.loaded += self.inserted + self.updated + self.unchanged
        for k, v in writer.reject_reasons.items():
            report.rejected_by_reason[k] = report.rejected_by_reason.get(k, 0) + v


class BulkWriter:
    """Stages one load of one layer and merges it; used inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection, layer: LayerDef, srid: int, batch_id: int,
                 layer_code: str | None = None, *, scope: RetireScope) -> None:
        self.conn = conn
        # replace mode: what this write brought joins the delivery's scope, retired at its end
        self.scope = scope
        # rejects keep their geometry in the delivery's CRS, so they can be fixed and
        # reloaded: the converters give it as delivered (their rejects; the staged rows'
        # DELIVERED column)
        self.layer = layer
        self.srid = srid
        self.batch_id = batch_id
        self.layer_code = layer_code
        self.staging = f"stg_{layer.name}"
        # source fields a row's attrs repeat that its columns hold whole (set by a loader that
        # knows them: sensors): compared as the columns' values, not as delivered — the same
        # table re-exported with numbers as numbers is the same rows. A field a column holds
        # only in part (a declared area that only flags, a width an area ignores) stays in.
        # Staged rows hold them (a reject of the merge keeps every field as delivered); the
        # layer's rows are stored without them.
        self.attrs_skip: tuple[str, ...] = ()
        self.id_field: str | None = None  # the field a duplicate's reject names
        # rows of a rejects export loaded again that were rejected as duplicate_source_id
        self.repeated_rows: list[int] = []
        # the field an outside_area / no_grid_cell reject names: what placed the feature (a
        # CSV's WKT column, a table's X/Y columns — set by a loader that knows them), else
        # its geometry; such rejects named no field, while the guide wants one on each
        self.place_field: str = "geometry"
        # the staging table: the layer's staging columns and the geometry as delivered
        self.columns = staging_columns(layer) + [DELIVERED]
        self.undelivered = 0  # rows copied without their delivered geometry (a bug: finalize)
        self.geometry_oid = _register_geometry(conn)
        _register_json(conn)
        self.reject_reasons: dict[str, int] = {}

    # -- staging ---------------------------------------------------------------------------
    def create_staging(self) -> None:
        cols = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in self.columns)
        self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.staging)))
        self.conn.execute(sql.SQL("CREATE TEMP TABLE {} ({})")
                          .format(sql.Identifier(self.staging), cols))

    def copy_rows(self, rows: StagedRows) -> int:
        """Binary COPY of rows built by column name (checked against the staging columns)."""
        if not isinstance(rows, StagedRows) or rows.layer.name != self.layer.name:
            got = rows.layer.name if isinstance(rows, StagedRows) else type(rows).__name__
            raise TypeError(f"copy_rows takes StagedRows of layer {self.layer.name}, not {got}")
        if not rows.delivered:
            self.undelivered += len(rows)
        names = [n for n, _ in self.columns]
        types = [self.geometry_oid if t == "geometry" else t for _, t in self.columns]
        n = 0
        stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(self.staging), sql.SQL(", ").join(map(sql.Identifier, names)))
        data = copy_data(rows.columns, self.columns, len(rows), JsonText)
        with self.conn.cursor().copy(stmt) as copy:
            if data is not None:  # plain columns: the same bytes, built column by column
                for part in data:
                    copy.write(part)
                return len(rows)
            copy.set_types(types)
            for row in rows.tuples(self.columns):
                copy.write_row(row)
                n += 1
        return n

    def copy_rejects(self, rejects: Iterable[Reject]) -> int:
        n = 0
        with self.conn.cursor().copy(
                "COPY load_rejects (batch_id, row_number, source_key, reason, field, message, "
                "attrs, geom_wkt) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "int4", "text", "text", "text", "text", "jsonb", "text"])
            for r in rejects:
                copy.write_row((self.batch_id, r.row_number, r.source_key, r.reason, r.field,
                                r.message, Jsonb(r.attrs, dumps=_dumps),
                                r.geom_wkt))
                self.reject_reasons[r.reason] = self.reject_reasons.get(r.reason, 0) + 1
                n += 1
        return n

    # -- set-based steps -------------------------------------------------------------------
    # The wide staging table is written once (COPY) and read once (the final INSERT). Every
    # decision — district, grid cell, duplicates, unchanged, codes — is taken on the narrow key
    # table _k (one row per surviving staged row), so no pass rewrites geometries.

    def _reject_where(self, where: str, reason: str, message_sql: str, field: str | None = None,
                      params: dict | None = None) -> int:
        """Move the _k rows matching ``where`` (SQL over k.*) to load_rejects.

        Their geometry is the one delivered (the staged row's DELIVERED text, in the
        delivery's CRS as the converter read it), whichever geometry the row was converted to
        (storage CRS, repaired, a facility area's point, a population unit's shape).
        """
        stg = sql.Identifier(self.staging)
        rows = self.conn.execute(sql.SQL(
            "WITH gone AS (DELETE FROM _k k WHERE " + where + " RETURNING k.*) "
            "INSERT INTO load_rejects (batch_id, row_number, source_key, reason, field, message, "
            "attrs, geom_wkt) SELECT %(batch)s, s.row_no, s.source_key, %(reason)s, %(field)s, "
            + message_sql + ", s.attrs, s.{dw} FROM gone k JOIN {stg} s USING (row_no)"
        ).format(stg=stg, dw=sql.Identifier(DELIVERED[0])),
            {"batch": self.batch_id, "reason": reason, "field": field,
             **(params or {})}).rowcount
        if rows:
            self.reject_reasons[reason] = self.reject_reasons.get(reason, 0) + rows
        return rows

    def _build_keys(self, district: str | None) -> None:
        """_k: row, source key, hash, class, district and grid cell of every staged row."""
        conn, stg, layer = self.conn, sql.Identifier(self.staging), self.layer
        if layer.assign_district and not conn.execute(
                "SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE valid_to IS NULL "
                "AND level = 3)").fetchone()[0]:
            raise DatabaseError("no district boundaries in the database: run "
                                "`cim profile apply` to load the profile's boundaries first")
        # the district / grid cell covering the feature, the lowest code (the rule of
        # loaders.engine.places.AreaIndex, which the direct write applies beside the data)
        district_sql = place_sql.district_sql("s.geom") if layer.assign_district \
            else "NULL::text"
        # (of grid cells covering it, one of the feature's own district first; OFFSET 0: the
        # district's subquery run once a row, not again inside the grid cell's)
        grid_sql = place_sql.grid_sql("p.geom", "p.district") if layer.assign_grid \
            else "NULL::text"
        conn.execute("DROP TABLE IF EXISTS _k")
        conn.execute(sql.SQL(
            "CREATE TEMP TABLE _k WITH (fillfactor = 50) AS SELECT q.*, "
            + self._prefix_sql("q.district") + " AS prefix "
            "FROM (SELECT p.row_no, p.source_key, p.row_hash, p.class_code, p.code, "
            "p.district, " + grid_sql + " AS grid "
            "FROM (SELECT s.row_no, s.source_key, s.row_hash, s.class_code, s.code, s.geom, "
            + district_sql + " AS district FROM {stg} s OFFSET 0) p) q").format(stg=stg),
            {"layer_code": self.layer_code})
        conn.execute("CREATE UNIQUE INDEX ON _k (row_no)")
        conn.execute("CREATE INDEX ON _k (source_key)")
        conn.execute("ANALYZE _k")
        # a feature no area covers goes to the area holding the larger share of it (then the
        # lower code; a grid cell of its own district first): places.share_sql
        shared = (
            "UPDATE _k k SET {col} = q.code FROM ("
            " SELECT DISTINCT ON (f.row_no) f.row_no, a.code FROM ("
            "  SELECT s.row_no, s.geom, k2.district, " + share_geometry_sql("s.geom") + " AS g "
            "  FROM _k k2 JOIN {stg} s USING (row_no) WHERE k2.{col} IS NULL) f "
            " JOIN {areas} a ON a.valid_to IS NULL AND {level} ST_Intersects(a.geom, f.geom) "
            " CROSS JOIN LATERAL (SELECT " + share_sql("a.geom", "f.g") + " AS q) sh "
            # (an area that only touches it holds no share of it: it is outside, unless it
            # covers it within places.TOUCH_TOLERANCE — a line drawn along the boundary)
            " WHERE {touch} sh.q > 0 OR ST_Covers(ST_Buffer(a.geom, "
            + repr(TOUCH_TOLERANCE) + "), f.g)"
            " ORDER BY f.row_no, {own} sh.q DESC, a.code) q "
            "WHERE k.row_no = q.row_no")
        touch = sql.SQL("true OR" if layer.placed_by_touch else "")
        if layer.assign_district:
            conn.execute(sql.SQL(shared).format(
                col=sql.Identifier("district"), stg=stg, areas=sql.Identifier("admin_divisions"),
                level=sql.SQL("a.level = 3 AND"), own=sql.SQL(""), touch=touch))
        if layer.assign_grid:
            conn.execute(sql.SQL(shared).format(
                col=sql.Identifier("grid"), stg=stg, areas=sql.Identifier("grid_cells"),
                level=sql.SQL(""),
                own=sql.SQL("coalesce(a.district_code = f.district AND sh.q > 0, false) DESC,"),
                touch=touch))
        if layer.assign_district:
            # (a row of X and Y typed the wrong way round: named where it lies exchanged, as
            # the direct writer's are, loaders.engine.direct._swapped_districts)
            self._reject_where(
                "k.district IS NULL", "outside_area",
                "'feature lies outside every district of the city profile' || coalesce("
                "'; with its X and Y exchanged it lies in district ' || "
                + place_sql.district_sql("ST_FlipCoordinates(s.geom)") +
                " || ' (X is the northing, Y the easting): are they swapped?', '')",
                field=self.place_field)
            if district:
                conn.execute("UPDATE _k SET district = %(d)s", {"d": district})
            conn.execute(sql.SQL("UPDATE _k k SET prefix = {} WHERE prefix IS DISTINCT FROM {}")
                         .format(sql.SQL(self._prefix_sql("k.district")),
                                 sql.SQL(self._prefix_sql("k.district"))),
                         {"layer_code": self.layer_code})
        if layer.require_grid:
            self._reject_where("k.grid IS NULL", "no_grid_cell",
                               "'feature lies in no unit grid cell'", field=self.place_field)

    def finalize(self, mode: str = "update", district: str | None = None,
                 dataset: str | None = None) -> MergeResult:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.undelivered:
            raise RowShapeError(
                f"rows for layer {self.layer.name}: {self.undelivered:,} staged without "
                f"{DELIVERED[0]} (the geometry as delivered, which a reject of the merge "
                "keeps): build them as StagedRows(layer, delivered=True)")
        conn, stg = self.conn, sql.Identifier(self.staging)
        tbl = sql.Identifier(self.layer.table)
        # loads of the same layer merge one at a time (COPY still runs in parallel), so that
        # 'unchanged' and 'already loaded' are judged against committed data
        merge_lock(conn, self.layer.table)
        conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (row_no)").format(stg))
        if mode == "replace" and dataset is not None:
            self.scope.add(self.layer, self.staging, dataset)
        self._build_keys(district)
        self._reject_where(
            "EXISTS (SELECT 1 FROM _k o WHERE o.source_key = k.source_key "
            "AND o.row_no < k.row_no)", "duplicate_source_id",
            "'duplicate source id ' || coalesce(s.source_key, '') || ' (row ' || (SELECT "
            "min(o.row_no) FROM _k o WHERE o.source_key = k.source_key) || ' has it)'",
            field=self.id_field)
        if self.repeated_rows:
            # a rejects export's row rejected for repeating another row's id, loaded again
            # with that id: it names the feature the other row loaded, whose content it
            # would take over (the direct writer's rule: DirectConverter._still_repeated)
            self._reject_where(
                "k.row_no = ANY(%(repeated)s) AND EXISTS (SELECT 1 FROM "
                + sql.Identifier(self.layer.table).as_string(conn)
                + " c WHERE c.source_key = k.source_key AND c.valid_to IS NULL)",
                "duplicate_source_id",
                "'source id ' || coalesce(s.source_key, '') || ': still the id of a current "
                "feature (the row this one repeated was loaded under it), this row was "
                "rejected for repeating it — give it its own id, or blank its cim_reason to "
                "let it replace that feature'", field=self.id_field,
                params={"repeated": self.repeated_rows})
        result = MergeResult()
        # unchanged features: same source key and same content hash as the current version,
        # and the same attrs (but the fields columns hold) and flags, which the hash leaves
        # out (loaders.hashing)
        # (attrs compared as loaders.jsonb.same_sql does; a hash that differs while every
        # column is the same and the geometry only written otherwise is the same content:
        # loaders.engine.samegeom)
        columns = [c for c in self.layer.column_names() if c not in self.layer.derived_columns()]
        written = sql.SQL(" AND ").join(
            [sql.SQL("l.{c} IS NOT DISTINCT FROM s.{c}").format(c=sql.Identifier(c))
             for c in columns] + [samegeom.same_sql(sql.SQL("l.geom"), sql.SQL("s.geom"),
                                                    sql.Placeholder("tol"))])
        result.unchanged = conn.execute(sql.SQL(
            "DELETE FROM _k k USING {tbl} l, {stg} s WHERE l.valid_to IS NULL "
            "AND l.source_key = k.source_key AND s.row_no = k.row_no AND l.flags = s.flags "
            "AND (l.row_hash = k.row_hash OR ({written})) AND {attrs}"
        ).format(tbl=tbl, stg=stg, written=written, attrs=jsonb.same_sql(
            sql.SQL("(l.attrs - %(skip)s::text[])"), sql.SQL("(s.attrs - %(skip)s::text[])"))),
            {"skip": list(self.attrs_skip), "tol": samegeom.tolerance(self.srid)}).rowcount
        if mode == "append":
            self._reject_where(
                "EXISTS (SELECT 1 FROM " + f'"{self.layer.table}"' + " l WHERE l.valid_to IS NULL "
                "AND l.source_key = k.source_key)", "already_loaded",
                "'feature ' || s.source_key || ' is already loaded with other values; "
                "use --mode update'")
        self._code(result)
        result.updated = conn.execute(sql.SQL(
            "UPDATE {tbl} l SET valid_to = now() FROM _k k WHERE l.valid_to IS NULL "
            "AND l.source_key = k.source_key").format(tbl=tbl)).rowcount
        derived = {"district_code": sql.SQL("k.district") if self.layer.assign_district else None,
                   "grid_code": sql.SQL("k.grid") if self.layer.assign_grid else None}
        cols = ["code", "source_key", "row_hash", "flags", "attrs", "geom"] + \
            self.layer.column_names()
        if self.attrs_skip:  # staged with them (a reject keeps them), stored without
            derived["attrs"] = sql.SQL("s.attrs - {}::text[]").format(
                sql.Literal(list(self.attrs_skip)))
        exprs = [sql.SQL("k.code") if c == "code" else
                 (derived.get(c) or sql.SQL("s.{}").format(sql.Identifier(c))) for c in cols]
        total = conn.execute(sql.SQL(
            "INSERT INTO {tbl} (batch_id, {ins}) SELECT %s, {exprs} FROM _k k "
            "JOIN {stg} s USING (row_no)"
        ).format(tbl=tbl, ins=sql.SQL(", ").join(map(sql.Identifier, cols)),
                 exprs=sql.SQL(", ").join(exprs), stg=stg), (self.batch_id,)).rowcount
        result.inserted = total - result.updated
        for t in (self.staging, "_k"):
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(t)))
        return result

    def _prefix_sql(self, district: str) -> str:
        """SQL of a row's code prefix (district + layer + class, or district + subclass)."""
        scheme = self.layer.code_scheme
        if scheme == "feature":
            return f"{district} || %(layer_code)s || class_code"
        if scheme == "component":
            return f"{district} || class_code"
        return "NULL::text"

    def _code(self, result: MergeResult) -> None:
        scheme = self.layer.code_scheme
        if scheme in ("admin", "grid"):
            # official codes come with the data (checked by the loader); record them
            self.conn.execute(
                "INSERT INTO code_registry (code, layer, source_key, district_code, batch_id) "
                "SELECT code, %s, source_key, left(code, 6), %s FROM _k "
                "ON CONFLICT DO NOTHING", (self.layer.name, self.batch_id))
            return
        if scheme == "feature":
            width = FEATURE_SERIAL_WIDTH
        elif scheme == "component":
            width = COMPONENT_SERIAL_WIDTH
        else:
            raise ValueError(f"unknown code scheme {scheme}")
        alloc = allocate_codes(self.conn, "_k", self.layer.name, width, self.batch_id)
        result.issued, result.reused = alloc.issued, alloc.reused

"""One load, start to end: open, resolve CRS, check area, stream-convert, bulk-write, report.

Every loader supplies only a converter (source batch → staged rows + rejects); this module is
the single place that owns the load lifecycle, so every layer gets the same guarantees:
read = loaded + rejected, atomic commit, a batch record with its report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.sql
import pyproj
import shapely

from cim import crs as cimcrs
from cim.coding import registry
from cim.errors import InputError, OutOfAreaError
from cim.layerdefs import LayerDef
from cim.profile import CityProfile
from loaders.engine import indexes
from loaders.engine.area import area_bounds, check_area, resolve_source_crs
from loaders.engine.keyread import EarlyKeys, like_prefix
from loaders.engine.pages import small_pages
from loaders.engine.ranges import FidRanges, fid_ranges_ahead, own_batches
from loaders.engine.report import LoadReport, Reject, StagedFlags
from loaders.engine.rows import StagedRows
from loaders.engine.session import LoadSession
from loaders.hashing import StoredRecipe
from loaders.sources.read import Batch, Source, iter_batches, open_source

if TYPE_CHECKING:
    from loaders.engine.fingerprint import SourceFingerprint


@dataclass
class LoadContext:
    """What a converter needs to turn a batch into rows."""

    profile: CityProfile
    source: Source
    source_crs: pyproj.CRS
    transformer: pyproj.Transformer | None
    srid: int
    dataset: str
    mapping: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    # whether the rows' content hashes are taken now (a direct converter's layer that declares
    # its StoredRecipe leaves them unset on a first load: loaders.hashing)
    hash_rows: bool = True


# a converter turns one source batch into rows by column name and rejects
Converter = Callable[[Batch, LoadContext], tuple[StagedRows, list[Reject]]]


def _progress(quiet: bool) -> Callable[[int, int], None]:
    start = time.monotonic()
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if quiet:
            return
        el = max(time.monotonic() - start, 1e-6)
        rate = done / el
        eta = (total - done) / rate if rate and total >= done else 0
        msg = f"{done:,}/{total:,} rows  {rate:,.0f} rows/s  ETA {eta:,.0f} s"
        if tty:
            frac = min(done / total, 1.0) if total else 0.0
            bar = "#" * int(frac * 30) + "." * (30 - int(frac * 30))
            sys.stderr.write(f"\r[{bar}] {frac:4.0%} " + msg + "   ")
            sys.stderr.flush()
        else:
            sys.stderr.write(msg + "\n")
    return show


def _open(path: Path, profile: CityProfile, layer: LayerDef, crs: str | None,
          district: str | None, mode: str, dataset: str | None, source_layer: str | None,
          encoding: str | None, options: dict[str, Any] | None, *, checks_ahead: bool = False
          ) -> tuple[Source, LoadReport, dict[str, Any], str]:
    """The source opened and the load's report and options; ``checks_ahead``: the file's
    slower checks left running beside the load's opening (see ``Source.wait_checks``)."""
    src = open_source(path, source_layer, encoding, checks_ahead=checks_ahead)
    from loaders.field_names import delivery_dataset

    dataset = delivery_dataset(path, dataset, source_layer, encoding, mode)
    report = LoadReport(layer=layer.name, path=str(path), mode=mode, encoding=src.encoding,
                        notes=list(src.notes))
    opts = {"crs": crs, "district": district, "mode": mode, "dataset": dataset,
            "layer": src.layer, "encoding": src.encoding, **(options or {})}
    if src.coordinate_fields:  # points read from X/Y: its rejects export is fixed in them
        opts["coordinates"] = list(src.coordinate_fields)
    return src, report, opts, dataset


def _context(conninfo: str, profile: CityProfile, src: Source, report: LoadReport,
             first: Batch | None, crs: str | None, dataset: str,
             mapping: dict[str, str] | None, aliases: dict[str, list[str]] | None,
             options: dict[str, Any] | None) -> tuple[LoadContext, int | None]:
    """CRS (given, the file's or detected), field mapping and the area check: the load's
    context, and the EPSG code of the source CRS (None if it has none)."""
    from loaders.field_names import map_fields

    srid = profile.srid
    source_crs, notes = resolve_source_crs(src, crs, first, srid)
    epsg = cimcrs.epsg_of(source_crs)
    report.source_crs = cimcrs.crs_text(source_crs)  # the CRS its rejects are kept in
    report.notes += notes
    fields = map_fields(src.fields, aliases or {}, mapping, where=str(src.path))
    if fields:
        report.notes.append("fields: " + ", ".join(f"{k}←{v}" for k, v in fields.items()))
    else:
        report.notes.append(
            f"no attribute field was recognised (source fields: "
            f"{', '.join(src.fields) or 'none'}); features are keyed by their geometry and "
            "the attributes kept in attrs — use --mapping to name the fields")
    report.notes += fields.notes  # field names cut at a .dbf's 10 bytes, read as what
    transformer = cimcrs.to_storage(source_crs, srid, str(src.path))
    with psycopg.connect(conninfo) as probe:
        check_area(src, source_crs, srid, area_bounds(probe))
    ctx = LoadContext(profile=profile, source=src, source_crs=source_crs,
                      transformer=transformer, srid=srid, dataset=dataset, mapping=fields,
                      options=options or {})
    return ctx, epsg


# features read for the load's context: its CRS told from the coordinates reads 2,000 of them
CONTEXT_ROWS = 2_000


def _peek(src: Source, batch_size: int) -> Batch | None:
    """The source's first features for the load's context, its reader closed again (before
    the converters fork): :data:`CONTEXT_ROWS` of them when they all have a geometry (a
    first load whose converters read the file reads no batch of 50,000 here only to close it:
    0.15 s of 1M footprints' opening), else its first batch, as before — the CRS is told from
    up to 2,000 geometries of it, which rows without one further down may still give."""
    with contextlib.closing(iter_batches(src, CONTEXT_ROWS)) as head:
        first = next(head, None)
    if first is None or len(first) < CONTEXT_ROWS \
            or not shapely.is_missing(first.geometries).any():
        return first
    with contextlib.closing(iter_batches(src, batch_size)) as head:
        return next(head, None)


def _check_outcome(report: LoadReport, path: Path) -> None:
    if report.loaded == 0 and report.rejected_by_reason.get("outside_area", 0) \
            == report.read - report.loaded:
        raise OutOfAreaError("no feature lies inside the city profile's districts; "
                             "check --crs and the X/Y order", path=str(path))


@small_pages
def run_load(conninfo: str, profile: CityProfile, layer: LayerDef, layer_code: str | None,
             converter: Converter, path: str | Path, *, crs: str | None = None,
             district: str | None = None, mode: str = "update", dataset: str | None = None,
             source_layer: str | None = None, encoding: str | None = None,
             mapping: dict[str, str] | None = None, aliases: dict[str, list[str]] | None = None,
             options: dict[str, Any] | None = None, quiet: bool = True,
             batch_size: int = 50_000) -> LoadReport:
    """Load one GDAL vector source into one layer (staged: see :mod:`loaders.engine.bulk`)."""
    from loaders.common import geometry_field, name_unread_geometries

    path = Path(path)
    src, report, opts, dataset = _open(path, profile, layer, crs, district, mode, dataset,
                                       source_layer, encoding, options)
    srid = profile.srid
    progress = _progress(quiet)
    with LoadSession(conninfo, layer.name, path, mode, opts, report) as session:
        batches: Iterator[Batch] = iter_batches(src, batch_size)
        first = next(batches, None)
        ctx, epsg = _context(conninfo, profile, src, report, first, crs, dataset, mapping,
                             aliases, options)
        session.begin()
        writer = session.writer(layer, srid, layer_code)
        # the field a duplicate's reject names: the id, else the code a layer is keyed by
        # (districts, grid cells: a grid cell twice named no field)
        writer.id_field = ctx.mapping.get("source_id") or ctx.mapping.get("code")
        writer.place_field = geometry_field(src)  # what placed a feature outside the areas
        writer.create_staging()
        flagged = StagedFlags()
        for b in itertools.chain([first] if first is not None else [], batches):
            rows, rejects = converter(b, ctx)
            rejects = name_unread_geometries(b, rejects)
            report.read += len(b.geometries)
            writer.copy_rows(rows)
            writer.copy_rejects(rejects)
            flagged.add(rows)
            if b.repeated_ids is not None and b.repeated_ids.any():
                writer.repeated_rows += [b.row(i) for i, r in enumerate(b.repeated_ids) if r]
            progress(report.read, src.feature_count)
        if not quiet and sys.stderr.isatty():
            sys.stderr.write("\n")
        if report.read == 0:
            raise InputError("the input has no features", path=str(path))
        result = writer.finalize(mode, district=district, dataset=dataset)
        result.apply_to(report, writer)
        flagged.count(report, session.conn)  # the stored rows' only
        _check_outcome(report, path)
        session.succeed()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql_analyze(layer.table))
    return report


# a direct converter turns one source batch into :class:`loaders.engine.converted.Converted`
DirectConvert = Callable[[Batch, LoadContext], Any]


@small_pages
def run_direct_load(conninfo: str, profile: CityProfile, layer: LayerDef,
                    layer_code: str | None, convert: DirectConvert, path: str | Path, *,
                    crs: str | None = None, district: str | None = None, mode: str = "update",
                    dataset: str | None = None, source_layer: str | None = None,
                    encoding: str | None = None, mapping: dict[str, str] | None = None,
                    aliases: dict[str, list[str]] | None = None,
                    options: dict[str, Any] | None = None, quiet: bool = True,
                    batch_size: int = 50_000, processes: int | None = None,
                    fingerprint: SourceFingerprint | None = None,
                    recipe: StoredRecipe | None = None,
                    early: EarlyKeys | None = None) -> LoadReport:
    """Load one GDAL vector source into one layer, written directly
    (:mod:`loaders.engine.direct`): same guarantees and report as :func:`run_load`.

    ``processes``: how many forked converter processes (0: convert in this process; default:
    see :func:`_converters`). ``fingerprint``: the loader's source fingerprint
    (:mod:`loaders.engine.fingerprint`), kept with each row so that a reload converts only
    the rows whose source changed. ``recipe``: the layer's hashed columns
    (:class:`loaders.hashing.StoredRecipe`): a first load of the dataset then leaves the
    rows' content hashes unset (``ctx.hash_rows`` false), a reload takes those it compares
    from the stored rows. ``early``: the dataset's keys read while the command imported its
    modules (:class:`loaders.engine.keyread.EarlyKeys`), taken if no load committed since."""
    path = Path(path)
    src, report, opts, dataset = _open(path, profile, layer, crs, district, mode, dataset,
                                       source_layer, encoding, options, checks_ahead=True)
    srid = profile.srid
    progress = _progress(quiet)
    dropped: list = []
    own_partition: list = []  # the layer's new code registry partition, if any
    # whether converter processes can read their own batches alone, asked of the file on a
    # thread while the load opens (loaders.engine.ranges)
    ranges = fid_ranges_ahead(src, batch_size)
    try:
        with LoadSession(conninfo, layer.name, path, mode, opts, report) as session:
            ctx, epsg = _context(conninfo, profile, src, report, _peek(src, batch_size),
                                 crs, dataset, mapping, aliases, options)
            # read when first asked for: by this process when it converts alone or a
            # reload's first batches are fingerprinted here; else only by the converters
            batches: Iterator[Batch] = iter_batches(src, batch_size)
            conn = session.begin()
            dropped = indexes.drop_for_initial_load(conn, layer, src.feature_count)
            fresh = bool(dropped) and indexes.never_written(conn, layer)
            phases, result, current = _direct_write(
                session, conn, layer, layer_code, convert, ctx, epsg, src, path, report,
                srid, mode, district, dataset, batch_size, processes, quiet, progress,
                batches, dropped, own_partition, fingerprint, recipe, early, ranges)
    except BaseException as exc:
        # the threads asking the file are done before anything else this process does forks
        ranges()
        with contextlib.suppress(Exception):  # the load's own error is what is reported
            src.wait_checks()
        for part in own_partition:  # rolled back: the new partition's table goes too
            part.abandon()
        if dropped:  # rolled back to the empty table: its indexes again (instant)
            try:
                with psycopg.connect(conninfo, autocommit=True) as c:
                    indexes.restore(c, layer)
            except psycopg.Error as e:  # the load's own error stays what is reported
                exc.add_note(f"the layer's indexes are restored by its next load ({e})")
        raise
    phases["finish, commit"] = time.monotonic() - phases.pop("_t")
    if result.inserted + result.updated >= 0.1 * max(current, 1):
        # statistics after a large change; a small one is left to autovacuum. The registry
        # too when the load issued many codes: with its statistics of before, the next load's
        # anti-join of registry and layer (loaders.engine.known) ran as a million index probes,
        # 2.1 s instead of 0.5 s
        # After an initial bulk load, VACUUM too (as PostGIS advises after bulk loads): the
        # pages become all-visible (index-only scans) with their hint bits set, instead of
        # autovacuum doing it a minute later beside the users' queries (and the next
        # reload's key scan: 0.95 s alone, 1.94 s beside it, 1M footprints)
        vacuum = bool(dropped)
        t = time.monotonic()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql_analyze(layer.table, vacuum=vacuum, built=vacuum and fresh))
            if result.issued >= 0.1 * max(current, 1) and not any(
                    p.attached and p.analyzed for p in own_partition):
                # the partition that took the codes (a layer's own was written frozen and
                # analysed on its connection, after its commit: cim.coding.registry)
                part = registry.partition_of(conn, layer.name)
                conn.execute(sql_analyze(part, vacuum=vacuum and part == registry.DEFAULT))
        phases["VACUUM ANALYZE" if vacuum else "ANALYZE"] = time.monotonic() - t
    if os.environ.get("CIM_LOAD_PHASES"):  # for bench/load_buildings.py: where time goes
        sys.stderr.write("phases: " + json.dumps({k: round(v, 2) for k, v in phases.items()})
                         + "\n")
    return report


def _direct_write(session: LoadSession, conn: psycopg.Connection, layer: LayerDef,
                  layer_code: str | None, convert: DirectConvert, ctx: Any, epsg: int | None,
                  src: Source, path: Path, report: LoadReport, srid: int, mode: str,
                  district: str | None, dataset: str, batch_size: int,
                  processes: int | None, quiet: bool, progress: Callable,
                  batches: Iterator[Batch], dropped: list,
                  own_partition: list, fingerprint: Callable | None,
                  recipe: StoredRecipe | None, early: EarlyKeys | None,
                  ranges: Callable[[], FidRanges | None] = lambda: None
                  ) -> tuple[dict[str, float], Any, int]:
    """The body of :func:`run_direct_load` inside its session: convert, write, index."""
    from cim.coding.registry import drop_leftover
    from loaders.common import describe_key, geometry_field, reject_record, row_attrs
    from loaders.engine import direct, direct_writer, workers
    from loaders.engine import fingerprint as fpmod

    writer = direct_writer.DirectWriter(session.writer(layer, srid, layer_code))
    writer.lock()
    if not dropped:  # an initial load killed while this one waited for the lock dropped them
        indexes.restore(conn, layer)
        drop_leftover(conn, layer.name)  # and the registry table of its own it had begun
    elif (part := writer.own_registry_partition(session.conninfo)) is not None:
        # an initial load: the layer's first codes get a registry partition of their own
        own_partition.append(part)
    skip_fk_checks(conn, layer.table, session.report.batch_id)
    areas = direct.fetch_areas(conn, layer)
    if processes is None:
        processes = _converters(conn, layer, dataset, src.feature_count, batch_size,
                                bool(dropped))
    processes = int(processes)
    # what the layer holds, read once here (the merge lock held keeps other loads from
    # committing in between; keys read early are taken only if none committed since they
    # were: loaders.engine.keyread); converter processes inherit it when forked
    t = time.monotonic()
    conversion = None
    if fingerprint:  # the current boundaries decide too (outside_area): in the context
        fp_ctx = dataclasses.replace(ctx, options={**ctx.options,
                                                   "_areas": direct.areas_digest(layer, areas)})
        conversion = fingerprint.conversion(fp_ctx)
    ahead: dict[int, tuple] = {}
    if fingerprint and processes and _holds_dataset(conn, layer, dataset):
        # a reload: its first batches fingerprinted while the server reads the keys
        known, ahead = fpmod.read_while_fingerprinting(
            lambda: direct.fetch_known(conn, layer, dataset, session.conninfo, recipe, early,
                                       conversion),
            batches, lambda b: fingerprint(b, fp_ctx))
    else:
        known = direct.fetch_known(conn, layer, dataset, session.conninfo, recipe, early,
                                   conversion)
    known_s = time.monotonic() - t
    if conversion is not None:
        writer.convert_as(conversion, known)
    if recipe is not None and not known.current:
        # a first load of the dataset compares no row: hashes are taken when a reload does
        ctx = dataclasses.replace(ctx, hash_rows=False)

    def make(keep: Callable[[int], bool] | None = None) -> tuple:
        """The converter and the batches it converts. A converter process reads the source
        again from its first batch (readers are not shared, and this process's reader — the
        first batch's memory included — is closed before the fork: GDAL's arrays are not to
        be used once their dataset is closed); ``keep`` tells the batches it converts (the
        others come as None)."""
        conv = direct.DirectConverter(
            layer, layer_code, lambda b: convert(b, ctx), known, areas,
            session.report.batch_id, srid, mode, district, row_attrs, reject_record,
            fingerprint=fpmod.ahead(lambda b, **kw: fingerprint(b, fp_ctx, **kw), ahead)
            if fingerprint else None,
            describe_key=lambda k, row=None: describe_key(
                dataset, k, ctx.mapping.get("source_id"), src.fields, row,
                geometry_field(src)))
        if processes:
            if own is not None and keep is not None:
                return conv, own_batches(src, batch_size, keep, own)
            return conv, iter_batches(src, batch_size, keep=keep)
        return conv, batches

    # each of two converters reads only its own batches where the file allows it; the thread
    # that asked is done before any fork, as is the file's number check (a refusal here
    # rolls the load back)
    own = ranges() if processes else None
    t = time.monotonic()
    src.wait_checks()
    checks_s = time.monotonic() - t
    own = own if processes >= 2 else None
    if processes:
        # the converters read the source again: this process's reader is closed before they
        # are forked. GDAL reads a GeoPackage's next batch on a thread of its own; a fork while
        # it held SQLite's allocator mutex left a converter waiting for it forever (a reload,
        # whose first batches are read here ahead, hung so once in the bench)
        getattr(batches, "close", lambda: None)()
    phases = {"open, CRS, area check, lock": time.monotonic() - session.t0 - known_s
              - checks_s, "read the dataset's keys": known_s,
              "wait for the file's number check": checks_s}
    t = time.monotonic()
    try:
        # a load that writes most of its rows waits on the server: converters yield to it
        nice = 0 if known.current else workers.NICE
        for b in direct.converted_batches(make, processes, nice):
            phases["wait for the converter"] = phases.get("wait for the converter", 0.0) + \
                time.monotonic() - t
            report.read += b.read
            writer.write(b)
            for f, k in b.flags.items():
                report.flagged_by_reason[f] = report.flagged_by_reason.get(f, 0) + k
            progress(report.read, src.feature_count)
            t = time.monotonic()
    finally:
        known.close()
    if not quiet and sys.stderr.isatty():
        sys.stderr.write("\n")
    if report.read == 0:
        raise InputError("the input has no features", path=str(path))
    result = writer.finish(mode, dataset)
    result.apply_to(report, writer.w)
    _check_outcome(report, path)
    if writer.partition is not None:
        writer.partition.finish()  # its indexes are built beside the layer's
    if dropped:
        t = time.monotonic()
        indexes.build(conn, layer, dropped)
        phases["build indexes"] = time.monotonic() - t
    if writer.partition is not None:
        t = time.monotonic()
        writer.attach_registry_partition()
        phases["registry partition: wait, attach"] = time.monotonic() - t
    session.succeed()
    current = writer.known_current + result.inserted
    phases.update(writer.seconds)
    phases["_t"] = time.monotonic()
    return phases, result, current


def _converters(conn: psycopg.Connection, layer: LayerDef, dataset: str,
                feature_count: int | None, batch_size: int, indexes_after: bool) -> int:
    """How many converter processes: none for one batch; else one per core the server
    leaves free (it works all along on one), at most two — and two on two cores when the
    dataset is loaded already (a reload writes few rows, the server then mostly waits) or when
    the layer's indexes are built after the rows (the server's share is then small: 1M
    footprints 29.0 s with one, 25.9 s with two). With the indexes maintained row by row, two
    converters on 2 cores starve the server (1M footprints took 70 s instead of 30 s)."""
    if feature_count is not None and 0 < feature_count <= batch_size:
        return 0
    cores = os.cpu_count() or 2
    if cores >= 3:
        return 2
    return 2 if _holds_dataset(conn, layer, dataset) or indexes_after else 1


def _holds_dataset(conn: psycopg.Connection, layer: LayerDef, dataset: str) -> bool:
    """Whether the layer holds current features of the dataset (a reload)."""

    return conn.execute(psycopg.sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE valid_to IS NULL AND source_key LIKE %s)"
    ).format(psycopg.sql.Identifier(layer.table)), (like_prefix(dataset),)).fetchone()[0]


def skip_fk_checks(conn: psycopg.Connection, table: str | Sequence[str],
                   batch_id: int | None) -> bool:
    """Skip the per-row foreign-key check of ``batch_id`` in this transaction, when that is
    all it skips (``table``: the layer's table, or the tables of a load that writes several).

    Every row a load writes references its own batch, which exists (committed before the
    load began); PostgreSQL would still run one RI trigger per row (~3–5 µs each, 3–5 s for
    a million features). A role that may set ``session_replication_role`` — a superuser, or
    since PostgreSQL 15 one a DBA granted ``SET ON PARAMETER session_replication_role``
    (README: an external database) — turns triggers off for the transaction (``replica``,
    as pg_restore does); any other role loads with the checks. It is done only when the
    tables the load writes have no trigger but the foreign keys' own checks on
    ``load_batches`` (a DBA's audit or constraint trigger keeps firing: then nothing changes),
    and the batch row is locked FOR KEY SHARE here, exactly what each check would have taken,
    so that it cannot be deleted under the load. Returns whether the checks are skipped.
    """
    if batch_id is None:
        return False
    ok = conn.execute(
        "SELECT has_parameter_privilege('session_replication_role', 'SET') AND NOT EXISTS ("
        " SELECT 1 FROM pg_trigger t WHERE t.tgrelid = ANY(%s::regclass[] || ARRAY["
        " 'code_registry'::regclass, 'code_counters'::regclass, 'load_rejects'::regclass, "
        " 'load_batches'::regclass]) AND NOT (t.tgisinternal AND t.tgconstraint IN ("
        "  SELECT c.oid FROM pg_constraint c WHERE c.contype = 'f' "
        "  AND c.confrelid = 'load_batches'::regclass)))",
        ([table] if isinstance(table, str) else list(table),)).fetchone()[0]
    if not ok:
        return False
    conn.execute("SELECT 1 FROM load_batches WHERE id = %s FOR KEY SHARE", (batch_id,))
    conn.execute("SET LOCAL session_replication_role = replica")
    return True


def sql_analyze(table: str, vacuum: bool = False, *, built: bool = False
                ) -> psycopg.sql.Composed:
    """``ANALYZE`` of ``table``; ``VACUUM (ANALYZE)`` with ``vacuum`` (autocommit only).

    ``built``: the load filled a table that never held a row (:func:`loaders.engine.indexes.
    never_written`) and built its indexes after its rows (the primary key's are all live):
    no index points at a dead row and the builds counted their entries, so the VACUUM skips
    its index pass (``INDEX_CLEANUP OFF``), which read the whole GiST index again
    (0.04–0.08 s of 1M footprints' 0.65 s)."""
    what = "VACUUM (ANALYZE, INDEX_CLEANUP OFF) {}" if vacuum and built else \
        "VACUUM (ANALYZE) {}" if vacuum else "ANALYZE {}"
    return psycopg.sql.SQL(what).format(psycopg.sql.Identifier(table))

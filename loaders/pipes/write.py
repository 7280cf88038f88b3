"""Writing a QA'd :class:`Delivery`: points, segments and appurtenances in ONE LoadSession.

One batch and one transaction, so a delivery is loaded whole or not at all. Points go first
because segments reference their end points by the codes just allocated; appurtenances (valves
…) go last because they attach to the segments. Each is written directly
(:mod:`loaders.engine.direct`, by way of :mod:`loaders.pipes.direct`: decided beside the
data, COPYed once into the layer and the code registry), as buildings are. Rows with an error finding are rejected with the rule id as
reason; warnings become flags.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely

from cim.coding.scheme import layer_code_of
from cim.errors import OutOfAreaError
from cim.layerdefs import PIPE_POINTS, PIPE_SEGMENTS
from cim.numbers import height_difference
from cim.profile import CityProfile
from loaders.engine import indexes
from loaders.engine.bulk import merge_lock
from loaders.engine.known import Known
from loaders.engine.pipeline import skip_fk_checks, sql_analyze
from loaders.engine.places import AreaIndex, Areas, fetch_areas
from loaders.engine.report import Reject
from loaders.engine.session import LoadSession
from loaders.field_names import delivery_dataset
from loaders.pipes.dictionaries import PipeDictionaries
from loaders.pipes.direct import (
    Chunk,
    layer_chunks,
    loaded_attrs,
    own_provenance,
    points_chunks,
    warning_flags,
    write_layer,
)
from loaders.pipes.keys import (
    errors,
    keep_stored_orientation,
    outside_nodes,
    point_key,
    seg_key,
    segments_to_write,
)
from loaders.pipes.qa_report import QAResult
from loaders.pipes.records import (
    FIELD_ZH,
    Delivery,
    PipeLoadReport,
    PointRec,
    SegRec,
    collector_paused,
    column_name,
)
from loaders.pipes.rejects import (
    end_field,
    finding_message,
    key_field,
    located,
    made_node,
    place_field,
    point_wkt,
    reject,
    seg_wkt,
)
from loaders.pipes.topology import derived_feature, keep_stored_names, topology
from loaders.sources.wkb import CURVE_FLAG, straightened_rows


def write_delivery(conninfo: str, profile: CityProfile, delivery: Delivery, qa: QAResult, *,
                   mode: str = "update", dataset: str | None = None,
                   district: str | None = None, attach: float = 5.0,
                   options: dict[str, Any] | None = None) -> PipeLoadReport:
    """The QA is given, not run, so that the caller reports the same findings it loads by."""
    with collector_paused():
        return _write_delivery(conninfo, profile, delivery, qa, mode=mode, dataset=dataset,
                               district=district, attach=attach, options=options)


def _write_delivery(conninfo: str, profile: CityProfile, delivery: Delivery, qa: QAResult, *,
                    mode: str, dataset: str | None, district: str | None, attach: float,
                    options: dict[str, Any] | None) -> PipeLoadReport:
    srid = profile.srid
    dataset = delivery_dataset(delivery.inputs or delivery.files, dataset, mode=mode)
    first = delivery.files[0] if delivery.files else Path(".")
    report = PipeLoadReport(layer="pipes", path=", ".join(dict.fromkeys(map(str, delivery.files))),
                            mode=mode,
                            notes=list(delivery.notes))
    report.source_crs = delivery.source_crs
    report.qa = {k: v for k, v in qa.to_dict().items() if k != "findings"}
    opts = {"mode": mode, "dataset": dataset, "district": district, "tables": delivery.tables,
            "survey": delivery.survey, **(options or {})}
    pf = qa.by_target("points")
    sf = qa.by_target("segments")
    src_srid = delivery.source_srid if delivery.source_srid not in (None, srid) else None
    if not delivery.survey:  # made nodes stored under their names of an older release
        with psycopg.connect(conninfo) as c:
            kept = keep_stored_names(c, delivery.points, delivery.segments, dataset,
                                     (options or {}).get("snap"))
        if kept:
            report.notes.append(f"{kept} nodes made at line ends keep the names N000001… "
                                "they are stored under")
    valves = [(i, p) for i, p in enumerate(delivery.points) if p.role != "node"]
    layers = (PIPE_POINTS, PIPE_SEGMENTS)  # locked in this order by every pipe load
    dropped: dict[str, list] = {}
    fresh: set[str] = set()  # tables that never held a row: their VACUUM skips index passes
    dropping = False  # whether this load may have dropped an index (even if it then failed)
    try:
        with LoadSession(conninfo, "pipes", first, mode, opts, report, files=delivery.files,
                         source=", ".join(dict.fromkeys(
                             str(Path(p).resolve()) for p in delivery.inputs)) or None
                         ) as session:
            conn = session.begin()
            for layer in layers:  # what a killed or cancelled initial load left: back
                indexes.restore_before_load(conn, layer)
            # an initial load of a large delivery builds the layers' indexes after its rows
            # (loaders.engine.indexes), before its transaction begins
            dropping = True
            for layer in layers:
                dropped[layer.table] = indexes.drop_for_initial_load(
                    conn, layer, len(delivery.points) + len(delivery.segments))
            # asked after every drop: the question opens the load's transaction, and a
            # drop needs none open
            fresh = {layer.table for layer in layers
                     if dropped[layer.table] and indexes.never_written(conn, layer)}
            for layer in layers:
                merge_lock(conn, layer.table)
                if not dropped[layer.table]:  # what a killed initial load dropped: back
                    indexes.restore(conn, layer)
            skip_fk_checks(conn, [layer.table for layer in layers], report.batch_id)
            # districts and grid cells decided beside the data; both pipe layers place
            # features in both
            assert PIPE_SEGMENTS.derived_columns() == PIPE_POINTS.derived_columns()
            areas = fetch_areas(conn, PIPE_POINTS)
            # the later segments of a source key, and the nodes the others may use: a node
            # the loader made at a line end that no segment written uses is no delivered row
            # (not read, not loaded: a rejected line leaves no "point on no segment" behind)
            outside, placed = outside_nodes(delivery, AreaIndex(areas))
            dup, used = segments_to_write(delivery, pf, sf, dataset, outside)
            nodes = [(i, p) for i, p in enumerate(delivery.points)
                     if p.role == "node" and (p.key in used or not made_node(p))]
            dicts = PipeDictionaries(profile)
            for _, p in nodes:  # a made node's feature by the lines that may be written
                if made_node(p) and p.cls is not None:
                    p.feature_raw, p.feature = derived_feature(dicts, p.cls, used[p.key])
            made = sum(1 for _, p in nodes if made_node(p))
            unused = sum(1 for p in delivery.points if made_node(p)) - made
            report.read = len(delivery.points) - unused + len(delivery.segments)
            if made:
                report.notes.append(f"read includes {made} topology nodes made from line ends")
            if unused:
                report.notes.append(f"{unused} nodes made at the ends of rejected lines not "
                                    "loaded")
            codes_pt = layer_code_of(profile, "pipe_points")
            codes_seg = layer_code_of(profile, "pipe_segments")
            own = own_provenance(delivery)
            point_codes = _write_points(session, conn, nodes, pf, dataset, srid, codes_pt,
                                        mode, district, src_srid, report, areas, own,
                                        delivery.columns, placed > len(outside))
            seg_codes = _write_segments(session, conn, delivery, sf, point_codes, dataset,
                                        srid, codes_seg, mode, district, src_srid, report,
                                        areas, own, dup)
            # segments are complete: valves attach only to segments that stay current
            session.retire(PIPE_SEGMENTS)
            if valves:
                report.appurtenances = _write_valves(
                    session, conn, valves, pf, seg_codes, dataset, srid, codes_pt, mode,
                    district, src_srid, report, attach, dicts, areas, own,
                    delivery.columns, _rejected_pipes(conn, report.batch_id, delivery,
                                                      seg_codes, dataset))
            session.retire()  # the nodes and valves together: one delivery, one retire scope
            for layer in layers:
                indexes.build(conn, layer, dropped[layer.table])
            report.topology = topology(conn, dataset)
            session.succeed()
    except BaseException as exc:
        if dropping and (any(dropped.values()) or len(dropped) < len(layers)):
            # rolled back to empty tables (or a drop failed half-way): their indexes again
            try:
                with psycopg.connect(conninfo, autocommit=True) as c:
                    for layer in layers:
                        indexes.restore(c, layer)
            except psycopg.Error as e:  # the load's own error stays what is reported
                exc.add_note(f"the pipe layers' indexes are restored by their next load ({e})")
        raise
    # the two tables' statistics at once, on two connections (the load is over: its own
    # process waits, and ANALYZE of a wide 3D layer takes a core for a second); after an
    # initial bulk load VACUUM too (all-visible pages, hint bits set), as buildings
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda t: _analyze(conninfo, t, bool(dropped.get(t)), t in fresh),
                      (PIPE_POINTS.table, PIPE_SEGMENTS.table)))
    return report


def _analyze(conninfo: str, table: str, vacuum: bool, fresh: bool) -> None:
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute(sql_analyze(table, vacuum=vacuum, built=vacuum and fresh))


def _write_points(session, conn, nodes, pf, dataset, srid, layer_code, mode, district,
                  src_srid, report, areas: Areas, own: dict[str, str],
                  columns: dict[str, dict[str, str]], any_inside: bool) -> dict[str, str]:
    """``any_inside``: whether any node of the delivery lies inside a district (written or
    not: a node made at the inside end of a line that crosses the boundary is not)."""
    rejects, keys, ok = [], [], []
    for i, p in nodes:
        key = point_key(dataset, p)
        errs = errors(pf.get(i, []))
        if errs:
            f = errs[0]
            rejects.append(reject(p, f.rule, finding_message(f), key, f.field, point_wkt(p)))
            continue
        if p.cls is None or p.e is None:
            # (reached where a city's QA rules make missing_value a warning, or disable it)
            # named as the QA's own findings name it: the class column (else 管线类别), the
            # X/Y columns or the geometry
            lacks = [w for w, gone in (("class", p.cls is None), ("position", p.e is None))
                     if gone]
            rejects.append(reject(p, "missing_value", located(
                p, f"the point has no {' and no '.join(lacks)}"), key,
                column_name(columns, p, "class") if p.cls is None else place_field(p, columns)))
            continue
        ok.append((i, p))
        keys.append(key)
    pts = [p for _, p in ok]
    kinds = ["附属物" if p.appurtenance is not None or (p.appurtenance_raw and not p.feature)
             else "特征" for p in pts]
    # a node made at a line end has the ground its line gives there (pipe elevation + depth:
    # topology.end_grounds), else none
    flags = [warning_flags(pf.get(i, [])) + (["no_z"] if p.ground is None else
                                             ["ground_derived"] if made_node(p) else
                                             ["ground_from_z"] if p.ground_from_z else [])
             for i, p in ok]
    chunks = points_chunks(
        srid, pts, [p.cls for p in pts],
        [p.feature.name if p.feature else p.feature_raw for p in pts],
        [PipeDictionaries.point_code(p.cls, p.appurtenance if k == "附属物" else p.feature, k)
         for p, k in zip(pts, kinds)],
        [p.appurtenance.name if p.appurtenance else p.appurtenance_raw for p in pts],
        [None] * len(pts), keys, flags, own)
    w = write_layer(session, conn, PIPE_POINTS, srid, layer_code, src_srid, chunks, rejects,
                      report, mode, district, dataset, areas, point_wkt, columns)
    if pts and not any_inside and w.w.reject_reasons.get("outside_area", 0) == len(pts):
        raise OutOfAreaError("no pipe point lies inside the city profile's districts; check "
                             "--crs and the X/Y columns (X is the northing, Y the easting)",
                             path=", ".join(sorted({p.table for _, p in nodes})))
    return dict(conn.execute("SELECT source_key, code FROM pipe_points WHERE valid_to IS NULL "
                             "AND source_key = ANY(%s)", (keys,)).fetchall())


def _write_segments(session, conn, d: Delivery, sf, point_codes, dataset, srid, layer_code,
                    mode, district, src_srid, report, areas: Areas,
                    own: dict[str, str], dup: set[int]) -> dict[str, str]:
    """``dup``: the segments that repeat an earlier one's source key (see
    :func:`loaders.pipes.keys.segments_to_write`), rejected as ``duplicate_source_id``."""
    node_by_key = {}
    for p in d.points:
        if p.role == "node" and p.point_no:
            node_by_key.setdefault(p.key, p)
    # each end point's source key once (not once a segment end)
    key_of = {k: point_key(dataset, p) for k, p in node_by_key.items()}
    rejects, keys = [], {}
    why = dict(conn.execute("SELECT source_key, reason FROM load_rejects WHERE batch_id = %s "
                            "AND source_key IS NOT NULL", (session.report.batch_id,)).fetchall())
    ok: list[tuple[int, SegRec, PointRec, PointRec, str, str, str]] = []
    first_reject = len(rejects)
    for i, s in enumerate(d.segments):
        key = seg_key(dataset, s)
        errs = errors(sf.get(i, []))
        if errs:
            f = errs[0]
            rejects.append(reject(s, f.rule, finding_message(f), key, f.field,
                                  seg_wkt(s, node_by_key)))
            continue
        if i in dup:  # as the direct writer would reject it, decided before the points
            # (the nodes made at its line ends only for it are not loaded)
            rejects.append(reject(s, "duplicate_source_id", located(
                s, f"duplicate source id {key} (an earlier row has it)"), key,
                key_field(s, d.columns), seg_wkt(s, node_by_key)))
            continue
        a, b = s.key("start"), s.key("end")
        ps, pe = node_by_key.get(a), node_by_key.get(b)
        ks, ke = key_of.get(a), key_of.get(b)
        if ks not in point_codes or ke not in point_codes:
            # the end with a reject of its own names why (the other may be a node made only
            # for this segment, not loaded: segments_to_write)
            missing = [(k, p, end) for k, p, end in ((ks, ps, "start"), (ke, pe, "end"))
                       if k not in point_codes]
            bk, bad, end = next((m for m in missing if m[0] in why), missing[0])
            reason = why.get(bk, "not loaded")
            rejects.append(reject(s, "end_point_rejected",
                                   f"{s.table} row {s.row}: segment {s.label}: its end point "
                                   f"{bad.point_no if bad else '?'} was rejected ({reason}) / "
                                   f"端点 {bad.point_no if bad else '?'} 未入库（{reason}）",
                                   key, end_field(s, end, d.columns),
                                   seg_wkt(s, node_by_key)))
            continue
        ok.append((i, s, ps, pe, ks, ke, key))
        if s.source_id:
            keys[s.source_id] = key
    segs = [t[1] for t in ok]
    if d.survey:  # from the end points at the pipe elevations
        xyz = np.array([(ps.e, ps.n, s.z_start, pe.e, pe.n, s.z_end)
                        for _, s, ps, pe, *_ in ok], dtype=float).reshape(-1, 2, 3)
        lines = shapely.linestrings(xyz) if len(xyz) else np.array([], dtype=object)
    else:
        lines = np.array([s.line if s.line.has_z else shapely.force_3d(s.line) for s in segs],
                         dtype=object)
        for s, line in zip(segs, lines):
            s.z_start, s.z_end = (float(c) for c in shapely.get_coordinates(
                line, include_z=True)[[0, -1], 2])
    # a GIS line read from a curve GDAL straightened: flagged as every loader's is
    delivered = np.empty(len(segs), dtype=object)
    delivered[:] = [s.delivered for s in segs]
    curved = set() if d.survey else set(straightened_rows(delivered).tolist())
    flags = [warning_flags(sf.get(i, []))
             + (["no_z"] if not d.survey and not s.line.has_z else [])
             + ([CURVE_FLAG] if k in curved else []) for k, (i, s, *_) in enumerate(ok)]
    survey = d.survey
    lengths = shapely.length(shapely.force_2d(lines)).tolist() if len(lines) else []
    values = {
        "pipe_class": [s.cls.code for s in segs], "class_name": [s.cls.name for s in segs],
        "subclass_code": [s.cls.subclass_code for s in segs],
        "subclass_name": [s.cls.subclass_name for s in segs],
        "feature_code": [PipeDictionaries.segment_code(s.cls) for s in segs],
        "start_point_no": [s.start_no for s in segs], "end_point_no": [s.end_no for s in segs],
        "start_point_code": [point_codes[t[4]] for t in ok],
        "end_point_code": [point_codes[t[5]] for t in ok],
        "start_depth": [s.start_depth if s.start_depth is not None else (
            height_difference(ps.ground, s.z_start)
            if ps.ground is not None and survey else None) for _, s, ps, *_ in ok],
        "end_depth": [s.end_depth if s.end_depth is not None else (
            height_difference(pe.ground, s.z_end)
            if pe.ground is not None and survey else None) for _, s, _ps, pe, *_ in ok],
        "start_elevation": [s.start_elevation if s.start_elevation is not None
                            else (s.z_start if survey else None) for s in segs],
        "end_elevation": [s.end_elevation if s.end_elevation is not None
                          else (s.z_end if survey else None) for s in segs],
        "material": [s.material[1] if s.material else s.material_raw for s in segs],
        "material_code": [s.material[0] if s.material else None for s in segs],
        "burial": [s.burial[1] if s.burial else s.burial_raw for s in segs],
        "burial_code": [s.burial[0] if s.burial else None for s in segs],
        "diameter_mm": [s.diameter for s in segs], "width_mm": [s.width for s in segs],
        "height_mm": [s.height for s in segs], "size_text": [s.size_text for s in segs],
        "pressure": [s.pressure for s in segs], "voltage": [s.voltage for s in segs],
        "cable_count": [s.cable_count for s in segs], "owner": [s.owner for s in segs],
        "year_built": [s.year for s in segs], "road": [s.road for s in segs],
        "status_code": [s.status[0] if s.status else None for s in segs],
        "status": [s.status[1] if s.status else s.status_raw for s in segs],
        "length_m": lengths}
    seg_keys = [t[6] for t in ok]

    # the segments rejected here, with their rejects (each appended once, in the loop above)
    written = {t[0] for t in ok}
    rejected = list(zip(rejects[first_reject:],
                        (s for i, s in enumerate(d.segments) if i not in written), strict=True))

    def chunks(known: Known) -> Iterator[Chunk]:
        turned = keep_stored_orientation(known, seg_keys, segs, dataset)
        if turned:
            report.notes.append(f"{turned} segments delivered with their ends exchanged keep "
                                "the key and code they are stored under")
        # a rejected one delivered so holds its stored key too: `replace` retires no segment
        # whose row the delivery holds (it retired B2-B3 delivered as B3-B2 and rejected)
        rkeys = [r.source_key for r, _ in rejected]
        if keep_stored_orientation(known, rkeys, [s for _, s in rejected], dataset,
                                   taken=set(seg_keys)):
            for (r, _), k in zip(rejected, rkeys, strict=True):
                r.source_key = k
        return layer_chunks(PIPE_SEGMENTS, srid, segs, values, list(lines), seg_keys, flags,
                       [s.cls.code for s in segs], [loaded_attrs(s) for s in segs], own)

    write_layer(session, conn, PIPE_SEGMENTS, srid, layer_code, src_srid, chunks, rejects,
                  report, mode, district, dataset, areas, lambda s: seg_wkt(s, node_by_key),
                  d.columns)
    codes = dict(conn.execute("SELECT source_key, code FROM pipe_segments WHERE valid_to IS NULL "
                              "AND source_key = ANY(%s)", (list(keys.values()),)).fetchall())
    return {sid: codes[k] for sid, k in keys.items() if k in codes}


def _rejected_pipes(conn, batch_id: int, d: Delivery, seg_codes: dict[str, str],
                    dataset: str) -> dict[str, str]:
    """The pipe ids of the delivery that no loaded line has, with why: the reason of the
    reject of the id's first line."""
    keys: dict[str, str] = {}
    for s in d.segments:
        if s.source_id and s.source_id not in seg_codes:
            keys.setdefault(s.source_id, seg_key(dataset, s))
    if not keys:
        return {}
    why = dict(conn.execute("SELECT source_key, reason FROM load_rejects WHERE batch_id = %s "
                            "AND source_key = ANY(%s) ORDER BY id DESC",
                            (batch_id, list(keys.values()))).fetchall())
    return {sid: why.get(k, "not loaded") for sid, k in keys.items()}


def _write_valves(session, conn, valves, pf, seg_codes, dataset, srid, layer_code, mode,
                  district, src_srid, report, attach: float,
                  dicts: PipeDictionaries, areas: Areas,
                  own: dict[str, str], columns: dict[str, dict[str, str]],
                  rejected_pipes: dict[str, str]) -> dict[str, Any]:
    """Appurtenances (valves …) as pipe points attached to the segment they are on. One
    whose pipe id names a pipe that was rejected goes with it (``named_pipe_rejected``, as a
    segment goes with its end point): it is on that pipe, and attached to another — the
    nearest, perhaps a parallel main — it would close the wrong pipe in a valve isolation."""
    lines = conn.execute(  # the dataset's current segments (new or unchanged by this load)
        "SELECT code, ST_AsBinary(ST_Force2D(geom)), pipe_class FROM pipe_segments "
        "WHERE valid_to IS NULL AND starts_with(source_key, %s) ORDER BY code",
        (dataset + ":",)).fetchall()
    seg_geoms = shapely.from_wkb([bytes(r[1]) for r in lines]) if lines else np.array([])
    tree = shapely.STRtree(seg_geoms) if len(seg_geoms) else None
    seg_at = {r[0]: k for k, r in enumerate(lines)}
    by_id = nearest = unattached = 0
    rejects: list[Reject] = []
    pts, classes, seg_of, keys, flag_lists = [], [], [], [], []
    for i, p in valves:
        key = point_key(dataset, p)
        errs = errors(pf.get(i, []))
        if errs:
            f = errs[0]
            rejects.append(reject(p, f.rule, finding_message(f), key, f.field))
            continue
        flags = warning_flags(pf.get(i, []))
        seg = seg_codes.get(p.segment_id) if p.segment_id else None
        if seg is None and p.segment_id in rejected_pipes:
            why = rejected_pipes[p.segment_id]
            rejects.append(reject(p, "named_pipe_rejected", located(
                p, f"appurtenance {p.label}: its pipe {p.segment_id} was rejected ({why}) / "
                   f"所在管段 {p.segment_id} 未入库（{why}）"), key,
                column_name(columns, p, "segment_id")))
            continue
        cls = p.cls
        if seg is None and p.segment_id:  # a pipe id no line of the delivery has (a typo?)
            flags.append("named_pipe_unknown")
        if seg is not None and seg in seg_at:
            # on the pipe its id names: within the attach tolerance of it, as one attached by
            # position is (a valve 983 m from its pipe was attached and closed it in an
            # isolation: the id or the position is wrong)
            off = float(shapely.distance(shapely.points(p.e, p.n), seg_geoms[seg_at[seg]]))
            if off > attach:
                rejects.append(reject(p, "named_pipe_far", located(
                    p, f"appurtenance {p.label}: its pipe {p.segment_id} is {off:.1f} m away, "
                       f"over the attach tolerance {attach:g} m / 附属物 {p.label} 距其所在管段 "
                       f"{p.segment_id} {off:.1f} m，超过吸附限差 {attach:g} m"), key,
                    column_name(columns, p, "segment_id")))
                continue
        if seg is not None:
            by_id += 1
        elif tree is not None:
            j, dist = tree.query_nearest(shapely.points(p.e, p.n), max_distance=attach,
                                         return_distance=True)
            if len(j):
                k = int(j[np.lexsort((j, dist))[0]])
                seg = lines[k][0]
                nearest += 1
                flags.append("attached_nearest")
        if seg is None:
            unattached += 1
            flags.append("unattached")
        if cls is None and seg is not None:
            cls = dicts.by_code.get(next(r[2] for r in lines if r[0] == seg))
        if cls is None:
            rejects.append(reject(p, "missing_value", located(
                p, "the appurtenance has no class: pass --class or attach it to a pipe"), key,
                FIELD_ZH["class"]))
            continue
        if p.appurtenance is None:
            p.appurtenance = dicts.feature(cls, "附属物", p.appurtenance_raw)
        pts.append(p)
        classes.append(cls)
        seg_of.append(seg)
        keys.append(key)
        flag_lists.append(sorted(set(flags)))
    chunks = points_chunks(
        srid, pts, classes, [None] * len(pts),
        [PipeDictionaries.point_code(c, p.appurtenance, "附属物") for p, c in zip(pts, classes)],
        [p.appurtenance.name if p.appurtenance else p.appurtenance_raw for p in pts],
        seg_of, keys, flag_lists, own)
    write_layer(session, conn, PIPE_POINTS, srid, layer_code, src_srid, chunks, rejects,
                  report, mode, district, dataset, areas, point_wkt, columns)
    return {"read": len(valves), "attached_by_id": by_id, "attached_nearest": nearest,
            "unattached": unattached, "max_distance_m": attach}

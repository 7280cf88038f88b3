"""A pipe layer's records as the direct writer's batches (:mod:`loaders.engine.direct`),
and their write: the columns, hashes, attrs and EWKB of ``CHUNK`` records at a time, and the
writer's own rejects named as QA's are (the record's table, row and field)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import shapely

from cim.layerdefs import PIPE_POINTS, LayerDef
from loaders.common import content_hashes
from loaders.engine.bulk import JsonText
from loaders.engine.converted import Converted
from loaders.engine.direct import DirectConverter
from loaders.engine.direct_writer import DirectWriter
from loaders.engine.known import SEP, Known, fetch_known
from loaders.engine.report import Reject
from loaders.geometry import ewkb
from loaders.pipes.attrs_json import attrs_texts_and_compared
from loaders.pipes.dictionaries import PipeClass
from loaders.pipes.records import (
    LINE_ENDS,
    PROVENANCE,
    Delivery,
    PointRec,
    RowAttrs,
)
from loaders.pipes.rejects import (
    located,
    reject,
    writer_field,
)


def warning_flags(findings) -> list[str]:
    """A record's QA warnings, as its flags (errors reject it)."""
    if not findings:  # most rows
        return []
    return sorted({f.rule for f in findings if f.severity == "warning"})


class Chunk:
    """A chunk of pipe records as the direct converter's batch (:mod:`loaders.engine.direct`)."""

    columns = None

    def __init__(self, recs: list, converted: Converted):
        self.recs, self.converted = recs, converted
        self.geometries = converted.geoms

    def __len__(self) -> int:
        return len(self.recs)

    def row(self, i: int):
        return self.recs[i]


def write_layer(session, conn, layer: LayerDef, srid: int, layer_code, src_srid,
                  chunks: Iterable[Chunk] | Callable[[Known], Iterable[Chunk]],
                  rejects: list[Reject], report, mode, district, dataset, areas,
                  wkt: Callable[[Any], str | None],
                  columns: dict[str, dict[str, str]]) -> DirectWriter:
    """The delivery's rows of ``layer`` written directly (:mod:`loaders.engine.direct`): the
    converter's decisions (district and grid cell, duplicates, unchanged and changed features,
    codes) taken here on whole columns, the rows COPYed once into the layer and the registry
    under the layer's merge lock, in the delivery's transaction. Its own rejects (outside
    every district, a repeated source key) name the record's table, row and field
    (``columns``: the delivery's) and keep its geometry as delivered (``wkt``), like the
    QA's. ``chunks`` may be made from the dataset's known keys (a callable taking them)."""
    w = DirectWriter(session.writer(layer, srid, layer_code))
    w.lock()  # what is current cannot change under the load: read once
    known = fetch_known(conn, layer, dataset, session.conninfo, attrs_skip=PROVENANCE)
    try:
        conv = DirectConverter(
            layer, layer_code, lambda c: c.converted, known, areas, session.report.batch_id,
            srid, mode, district, row_attrs=lambda _columns, _i: None,
            # the field the converter names (a batch's place: "geometry") gives way to the
            # record's own column (a survey point's X/Y, a segment's ends)
            reject_record=lambda rec, reason, message, _attrs, _geom, key, field=None: reject(
                rec, reason, located(rec, message), key,
                writer_field(rec, reason, columns) or field, wkt(rec)))
        if callable(chunks):  # before the rejects are written: it may key them (write.py)
            chunks = chunks(known)
        if rejects:
            w.w.copy_rejects(rejects)
        for chunk in chunks:
            b = conv(chunk)
            w.write(b)
            for f, k in b.flags.items():
                report.flagged_by_reason[f] = report.flagged_by_reason.get(f, 0) + k
    finally:
        known.close()
    w.finish(mode, dataset).apply_to(report, w.w)
    return w


def own_provenance(d: Delivery) -> dict[str, str]:
    """Table → those keys of :data:`PROVENANCE` the table holds as columns of its own (joined
    by :data:`loaders.engine.known.SEP`), for the tables that have any: a reload compares them
    in those tables' rows; everywhere else they hold only where a row came from (its table
    and row, a line end's segment) and are left out. A key is the table's own where its value
    is not the record's table or row (the loader adds none then: loaders.pipes.survey, gis)."""
    own: dict[str, set[str]] = {}
    at: dict[tuple, tuple[int, int]] = {}  # a table's names → where _table and _row are
    for r in itertools.chain(d.points, d.segments):
        if r.table == LINE_ENDS and r.row == 0:  # made by the loader: attrs all provenance
            continue
        a = r.attrs
        if isinstance(a, RowAttrs):
            names = a.names()
            if names not in at:
                at[names] = tuple(names.index(k) if k in names else -1
                                  for k in ("_table", "_row"))  # type: ignore[assignment]
                if "_derived_from" in names:
                    own.setdefault(r.table, set()).add("_derived_from")
            t, w = at[names]
            values = a.row()
            if (t >= 0 and values[t] != r.table) or (w >= 0 and values[w] != r.row):
                own.setdefault(r.table, set()).update(
                    k for k, i, v in (("_table", t, r.table), ("_row", w, r.row))
                    if i >= 0 and values[i] != v)
        else:
            keys = {k for k, v in (("_table", r.table), ("_row", r.row))
                    if k in a and a[k] != v} | ({"_derived_from"} & set(a))
            if keys:
                own.setdefault(r.table, set()).update(keys)
    return {t: SEP.join(k for k in PROVENANCE if k in ks) for t, ks in own.items()}


def loaded_attrs(rec) -> dict[str, Any] | RowAttrs:
    """The attributes a record's loaded row keeps: its delivered ones, and what the loader
    adds (:attr:`PointRec.extra`: a point's Z beside its 地面高程, a line end's distance
    from its node …) under names no delivered column has."""
    a = rec.attrs
    if not rec.extra:
        return a
    out = dict(a.stored() if isinstance(a, RowAttrs) else a)
    out.update((k, v) for k, v in rec.extra.items() if k not in a)
    return out


CHUNK = 50_000  # rows hashed, encoded and COPYed at a time (bounded memory)


def layer_chunks(layer: LayerDef, srid: int, recs: list, values: dict[str, list[Any]],
            geoms: list[Any], keys: list[str], flags: list[list[str]], class_code: list[str],
            attrs: list[dict[str, Any] | RowAttrs], own: dict[str, str]) -> Iterator[Chunk]:
    """The records ``recs`` converted, ``CHUNK`` rows at a time: ``values`` the layer's own
    columns (the derived district and grid cell left out: the converter places the rows),
    ``geoms`` shapely geometries (3D, storage CRS), ``attrs`` the delivered attributes (a
    survey row's attrs keep what no column holds: :meth:`RowAttrs.stored`). The content hash
    takes the layer's columns in declared order, the derived ones as None (as every pipe row
    was hashed)."""
    derived = layer.derived_columns()
    total = len(geoms)
    for a in range(0, total, CHUNK):
        part = slice(a, a + CHUNK)
        garr = np.array(geoms[part], dtype=object)
        n = len(garr)
        ordered = {c: values[c][part] if c not in derived else [None] * n
                   for c in layer.column_names()}
        texts, compared = attrs_texts_and_compared(
            [a.stored() if isinstance(a, RowAttrs) else a for a in attrs[part]], PROVENANCE)
        yield Chunk(recs[part], Converted(
            index=np.arange(n), source_key=np.array(keys[part], dtype=object),
            row_hash=content_hashes(ordered, garr),
            attrs=list(map(JsonText, texts)), compared_attrs=compared,
            own_keys=np.array([own.get(r.table, "") for r in recs[part]], dtype=object)
            if own else None,
            flags=flags[part],
            geoms=garr, ewkb=ewkb(garr, srid, with_z=True),
            class_code=np.array(class_code[part], dtype=object),
            columns={c: np.array(v[part], dtype=object) for c, v in values.items()}))


def points_chunks(srid: int, pts: list[PointRec], classes: list[PipeClass],
                   features: list[Any], feature_codes: list[str], appurtenances: list[Any],
                   segment_codes: list[str | None], keys: list[str], flags: list[list[str]],
                   own: dict[str, str]) -> Iterator[Chunk]:
    """Pipe points (nodes or appurtenances): PointZ at ground elevation."""
    ground = [p.ground for p in pts]
    geoms = shapely.points(np.array([[p.e, p.n, g if g is not None else 0.0]
                                     for p, g in zip(pts, ground)], dtype=float).reshape(-1, 3))
    values = {"point_no": [p.point_no for p in pts], "map_no": [p.map_no for p in pts],
              "pipe_class": [c.code for c in classes], "class_name": [c.name for c in classes],
              "subclass_code": [c.subclass_code for c in classes],
              "subclass_name": [c.subclass_name for c in classes],
              "feature_code": feature_codes, "feature": features,
              "appurtenance": appurtenances, "ground_elevation": ground,
              "survey_code": [p.survey_code for p in pts], "road": [p.road for p in pts],
              "segment_code": segment_codes, "note": [p.note for p in pts]}
    return layer_chunks(PIPE_POINTS, srid, pts, values, list(geoms), keys, flags,
                   [c.code for c in classes], [loaded_attrs(p) for p in pts], own)

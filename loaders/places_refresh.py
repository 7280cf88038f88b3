"""Placing stored features again in the current districts and grid cells (`cim places
refresh`), and telling after a load of the units how many are out of place.

A feature's ``district_code`` and ``grid_code`` are derived: a load decides them from the
districts and grid cells current at the time (:class:`loaders.engine.places.AreaIndex`, the
staged writer's SQL join's rule), and a reload never decides them again for a feature whose
content is unchanged — the content hash leaves them out (hashed as None,
:mod:`loaders.hashing`), so such a feature is "unchanged" and kept as it is. Features loaded
before the grid cells therefore keep ``grid_code`` NULL, and features loaded before a
district's boundary moved keep their old district, for ever: ``cim query stats --by grid``
put them all in the null row.

How the change is written — in place, recorded in a batch, not a new version per feature —
follows the platform's treatment of what is not content: a reload that finds the same
content keeps the version (even across a change of the units, which is part of its
conversion digest), and a fingerprint that changed for the same content is replaced in place
(:mod:`loaders.engine.direct_writer`). A new version would tell ``cim history`` and the
API's ``datetime`` that the survey changed when only the units did, and double a
million-footprint table. The current version is updated in place (readers keep their MVCC
snapshot: never blocked), its ``batch_id`` left as the load that wrote its content (the
conversion records, :mod:`loaders.engine.conversions`, go by it), and each layer changed gets a
succeeded ``load_batches`` row (``mode`` 'refresh') in the same transaction: ``cim batches``
shows it, and the caches that follow a layer's batches (vector tiles, the pipe graph, the
early key read) see a new write. A run that changes nothing records nothing: a second run is
a no-op.

The rule is the loaders' own, not a third one: :meth:`AreaIndex.place` on the current
areas (:func:`fetch_areas`), applied to the stored geometry. Where it finds no unit the load
would have rejected the feature (outside every district; a component in no grid cell): the
stored code is kept and the feature counted, for the engineer to look at; elsewhere a feature
in no grid cell gets ``grid_code`` NULL. A feature whose version a ``--district`` load wrote
keeps that district (the engineer's choice, not the geometry's).

Risk points are left out: ``cim risk assess`` places them by its own rule each time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import psycopg
import shapely
from psycopg import sql

from cim import __version__
from cim.errors import DatabaseError, InputError
from cim.layerdefs import LAYERS, LayerDef
from loaders.engine.bulk import merge_lock
from loaders.engine.pipeline import sql_analyze
from loaders.engine.places import AreaIndex, fetch_areas

COMMAND = "cim places refresh"
# layers placed by another command each time they are written
OWN_RULE = {"risk_points": "cim risk assess"}
CHUNK = 50_000  # current features read, placed and compared at a time


def placed_layers() -> list[LayerDef]:
    """The layers whose loads assign a district or grid cell, refreshed by this module."""
    return [d for d in LAYERS.values() if (d.assign_district or d.assign_grid)
            and d.name not in OWN_RULE]


@dataclass
class LayerPlaces:
    """One layer's current features against the current units. ``grid_missing``: no grid
    code, the rule finds a cell; ``grid_stale``: a grid code the rule does not give (another
    cell, or none); ``district_stale``: likewise for the district; ``outside_districts`` /
    ``outside_grid``: the rule finds none where the load would have rejected the feature (its
    code kept); ``changed``: features written (or to write)."""

    layer: str
    current: int = 0
    grid_missing: int = 0
    grid_stale: int = 0
    district_stale: int = 0
    district_kept: int = 0  # a --district load's choice, kept
    outside_districts: int = 0
    outside_grid: int = 0
    changed: int = 0
    batch_id: int | None = None
    examples: list[str] = field(default_factory=list)  # codes of a few changed features

    def text(self) -> str:
        done = self.batch_id is not None
        parts = [f"{self.layer}: {self.current:,} current, {self.changed:,} "
                 + ("re-placed" if done else "out of place")]
        if self.grid_missing or self.grid_stale:
            parts.append(f"grid cell: {self.grid_missing:,} "
                         + ("had none, " if done else "without one, ")
                         + f"{self.grid_stale:,} " + ("were in" if done else "in")
                         + " one no longer theirs")
        if self.district_stale:
            parts.append(f"district: {self.district_stale:,} "
                         + ("were in" if done else "in") + " one no longer theirs")
        if self.district_kept:
            parts.append(f"{self.district_kept:,} kept in the district a --district load "
                         "gave them")
        if self.outside_districts:
            parts.append(f"{self.outside_districts:,} outside every district (district "
                         "kept; a load would reject them)")
        if self.outside_grid:
            parts.append(f"{self.outside_grid:,} in no grid cell (grid cell kept; a load "
                         "would reject them)")
        if done:
            parts.append(f"batch {self.batch_id}")
        return "; ".join(parts)


def _decide(conn: psycopg.Connection, layer: LayerDef, index: AreaIndex, codes: tuple,
            out: LayerPlaces) -> tuple[list[int], list[str | None], list[str | None]]:
    """The rows (ids) of the layer's current features whose district or grid code the rule
    changes, with their new codes; counts into ``out``."""
    dcodes = np.array(list(codes[0]) + [None], dtype=object)  # index -1: None
    gcodes = np.array(list(codes[1]) + [None], dtype=object)
    ids: list[int] = []
    new_d: list[str | None] = []
    new_g: list[str | None] = []
    with conn.cursor(name=f"places_{layer.name}") as cur:
        cur.itersize = CHUNK
        cur.execute(sql.SQL(
            "SELECT t.id, t.code, t.district_code, t.grid_code, ST_AsBinary(t.geom), "
            "(b.options->>'district') IS NOT NULL FROM {} t LEFT JOIN load_batches b "
            "ON b.id = t.batch_id WHERE t.valid_to IS NULL").format(
            sql.Identifier(layer.table)))
        while rows := cur.fetchmany(CHUNK):
            n = len(rows)
            out.current += n
            geoms = shapely.from_wkb([bytes(r[4]) for r in rows])
            di, gi = index.place(geoms, layer.assign_district, layer.assign_grid,
                                 layer.placed_by_touch)
            old_d = np.array([r[2] for r in rows], dtype=object)
            old_g = np.array([r[3] for r in rows], dtype=object)
            forced = np.array([r[5] for r in rows], dtype=bool)
            d, g = old_d.copy(), old_g.copy()
            if layer.assign_district:
                want = dcodes[di]
                none = di < 0
                differs = ~none & ~forced & (want != old_d)
                out.district_stale += int(differs.sum())
                out.district_kept += int((forced & ~none & (want != old_d)).sum())
                out.outside_districts += int(none.sum())
                d[differs] = want[differs]
            if layer.assign_grid:
                want = gcodes[gi]
                none = gi < 0
                keep = none & layer.require_grid
                out.outside_grid += int(keep.sum())
                differs = ~keep & (want != old_g)
                out.grid_missing += int((differs & (old_g == None)).sum())  # noqa: E711
                out.grid_stale += int((differs & (old_g != None)).sum())  # noqa: E711
                g[differs] = want[differs]
            change = np.flatnonzero((d != old_d) | (g != old_g))
            out.changed += len(change)
            for j in change.tolist():
                ids.append(rows[j][0])
                new_d.append(d[j])
                new_g.append(g[j])
                if len(out.examples) < 20:
                    out.examples.append(rows[j][1])
    return ids, new_d, new_g


def _layers(layer: str | None) -> list[LayerDef]:
    known = placed_layers()
    if layer is None:
        return known
    if layer in OWN_RULE:
        raise InputError(f"{layer} is placed by `{OWN_RULE[layer]}` each time it runs",
                         field="--layer")
    found = [d for d in known if d.name == layer]
    if not found:
        raise InputError(f"{layer!r} is no layer placed in districts or grid cells (layers: "
                         f"{', '.join(d.name for d in known)})", field="--layer")
    return found


def refresh(conninfo: str, layer: str | None = None, dry_run: bool = False
            ) -> list[LayerPlaces]:
    """Place the current features of ``layer`` (None: every placed layer) again by the
    loaders' rule and write the changes, in one transaction: the units' and the layers'
    merge locks held, so that no load of them decides against other units meanwhile (a
    load waits; readers do not). ``dry_run``: count only."""
    todo = _layers(layer)
    results: list[LayerPlaces] = []
    with psycopg.connect(conninfo) as conn:
        for name in () if dry_run else \
                ("admin_divisions", "grid_cells", *sorted(d.table for d in todo)):
            merge_lock(conn, name)
        for d in todo:
            res = LayerPlaces(d.name)
            results.append(res)
            areas = fetch_areas(conn, d)
            ids, nd, ng = _decide(conn, d, AreaIndex(areas),
                                  (areas.district_codes, areas.grid_codes), res)
            if dry_run or not ids:
                continue
            conn.execute("CREATE TEMP TABLE _places (id int8 PRIMARY KEY, d text, g text) "
                         "ON COMMIT DROP")
            with conn.cursor().copy("COPY _places (id, d, g) FROM STDIN") as cp:
                for row in zip(ids, nd, ng):
                    cp.write_row(row)
            n = conn.execute(sql.SQL(
                "UPDATE {} t SET district_code = p.d, grid_code = p.g FROM _places p "
                "WHERE t.id = p.id AND t.valid_to IS NULL").format(
                sql.Identifier(d.table))).rowcount
            if n != len(ids):  # the merge lock holds every writer of the layer off
                raise DatabaseError(f"{d.name}: {len(ids) - n} features changed during the "
                                    "refresh; nothing was written")
            conn.execute("DROP TABLE _places")
            res.batch_id = conn.execute(
                "INSERT INTO load_batches (layer, source_path, mode, options, loader_version, "
                "status, finished_at, read, loaded, report) VALUES (%s, %s, 'refresh', "
                "%s, %s, 'succeeded', now(), %s, %s, %s) RETURNING id",
                (d.name, COMMAND, json.dumps({"layer": layer}), __version__, res.current,
                 res.changed, json.dumps(asdict(res), ensure_ascii=False))).fetchone()[0]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for r in results:  # the statistics of the layers rewritten, as after a load
            if r.batch_id is not None:
                conn.execute(sql_analyze(LAYERS[r.layer].table))
    return results


def out_of_place_notes(conninfo: str) -> list[str]:
    """For a load of districts or grid cells: per placed layer, how many current features
    the new units place otherwise than stored, and the command that re-places them. Costs a
    read of every placed layer (the rule is applied beside the data, as a load does)."""
    try:
        results = refresh(conninfo, dry_run=True)
    except DatabaseError as exc:  # no districts yet: nothing can be placed
        return [f"features not checked against the units: {exc}"]
    return [f"{r.text()} — `{COMMAND} --layer {r.layer}` places them again "
            "(every layer: without --layer)"
            for r in results if r.changed or r.outside_districts or r.outside_grid]

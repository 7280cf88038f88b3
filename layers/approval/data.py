"""What the check reads from the CIM around a project: current features near the site.

One read-only connection; every layer is asked once for the current features within the
rules' search distance of the site (GiST through ``ST_DWithin``), as WKB in the storage CRS;
the rules then work on these few features in shapely (a project is a few hectares, so the
pairwise geometry is cheap and exact). Layer names reach SQL only through
:func:`layers.query.common.ident`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
import shapely
from psycopg import sql
from psycopg.rows import dict_row

from layers.approval.linework import AREA_CODES, LINEAL
from layers.query.common import ident
from layers.query.pipes import NO_JIT
from layers.query.sqlparts import storage_srid

PARCEL_COLS = ("code", "parcel_code", "land_use_code", "land_use_name", "max_far",
               "max_density", "min_green_ratio", "max_height", "setback_road_m",
               "setback_site_m", "setback_blue_m")
LINE_COLS = ("code", "line_type", "line_type_code", "name", "width_m")
ZONE_COLS = ("code", "zone_type", "name", "max_height", "max_elevation")
PIPE_COLS = ("code", "pipe_class", "class_name", "subclass_code", "burial", "pressure",
             "diameter_mm", "width_mm", "height_mm", "size_text")
BUILDING_COLS = ("code", "name", "height", "floors_above")


@dataclass
class Context:
    srid: int
    parcels: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)
    pipes: list[dict[str, Any]] = field(default_factory=list)
    buildings: list[dict[str, Any]] = field(default_factory=list)
    widest_pipe_m: float = 0.0
    versions: list[dict[str, Any]] = field(default_factory=list)  # :func:`_versions`
    districts: list[dict[str, Any]] = field(default_factory=list)  # code, name, site_area_m2
    outside_districts_m2: float | None = None  # the site in no district (None: none loaded)
    # which layers hold any current feature (an empty layer is missing data, not a pass)
    loaded: dict[str, bool] = field(default_factory=dict)


def _near(cur, layer: str, cols: tuple[str, ...], site_wkb: bytes, srid: int, reach: float,
          force2d: bool = False, pipe_classes: list[str] | None = None,
          beyond: float | None = None) -> list[dict[str, Any]]:
    """Current features within ``reach``; with ``pipe_classes`` only pipes of those classes,
    with ``beyond`` only those farther than it (the ones a nearer read left)."""
    geom = sql.SQL("ST_AsBinary(ST_Force2D(geom))" if force2d else "ST_AsBinary(geom)")
    extra = sql.SQL("")
    args: list[Any] = [site_wkb, reach]
    if pipe_classes is not None:
        extra += sql.SQL(" AND pipe_class = ANY(%s)")
        args.append(pipe_classes)
    if beyond is not None:
        extra += sql.SQL(" AND NOT ST_DWithin(geom, ST_GeomFromWKB(%s, {srid}), %s)").format(
            srid=sql.Literal(srid))
        args += [site_wkb, beyond]
    q = sql.SQL("SELECT {cols}, batch_id, {geom} AS wkb FROM {t} WHERE valid_to IS NULL "
                "AND ST_DWithin(geom, ST_GeomFromWKB(%s, {srid}), %s){extra} ORDER BY code"
                ).format(cols=sql.SQL(", ").join(map(sql.Identifier, cols)), geom=geom,
                         t=ident(layer), srid=sql.Literal(srid), extra=extra)
    rows = cur.execute(q, args).fetchall()
    for r in rows:
        r["geom"] = shapely.from_wkb(bytes(r.pop("wkb")))
    return rows


def _joining_lines(cur, lines: list[dict[str, Any]], srid: int, tolerance: float
                   ) -> list[dict[str, Any]]:
    """The lines of an area type beyond the search that the lines read continue into, end to
    end within ``tolerance``, and so on (one recursive query: a line's loose ends are its
    ``ST_Boundary``, none for a closed one): a ring exported in pieces is read whole, its far
    pieces too (:mod:`layers.approval.linework`)."""
    start = [ln["code"] for ln in lines if ln["line_type_code"] in AREA_CODES
             and ln["geom"].geom_type in LINEAL and not ln["geom"].boundary.is_empty]
    if not start:
        return []
    q = sql.SQL(
        "WITH RECURSIVE walk(code) AS (SELECT unnest(%(start)s::text[]) COLLATE \"C\" UNION "
        "SELECT c.code FROM walk w JOIN control_lines l ON l.code = w.code AND l.valid_to "
        "IS NULL JOIN control_lines c ON c.valid_to IS NULL AND c.line_type_code = l.line_type_code "
        "AND ST_DWithin(c.geom, ST_Boundary(l.geom), %(tol)s)) "
        "SELECT {cols}, ST_AsBinary(c.geom) AS wkb FROM walk JOIN control_lines c USING (code) "
        "WHERE c.valid_to IS NULL AND NOT c.code = ANY(%(known)s) ORDER BY c.code").format(
        cols=sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(n)) for n in LINE_COLS))
    rows = cur.execute(q, {"start": start, "tol": tolerance,
                           "known": [ln["code"] for ln in lines]}).fetchall()
    for r in rows:
        r["geom"] = shapely.from_wkb(bytes(r.pop("wkb")))
    return rows


def read_context(conninfo: str, site: shapely.Geometry, search_m: float,
                 pipe_reach_m: float, join_tolerance_m: float = 0.0,
                 project_site: shapely.Geometry | None = None,
                 building_reach_m: float | None = None,
                 far_pipes: tuple[float, list[str]] | None = None) -> Context:
    """Parcels, control lines, height zones within ``search_m`` of the site, existing
    buildings within ``building_reach_m`` (else ``search_m``: the farthest a spacing can
    reach), pipe segments within ``pipe_reach_m`` (the largest clearance + widest section)
    and, with ``far_pipes`` (reach, classes), the pipes of those classes within that reach
    too (a gas main whose pressure class the rules do not name: its clearance is unknown);
    the pieces of an area line read are followed beyond ``search_m`` where their ends meet
    others within ``join_tolerance_m`` (:func:`_joining_lines`); the districts the project's
    site (``project_site``, else ``site``) lies in (:func:`_districts`)."""
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        # one snapshot for every read: the features, the loads named as their versions and
        # which layers are loaded (a load committing between two reads was named as read
        # while its buildings were not, and the overlap with them passed)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.execute(NO_JIT)
        srid = storage_srid(conn)
        cur = conn.cursor(row_factory=dict_row)
        wkb = shapely.to_wkb(site)
        ctx = Context(srid)
        ctx.parcels = _near(cur, "planning_parcels", PARCEL_COLS, wkb, srid, 0.0)
        ctx.lines = _near(cur, "control_lines", LINE_COLS, wkb, srid, search_m)
        ctx.lines += _joining_lines(cur, ctx.lines, srid, join_tolerance_m)
        ctx.zones = _near(cur, "height_zones", ZONE_COLS, wkb, srid, 0.0)
        ctx.buildings = _near(cur, "buildings", BUILDING_COLS, wkb, srid,
                              max(search_m, building_reach_m or 0.0))
        ctx.pipes = _near(cur, "pipe_segments", PIPE_COLS, wkb, srid, pipe_reach_m,
                          force2d=True)
        if far_pipes is not None and far_pipes[0] > pipe_reach_m and far_pipes[1]:
            ctx.pipes += _near(cur, "pipe_segments", PIPE_COLS, wkb, srid, far_pipes[0],
                               force2d=True, pipe_classes=far_pipes[1], beyond=pipe_reach_m)
        ctx.versions = _versions(cur, ctx)
        ctx.districts, ctx.outside_districts_m2 = _districts(
            cur, shapely.to_wkb(site if project_site is None else project_site), srid)
        ctx.loaded = {n: cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE valid_to "
                                             "IS NULL) AS e").format(sql.Identifier(n))
                                     ).fetchone()["e"] for n in LOADED_LAYERS}
        ctx.widest_pipe_m = max((max(p["diameter_mm"] or 0, p["width_mm"] or 0) / 1000.0
                                 for p in ctx.pipes), default=0.0)
    return ctx



# the layers whose emptiness makes their rules "missing data"
LOADED_LAYERS = ("planning_parcels", "control_lines", "height_zones", "buildings",
                 "pipe_segments")
# layer → (the context's list, the layer its load batches name)
LAYERS = {"planning_parcels": ("parcels", "planning_parcels"),
          "control_lines": ("lines", "control_lines"), "height_zones": ("zones", "height_zones"),
          "buildings": ("buildings", "buildings"), "pipe_segments": ("pipes", "pipes")}


def _stamp(t: Any) -> str | None:
    return t.isoformat() if t is not None else None


def _versions(cur, ctx: Context) -> list[dict[str, Any]]:
    """Which data the check read, per layer: the features read, the load batches they come
    from (file, its SHA-256, when loaded) and the layer's latest load, read in the same
    snapshot as the features (the batch table, not a scan of a million footprints). A filed
    check names its data: a reload after it does not silently change what the record stands
    for, and the versioned layers keep the state it saw (``cim history``)."""
    out = []
    for layer, (attr, batch_layer) in LAYERS.items():
        rows = getattr(ctx, attr)
        ids = sorted({r["batch_id"] for r in rows if r.get("batch_id") is not None})
        batches = cur.execute(
            "SELECT id, source_path, source_sha256, finished_at FROM load_batches "
            "WHERE id = ANY(%s) OR id = (SELECT max(id) FROM load_batches WHERE layer = %s "
            "AND status = 'succeeded') ORDER BY id", (ids, batch_layer)).fetchall()
        info = [{"id": b["id"], "file": b["source_path"], "sha256": b["source_sha256"],
                 "loaded_at": _stamp(b["finished_at"])} for b in batches]
        out.append({"layer": layer, "features_read": len(rows),
                    "batches": [b for b in info if b["id"] in ids],
                    "features_without_batch": sum(1 for r in rows if r.get("batch_id") is None),
                    # the features read are of it unless the layer was loaded since
                    "latest_load": info[-1] if info else None})
    return out


def _districts(cur, site_wkb: bytes, srid: int
               ) -> tuple[list[dict[str, Any]], float | None]:
    """The districts (admin_divisions) the site lies in, with the part of the site in each,
    largest first, and the part of the site in none (None: no district is loaded): a project
    across a district boundary is one check, and its report says which districts' land it
    takes (whose authorities the filing concerns) — and how much is no district's of the
    city (beyond its boundary, or in a gap between districts), which the list alone left
    unsaid."""
    site = shapely.from_wkb(site_wkb)
    rows = cur.execute(sql.SQL(
        "SELECT code, name, ST_AsBinary(ST_Intersection(geom, s.g)) AS part FROM "
        "admin_divisions, (SELECT ST_GeomFromWKB(%s, {srid}) AS g) s WHERE valid_to IS NULL "
        "AND ST_Intersects(geom, s.g)").format(srid=sql.Literal(srid)), [site_wkb]).fetchall()
    for r in rows:
        r["geom"] = shapely.from_wkb(bytes(r.pop("part")))
        r["a"] = r["geom"].area
    if rows:
        outside = site.difference(shapely.union_all([r["geom"] for r in rows])).area
    else:
        loaded = cur.execute("SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE valid_to "
                             "IS NULL) AS any").fetchone()["any"]
        outside = site.area if loaded else None
    return ([{"code": r["code"], "name": r["name"], "site_area_m2": round(r["a"], 2)}
             for r in sorted(rows, key=lambda r: (-r["a"], r["code"])) if r["a"] > 0.01],
            None if outside is None else round(outside, 2) if outside > 0.01 else 0.0)

"""District boundaries and unit grid cells of the city profile (`cim profile apply`).

Their codes are not allocated: they are the official GB/T 2260 district codes and the city's
15-digit grid codes, checked here and recorded in the registry like any other code.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import shapely
from psycopg.types.json import Jsonb

from cim.errors import ConfigError
from cim.layerdefs import ADMIN_DIVISIONS, GRID_CELLS, LayerDef
from cim.profile import CityProfile
from loaders.common import content_hash, delivered_wkts, reject_record, row_attrs
from loaders.engine.bulk import EWKB
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.places import current_districts
from loaders.engine.report import LoadReport, Reject
from loaders.engine.rows import StagedRows, layer_values
from loaders.fields import ValueProblem, as_text
from loaders.geometry import ewkb, prepare
from loaders.sources.read import Batch

# a grid cell less than this share of whose area lies in the district its code names is
# flagged outside_coded_district (cells are drawn within their districts; an edge's
# digitising differences stay under it)
CODED_DISTRICT_SHARE = 0.9


def _coded_converter(layer: LayerDef, length: int, profile: CityProfile,
                     district_areas: dict[str, object] | None = None):
    districts = {d.code for d in profile.districts}
    layer_name = layer.name

    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        m, cols = ctx.mapping, batch.columns
        if "code" not in m:
            raise ConfigError(f"{ctx.source.path}: no code field (fields: "
                              f"{', '.join(ctx.source.fields)})")
        prep = prepare(batch.geometries, ctx.transformer, "polygon")
        wkbs = ewkb(prep.geoms, ctx.srid)
        delivered = delivered_wkts(batch.geometries)  # what a reject of the merge keeps
        rows, rejects = StagedRows(layer, delivered=True), []
        for i in range(len(batch.geometries)):
            row_no = batch.first_row + i
            attrs = row_attrs(cols, i)
            try:
                code = as_text(cols[m["code"]][i]) or ""
            except ValueProblem as exc:
                rejects.append(reject_record(row_no, "bad_code", str(exc), attrs,
                                             batch.geometries[i], None, field=m["code"]))
                continue
            if code.endswith(".0"):
                code = code[:-2]
            key = f"{layer_name}:{code}"
            try:
                name = as_text(cols[m["name"]][i]) if "name" in m else None
            except ValueProblem as exc:
                rejects.append(reject_record(row_no, "bad_value", f"field {m['name']!r}: {exc}",
                                             attrs, batch.geometries[i], key, field=m["name"]))
                continue
            problem = prep.reject[i]
            if problem is None and not (code.isdigit() and len(code) == length):
                problem = ("bad_code", f"code {code!r} is not {length} digits")
            if problem is None and code[:6] not in districts:
                problem = ("unknown_district",
                           f"district {code[:6]} is not among the profile's districts")
            if problem is not None:
                rejects.append(reject_record(row_no, problem[0], problem[1], attrs,
                                             batch.geometries[i], key, field=m["code"]))
                continue
            if layer_name == "admin_divisions":
                vals = {"name": name or profile.district_name(code), "level": 3,
                        "parent_code": profile.city_code}
            else:
                vals = {"name": name, "district_code": code[:6], "street_code": code[:9],
                        "community_code": code[:12]}
            flags = prep.flags[i]
            area = (district_areas or {}).get(code[:6])
            if area is not None and prep.geoms[i] is not None:
                cell = prep.geoms[i]
                share = shapely.area(shapely.intersection(cell, area)) / max(cell.area, 1e-9)
                if share < CODED_DISTRICT_SHARE:  # a cell of 370811 drawn in 370826
                    flags = flags + ["outside_coded_district"]
                    attrs = {**attrs, "_share_in_coded_district": round(float(share), 4)}
            values = layer_values(layer, vals)
            rows.append(row_no=row_no, source_key=key, row_hash=content_hash(values, wkbs[i]),
                        attrs=Jsonb(attrs), flags=flags, geom=EWKB(wkbs[i]), code=code,
                        delivered_wkt=delivered[i], **vals)
        return rows, rejects

    return convert


def load_districts(conninfo: str, profile: CityProfile, path: str | Path | None = None,
                   **kw) -> LoadReport:
    path = path or profile.boundaries
    if path is None:
        raise ConfigError("the profile names no boundaries file", path=str(profile.path))
    report = run_load(conninfo, profile, ADMIN_DIVISIONS, None,
                      _coded_converter(ADMIN_DIVISIONS, 6, profile), path,
                      aliases=profile.field_aliases.get("admin_divisions", {}),
                      dataset="admin_divisions", **kw)
    with psycopg.connect(conninfo) as conn:
        held = {c for c, in conn.execute("SELECT code FROM admin_divisions "
                                         "WHERE valid_to IS NULL AND level = 3")}
        overlaps = conn.execute(
            "SELECT a.code, b.code, ST_Area(ST_Intersection(a.geom, b.geom)) FROM "
            "admin_divisions a JOIN admin_divisions b ON a.code < b.code "
            "AND ST_Intersects(a.geom, b.geom) WHERE a.valid_to IS NULL AND a.level = 3 "
            "AND b.valid_to IS NULL AND b.level = 3 "
            "AND ST_Area(ST_Intersection(a.geom, b.geom)) > 1").fetchall()
    if overlaps:  # a feature there goes to the lower code
        report.notes.append("districts overlap (a feature in both goes to the lower code): "
                            + ", ".join(f"{a} and {b} ({area:,.0f} m²)"
                                        for a, b, area in overlaps))
    missing = sorted(d.code for d in profile.districts if d.code not in held)
    if missing:  # features there will be outside every district
        report.notes.append("districts of the profile with no boundary: " + ", ".join(
            f"{c} {profile.district_name(c)}" for c in missing))
    return report


def load_grid(conninfo: str, profile: CityProfile, path: str | Path | None = None,
              **kw) -> LoadReport:
    path = path or profile.grid
    if path is None:
        raise ConfigError("the profile names no grid file", path=str(profile.path))
    return run_load(conninfo, profile, GRID_CELLS, None,
                    _coded_converter(GRID_CELLS, 15, profile, _district_areas(conninfo)), path,
                    aliases=profile.field_aliases.get("grid_cells", {}), dataset="grid_cells",
                    **kw)


def _district_areas(conninfo: str) -> dict[str, object]:
    """The current districts' areas by code, prepared: a grid cell is checked against the
    district its code names."""
    with psycopg.connect(conninfo) as conn:
        codes, geoms = current_districts(conn)
    shapely.prepare(geoms)
    return dict(zip(codes, geoms))

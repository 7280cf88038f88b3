"""District boundaries and unit grid cells of the city profile (`cim profile apply`).

Their codes are not allocated: they are the official GB/T 2260 district codes and the city's
15-digit grid codes, checked here and recorded in the registry like any other code.
"""

from __future__ import annotations

from pathlib import Path

from psycopg.types.json import Jsonb

from cim.errors import ConfigError
from cim.layerdefs import ADMIN_DIVISIONS, GRID_CELLS, LayerDef
from cim.profile import CityProfile
from loaders.common import content_hash, delivered_wkts, reject_record, row_attrs
from loaders.engine.bulk import EWKB
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.report import LoadReport, Reject
from loaders.engine.rows import StagedRows, layer_values
from loaders.fields import as_text
from loaders.geometry import ewkb, prepare
from loaders.sources.read import Batch


def _coded_converter(layer: LayerDef, length: int, profile: CityProfile):
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
            code = as_text(cols[m["code"]][i]) or ""
            if code.endswith(".0"):
                code = code[:-2]
            name = as_text(cols[m["name"]][i]) if "name" in m else None
            key = f"{layer_name}:{code}"
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
            values = layer_values(layer, vals)
            rows.append(row_no=row_no, source_key=key, row_hash=content_hash(values, wkbs[i]),
                        attrs=Jsonb(attrs), flags=prep.flags[i], geom=EWKB(wkbs[i]), code=code,
                        delivered_wkt=delivered[i], **vals)
        return rows, rejects

    return convert


def load_districts(conninfo: str, profile: CityProfile, path: str | Path | None = None,
                   **kw) -> LoadReport:
    path = path or profile.boundaries
    if path is None:
        raise ConfigError("the profile names no boundaries file", path=str(profile.path))
    return run_load(conninfo, profile, ADMIN_DIVISIONS, None,
                    _coded_converter(ADMIN_DIVISIONS, 6, profile), path,
                    aliases=profile.field_aliases.get("admin_divisions", {}),
                    dataset="admin_divisions", **kw)


def load_grid(conninfo: str, profile: CityProfile, path: str | Path | None = None,
              **kw) -> LoadReport:
    path = path or profile.grid
    if path is None:
        raise ConfigError("the profile names no grid file", path=str(profile.path))
    return run_load(conninfo, profile, GRID_CELLS, None,
                    _coded_converter(GRID_CELLS, 15, profile), path,
                    aliases=profile.field_aliases.get("grid_cells", {}), dataset="grid_cells",
                    **kw)

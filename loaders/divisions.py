"""District boundaries and unit grid cells of the city profile (`cim profile apply`).

Their codes are not allocated: they are the official GB/T 2260 district codes and the city's
15-digit grid codes, checked here and recorded in the registry like any other code.
"""

from __future__ import annotations

from pathlib import Path

from psycopg.types.json import Jsonb

from cim.errors import ConfigError
from cim.layerdefs import ADMIN_DIVISIONS, GRID_CELLS
from cim.profile import CityProfile
from loaders.common import content_hash, reject_record, row_attrs
from loaders.engine.bulk import EWKB
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.report import LoadReport, Reject
from loaders.fields import as_text
from loaders.geometry import ewkb, prepare
from loaders.sources.read import Batch


def _coded_converter(layer_name: str, length: int, profile: CityProfile):
    districts = {d.code for d in profile.districts}

    def convert(batch: Batch, ctx: LoadContext) -> tuple[list[tuple], list[Reject]]:
        m, cols = ctx.mapping, batch.columns
        if "code" not in m:
            raise ConfigError(f"{ctx.source.path}: no code field (fields: "
                              f"{', '.join(ctx.source.fields)})")
        prep = prepare(batch.geometries, ctx.transformer, "polygon")
        wkbs = ewkb(prep.geoms, ctx.srid)
        rows, rejects = [], []
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
                name = name or profile.district_name(code)
                values = (name, 3, profile.city_code)
            else:
                values = (name, code[:6], code[:9], code[:12])
            rows.append((row_no, key, content_hash(values, wkbs[i]),
                         Jsonb(attrs), prep.flags[i], EWKB(wkbs[i]),
                         None, code, *values))
        return rows, rejects

    return convert


def load_districts(conninfo: str, profile: CityProfile, path: str | Path | None = None,
                   **kw) -> LoadReport:
    path = path or profile.boundaries
    if path is None:
        raise ConfigError("the profile names no boundaries file", path=str(profile.path))
    return run_load(conninfo, profile, ADMIN_DIVISIONS, None,
                    _coded_converter("admin_divisions", 6, profile), path,
                    aliases=profile.field_aliases.get("admin_divisions", {}),
                    dataset="admin_divisions", **kw)


def load_grid(conninfo: str, profile: CityProfile, path: str | Path | None = None,
              **kw) -> LoadReport:
    path = path or profile.grid
    if path is None:
        raise ConfigError("the profile names no grid file", path=str(profile.path))
    return run_load(conninfo, profile, GRID_CELLS, None,
                    _coded_converter("grid_cells", 15, profile), path,
                    aliases=profile.field_aliases.get("grid_cells", {}), dataset="grid_cells",
                    **kw)

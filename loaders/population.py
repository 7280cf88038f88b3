"""Population loader (issue 13): residents per residential building or per grid cell.

A row names its unit by code — a building's 18-digit platform code (建筑编码) or a grid cell's
15-digit code (网格编码) — and gives the residents (常住人口) and the year (年份, else
``--year``). The unit must be a current feature of the database: the stored geometry is the
unit's own (the building footprint or the cell polygon), so the health indicators read
population and buildings on the same shapes; the file's geometry only has to lie on the unit
(within :data:`NEAR_M`), which catches a code copied onto the wrong row.

Refused, naming the field: no unit code, a code that is no current building or grid cell, a
code stored as a floating-point number (an 18-digit code loses digits in a double), residents
that are not a whole number 0–:data:`MAX_RESIDENTS`, no or an implausible year. A building that
is not residential (住宅 01, 商住混合 08) loads flagged ``not_residential``.

Rows per building and per grid cell may both be loaded for a year (buildings where the city
has them, cells for the rest, or both: a cell's figure then holds its buildings' residents).
They are stored as delivered and counted once by one rule, the health check's and the risk
grading's alike (:mod:`layers.health.population`): per building where present; a grid cell only
for what its buildings' rows of the year do not hold (its residents less theirs, never below
0); of two current rows for the same unit and year (two deliveries), the one loaded last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import shapely
from psycopg.types.json import Jsonb

from cim.coding.scheme import layer_code_of
from cim.errors import InputError
from cim.layerdefs import POPULATION
from cim.profile import CityProfile
from cim.text import half_width
from loaders.common import check_attrs, content_hash, delivered_wkt, reject_record, row_attrs
from loaders.engine.bulk import EWKB
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.report import LoadReport, Reject
from loaders.engine.rows import StagedRows, layer_values
from loaders.field_names import map_fields
from loaders.fields import ValueProblem, as_int, as_year, is_blank
from loaders.geometry import transform_xy
from loaders.sources.read import Batch, open_source

NEAR_M = 50.0  # the file's geometry must lie this close to the unit it names
MAX_RESIDENTS = 200_000
UNIT_CLASS = {"building": "01", "grid": "02"}  # population_units.csv


class RowProblem(Exception):
    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.field = reason, message, field


@dataclass
class Units:
    """The current buildings and grid cells rows can name: code → (EWKB, geometry, use)."""

    buildings: dict[str, tuple[bytes, object, str | None]]
    grid: dict[str, tuple[bytes, object, str | None]]

    @classmethod
    def read(cls, conninfo: str) -> Units:
        def fetch(conn, sql):
            return {c: (bytes(w), shapely.from_wkb(bytes(w)), u)
                    for c, w, u in conn.execute(sql)}
        with psycopg.connect(conninfo) as conn:
            return cls(fetch(conn, "SELECT code, ST_AsEWKB(geom), use_code FROM buildings "
                                   "WHERE valid_to IS NULL"),
                       fetch(conn, "SELECT code, ST_AsEWKB(geom), NULL FROM grid_cells "
                                   "WHERE valid_to IS NULL"))


def _code(v, field: str) -> str | None:
    """A unit code as text; a float is refused (an 18-digit code does not survive a double)."""
    if is_blank(v):
        return None
    if isinstance(v, (float, np.floating)):
        raise RowProblem("bad_value", f"field {field!r}: the code {v!r} is stored as a "
                         "floating-point number and may have lost digits; store codes as text",
                         field)
    # (a true/false value is no code: "True" is refused below, not read as 1)
    # full-width digits (an IME's) are the code's digits; no other character is
    s = str(int(v)) if isinstance(v, (int, np.integer)) and not isinstance(
        v, (bool, np.bool_)) else half_width(str(v)).strip()
    if not (s.isascii() and s.isdigit()):
        raise RowProblem("bad_value", f"field {field!r}: {s!r} is not a platform code", field)
    return s


def _unit(units: Units, cols, m, i) -> tuple[str, str, tuple]:
    """(unit kind, code, unit record) of row ``i``: a building code first, else a grid code."""
    for kind, attr, table, digits in (("building", "building_code", units.buildings, 18),
                                      ("grid", "grid_code", units.grid, 15)):
        f = m.get(attr)
        if f is None:
            continue
        code = _code(cols[f][i], f)
        if code is None:
            continue
        if len(code) != digits:
            raise RowProblem("bad_value", f"field {f!r}: {code!r} has {len(code)} digits; a "
                             f"{kind} code has {digits}", f)
        if code not in table:
            raise RowProblem("unknown_unit", f"field {f!r}: {code} is no current "
                             f"{'building' if kind == 'building' else 'grid cell'}", f)
        return kind, code, table[code]
    fields = [m[a] for a in ("building_code", "grid_code") if a in m]
    raise RowProblem("missing_value", "the row names no unit (建筑编码 or 网格编码 is empty)",
                     fields[0] if fields else None)


def make_converter(units: Units, default_year: int | None):
    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        cols, m = batch.columns, ctx.mapping
        homes = set(ctx.profile.residential_uses())
        src_geoms = np.array(batch.geometries, dtype=object, copy=True)
        present = ~shapely.is_missing(src_geoms)
        present[present] &= ~shapely.is_empty(src_geoms[present])
        if ctx.transformer is not None and present.any():
            src_geoms[present] = transform_xy(src_geoms[present], ctx.transformer)
        rows, rejects = StagedRows(POPULATION, delivered=True), []
        for i in range(len(src_geoms)):
            row_no, attrs = batch.first_row + i, row_attrs(cols, i)
            key = None
            try:
                bad = check_attrs(cols, i)
                if bad:
                    raise RowProblem("bad_value", f"field {bad[0]!r}: {bad[1]}", bad[0])
                kind, code, (wkb, shape, use) = _unit(units, cols, m, i)
                f = m.get("residents")
                if f is None:
                    raise RowProblem("missing_value", "no residents field (常住人口)")
                try:
                    residents = as_int(cols[f][i], 0, MAX_RESIDENTS)
                except ValueProblem as exc:
                    raise RowProblem("bad_value", f"field {f!r}: {exc}", f) from None
                if residents is None:
                    raise RowProblem("missing_value", f"field {f!r}: no residents", f)
                fy = m.get("year")
                try:
                    year = as_year(cols[fy][i]) if fy else None
                except ValueProblem as exc:
                    raise RowProblem("bad_value", f"field {fy!r}: {exc}", fy) from None
                year = year or default_year
                if year is None:
                    raise RowProblem("missing_value", "no year (年份 is empty and no --year)",
                                     fy)
                key = f"{ctx.dataset}:{kind}:{code}:{year}"
                if present[i] and shapely.distance(src_geoms[i], shape) > NEAR_M:
                    raise RowProblem("unit_mismatch", f"the feature lies "
                                     f"{shapely.distance(src_geoms[i], shape):.0f} m from "
                                     f"{kind} {code} it names (more than {NEAR_M:g} m)",
                                     m.get(f"{kind}_code"))
            except RowProblem as p:
                rejects.append(reject_record(row_no, p.reason, p.message, attrs,
                                             batch.geometries[i], key, field=p.field))
                continue
            flags = [] if kind == "grid" or use in homes else ["not_residential"]
            vals = {"unit_kind": kind, "unit_code": code, "residents": residents, "year": year}
            rows.append(row_no=row_no, source_key=key,
                        row_hash=content_hash(layer_values(POPULATION, vals), wkb),
                        attrs=Jsonb(attrs), flags=flags, geom=EWKB(wkb),
                        class_code=UNIT_CLASS[kind], **vals,
                        # the file's own geometry, not the unit's it is stored with
                        delivered_wkt=delivered_wkt(batch.geometries[i]))
        return rows, rejects

    return convert


def load_population(conninfo: str, profile: CityProfile, path: str | Path,
                    year: int | None = None, **kw) -> LoadReport:
    """Load residents per building or grid cell; ``year`` for rows without a year field."""
    path = Path(path)
    aliases = profile.field_aliases.get("population", {})
    src = open_source(path, kw.get("source_layer"), kw.get("encoding"))
    mapped = map_fields(src.fields, aliases, kw.get("mapping"), where=str(path))
    if not {"building_code", "grid_code"} & mapped.keys():
        raise InputError("no unit field: population rows name a building (建筑编码) or a grid "
                         f"cell (网格编码); fields: {', '.join(src.fields) or 'none'}",
                         path=str(path))
    if "residents" not in mapped:
        raise InputError("no residents field (常住人口 / 人口 / residents); fields: "
                         f"{', '.join(src.fields) or 'none'}", path=str(path))
    if "year" not in mapped and year is None:
        raise InputError("no year field (年份) and no --year", path=str(path))
    note = None
    if kw.get("crs") is None and src.crs is None:
        # a statistics table (CSV with an empty WKT column) has no CRS: its geometry only
        # checks the unit, so coordinates, if any, are taken in the storage CRS
        kw["crs"], note = f"EPSG:{profile.srid}", "no CRS in the file: storage CRS assumed"
    units = Units.read(conninfo)
    report = run_load(conninfo, profile, POPULATION, layer_code_of(profile, "population"),
                      make_converter(units, year), path, aliases=aliases,
                      options={"year": year}, **kw)
    if note:
        report.notes.insert(0, note)
    return report

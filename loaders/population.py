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

A statistics table — a CSV (UTF-8 or Excel's GBK) or a workbook without a geometry column, or
with an empty one, as statistics offices deliver it — is read by the survey tables' reader
(:func:`loaders.sources.tables.read_tables`: encoding, title rows, each row numbered as a
person finds it in the file) and loaded in one transaction as a GIS file is: GDAL reads no
such table ("has no geometry column"), and the unit gives the geometry anyway. Two rows of one
unit and year in a delivery cannot both be the figure: the second is refused naming the
unit's field and the first row. What a delivery covers is told in the report (its years, the
units of each year against the current ones, the districts it has no row for): a stray row
of another year, or a delivery for part of the city, is stored as delivered but not silently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg.types.json import Jsonb

from cim.coding.scheme import layer_code_of
from cim.errors import ConfigError, InputError
from cim.layerdefs import POPULATION
from cim.numbers import ValueProblem
from cim.profile import CityProfile
from cim.text import half_width
from loaders.common import check_attrs, content_hash, delivered_wkt, reject_record, row_attrs
from loaders.dates import as_year
from loaders.engine.bulk import EWKB
from loaders.engine.pages import small_pages
from loaders.engine.pipeline import LoadContext, run_load, sql_analyze
from loaders.engine.report import LoadReport, Reject, StagedFlags
from loaders.engine.rows import StagedRows, layer_values
from loaders.engine.session import LoadSession
from loaders.field_names import delivery_dataset, map_fields
from loaders.fields import as_int, is_blank
from loaders.geometry import transform_xy
from loaders.sources.csv_geometry import _WKT_START, CSV_GEOMETRY_NAMES
from loaders.sources.read import Batch, export_fields, open_source
from loaders.sources.tables import CSV, DBF, EXCEL, OLD_EXCEL, Table, norm_header, read_tables

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
        if _NUMBER_TEXT.fullmatch(s):  # a CSV saved from Excel: 3.70812E+17, 370811….0
            raise RowProblem("bad_value", f"field {field!r}: the code {s!r} is written as a "
                             "number (as Excel shows a long number) and may have lost digits; "
                             "format the column as text and type the codes again", field)
        raise RowProblem("bad_value", f"field {field!r}: {s!r} is not a platform code", field)
    return s


_NUMBER_TEXT = re.compile(r"[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+")


def _unit(units: Units, m: dict[str, str], value: Callable[[str], Any]
          ) -> tuple[str, str, tuple]:
    """(unit kind, code, unit record) of a row (``value``: its cell of a field): a building
    code first, else a grid code."""
    for kind, attr, table, digits in (("building", "building_code", units.buildings, 18),
                                      ("grid", "grid_code", units.grid, 15)):
        f = m.get(attr)
        if f is None:
            continue
        code = _code(value(f), f)
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


@dataclass
class Converter:
    """Rows of a delivery to staged population rows, batch after batch of one load: it
    remembers the rows converted so far, which a later row of the same unit and year repeats
    (the writer's own duplicate reject named no field: the key is no delivered column), and
    what the delivery covers (:meth:`coverage_notes`)."""

    units: Units
    default_year: int | None
    first_row: dict[str, int] = field(default_factory=dict)  # source key → its row
    years: Counter = field(default_factory=Counter)  # rows converted per year
    covered: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def rows(self, ctx: LoadContext, cols: dict[str, Any], row_numbers, geoms
             ) -> tuple[StagedRows, list[Reject]]:
        """``geoms``: the rows' geometries as delivered (None for a table's rows)."""
        m = ctx.mapping
        homes = set(ctx.profile.residential_uses())
        src_geoms = np.array(geoms, dtype=object, copy=True)
        present = ~shapely.is_missing(src_geoms)
        present[present] &= ~shapely.is_empty(src_geoms[present])
        if ctx.transformer is not None and present.any():
            src_geoms[present] = transform_xy(src_geoms[present], ctx.transformer)
        rows, rejects = StagedRows(POPULATION, delivered=True), []
        for i, row_no in enumerate(row_numbers):
            attrs = row_attrs(cols, i)
            key = None
            try:
                bad = check_attrs(cols, i)
                if bad:
                    raise RowProblem("bad_value", f"field {bad[0]!r}: {bad[1]}", bad[0])
                kind, code, (wkb, shape, use) = _unit(self.units, m, lambda f, i=i: cols[f][i])
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
                year = year or self.default_year
                if year is None:
                    raise RowProblem("missing_value", "no year (年份 is empty and no --year)",
                                     fy)
                key = f"{ctx.dataset}:{kind}:{code}:{year}"
                if present[i] and shapely.distance(src_geoms[i], shape) > NEAR_M:
                    raise RowProblem("unit_mismatch", f"the feature lies "
                                     f"{shapely.distance(src_geoms[i], shape):.0f} m from "
                                     f"{kind} {code} it names (more than {NEAR_M:g} m)",
                                     m.get(f"{kind}_code"))
                first = self.first_row.setdefault(key, row_no)
                if first != row_no:
                    unit = "grid cell" if kind == "grid" else kind
                    raise RowProblem("duplicate_source_id", f"field {m[f'{kind}_code']!r}: "
                                     f"{unit} {code} of {year} is on row {first} too: one row "
                                     "a unit and year (which figure is right?)",
                                     m[f"{kind}_code"])
            except RowProblem as p:
                rejects.append(reject_record(row_no, p.reason, p.message, attrs, geoms[i],
                                             key, field=p.field))
                continue
            self.years[year] += 1
            self.covered.setdefault((kind, year), set()).add(code)
            flags = [] if kind == "grid" or use in homes else ["not_residential"]
            vals = {"unit_kind": kind, "unit_code": code, "residents": residents, "year": year}
            rows.append(row_no=row_no, source_key=key,
                        row_hash=content_hash(layer_values(POPULATION, vals), wkb),
                        attrs=Jsonb(attrs), flags=flags, geom=EWKB(wkb),
                        class_code=UNIT_CLASS[kind], **vals,
                        # the file's own geometry, not the unit's it is stored with
                        delivered_wkt=delivered_wkt(geoms[i]))
        return rows, rejects

    def coverage_notes(self, homes: set[str]) -> list[str]:
        """The delivery's years and, per unit kind and year, how many current units it has a
        row for and the districts (a code's first six digits) it has none for."""
        notes = []
        if len(self.years) > 1:
            notes.append(f"rows of {len(self.years)} years: " + ", ".join(
                f"{y} ({n})" for y, n in sorted(self.years.items(), key=lambda t: -t[1]))
                + " — a stray 年份 is stored as that year's figure")
        for (kind, year), codes in sorted(self.covered.items()):
            current = set(self.units.grid) if kind == "grid" else {
                c for c, (_w, _s, use) in self.units.buildings.items() if use in homes}
            what = "grid cells" if kind == "grid" else "residential buildings"
            held = codes & current
            note = f"{year}: rows for {len(held)} of {len(current)} current {what}"
            missing = Counter(c[:6] for c in current) - Counter(c[:6] for c in held)
            empty = sorted(d for d, n in missing.items()
                           if n == sum(1 for c in current if c[:6] == d))
            if empty:
                note += "; none in district " + ", ".join(empty)
            notes.append(note)
        return notes


def make_converter(units: Units, default_year: int | None
                   ) -> Callable[[Batch, LoadContext], tuple[StagedRows, list[Reject]]]:
    """A GIS file's batches (:func:`loaders.engine.pipeline.run_load`) through one
    :class:`Converter`; the converter is the function's ``state``."""
    state = Converter(units, default_year)

    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        n = len(batch.geometries)
        return state.rows(ctx, batch.columns, [batch.row(i) for i in range(n)],
                          batch.geometries)

    convert.state = state  # type: ignore[attr-defined]
    return convert


def _check_fields(mapped: dict[str, str], fields: list[str], year: int | None,
                  where: str) -> None:
    if not {"building_code", "grid_code"} & mapped.keys():
        raise InputError("no unit field: population rows name a building (建筑编码) or a grid "
                         f"cell (网格编码); fields: {', '.join(fields) or 'none'}", path=where)
    if "residents" not in mapped:
        raise InputError("no residents field (常住人口 / 人口 / residents); fields: "
                         f"{', '.join(fields) or 'none'}", path=where)
    if "year" not in mapped and year is None:
        raise InputError("no year field (年份) and no --year", path=where)


def load_population(conninfo: str, profile: CityProfile, path: str | Path,
                    year: int | None = None, **kw) -> LoadReport:
    """Load residents per building or grid cell; ``year`` for rows without a year field."""
    path = Path(path)
    aliases = profile.field_aliases.get("population", {})
    table = _statistics_table(path, kw.get("source_layer"), kw.get("encoding"), aliases,
                              kw.get("mapping"))
    if table is not None:
        return _load_table(conninfo, profile, path, table, year, aliases, **kw)
    src = open_source(path, kw.get("source_layer"), kw.get("encoding"))
    mapped = map_fields(src.fields, aliases, kw.get("mapping"), where=str(path))
    _check_fields(mapped, src.fields, year, str(path))
    note = None
    if kw.get("crs") is None and src.crs is None:
        # a CSV with WKT has no CRS: its geometry only checks the unit, so its coordinates
        # are taken in the storage CRS
        kw["crs"], note = f"EPSG:{profile.srid}", "no CRS in the file: storage CRS assumed"
    units = Units.read(conninfo)
    convert = make_converter(units, year)
    report = run_load(conninfo, profile, POPULATION, layer_code_of(profile, "population"),
                      convert, path, aliases=aliases, options={"year": year}, **kw)
    if note:
        report.notes.insert(0, note)
    report.notes += convert.state.coverage_notes(set(profile.residential_uses()))
    return report


TABLE_SUFFIXES = CSV | EXCEL | OLD_EXCEL | DBF


def _statistics_table(path: Path, layer: str | None, encoding: str | None,
                      aliases: dict[str, list[str]], mapping: dict[str, str] | None
                      ) -> tuple[Table, dict[str, str]] | None:
    """The table (and its fields) of a statistics delivery without geometry: a workbook, a
    DBF, a CSV whose first lines hold no WKT; None for anything GDAL reads with geometry."""
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES or not path.is_file():
        return None  # (a missing file is told by the GDAL reader as for every loader)
    if suffix in CSV and _csv_has_wkt(path):
        return None
    known = {norm_header(n) for names in aliases.values() for n in names}
    tables = read_tables(path, known, encoding)
    if layer is not None:
        tables = [t for t in tables if t.sheet == layer or (t.sheet is None and len(tables) == 1)]
        if not tables:
            raise InputError(f"no sheet {layer!r} holding a table", path=str(path))
    found = []
    for t in tables:
        try:
            m = map_fields(t.headers, aliases, mapping, where=t.name)
        except ConfigError:  # a mapping naming a column of another sheet
            if len(tables) == 1:
                raise
            continue
        if {"building_code", "grid_code"} & m.keys():
            found.append((t, m))
    if any(_geometry_values(t) for t, _m in found):
        return None  # WKT past the first lines: GDAL reads it as a CSV with geometry
    with_rows = [f for f in found if f[0].rows]
    if len(with_rows) > 1:
        raise InputError("several population tables in one file (" + ", ".join(
            t.name for t, _m in with_rows) + "): name the sheet with --layer, or load each "
            "from a file of its own", path=str(path))
    if with_rows or found:
        return (with_rows or found)[0]
    heads = "; ".join(f"{t.name}: {', '.join(map(str, t.headers))}" for t in tables)
    raise InputError("no unit field: population rows name a building (建筑编码) or a grid "
                     f"cell (网格编码); fields: {heads or 'none'}", path=str(path))


def _csv_has_wkt(path: Path) -> bool:
    """Whether the CSV's first lines hold WKT under a geometry column's name, told from its
    first bytes: GDAL reads it as features, and a big file with geometries is not read as a
    table first. An empty geometry column — the documented way to pass a statistics table
    through GDAL — makes no features: such a CSV, UTF-8 or GBK, is read as a table, so its
    rows are numbered as the file shows them (header line 1) as every other table's are, not
    by feature (first data row 1) as GDAL numbered the UTF-8 ones. WKT further down the file
    is found once the table is read (:func:`_geometry_values`)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    lines = head.decode("utf-8", "ignore").splitlines()
    names = {n.lower() for n in CSV_GEOMETRY_NAMES}
    if not lines or not any(c.strip().strip('"\ufeff').lower() in names
                            for c in lines[0].split(",")):
        return False
    return any(_WKT_START.match(c.strip().strip('"')) for line in lines[1:50]
               for c in line.split(","))


def _geometry_columns(t: Table) -> list[str]:
    names = {n.lower() for n in CSV_GEOMETRY_NAMES}
    return [h for h in t.headers if str(h).strip().lower() in names]


def _geometry_values(t: Table) -> bool:
    """Whether a geometry column holds WKT (GDAL's to read; a stray value, n/a, in an
    otherwise empty WKT column is no geometry: the table keeps it as an attribute of its row,
    where GDAL, ignoring it as invalid WKT, lost it)."""
    return any(isinstance(v, str) and _WKT_START.match(v) for h in _geometry_columns(t)
               for v in t.column(h))


@small_pages
def _load_table(conninfo: str, profile: CityProfile, path: Path,
                found: tuple[Table, dict[str, str]], year: int | None,
                aliases: dict[str, list[str]], *, mode: str = "update",
                dataset: str | None = None, district: str | None = None,
                crs: str | None = None, source_layer: str | None = None,
                encoding: str | None = None, mapping: dict[str, str] | None = None,
                quiet: bool = True) -> LoadReport:
    """A statistics table loaded as run_load loads a file: one transaction, one batch, the
    rows numbered as the file shows them; an empty WKT column (the documented way to pass a
    table through GDAL) is no attribute, as GDAL's reading left it out."""
    t, m = found
    _check_fields(m, t.headers, year, str(path))
    if not t.rows:
        raise InputError(f"the table {t.name} has no rows", path=str(path))
    dataset = delivery_dataset(path, dataset, source_layer, encoding, mode)
    report = LoadReport(layer=POPULATION.name, path=str(path), mode=mode, encoding=t.encoding,
                        notes=list(t.notes))
    report.notes.append("a table without geometry: each row takes its unit's")
    report.notes.append("fields: " + ", ".join(f"{k}←{v}" for k, v in m.items()))
    if crs is not None:
        report.notes.append(f"--crs {crs} ignored: the table has no coordinates")
    report.source_crs = f"EPSG:{profile.srid}"
    skip = {h for h in _geometry_columns(t) if all(is_blank(v) for v in t.column(h))}
    exported = export_fields([str(h) for h in t.headers])
    if exported:  # fixed in Excel and saved as GBK: the platform's columns are no attributes
        skip |= set(exported)
        report.notes.append("a rejects export loaded again: its columns "
                            + ", ".join(exported) + " are not read as attributes")
    cols = {h: t.column(h) for h in t.headers if h not in skip}
    opts = {"crs": crs, "district": district, "mode": mode, "dataset": dataset,
            "layer": t.sheet, "encoding": t.encoding, "year": year}
    units = Units.read(conninfo)
    state = Converter(units, year)
    ctx = LoadContext(profile=profile, source=None, source_crs=None, transformer=None,
                      srid=profile.srid, dataset=dataset, mapping=m, options={"year": year})
    with LoadSession(conninfo, POPULATION.name, path, mode, opts, report) as session:
        session.begin()
        rows, rejects = state.rows(ctx, cols, t.row_numbers, [None] * len(t.rows))
        report.read = len(t.rows)
        w = session.writer(POPULATION, profile.srid, layer_code_of(profile, "population"))
        w.place_field = m.get("building_code") or m.get("grid_code")
        w.create_staging()
        w.copy_rows(rows)
        w.copy_rejects(rejects)
        flagged = StagedFlags()
        flagged.add(rows)
        w.finalize(mode, district=district, dataset=dataset).apply_to(report, w)
        flagged.count(report, session.conn)  # the stored rows' only
        session.succeed()
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute(sql_analyze(POPULATION.table))
    report.notes += state.coverage_notes(set(profile.residential_uses()))
    return report

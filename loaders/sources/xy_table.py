"""Points of a survey table (成果表) from its X and Y columns, for a loader whose features may
be points (a component census delivered as a table).

Surveyors deliver point censuses as the pipe point tables are delivered: a CSV (UTF-8 or
Excel's GBK) or a workbook with Chinese headers and X (northing) and Y (easting) columns, no
geometry GDAL can read — the loader refused it ("has no geometry column"). The table is read
by the survey tables' one reader (:func:`loaders.sources.tables.read_tables`: encoding, title
rows, two-row headers, each row's number as a person finds it in the file), its points made
easting first (:func:`cim.crs.swap_survey_xy`), and written to a scratch GeoPackage beside
nothing of the delivery: every later step of a load (CRS from the zone-prefixed eastings, the
area check, streamed batches, converter processes) then reads it as any vector source. The X
and Y columns stay attributes as typed, so a reject keeps them and reloads as the table it was.

Opt-in (:func:`points_from_xy`): a footprint layer given such a table keeps being refused at
open ("X/Y columns give points, not footprints") rather than rejecting every row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from cim import crs as cimcrs
from cim.errors import InputError
from cim.numbers import ValueProblem
from loaders.sources.csv_geometry import _WKT_START, CSV_GEOMETRY_NAMES
from loaders.sources.tables import (
    CSV,
    DBF,
    EXCEL,
    GDAL_TABLES,
    HEADER_SCAN_ROWS,
    OLD_EXCEL,
    Table,
    export_columns,
    match_headers,
    norm_header,
    without_columns,
)

# the column of the scratch GeoPackage holding each row's number in the delivered table (a
# CSV's line, an Excel row); not an attribute (loaders.sources.read.iter_batches)
ROW_FIELD = "cim:row"
GEOMETRY = "cim:geometry"  # the scratch copy's geometry column
XY_SUFFIXES = CSV | EXCEL | OLD_EXCEL

# (X header names, Y header names, the layer's other header names) while a loader reads
# points from X/Y (None: not read)
_XY_NAMES: ContextVar[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None] = \
    ContextVar("xy_names", default=None)


@contextmanager
def points_from_xy(x_names: Sequence[str], y_names: Sequence[str],
                   others: Sequence[str] = ()) -> Iterator[None]:
    """Within the block, a table with an X and a Y column (``x_names``, ``y_names``: the
    city's header names, field_aliases.yaml) opens as points (:func:`read_xy_table`);
    ``others``, the layer's other header names, find the header row under a title row."""
    token = _XY_NAMES.set((tuple(x_names), tuple(y_names), tuple(others)))
    try:
        yield
    finally:
        _XY_NAMES.reset(token)


def may_read(path: Path) -> bool:
    """Whether :func:`read_xy_table` could take ``path`` at all (a loader reading points
    from X/Y, a table's suffix): told before any scratch folder is made for it."""
    return _XY_NAMES.get() is not None and path.suffix.lower() in XY_SUFFIXES | GDAL_TABLES \
        | DBF


def xy_hint() -> str | None:
    """What a table without geometry lacks, where points are read from X/Y (the footprint
    layers' hint, "X/Y columns give points, not footprints", misled a census)."""
    names = _XY_NAMES.get()
    if names is None:
        return None
    return ("a census table needs its points as WKT in a column named WKT or geometry, or as "
            f"X (northing) and Y (easting) columns — headers such as {', '.join(names[0][:3])} "
            f"and {', '.join(names[1][:3])}, or named with --mapping (x: …, y: …)")


@dataclass
class XYTable:
    """A survey table read as points: the scratch GeoPackage and what the Source says."""

    read_path: Path
    fields: list[str]  # the delivered headers (X and Y among them), as GDAL gives them back
    x: str
    y: str
    count: int
    notes: list[str] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)  # stored name → delivered header

    @property
    def place_field(self) -> str:
        """The field a reject of the point's place names (``X坐标/Y坐标``: as the pipe loader
        names a survey point's)."""
        return f"{self.x}/{self.y}"


def read_xy_table(path: Path, encoding: str | None, scratch: Path,
                  layer: str | None = None) -> XYTable | None:
    """The table of ``path`` as points in a GeoPackage under ``scratch``, when points are read
    from X/Y (:func:`points_from_xy`) and ``path`` is a CSV or workbook with an X and a Y
    column and no WKT column (a CSV with WKT is read by GDAL as before); else None.
    ``layer`` names a workbook's sheet (--layer)."""
    names = _XY_NAMES.get()
    suffix = path.suffix.lower()
    if names is None or suffix not in XY_SUFFIXES | GDAL_TABLES | DBF:
        return None
    from loaders.sources.read import export_fields
    from loaders.sources.tables import read_tables

    aliases = {"x": list(names[0]), "y": list(names[1])}
    if not _may_hold_xy(path, aliases):
        return None
    known = {norm_header(n) for ns in names for n in ns}  # the header row names them
    found = []
    tables = read_tables(path, known, encoding)
    if layer is not None and any(t.sheet for t in tables):  # a CSV is its one table
        tables = [t for t in tables if t.sheet == layer]
        if not tables:
            raise InputError(f"no sheet {layer!r} holding a table", path=str(path))
    # a GeoPackage of attribute tables only, or a lone .dbf: no geometry but its X/Y
    attributes_only = suffix in GDAL_TABLES | DBF and all(t.geometry_type is None
                                                          for t in tables)
    for t in tables:
        m = match_headers(t.headers, aliases, table=t.name)
        if "x" not in m or "y" not in m:
            continue
        # a rejects export of such a table (cim rejects --export) reloads from its X/Y as
        # fixed, as the pipe survey's does, its own columns and the point it was rejected
        # with left out; a GeoPackage is read so only then (else its geometry is its place)
        exported = export_fields(t.headers)
        if exported:
            points, marked = _export_points(t, suffix in GDAL_TABLES)
            if _export_is_xy(t, m, points, marked, suffix in GDAL_TABLES):
                found.append((without_columns(t, export_columns(t)), m, points))
        elif (suffix not in GDAL_TABLES | DBF or attributes_only) and not _wkt_column(t):
            found.append((t, m, None))
    if not found:
        return None
    if len(found) > 1:
        raise InputError("more than one table with X/Y columns (" + ", ".join(
            t.name for t, _, _ in found) + "): one table a load — name its sheet with --layer",
            path=str(path))
    t, m, points = found[0]
    if not t.rows:
        raise InputError(f"the table {t.name} has no rows", path=str(path))
    xs, ys = t.column(m["x"]), t.column(m["y"])
    e, n = cimcrs.swap_survey_xy(_floats(xs), _floats(ys))
    with other_zone_rows(e, t.row_numbers, str(path), m["y"]):
        zoned = cimcrs.detect_gk_from_eastings(e)
    with other_zone_rows(n, t.row_numbers, str(path), m["x"]):
        exchanged = zoned is None and cimcrs.detect_gk_from_eastings(n) is not None
    if exchanged:
        raise InputError("the X column holds eastings and Y northings: survey tables write "
                         "X = northing (北) and Y = easting (东); the columns look exchanged — "
                         "swap their headers", path=str(path), field=m["x"])
    ok = np.isfinite(e) & np.isfinite(n)
    geoms = np.full(len(t.rows), None, dtype=object)
    geoms[ok] = shapely.points(e[ok], n[ok])
    if points is not None:
        # a rejects export's row without X/Y (a blank-coordinate reject) whose point was
        # digitised in QGIS: its point (elsewhere its point is its X/Y: _export_is_xy)
        given = ~ok & ~shapely.is_missing(points)
        geoms[given] = points[given]
    wkb = shapely.to_wkb(geoms, flavor="iso")
    arrays = [_column(t.column(h)) for h in t.headers]
    arrays.append(pa.array(t.row_numbers, pa.int64()))
    arrays.append(pa.array(list(wkb), pa.binary()))
    # stored under names of its own: a delivered FID (an ArcGIS table's) or geometry column
    # is no GeoPackage's field name; the reader names them back (Source.stored_names)
    stored = [f"c{j}" for j in range(len(t.headers))]
    table = pa.table(arrays, names=[*stored, ROW_FIELD, GEOMETRY])
    out = scratch / "xy_table.gpkg"
    import warnings

    import pyogrio

    with warnings.catch_warnings():  # no CRS, on purpose: it is told as any file's is
        warnings.simplefilter("ignore", UserWarning)
        pyogrio.write_arrow(table, out, layer=path.stem or "table", driver="GPKG",
                            geometry_name=GEOMETRY, geometry_type="Point", crs=None)
    notes = list(t.notes) + [f"points from {t.name}'s X (northing) {m['x']!r} and Y "
                             f"(easting) {m['y']!r}"]
    return XYTable(read_path=out, fields=list(t.headers), x=m["x"], y=m["y"],
                   count=len(t.rows), notes=notes, stored=dict(zip(stored, t.headers)))


@contextmanager
def other_zone_rows(eastings: np.ndarray, rows: Sequence[int], path: str,
                    field: str) -> Iterator[None]:
    """Eastings of two zone prefixes refuse the file (one file holds one zone): the error
    then names the file, the column and the rows of the zones fewer rows have — a prefix
    mistyped in one row (40,46… among 39,46…) was refused telling the surveyor to "correct
    the rows of the other zone" and not which, nor in which file. ``rows``: each easting's
    row as the file numbers it."""
    try:
        yield
    except InputError as exc:
        zone = cimcrs.gk_zones_of_eastings(eastings)
        zones, counts = np.unique(zone[zone > 0], return_counts=True)
        if len(zones) < 2 or exc.row is not None:
            raise
        main = int(zones[np.argmax(counts)])
        other = [(int(r), int(z)) for r, z in zip(rows, zone.tolist()) if z not in (0, main)]
        shown = ", ".join(f"row {r} (zone {z})" for r, z in other[:10])
        more = f" and {len(other) - 10} more" if len(other) > 10 else ""
        raise InputError(f"{exc.message}; the rows of zones other than {main}: {shown}{more}",
                         path=path, row=other[0][0] if len(other) == 1 else None,
                         field=field) from None


def _may_hold_xy(path: Path, aliases: dict[str, list[str]]) -> bool:
    """Whether the file may be such a table, told cheaply (a census of a million rows in a
    CSV with WKT or a GeoPackage is not read twice): a GeoPackage only as a rejects export
    (its fields) or when it holds attribute tables only, a CSV when its first lines hold an
    X and a Y header; a workbook or a lone .dbf always (GDAL reads no geometry from one)."""
    suffix = path.suffix.lower()
    if suffix in GDAL_TABLES:
        import pyogrio

        from loaders.sources.read import (
            GDAL_INPUT_ERRORS,
            export_fields,
            gdal_source,
            list_layers,
        )

        read_path, opts = gdal_source(path)  # nothing written beside it (IMMUTABLE)
        try:
            layers = list_layers(read_path, opts)
            if layers and all(kind is None for _layer, kind in layers):
                return True  # attribute tables only: their X/Y are all the places there are
            return any(export_fields([str(f) for f in pyogrio.read_info(
                read_path, layer=layer, **opts)["fields"]])
                for layer, _kind in layers)
        except GDAL_INPUT_ERRORS:
            return False  # the GDAL read says why
    if suffix not in CSV:
        return True
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    text = head.decode("utf-8", "ignore") if _is_utf8(head) else \
        head.decode("gb18030", "ignore")
    lines = text.splitlines()[:HEADER_SCAN_ROWS + 1]
    cells = {norm_header(c.strip().strip('"')) for line in lines
             for c in re.split(r"[,\t;|]", line.strip("\ufeff"))}
    from loaders.sources.read import export_fields

    first = [c.strip().strip('"') for c in re.split(r"[,\t;|]", lines[0].strip("\ufeff"))] \
        if lines else []
    if export_fields(first):  # a rejects export: read whole, its points told from X/Y
        return all(any(norm_header(n) in cells for n in aliases[a]) for a in ("x", "y"))
    if cells & {norm_header(n) for n in CSV_GEOMETRY_NAMES} and any(
            _WKT_CELL.search(line) for line in text.splitlines()[1:HEADER_SCAN_ROWS + 2]):
        return False  # its geometry is WKT, which GDAL reads (not read whole here first)
    return all(any(norm_header(n) in cells for n in aliases[a]) for a in ("x", "y"))


# a cell that begins as WKT does (after the line's start, a delimiter or a quote)
_WKT_CELL = re.compile(r'(?:^|[,\t;|"])\s*' + _WKT_START.pattern[3:], re.IGNORECASE)


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # a character cut by the 64 KiB read


def _export_points(t: Table, gdal: bool) -> tuple[np.ndarray, bool]:
    """Each row's point in a rejects export (None where none) — a GeoPackage's geometry, a
    CSV's ``wkt`` column (:func:`export_columns`' last) — and whether the export says its rows'
    place is their X/Y (:data:`cim.exports.XY_EXPORT_MARK`)."""
    none = np.full(len(t.rows), None, dtype=object)
    if gdal:
        import pyogrio

        from cim.exports import XY_EXPORT_MARK
        from loaders.sources.read import gdal_source

        read_path, opts = gdal_source(t.path)
        meta = (pyogrio.read_info(read_path, layer=t.sheet, **opts).get("layer_metadata")
                or {})
        marked = meta.get("DESCRIPTION") == XY_EXPORT_MARK
        info, table = pyogrio.read_arrow(read_path, layer=t.sheet, columns=[], **opts)
        geom = info.get("geometry_name") or "wkb_geometry"
        if geom not in table.column_names or table.num_rows != len(t.rows):
            return none, marked
        return shapely.from_wkb(table.column(geom).to_numpy(zero_copy_only=False)), marked
    cols = export_columns(t)
    last = cols[-1] if cols else None
    if last is None or not last.lower().endswith("wkt"):
        return none, True  # (an export of a table read from X/Y holds no wkt)
    wkt = [v.strip() if isinstance(v, str) and v.strip() else None for v in t.column(last)]
    return shapely.from_wkt(np.array(wkt, dtype=object), on_invalid="ignore"), False


def _disagree(points: np.ndarray, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Rows whose point and X/Y are both there and more than 1 mm apart."""
    both = ~shapely.is_missing(points) & np.isfinite(e) & np.isfinite(n)
    out = np.zeros(len(points), dtype=bool)
    if both.any():
        xy = np.full((len(points), 2), np.nan)
        pts = shapely.get_type_id(points) == 0
        sel = both & pts
        xy[sel] = shapely.get_coordinates(points[sel])[:, :2]
        out[both] = ~(pts[both] & (np.abs(xy[both, 0] - e[both]) <= 1e-3)
                      & (np.abs(xy[both, 1] - n[both]) <= 1e-3))
    return out


def _export_is_xy(t: Table, m: dict[str, str], points: np.ndarray, marked: bool,
                  gdal: bool) -> bool:
    """Whether a rejects export reloads from its X/Y: one of a table read from X/Y (its
    ``marked``: a CSV without ``wkt``, a GeoPackage's layer description), or any whose points
    agree with their X/Y. A GIS census whose features carry X/Y attributes that none of its
    points agrees with keeps its points as its place. Where a point and its X/Y disagree and
    which was the fix cannot be told — a point moved in QGIS or X/Y typed in a marked export,
    some rows agreeing and others not in an export without the mark — the file is refused
    naming the rows."""
    e, n = cimcrs.swap_survey_xy(_floats(t.column(m["x"])), _floats(t.column(m["y"])))
    both = ~shapely.is_missing(points) & np.isfinite(e) & np.isfinite(n)
    off = _disagree(points, e, n)
    if not off.any():
        return True  # every point is its X/Y, or a point stands where X/Y are blank
    if not marked and not (both & ~off).any():
        return False  # none agrees: X/Y attributes of a GIS census, its points the place
    rows = [r for r, d in zip(t.row_numbers, off) if d]
    how = ("set X/Y where the point was moved, or move the point where X/Y were changed"
           if marked else "make them agree where the feature is — or, an export of a "
           "table read from X/Y, delete its wkt column (its rows then load from their X/Y)")
    raise InputError(
        f"{_rows_text(rows)}: the point and {m['x']}/{m['y']} disagree, and which was "
        f"fixed cannot be told — {how}", path=str(t.path), field=f"{m['x']}/{m['y']}")


def _rows_text(rows: Sequence[int]) -> str:
    """``rows 3, 5`` (``row 3`` alone), at most ten named."""
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(str(r) for r in rows[:10]) + (
        f" and {len(rows) - 10} more" if len(rows) > 10 else "")


def _wkt_column(t: Table) -> bool:
    """Whether the table holds its geometry as WKT in a column named so (then not X/Y)."""
    named = {n.lower() for n in CSV_GEOMETRY_NAMES}
    for h in t.headers:
        if h.lower() in named and any(isinstance(v, str) and _WKT_START.match(v)
                                      for v in t.column(h)[:1000]):
            return True
    return False


def _floats(values: list[Any]) -> np.ndarray:
    """Each coordinate as the loaders read a number (NaN: blank or no number; the converter
    names its problem, :func:`xy_problems`)."""
    from loaders.fields import as_float

    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        try:
            f = as_float(v)
        except ValueProblem:
            continue
        if f is not None:
            out[i] = f
    return out


def _column(values: list[Any]) -> pa.Array:
    """A column of the table as one GeoPackage type: integers, numbers, dates or times when
    all its values are (a workbook's), else text — each value as the sheet shows it (a CSV's
    are all text, as GDAL reads a CSV)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool)
                       and -2 ** 63 <= v < 2 ** 63 for v in present):
        return pa.array(values, pa.int64())
    if present and all(isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool)
                                                 and abs(v) < 2 ** 53) for v in present):
        return pa.array([None if v is None or (isinstance(v, float) and math.isnan(v))
                         else float(v) for v in values], pa.float64())
    if present and all(isinstance(v, datetime) for v in present):
        return pa.array(values, pa.timestamp("ms"))
    if present and all(isinstance(v, date) and not isinstance(v, datetime) for v in present):
        return pa.array(values, pa.date32())
    return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    return str(v)


def xy_problems(columns, rows: Sequence[int], x: str, y: str) -> dict[int, tuple[str, str, str]]:
    """(reason, message, field) of each of ``rows`` (batch positions whose point is missing)
    from its X and Y as typed (``columns``: the batch's): a blank or unreadable coordinate
    named by its column — the reject said only "no geometry" of the geometry."""
    from loaders.fields import as_float, is_blank

    out = {}
    for i in rows:
        for f in (x, y):
            v = columns[f][i]
            if is_blank(v):
                out[i] = ("empty_geometry", f"field {f!r} is blank: the point needs its X "
                          "(northing) and Y (easting)", f)
                break
            try:
                as_float(v)
            except ValueProblem as exc:
                out[i] = ("bad_value", f"field {f!r}: {exc}", f)
                break
    return out

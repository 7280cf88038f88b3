"""A CSV's geometry column: the one whose values are WKT, read with its text kept (GDAL took
any column named shape or geom as a geometry and dropped its values), and that text kept apart
in each batch for the rows GDAL reads no geometry from
(:meth:`loaders.sources.read.Batch.unread_geometries`)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow
import pyogrio

CSV_SUFFIXES = (".csv", ".tsv")
# a CSV's footprint as WKT in a column of one of these names (case aside), in this order
CSV_GEOMETRY_NAMES = ("WKT", "geometry", "geom", "the_geom", "wkt_geom", "shape")
# names that say the column is the geometry whatever its first values hold; a geom or shape
# column is one only when its values are WKT (a cover's shape 圆形, a material 铸铁 are not)
_GEOMETRY_BY_NAME = ("wkt", "wkt_geom", "geometry", "the_geom")
CSV_SAMPLE_ROWS = 1000  # the first rows whose values tell a geometry column
# the start of a WKT (or EWKT) geometry: its type, then its coordinates' bracket or EMPTY —
# also where the rest is malformed (POINT (1 2 is a geometry GDAL cannot read, not a shape)
_WKT_START = re.compile(
    r"\s*(?:SRID=\d+\s*;\s*)?(?:POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|"
    r"MULTIPOLYGON|GEOMETRYCOLLECTION|CIRCULARSTRING|COMPOUNDCURVE|CURVEPOLYGON|MULTICURVE|"
    r"MULTISURFACE|TRIANGLE|TIN|POLYHEDRALSURFACE)\s*(?:ZM|Z|M)?\s*(?:\(|EMPTY\b)",
    re.IGNORECASE)


def csv_geometry_options(path: Path, open_options: dict[str, str] | None = None
                         ) -> dict[str, str]:
    """GDAL open options for a CSV: its geometry is the WKT in the one column
    :func:`csv_geometry_column` chooses (``GEOM_POSSIBLE_NAMES``), read with its text kept
    (``KEEP_GEOM_COLUMNS=YES``): the reader leaves the text out of the attributes but keeps
    it for the rows GDAL reads no geometry from (:meth:`loaders.sources.read.Batch.unread_geometries`). Any other
    column keeps its text, whatever its name: given a list of names and
    ``KEEP_GEOM_COLUMNS=NO``, GDAL took a column named shape or geom (a cover's 圆形, 铸铁)
    as a second geometry, failed to parse it and dropped its values. ``open_options`` naming
    ``GEOM_POSSIBLE_NAMES`` (the caller names the column) are taken as they are."""
    given = dict(open_options or {})
    if "GEOM_POSSIBLE_NAMES" in given:
        return {"KEEP_GEOM_COLUMNS": "YES", **given}
    given.pop("KEEP_GEOM_COLUMNS", None)
    column = csv_geometry_column(path, given)
    if column is None:
        return given
    return {**given, "GEOM_POSSIBLE_NAMES": column, "KEEP_GEOM_COLUMNS": "YES"}


def csv_geometry_column(path: Path, open_options: dict[str, str]) -> str | None:
    """The column of a CSV that holds its geometry as WKT: of the columns named as in
    :data:`CSV_GEOMETRY_NAMES`, the first (in that order) with a value among the first
    :data:`CSV_SAMPLE_ROWS` rows that begins as WKT does, else the first whose name says it
    is a geometry (WKT, wkt_geom, geometry, the_geom: its blanks and malformed values are the
    rows' missing and unreadable geometries); None if there is none — every column then
    keeps its text. A CSV GDAL cannot read gives None (its read then says why)."""
    try:  # the first rows only (a feature count would read the whole file)
        with pyogrio.raw.open_arrow(path, read_geometry=False, batch_size=CSV_SAMPLE_ROWS,
                                    use_pyarrow=True, **open_options) as (meta, reader):
            fields = [str(f) for f in meta.get("fields", [])]
            named = {f.lower(): f for f in reversed(fields)}  # the first of a name, case aside
            candidates = [named[n.lower()] for n in CSV_GEOMETRY_NAMES if n.lower() in named]
            rb = next(iter(reader), None) if candidates else None
    except Exception as exc:  # what GDAL cannot read: the read itself then says why
        from loaders.sources.read import GDAL_INPUT_ERRORS

        if isinstance(exc, (*GDAL_INPUT_ERRORS, UnicodeDecodeError)):
            return None
        raise
    for c in candidates:
        values = [] if rb is None or c not in rb.schema.names else rb.column(c).to_pylist()
        if any(isinstance(v, str) and _WKT_START.match(v) for v in values):
            return c
    return next((c for c in candidates if c.lower() in _GEOMETRY_BY_NAME), None)




def geometry_text_field(fields: list[str], opts: dict[str, str]) -> str | None:
    """The field a CSV's geometry is read from, kept as text (``KEEP_GEOM_COLUMNS=YES``):
    the first whose name is one of ``GEOM_POSSIBLE_NAMES`` (case aside)."""
    if opts.get("KEEP_GEOM_COLUMNS", "YES").upper() != "YES":
        return None
    names = {n.strip().lower() for n in opts.get("GEOM_POSSIBLE_NAMES", "WKT").split(",")}
    return next((f for f in fields if f.lower() in names), None)


# what a CSV's geometry text is called in a batch where GDAL gave the geometry its column's
# name (a column named geometry: two fields of one name, which Arrow cannot tell apart)
GEOMETRY_TEXT = "cim:geometry_text"


def geometry_text_apart(rb: pyarrow.RecordBatch, field: str | None, geom_col: str
                         ) -> tuple[pyarrow.RecordBatch, str | None]:
    """(the batch, the name of the CSV geometry column's text in it; None: no such text)."""
    if field is None or field not in rb.schema.names:
        return rb, None
    if field != geom_col:
        return rb, field
    at = next((i for i, f in enumerate(rb.schema)
               if f.name == field and (pyarrow.types.is_string(f.type)
                                       or pyarrow.types.is_large_string(f.type))), None)
    if at is None:
        return rb, None
    return pyarrow.RecordBatch.from_arrays(rb.columns, schema=rb.schema.set(
        at, rb.schema.field(at).with_name(GEOMETRY_TEXT))), GEOMETRY_TEXT


# an EWKT's SRID prefix (PostGIS's ST_AsEWKT, a database export): GDAL reads no geometry from it
_EWKT = re.compile(r"\s*SRID\s*=\s*(\d+)\s*;\s*", re.IGNORECASE)


def ewkt_srids(path: Path, open_options: dict[str, str], column: str) -> list[int]:
    """The SRIDs the first :data:`CSV_SAMPLE_ROWS` values of a CSV's geometry column name as
    EWKT (``SRID=4527;POINT (…)``), in order of first use; empty when they are plain WKT."""
    with pyogrio.raw.open_arrow(path, read_geometry=False, batch_size=CSV_SAMPLE_ROWS,
                                columns=[column], use_pyarrow=True, **open_options
                                ) as (_meta, reader):
        rb = next(iter(reader), None)
    if rb is None or column not in rb.schema.names:
        return []
    found: dict[int, None] = {}
    for v in rb.column(column).to_pylist():
        m = _EWKT.match(v) if isinstance(v, str) else None
        if m:
            found.setdefault(int(m.group(1)))
    return list(found)


def ewkt_as_wkb(text: pyarrow.Array, wkb: pyarrow.Array, srid: int) -> pyarrow.Array:
    """``wkb`` with each missing geometry whose text is EWKT of ``srid`` read from it (ISO
    WKB): the file's CRS is that SRID's (:func:`ewkt_srids`). An EWKT of another SRID, or
    one whose WKT is malformed, stays missing: rejected as a geometry GDAL cannot read,
    its text kept (:meth:`loaders.sources.batch.Batch.unread_geometries`)."""
    import numpy as np
    import shapely

    missing = np.flatnonzero(wkb.is_null().to_numpy(zero_copy_only=False)
                             & text.is_valid().to_numpy(zero_copy_only=False))
    if not len(missing):
        return wkb
    values = wkb.to_pylist()
    for i, t in zip(missing.tolist(), text.take(pyarrow.array(missing)).to_pylist()):
        m = _EWKT.match(t)
        if not m or int(m.group(1)) != srid:
            continue
        try:
            g = shapely.from_wkt(t[m.end():])
        except shapely.errors.GEOSException:
            continue
        if g is not None:
            values[i] = shapely.to_wkb(g, flavor="iso", output_dimension=3)
    return pyarrow.array(values, wkb.type)

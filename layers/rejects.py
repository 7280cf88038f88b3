"""Rejected features of a load batch: list them, export them to fix and reload.

The export keeps each reject's original attributes (as delivered, one column per name) and its
geometry in the delivery's own CRS and axis order — the CRS recorded in
``load_batches.source_crs``, in which every loader stores its rejects (see
:mod:`loaders.engine.bulk`) — so an engineer can correct the rows in QGIS or a spreadsheet and
load the file again where it came from.

The platform's own columns (row, reason, field, message, and the batch's dataset) carry a
prefix (``cim_``, lengthened with ``_`` while a delivered attribute has such a name), so they
never collide with the delivered ones. The dataset column is what a reload of the fixed file
is scoped by unless ``--dataset`` says otherwise
(:func:`loaders.field_names.delivery_dataset`): named after the export file, a corrected
feature became a second one beside its original, which a replace of the original delivery
never retired. A GeoPackage of a pipe batch has one layer per delivered table (point table,
segment table, GIS layer), named after it, so that each layer reloads as the table it was.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyproj
import shapely
from psycopg.rows import dict_row

from cim.errors import CimError, InputError
from cim.exports import XY_EXPORT_MARK

PLATFORM = ("row", "reason", "field", "message", "dataset")
# the pipe readers record the table a row came from under this key of attrs
TABLE_KEY = "_table"


def rejects(conninfo: str, batch_id: int) -> list[dict[str, Any]]:
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        if not conn.execute("SELECT 1 FROM load_batches WHERE id = %s", (batch_id,)).fetchone():
            raise CimError(f"no load batch {batch_id}")
        return conn.execute(
            "SELECT row_number, reason, field, message, source_key, attrs, geom_wkt "
            # a pipe delivery's rows are numbered per table: listed table by table
            "FROM load_rejects WHERE batch_id = %s "
            "ORDER BY attrs->>'" + TABLE_KEY + "' NULLS FIRST, row_number NULLS LAST, id",
            (batch_id,)).fetchall()


def export_rejects(conninfo: str, batch_id: int, out: Path) -> int:
    """Write a batch's rejects to .csv (UTF-8 with BOM) or .gpkg (by suffix); return how many."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".gpkg"):
        raise InputError("export to .csv or .gpkg", path=str(out))
    if not out.parent.is_dir():  # (an internal error, FileNotFoundError, after the query)
        raise InputError(f"no folder {out.parent} to write it in", path=str(out),
                         field="--export")
    rows = rejects(conninfo, batch_id)
    with psycopg.connect(conninfo) as conn:
        layer, crs_text, dataset, xy = conn.execute(
            "SELECT layer, source_crs, options->>'dataset', options ? 'coordinates' "
            "FROM load_batches WHERE id = %s", (batch_id,)).fetchone()
    if suffix == ".csv":
        # (nodes made at a GIS layer's line ends, "(line ends)", are no delivered table)
        tables = sorted({t for r in rows if not (t := text((r["attrs"] or {}).get(TABLE_KEY))
                                                 or "?").startswith("(")}) \
            if layer == "pipes" else []
        if len(tables) > 1:
            # one CSV of point and segment rows read back as one point table: every segment
            # row failed on a blank 物探点号, X and Y, and the class its file name gave was lost
            raise InputError(
                f"batch {batch_id}'s rejects come from {len(tables)} delivered tables ("
                + ", ".join(tables) + "): a CSV holds one table — export to .gpkg (one layer "
                "per table, each reloads as the table it was)", path=str(out))
        # a table read from X/Y: its X/Y are the place a person fixes; the point it was
        # rejected with, beside them, would only be read instead
        _write_csv(rows, out, dataset, wkt=not xy)
    else:
        _write_gpkg(rows, out, _crs(crs_text), dataset, by_table=layer == "pipes", xy=xy)
    return len(rows)


# -- columns ----------------------------------------------------------------------------------
def attribute_names(rows: list[dict[str, Any]]) -> list[str]:
    """Every attribute name of the rejects, in order of first appearance."""
    names: dict[str, None] = {}
    for r in rows:
        for k in r["attrs"] or {}:
            names.setdefault(k, None)
    return list(names)


def platform_prefix(names: list[str], extra: tuple[str, ...] = ()) -> str:
    """``cim_``, or ``_cim_``, ``__cim_`` … : the first prefix under which none of the platform's
    columns (nor ``extra`` ones) is also a delivered name (compared without case, as SQLite and
    spreadsheets do)."""
    taken = {n.lower() for n in names}
    prefix = "cim_"
    while any((prefix + m).lower() in taken for m in PLATFORM + extra):
        prefix = "_" + prefix
    return prefix


def text(v: Any) -> str | None:
    """A cell as text: nested values as JSON, booleans as true/false, None stays None."""
    if v is None:
        return None
    if isinstance(v, (dict, list, bool)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _column(values: list[Any]) -> Any:
    """A typed column: integers and numbers keep their type; anything else is text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.array(values, dtype="Int64")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       for v in present):
        return pd.array([float("nan") if v is None else float(v) for v in values],
                        dtype="float64")
    return pd.array([text(v) for v in values], dtype=object)


# -- CSV ---------------------------------------------------------------------------------------
def _write_csv(rows: list[dict[str, Any]], out: Path, dataset: str | None,
               wkt: bool = True) -> None:
    names = attribute_names(rows)
    prefix = platform_prefix(names)
    wkt_name = "wkt" if "wkt" not in {n.lower() for n in names} else prefix + "wkt"
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([prefix + m for m in PLATFORM] + names + ([wkt_name] if wkt else []))
        for r in rows:
            a = r["attrs"] or {}
            w.writerow([text(r["row_number"]), r["reason"], r["field"], r["message"], dataset]
                       + [text(a.get(k)) for k in names]
                       + ([r["geom_wkt"] or ""] if wkt else []))


# -- GeoPackage --------------------------------------------------------------------------------
def _crs(value: str | None) -> pyproj.CRS | None:
    if not value:
        return None
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        return None  # a batch recorded before source_crs held a parseable CRS


def _gpkg_names(names: list[str], reserved: set[str]) -> list[str]:
    """Column names SQLite accepts: unique without case; a clash gets ``_2``, ``_3`` …"""
    seen = set(reserved)
    out = []
    for i, n in enumerate(names):
        base = n if n.strip() else f"field_{i + 1}"
        name, k = base, 1
        while name.lower() in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name.lower())
        out.append(name)
    return out


def _layer_name(table: str | None, used: set[str]) -> str:
    """The delivered table's name (a GIS source's layer part): each layer reloads as it."""
    name = (table or "rejects").rsplit(":", 1)[-1].strip("()").strip() or "rejects"
    base, k = name, 1
    while name.lower() in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name.lower())
    return name


def _geometry(wkt: str | None):
    if not wkt:
        return None
    try:
        return shapely.from_wkt(wkt)
    except shapely.errors.GEOSException:
        return None


def _write_gpkg(rows: list[dict[str, Any]], out: Path, crs: pyproj.CRS | None,
                dataset: str | None, by_table: bool, xy: bool = False) -> None:
    import geopandas as gpd
    import pyogrio

    groups: dict[str | None, list[dict[str, Any]]] = {}
    for r in rows:
        key = text((r["attrs"] or {}).get(TABLE_KEY)) if by_table else None
        groups.setdefault(key, []).append(r)
    if not groups:
        groups[None] = []
    out.unlink(missing_ok=True)
    used: set[str] = set()
    for table, group in groups.items():
        names = attribute_names(group)
        prefix = platform_prefix(names, ("geom", "fid", "wkt"))
        geom_col = "geom" if "geom" not in {n.lower() for n in names} else prefix + "geom"
        fid_col = "fid" if "fid" not in {n.lower() for n in names} else prefix + "fid"
        platform = [prefix + m for m in PLATFORM]
        columns = _gpkg_names(names, {c.lower() for c in platform + [geom_col, fid_col]})
        data: dict[str, Any] = {
            platform[0]: _column([r["row_number"] for r in group]),
            platform[1]: _column([r["reason"] for r in group]),
            platform[2]: _column([r["field"] for r in group]),
            platform[3]: _column([r["message"] for r in group]),
            platform[4]: pd.array([dataset] * len(group), dtype=object)}
        for name, col in zip(names, columns):
            data[col] = _column([(r["attrs"] or {}).get(name) for r in group])
        geoms = [_geometry(r["geom_wkt"]) for r in group]
        lost = [r["geom_wkt"] if r["geom_wkt"] and g is None else None
                for r, g in zip(group, geoms)]
        if any(lost):  # a geometry GEOS cannot parse is kept as its text
            data[prefix + "wkt"] = _column(lost)
        data[geom_col] = gpd.GeoSeries(geoms, crs=crs)
        frame = gpd.GeoDataFrame(data, geometry=geom_col, crs=crs)
        # a layer of one geometry type is declared as such; mixed or none: GEOMETRY
        kinds = {g.geom_type for g in geoms if g is not None}
        pyogrio.write_dataframe(frame, out, layer=_layer_name(table, used), driver="GPKG",
                                geometry_type=None if len(kinds) == 1 else "Unknown",
                                layer_options={"GEOMETRY_NAME": geom_col, "FID": fid_col,
                                               **({"DESCRIPTION": XY_EXPORT_MARK} if xy
                                                  else {})})

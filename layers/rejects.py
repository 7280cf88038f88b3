"""Rejected features of a load batch: list them, export them to fix and reload.

The export keeps each reject's original attributes (as delivered) and its geometry (WKT, in the
CRS of the input where the row was rejected before transformation, else the storage CRS), so
an engineer can correct the rows in QGIS or a spreadsheet and load the file again.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import shapely
from psycopg.rows import dict_row

from cim.errors import CimError, InputError


def rejects(conninfo: str, batch_id: int) -> list[dict[str, Any]]:
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        if not conn.execute("SELECT 1 FROM load_batches WHERE id = %s", (batch_id,)).fetchone():
            raise CimError(f"no load batch {batch_id}")
        return conn.execute(
            "SELECT row_number, reason, field, message, source_key, attrs, geom_wkt "
            "FROM load_rejects WHERE batch_id = %s ORDER BY row_number NULLS LAST, id",
            (batch_id,)).fetchall()


def export_rejects(conninfo: str, batch_id: int, out: Path) -> int:
    """Write a batch's rejects to .csv or .gpkg (by suffix); return how many."""
    rows = rejects(conninfo, batch_id)
    attr_names: list[str] = []
    for r in rows:
        for k in r["attrs"] or {}:
            if k not in attr_names:
                attr_names.append(k)
    meta = ["_row", "_reason", "_field", "_message"]
    suffix = out.suffix.lower()
    if suffix == ".csv":
        with open(out, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(meta + attr_names + ["wkt"])
            for r in rows:
                a = r["attrs"] or {}
                w.writerow([r["row_number"], r["reason"], r["field"], r["message"]]
                           + [a.get(k) for k in attr_names] + [r["geom_wkt"] or ""])
    elif suffix == ".gpkg":
        import geopandas as gpd
        import pyogrio

        with psycopg.connect(conninfo) as conn:
            crs = conn.execute("SELECT source_crs FROM load_batches WHERE id = %s",
                               (batch_id,)).fetchone()[0]
        data = {m: [] for m in meta}
        for k in attr_names:
            data[k] = []
        geoms = []
        for r in rows:
            a = r["attrs"] or {}
            for m, v in zip(meta, (r["row_number"], r["reason"], r["field"], r["message"])):
                data[m].append(v)
            for k in attr_names:
                v = a.get(k)
                data[k].append(None if v is None else str(v))
            try:
                geoms.append(shapely.from_wkt(r["geom_wkt"]) if r["geom_wkt"] else None)
            except shapely.errors.GEOSException:
                geoms.append(None)
        gdf = gpd.GeoDataFrame(pd.DataFrame(data), geometry=geoms, crs=crs)
        pyogrio.write_dataframe(gdf, out, layer="rejects")
    else:
        raise InputError("export to .csv or .gpkg", path=str(out))
    return len(rows)

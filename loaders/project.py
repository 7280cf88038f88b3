"""Reading a project file for the approval check (GeoPackage, GeoJSON or DXF), read-only.

Every layer with features is read through the loaders' safe GDAL opening
(:func:`loaders.sources.read.open_source`: prechecks, a GeoPackage opened immutable, nothing
written beside the file). Features come out as plain records ``{"layer", "row",
"properties", "geometry"}`` in the file's CRS; giving them their roles and validating them is
the approval check's job (``layers.approval.project``), so the data flows one way: this module
imports nothing from ``layers``. A DXF has one GDAL layer (``entities``): each record's layer
is the entity's DXF layer name (its ``Layer`` field), which names its role by convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import pyproj

from cim.crs import parse_crs
from cim.errors import InputError
from loaders.engine.checksum import file_sha256
from loaders.sources.read import (
    GDAL_INPUT_ERRORS,
    gdal_source,
    iter_batches,
    list_layers,
    open_source,
)

SUFFIXES = (".gpkg", ".geojson", ".json", ".dxf")


@dataclass
class ProjectFile:
    path: Path
    sha256: str
    records: list[dict]
    crs: pyproj.CRS | None
    notes: list[str] = field(default_factory=list)


def _value(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_project(path: str | Path, crs: str | None = None) -> ProjectFile:
    """All features of the project file (see the module docstring); ``crs`` overrides the
    file's. A file GDAL cannot read, or layers in different CRSs, are input errors."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"a project is a GeoPackage, GeoJSON or DXF file ({', '.join(SUFFIXES)})",
                         path=str(path))
    first = open_source(path)  # checks the path, prechecks, GDAL can open it
    read_path, opts = gdal_source(path)
    try:
        names = [n for n, gt in list_layers(read_path, opts) if gt is not None]
        counts = {n: pyogrio.read_info(read_path, layer=n, **opts).get("features")
                  for n in names}
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot read it: {exc}", path=str(path)) from exc
    records: list[dict] = []
    crss: dict[str, pyproj.CRS] = {}
    notes = list(first.notes)
    for name in names:
        if counts[name] == 0:
            continue
        src = first if name == first.layer else open_source(path, layer=name)
        if src.crs is not None:
            crss[name] = src.crs
        dxf = src.driver == "DXF"
        for batch in iter_batches(src, python_values=True):  # no pandas for a few features
            for i, g in enumerate(batch.geometries):
                props = {k: _value(v[i]) for k, v in batch.columns.items()}
                layer = str(props.get("Layer") or name) if dxf else name
                records.append({"layer": layer, "row": batch.first_row + i,
                                "properties": props, "geometry": g})
    if not records:
        raise InputError("the project file has no features", path=str(path))
    if crs is not None:
        return ProjectFile(path, file_sha256(path), records, parse_crs(crs), notes)
    distinct = {c.to_wkt() for c in crss.values()}
    if len(distinct) > 1:
        raise InputError("its layers are in different CRSs ("
                         + ", ".join(f"{n}: {c.name}" for n, c in crss.items())
                         + "); give --crs or one CRS for all", path=str(path))
    return ProjectFile(path, file_sha256(path), records, next(iter(crss.values()), None), notes)

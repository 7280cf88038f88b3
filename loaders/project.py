"""Reading a project file for the approval check (GeoPackage, GeoJSON, DXF or Shapefile),
read-only.

Every layer with features is read through the loaders' safe GDAL opening
(:func:`loaders.sources.read.open_source`: prechecks, a GeoPackage opened immutable, nothing
written beside the file). Features come out as plain records ``{"layer", "row",
"properties", "geometry"}`` in the file's CRS; giving them their roles and validating them is
the approval check's job (``layers.approval.project``), so the data flows one way: this module
imports nothing from ``layers``. A DXF has one GDAL layer (``entities``): each record's layer
is the entity's DXF layer name (its ``Layer`` field), which names its role by convention.

A Shapefile holds one layer, named by its file (``建筑.shp``: the buildings); a project
delivered as Shapefiles is their folder (``cim check 项目/``: every ``.shp`` in it one layer)
or one of them. Their ``.dbf`` text is decoded as the loaders decode it (its ``.cpg``, else
GBK/GB18030 detected from the bytes: ``detect_dbf_encoding``, said in the notes). The
checksum of a Shapefile project covers every file of each (``.shp``, ``.dbf``, ``.prj`` …):
the heights are in the ``.dbf``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import pyproj

from cim.crs import parse_crs
from cim.errors import InputError
from loaders.engine.checksum import delivery_files, file_sha256, files_sha256
from loaders.sources.read import (
    GDAL_INPUT_ERRORS,
    gdal_source,
    iter_batches,
    list_layers,
    open_source,
)

SUFFIXES = (".gpkg", ".geojson", ".json", ".dxf", ".shp")


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
    if path.is_dir() or path.suffix.lower() == ".shp":
        return _read_shapefiles(path, crs)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError("a project is a GeoPackage, GeoJSON, DXF or Shapefile file "
                         f"({', '.join(SUFFIXES)}), or a folder of Shapefiles",
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
    return _project_file(path, file_sha256(path), records, crss, crs, notes)


def _project_file(path: Path, sha256: str, records: list[dict], crss: dict[str, pyproj.CRS],
                  crs: str | None, notes: list[str]) -> ProjectFile:
    if crs is not None:
        return ProjectFile(path, sha256, records, parse_crs(crs), notes)
    distinct = {c.to_wkt() for c in crss.values()}
    if len(distinct) > 1:
        raise InputError("its layers are in different CRSs ("
                         + ", ".join(f"{n}: {c.name}" for n, c in crss.items())
                         + "); give --crs or one CRS for all", path=str(path))
    return ProjectFile(path, sha256, records, next(iter(crss.values()), None), notes)


def _read_shapefiles(path: Path, crs: str | None) -> ProjectFile:
    """A Shapefile, or every Shapefile of a folder, each one layer named by its file."""
    if path.is_dir():
        shps = sorted(p for p in path.iterdir() if p.suffix.lower() == ".shp" and p.is_file())
        if not shps:
            raise InputError("the folder holds no Shapefile (.shp); a project is a "
                             "GeoPackage, GeoJSON, DXF or Shapefile file, or a folder of "
                             "Shapefiles", path=str(path))
    else:
        shps = [path]
    records: list[dict] = []
    crss: dict[str, pyproj.CRS] = {}
    notes: list[str] = []
    files: list[Path] = []
    for shp in shps:
        src = open_source(shp)  # checks, prechecks, the .dbf's encoding
        name = shp.stem
        if src.crs is not None:
            crss[name] = src.crs
        notes.extend(f"{shp.name}: {n}" for n in src.notes)
        files.extend(delivery_files(shp))
        for batch in iter_batches(src, python_values=True):
            for i, g in enumerate(batch.geometries):
                records.append({"layer": name, "row": batch.first_row + i,
                                "properties": {k: _value(v[i])
                                               for k, v in batch.columns.items()},
                                "geometry": g})
    if not records:
        raise InputError("the project's Shapefiles have no features", path=str(path))
    return _project_file(path, files_sha256(files), records, crss, crs, notes)

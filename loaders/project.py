"""Reading a project file for the approval check (GeoPackage, GeoJSON, DXF or Shapefile),
read-only.

Every layer with features is read through the loaders' safe GDAL opening
(:func:`loaders.sources.read.open_source`: prechecks, a GeoPackage opened immutable, nothing
written beside the file). Features come out as plain records ``{"layer", "row",
"properties", "geometry", "ring_closed"}`` in the file's CRS (``ring_closed``: a polygon
ring GDAL read unclosed, read closed, :func:`loaders.sources.batch.closed_rows`); giving them their roles and validating them is
the approval check's job (``layers.approval.project``), so the data flows one way: this module
imports nothing from ``layers``. A DXF has one GDAL layer (``entities``): each record's layer
is the entity's DXF layer name (its ``Layer`` field), which names its role by convention.

A Shapefile holds one layer, named by its file (``建筑.shp``: the buildings); a project
delivered as Shapefiles is their folder (``cim check 项目/``: every ``.shp`` in it one layer)
or one of them. Their ``.dbf`` text is decoded as the loaders decode it (its ``.cpg``, else
GBK/GB18030 detected from the bytes: ``detect_dbf_encoding``, said in the notes). The
checksum of a Shapefile project covers every file of each (``.shp``, ``.dbf``, ``.prj`` …):
the heights are in the ``.dbf``.

A project delivered as a ``.zip`` (a GeoPackage, GeoJSON or DXF inside, or a folder of
Shapefiles) is read as that one member, here as any project file is, so the services only
call :func:`read_project`. The member is unpacked into a scratch folder
(:func:`loaders.sources.read.scratch_dir`, as the loaders' other copies) and read there as
the same file outside a zip would be, not through GDAL's ``/vsizip/``: the loaders' opening
(:func:`~loaders.sources.read.open_source`: its prechecks — a truncated ``.shp``, a ``.shx``
that disagrees — and the ``.dbf``'s encoding detection) reads real files, and a ``/vsizip/``
path is none, so those checks would be skipped or the path refused. The scratch folder is
removed once read; errors and notes name the member as GDAL does
(``/vsizip//path/p.zip/建筑.shp``), never the scratch folder. The zip's bounds are the
loaders' (``MAX_ZIP_MEMBERS`` members, :data:`MAX_UNPACKED_BYTES` unpacked, no member out of
the zip), a damaged zip is bad input naming the file, and a zip holding several possible
projects is refused with their list, never one of them picked silently.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pyogrio
import pyproj

from cim.crs import SAME_PLACE_M, crs_label, epsg_of, extent_points, parse_crs, same_place
from cim.errors import InputError
from loaders.dxf_entities import unread_entities
from loaders.engine.checksum import delivery_files, file_sha256, files_sha256
from loaders.sources.precheck import MAX_ZIP_MEMBERS, ZIP_ERRORS, precheck
from loaders.sources.read import (
    GDAL_INPUT_ERRORS,
    gdal_source,
    iter_batches,
    list_layers,
    open_source,
    remove_scratch,
    scratch_dir,
)
from loaders.sources.zipped_table import member_name

SUFFIXES = (".gpkg", ".geojson", ".json", ".dxf", ".shp")
PROJECT_FILES = (".gpkg", ".geojson", ".json", ".dxf")  # in a zip, one member is one project
MAX_UNPACKED_BYTES = 2 << 30  # a project is a few MB: more is no project (a zip bomb)


@dataclass
class ProjectFile:
    path: Path
    sha256: str
    records: list[dict]
    crs: pyproj.CRS | None
    notes: list[str] = field(default_factory=list)
    # the project as filed: the path read (absolute), or ``/vsizip/ZIP/MEMBER`` for a zip's
    source: str = ""
    # the CRS each layer read declares (None: none), whatever ``crs`` is: --crs is the CRS
    # of layers declaring none, and the check refuses it over a layer declaring another
    layer_crs: dict[str, pyproj.CRS | None] = field(default_factory=dict)


def _value(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_project(path: str | Path, crs: str | None = None,
                 encoding: str | None = None) -> ProjectFile:
    """All features of the project file, or of the one project a ``.zip`` holds (see the
    module docstring); ``crs`` overrides the file's, ``encoding`` the one a Shapefile's
    ``.dbf`` text is read in (``--encoding``: GBK bytes that are valid UTF-8 too, 住宅, are
    detected as UTF-8; another format's text is UTF-8 and the option noted as ignored). A
    file GDAL cannot read, or layers in different CRSs, are input errors."""
    path = Path(path)
    if path.suffix.lower() == ".zip" and not path.is_dir():
        return _read_zipped(path, crs, encoding)
    pf = _read_unzipped(path, crs, encoding)
    pf.source = str(path.resolve())
    return pf


def _read_unzipped(path: Path, crs: str | None, encoding: str | None) -> ProjectFile:
    if path.is_dir() or path.suffix.lower() == ".shp":
        return _read_shapefiles(path, crs, encoding)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError("a project is a GeoPackage, GeoJSON, DXF or Shapefile file "
                         f"({', '.join(SUFFIXES)}), or a folder of Shapefiles",
                         path=str(path))
    _prechecked(path)
    read_path, opts = gdal_source(path)
    try:
        names = [n for n, gt in list_layers(read_path, opts) if gt is not None]
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot read it: {exc}", path=str(path)) from exc
    records: list[dict] = []
    declared: dict[str, pyproj.CRS | None] = {}
    notes: dict[str, list[str]] = {}
    paper = 0  # a layout's entities (paper space): no part of the drawing
    for name in names:
        if _features(read_path, opts, name) == 0:
            continue  # a template's layer left empty (拆除: nothing demolished)
        # each layer opened by its name: the loaders' default opening reads one layer (a
        # load's), refuses the file when that one is empty and notes the others "not read"
        src = open_source(path, layer=name, encoding=encoding)
        declared[name] = src.crs
        notes[name] = src.notes
        dxf = src.driver == "DXF"
        for batch in iter_batches(src, python_values=True):  # no pandas for a few features
            closed = set(batch.rings_closed.tolist())
            curved = set(batch.straightened.tolist())
            for i, g in enumerate(batch.geometries):
                props = {k: _value(v[i]) for k, v in batch.columns.items()}
                if dxf and props.get("PaperSpace"):
                    paper += 1
                    continue
                layer = str(props.get("Layer") or name) if dxf else name
                records.append({"layer": layer, "row": batch.row(i),
                                "properties": props, "geometry": g,
                                "ring_closed": i in closed, "curved": i in curved})
    merged = _merged(notes)
    if paper:
        merged.append(f"{paper} entit{'y' if paper == 1 else 'ies'} of the drawing's layouts "
                      "(paper space: frames, title blocks, viewports' contents) left out; the "
                      "check reads model space")
    if path.suffix.lower() == ".dxf":  # what GDAL skips without a word: refused by the check
        records.extend({"layer": u.layer, "row": None, "properties": {}, "geometry": None,
                        "ring_closed": False, "unread_entity": u}
                       for u in unread_entities(path))
    if not records:
        raise InputError("the project file has no features", path=str(path))
    return _project_file(path, file_sha256(path), records, declared, crs, merged)


# DXF $INSUNITS codes of lengths a CAD drawing is kept in other than metres
_DXF_UNITS = {1: ("inches", 0.0254), 2: ("feet", 0.3048), 4: ("millimetres", 0.001),
              5: ("centimetres", 0.01), 14: ("decimetres", 0.1)}


def dxf_unit_hint(path: str | Path) -> str | None:
    """What a DXF's header says of its length unit, when it is not metres (``$INSUNITS``):
    a drawing in millimetres read as CGCS2000 metres was told "no CRS can be detected", and
    with --crs "cannot be placed … wrong --crs?", nothing saying it was 1000× too large. A
    hint only: many drawings keep a millimetre template's header and coordinates in metres."""
    path = Path(path)
    if path.suffix.lower() != ".dxf" or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16).decode("latin-1").splitlines()
    except OSError:
        return None
    for i, line in enumerate(head):
        if line.strip() == "$INSUNITS" and i + 2 < len(head) and head[i + 1].strip() == "70":
            try:
                unit = _DXF_UNITS.get(int(head[i + 2].strip()))
            except ValueError:
                return None
            if unit is None:
                return None
            name, metres = unit
            return (f"the drawing's header says its unit is {name} ($INSUNITS): coordinates "
                    f"in {name} are {1 / metres:g}× those in metres of a CGCS2000 CRS — if "
                    f"so, scale the drawing by {metres:g} in CAD (SCALE from 0,0) and save it "
                    "in metres")
    return None


def _prechecked(path: Path) -> None:
    """The loaders' checks of a file before GDAL parses it (``precheck``: XML with a
    DOCTYPE under any name, a broken Shapefile), as :func:`open_source` makes them, here
    before the layers are listed and counted."""
    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path=str(path))
    try:
        precheck(path)
    except OSError as exc:  # a folder named .gpkg, a file not readable
        raise InputError(f"cannot read it: {exc.strerror or exc}", path=str(path)) from exc


def _features(read_path: Path, opts: dict[str, str], layer: str) -> int:
    """The layer's features as the driver counts them without a scan (-1: unknown, or GDAL
    cannot tell: the layer is opened, and the opening says why). Its field names are read
    as Latin-1, which decodes any bytes: a .dbf's UTF-8 names cut inside a character at 10
    bytes (地上层数 → 地上层) are the loaders' to read, not a reason to miss the count."""
    try:
        info = pyogrio.read_info(read_path, layer=layer, encoding="ISO-8859-1", **opts)
    except GDAL_INPUT_ERRORS:
        return -1
    n = info.get("features")
    return -1 if n is None else int(n)


def _merged(notes: dict[str, list[str]]) -> list[str]:
    """The notes of the layers read: one every layer has (``--encoding`` ignored) once,
    the others naming their layer when there are several."""
    if len(notes) <= 1:
        return [n for ns in notes.values() for n in ns]
    every = [n for n in next(iter(notes.values())) if all(n in ns for ns in notes.values())]
    return every + [f"layer {name!r}: {n}" for name, ns in notes.items() for n in ns
                    if n not in every]


def _project_file(path: Path, sha256: str, records: list[dict],
                  declared: dict[str, pyproj.CRS | None], crs: str | None,
                  notes: list[str]) -> ProjectFile:
    """``declared``: the CRS each layer read declares (None: none). Layers whose CRSs put
    their coordinates in one place (:func:`cim.crs.same_place`) are in one CRS, however its
    WKT is written: a surveyor's ``.prj`` (``Gauss_Kruger_117E``, which GDAL cannot
    identify) beside a layer in EPSG:4527 was refused as "in different CRSs" by the WKTs'
    text. The project is read in the one of them with an EPSG code (the first else), the
    layers spelling it otherwise noted."""
    crss = {n: c for n, c in declared.items() if c is not None}
    if crs is not None:
        return ProjectFile(path, sha256, records, parse_crs(crs), notes, layer_crs=declared)
    one = next((c for c in crss.values() if epsg_of(c) is not None),
               next(iter(crss.values()), None))
    spelt = {n: c for n, c in crss.items() if c.to_wkt() != one.to_wkt()}
    if spelt:
        xy = extent_points([r["geometry"] for r in records])  # a few points, not each vertex
        apart = {n: c for n, c in spelt.items() if not same_place(c, one, xy)}
        if apart:
            # --crs does not make them one: it names the CRS of layers declaring none, and
            # the check refuses a layer declaring a CRS that puts its coordinates elsewhere
            # (layers.approval.outlines.refuse_reinterpreted)
            raise InputError(
                "its layers are in different CRSs ("
                + ", ".join(f"{n}: {crs_label(c)}" for n, c in crss.items())
                + "): reproject the layers to one CRS (QGIS: Export → Save Features As…; "
                "ogr2ogr -t_srs) and check again. --crs does not make them one: a layer "
                "declaring a CRS that puts its coordinates elsewhere than the one --crs "
                "names is refused (it names the CRS of layers declaring none, or of layers "
                "whose CRSs are one CRS spelt otherwise)", path=str(path))
        notes = notes + [f"layer {n!r} declares {crs_label(c)}, which puts its coordinates "
                         f"where {crs_label(one)} does (within {SAME_PLACE_M * 1000:g} mm): "
                         f"read in {crs_label(one)}" for n, c in spelt.items()]
    return ProjectFile(path, sha256, records, one, notes, layer_crs=declared)


def _read_shapefiles(path: Path, crs: str | None, encoding: str | None) -> ProjectFile:
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
    declared: dict[str, pyproj.CRS | None] = {}
    notes: list[str] = []
    files: list[Path] = []
    for shp in shps:
        _prechecked(shp)  # a truncated .shp, a .shx that disagrees: before GDAL counts
        files.extend(delivery_files(shp))
        if _features(shp, {}, shp.stem) == 0:
            continue  # a template's layer left empty (拆除.shp: nothing demolished)
        src = open_source(shp, encoding=encoding)  # checks, prechecks, the .dbf's encoding
        name = shp.stem
        declared[name] = src.crs
        notes.extend(f"{shp.name}: {n}" for n in src.notes)
        for batch in iter_batches(src, python_values=True):
            closed = set(batch.rings_closed.tolist())
            curved = set(batch.straightened.tolist())
            for i, g in enumerate(batch.geometries):
                records.append({"layer": name, "row": batch.row(i),
                                "properties": {k: _value(v[i])
                                               for k, v in batch.columns.items()},
                                "geometry": g, "ring_closed": i in closed,
                                "curved": i in curved})
    if not records:
        raise InputError("the project's Shapefiles have no features", path=str(path))
    return _project_file(path, files_sha256(files), records, declared, crs, notes)


# -- a project delivered as a .zip ------------------------------------------------------------
def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path parts, None for one a project has no use for (a folder, macOS's
    ``__MACOSX``/``._`` copies, hidden files) or that would land outside the scratch folder
    (``..``, an absolute path: a zip slip)."""
    pp = PurePosixPath(name.replace("\\", "/"))
    if name.endswith("/") or pp.is_absolute() or any(x in ("..", "") for x in pp.parts):
        return None
    if pp.parts[0] == "__MACOSX" or any(x.startswith(".") for x in pp.parts):
        return None
    return pp.parts


def _candidates(members: dict[str, zipfile.ZipInfo]) -> dict[str, list[str]]:
    """The zip's possible projects, each with the members it takes: a GeoPackage, GeoJSON
    or DXF member alone; a folder's Shapefiles together (with the files beside each: .shx,
    .dbf, .prj, .cpg), as a folder of Shapefiles is one project outside a zip."""
    out: dict[str, list[str]] = {}
    for name in members:
        pp = PurePosixPath(name)
        if pp.suffix.lower() in PROJECT_FILES:
            out[name] = [name]
        elif pp.suffix.lower() == ".shp":
            folder = str(pp.parent) + "/" if str(pp.parent) != "." else ""
            key = f"{folder}*.shp"
            stems = {PurePosixPath(m).stem for m in members
                     if PurePosixPath(m).parent == pp.parent
                     and PurePosixPath(m).suffix.lower() == ".shp"}
            out[key] = sorted(m for m in members if PurePosixPath(m).parent == pp.parent
                              and PurePosixPath(m).stem in stems)
    return out


def _unpack(zpath: Path, shown: Path, scratch: Path) -> tuple[Path, str, list[str]]:
    """The zip's one project unpacked into ``scratch``: (the path to read, its name as GDAL's
    ``/vsizip/`` writes it, the members not read). ``shown``: the zip as the user named it,
    for the errors."""
    try:
        with zipfile.ZipFile(zpath) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:  # the loaders' bound on a zip's members
                raise InputError(f"the zip holds {len(infos)} members (more than "
                                 f"{MAX_ZIP_MEMBERS}): no project is that many files",
                                 path=str(shown))
            names = [(member_name(i), i) for i in infos if not i.is_dir()]
            members = {n: i for n, i in names if _safe_parts(n) is not None}
            unsafe = [n for n, _ in names if _safe_parts(n) is None
                      and not PurePosixPath(n).name.startswith(".")
                      and not n.startswith("__MACOSX/")]
            found = _candidates(members)
            if not found:
                raise InputError("the zip holds no project (a GeoPackage, GeoJSON, DXF or "
                                 "Shapefiles); it holds: "
                                 + (", ".join(sorted(members)) or "nothing")
                                 + (f"; refused (a path out of the zip): {', '.join(unsafe)}"
                                    if unsafe else ""), path=str(shown))
            if len(found) > 1:
                raise InputError(f"the zip holds {len(found)} possible projects: "
                                 + "; ".join(sorted(found)) + " — deliver one project a zip "
                                 "(or unpack it and name the file)", path=str(shown))
            (key, take), = found.items()
            if sum(members[m].file_size for m in take) > MAX_UNPACKED_BYTES:
                raise InputError(f"{key} unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB: "
                                 "no project is that large", path=str(shown))
            for m in take:
                dest = scratch.joinpath(*(_safe_parts(m) or ()))
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(members[m]) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (*ZIP_ERRORS, zipfile.LargeZipFile, OSError) as exc:  # zlib.error: a bad stream
        raise InputError(f"not a readable zip: {exc}", path=str(shown)) from exc
    left = sorted(set(members) - set(take)) + [f"{n} (a path out of the zip)" for n in unsafe]
    if key.endswith("*.shp"):  # a folder of Shapefiles: the folder is the project
        folder = PurePosixPath(take[0]).parent
        inner = "" if str(folder) == "." else f"/{folder}"
        return scratch.joinpath(*folder.parts), f"/vsizip/{zpath}{inner}", left
    return scratch.joinpath(*PurePosixPath(key).parts), f"/vsizip/{zpath}/{key}", left


def _read_zipped(path: Path, crs: str | None, encoding: str | None) -> ProjectFile:
    """The zip's one project, read from a scratch folder removed after; the delivery (path,
    checksum) is the zip, its source ``/vsizip/ZIP/MEMBER``, the members not read noted."""
    zpath = path.resolve()
    scratch = scratch_dir("cim-check-zip-")
    try:
        read, shown, left = _unpack(zpath, path, scratch)
        try:
            pf = _read_unzipped(read, crs, encoding)
        except InputError as exc:
            raise _renamed(exc, scratch, f"/vsizip/{zpath}") from exc
        pf.notes = [n.replace(str(scratch), f"/vsizip/{zpath}") for n in pf.notes]
    finally:
        remove_scratch(scratch)
    notes = [f"read {shown}, the zip's one project"]
    if left:
        notes.append("not read from the zip: " + ", ".join(left))
    pf.notes[:0] = notes
    pf.path, pf.sha256, pf.source = path, file_sha256(path), shown
    return pf


def _renamed(exc: InputError, scratch: Path, shown: str) -> InputError:
    """``exc`` with the scratch folder written as the zip it came from."""
    def fix(t: str | None) -> str | None:
        return None if t is None else t.replace(str(scratch), shown)

    return type(exc)(fix(exc.message) or "", path=fix(exc.path), row=exc.row, field=exc.field)

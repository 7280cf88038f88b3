"""How GDAL is pointed at a delivery: without writing beside it, and what it raises.

A delivery folder is read-only to the platform: nothing is ever written beside a source, not
even for a moment. GDAL would otherwise write a ``.gfs`` next to a GML it opens without
``WRITE_GFS=NO`` and SQLite creates ``-wal``/``-shm`` files beside a WAL-mode GeoPackage;
:func:`gdal_source` gives the path and open options that avoid both, and every GDAL call on
a delivery goes through it (and :func:`list_layers`). What a read needs written (a city
model's solids as faces, a project unpacked) goes into a :func:`scratch_dir`.

Only the errors listed in :data:`GDAL_INPUT_ERRORS` mean "GDAL cannot read this input"; any
other exception is a bug and is left to propagate with its traceback.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pyarrow
import pyogrio
import pyogrio._err
import pyogrio.errors

from cim.errors import InputError
from loaders.sources.csv_geometry import CSV_SUFFIXES, csv_geometry_options
from loaders.sources.gpkg_state import settled_gpkg
from loaders.sources.scratch import remove_scratch, scratch_dir  # noqa: F401 (re-exported)

# GDAL open options by file suffix: GML never fetches schemas from the network nor writes a
# .gfs beside the delivery; a GeoPackage is opened immutable (SQLite would create -wal/-shm
# files beside a WAL-mode one, even for reading). A CSV's are its geometry column's
# (:func:`csv_geometry_options`)
GML_OPEN_OPTIONS = {"DOWNLOAD_SCHEMA": "NO", "WRITE_GFS": "NO"}
DEFAULT_OPEN_OPTIONS = {
    ".gml": GML_OPEN_OPTIONS,
    ".citygml": GML_OPEN_OPTIONS,
    ".gpkg": {"IMMUTABLE": "YES"},
}
# what GDAL (through pyogrio and pyarrow's stream) raises for a file it cannot open or read;
# anything else escaping a read is a bug, not bad input
GDAL_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
    pyogrio._err.CPLE_BaseError, pyarrow.ArrowException, OSError)


def gdal_message(exc: Exception) -> str:
    msg = str(exc).strip()
    return msg.split("; It might help")[0].rstrip(".; ")


def gdal_source(path: Path, open_options: dict[str, str] | None = None
                ) -> tuple[Path, dict[str, str]]:
    """(path for GDAL to read, open options) such that reading writes nothing beside ``path``.

    GML gets WRITE_GFS=NO (and no schema download); a GeoPackage is opened IMMUTABLE so that
    SQLite creates no -wal/-shm beside it — its settled copy when a -wal or -journal lies
    beside it (:func:`loaders.sources.gpkg_state.settled_gpkg`). A CSV names its geometry column
    (:func:`csv_geometry_options`).
    """
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return path, csv_geometry_options(path, open_options)
    defaults = DEFAULT_OPEN_OPTIONS.get(suffix, GML_OPEN_OPTIONS if is_gml(path) else {})
    opts = {**defaults, **(open_options or {})}
    if suffix == ".gpkg":
        return settled_gpkg(path), opts
    return path, opts


def is_gml(path: Path) -> bool:
    """A GML under another name (.xml): GDAL picks its GML driver by content."""
    if path.suffix.lower() != ".xml":
        return False
    with open(path, "rb") as fh:
        head = fh.read(8192)
    return b"opengis.net/gml" in head or b"<gml:" in head


def list_layers(path: Path, open_options: dict[str, str]) -> list[tuple[str, str | None]]:
    """(name, geometry type) of every layer, opened with ``open_options``.

    ``pyogrio.list_layers`` takes no open options, so a GML opened through it writes its .gfs
    beside the delivery; with options, the layers are asked for one by one by index.
    """
    if not open_options:
        return [(str(r[0]), r[1]) for r in pyogrio.list_layers(path)]
    out: list[tuple[str, str | None]] = []
    while True:
        try:
            info = pyogrio.read_info(path, layer=len(out), **open_options)
        except pyogrio.errors.DataLayerError as exc:
            if type(exc) is pyogrio.errors.DataLayerError:  # not a Geometry/CRS/…Error
                return out  # past the last layer
            raise
        out.append((str(info["layer_name"]), info.get("geometry_type")))


def layers_not_read(read_path: Path, opts: dict[str, str],
                    layers: list[tuple[str, str | None]], layer: str) -> str:
    """The note of a file of several layers, one read: the others named with their features
    (as the driver counts them without a scan, else unnamed). It said "read layer 'points' of
    3": a census delivered as points, lines and polygons in one GeoPackage loaded its points,
    succeeded, and its lines and polygons were counted nowhere."""
    others = []
    for name, _geometry_type in layers:
        if name == layer:
            continue
        try:
            n = int(pyogrio.read_info(read_path, layer=name, **opts).get("features", -1))
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError):
            # (a count is a courtesy: the layer is named anyway)
            n = -1
        others.append(f"{name!r}" + (f" ({n:,} feature{'s' if n != 1 else ''})" if n >= 0
                                     else ""))
    return (f"read layer {layer!r} of {len(layers)}; not read: {', '.join(others)} — load "
            "each with --layer NAME")


def first_with_features(read_path: Path, opts: dict[str, str],
                        layers: list[tuple[str, str | None]]) -> str | None:
    """The first layer with features of the first one's kind of geometry (polygons,
    lines, points: an empty 房屋 template gives way to 房屋_2024, never to the 注记 points
    after it, which a buildings load would take and reject every one of, "succeeded");
    its count as the driver gives it, a layer whose count cannot be told taken as not
    empty. None if there is none."""
    kind = _geometry_kind(layers[0][1]) if layers else None
    for name, geometry_type in layers:
        if _geometry_kind(geometry_type) != kind:
            continue
        try:
            n = int(pyogrio.read_info(read_path, layer=name, **opts).get("features", -1))
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError):
            n = -1
        if n != 0:
            return name
    return None


def _geometry_kind(geometry_type: str | None) -> str | None:
    """polygon, line or point of a GDAL layer's geometry type (Multi…, …Z, curves alike);
    the type itself if none of them (Unknown, GeometryCollection)."""
    t = (geometry_type or "").lower()
    for kind, words in (("polygon", ("polygon", "surface")), ("line", ("line", "curve")),
                        ("point", ("point",))):
        if any(w in t for w in words):
            return kind
    return t or None


def solids_as_faces(path: Path, opts: dict[str, str], exc: Exception) -> Path:
    """A copy of ``path`` that pyogrio can open: GDAL's own ogr2ogr writes the 3D solids
    (layer type PolyhedralSurface, which pyogrio refuses) to a GeoPackage of MultiPolygonZ
    layer type in a temporary folder (never beside the delivery: the source's open options,
    WRITE_GFS=NO among them, go to ogr2ogr too); :func:`faces_wkb` then reads each solid as its
    faces."""
    import subprocess

    if "not supported" not in str(exc):
        raise InputError(f"GDAL cannot read it: {gdal_message(exc)}", path=str(path)) from exc
    out = scratch_dir("cim-solids-") / (path.stem + ".gpkg")
    oo = [arg for k, v in opts.items() for arg in ("-oo", f"{k}={v}")]
    proc = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), str(path), "-nlt", "MULTIPOLYGONZ",
                           *oo, "--config", "GML_DOWNLOAD_SCHEMA", "NO"],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise InputError(f"its 3D solids cannot be converted: {proc.stderr.strip()[-300:]}",
                         path=str(path)) from exc
    _lists_as_values(out)
    return out


_LIST_TEXT = re.compile(r"\((\d+):(.*)\)", re.DOTALL)


def _lists_as_values(gpkg: Path) -> None:
    """A GeoPackage has no list type: ogr2ogr wrote a CityGML StringList (bldg:function
    given twice) as GDAL's text of it, ``(2:Wohnhaus,(allgemein))``, and every value of such a
    field so — ``(1:residential)`` too, which the use dictionary then did not know. A text
    column each of whose values is such a text becomes its values: one as itself, several as
    a JSON array (kept in attrs as delivered; where a comma inside a value makes the count
    differ from GDAL's, the text stays)."""
    import json
    import sqlite3

    def values(text: str | None) -> str | None:
        m = _LIST_TEXT.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            return text
        n, parts = int(m.group(1)), m.group(2).split(",") if m.group(2) else []
        if len(parts) != n:
            return text
        return parts[0] if n == 1 else json.dumps(parts, ensure_ascii=False)

    with contextlib.closing(sqlite3.connect(gpkg)) as conn:
        conn.create_function("cim_list_values", 1, values, deterministic=True)
        # the R-tree's triggers name GDAL's SQL functions; they only act where a geometry or
        # a feature id changes, which this never does — stand-ins let SQLite prepare them
        conn.create_function("ST_IsEmpty", 1, lambda _g: 0)
        for name in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            conn.create_function(name, 1, lambda _g: None)
        tables = [t for t, in conn.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")]
        for table in tables:
            q = '"' + table.replace('"', '""') + '"'
            for _cid, col, kind, *_ in conn.execute(f"PRAGMA table_info({q})").fetchall():
                if (kind or "").upper() != "TEXT":
                    continue
                c = '"' + col.replace('"', '""') + '"'
                odd = conn.execute(f"SELECT count(*) FROM {q} WHERE {c} IS NOT NULL AND NOT "
                                   f"({c} GLOB '([0-9]*:*)')").fetchone()[0]
                listed = conn.execute(f"SELECT count(*) FROM {q} WHERE {c} GLOB "
                                      "'([0-9]*:*)'").fetchone()[0]
                if listed and not odd:
                    conn.execute(f"UPDATE {q} SET {c} = cim_list_values({c})")
        conn.commit()


def named_layer(layers: Any, layer: str, path: Path) -> None:
    """Refuse a ``--layer`` the file has not, naming the layers it has (``layers``: pyogrio's
    list, name first): GDAL said only "Layer 'nope' could not be opened". Compared without
    case, as GeoPackage and SQLite name their tables."""
    names = [str(row[0]) for row in layers]
    if str(layer).casefold() not in {n.casefold() for n in names}:
        raise InputError(f"no layer {layer!r} in it; its layers: "
                         + (", ".join(repr(n) for n in names) or "none"), path=str(path))

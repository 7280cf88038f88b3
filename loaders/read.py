"""Reading any GDAL vector source in streamed batches, with the quirks of Chinese deliveries.

Shapefiles from Chinese surveyors usually carry a GBK .dbf with no .cpg; GDAL would then
decode it as ISO-8859-1 and every Chinese name would be garbage. :func:`detect_dbf_encoding`
decides from the .cpg, the .dbf language driver byte and the bytes themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import pyproj
import shapely

from cim.errors import InputError

# .dbf language driver ids (byte 29) that mean a Chinese code page
_LDID_CHINESE = {0x4D: "GB18030", 0x7A: "GB18030"}
_LDID_UTF8 = {}


@dataclass
class Source:
    path: Path
    layer: str | None
    driver: str
    crs: pyproj.CRS | None
    encoding: str | None
    fields: list[str]
    feature_count: int
    geometry_type: str | None
    notes: list[str] = field(default_factory=list)


@dataclass
class Batch:
    first_row: int  # 1-based row number of the first feature in the file
    columns: dict[str, np.ndarray]
    geometries: np.ndarray  # shapely geometries (None where missing)


def _dbf_path(path: Path) -> Path | None:
    if path.suffix.lower() != ".shp":
        return None
    for ext in (".dbf", ".DBF"):
        p = path.with_suffix(ext)
        if p.exists():
            return p
    return None


def detect_dbf_encoding(dbf: Path) -> tuple[str | None, str]:
    """(encoding, how it was decided) for a .dbf; None means 'let GDAL decide' (a .cpg)."""
    for ext in (".cpg", ".CPG"):
        cpg = dbf.with_suffix(ext)
        if cpg.exists():
            return None, f".cpg says {cpg.read_text(errors='replace').strip()}"
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            raise InputError("the .dbf file is truncated", path=str(dbf))
        header_len = int.from_bytes(head[8:10], "little")
        fh.seek(header_len)
        body = fh.read(4 * 1024 * 1024)
    ldid = head[29]
    if ldid in _LDID_CHINESE:
        return _LDID_CHINESE[ldid], f".dbf language driver 0x{ldid:02X} (GBK)"
    if all(b < 0x80 for b in body):
        return "UTF-8", "ASCII only"
    try:
        body.decode("utf-8")
        return "UTF-8", "bytes decode as UTF-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(body) - 4:  # cut in the middle of a character by the sample
            return "UTF-8", "bytes decode as UTF-8"
    try:
        body.decode("gb18030")
        return "GB18030", "bytes decode as GBK/GB18030, not UTF-8"
    except UnicodeDecodeError:
        return "ISO-8859-1", "bytes are neither UTF-8 nor GBK; read as Latin-1"


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.is_dir():
        raise InputError("is a directory; give the file to load (e.g. the .shp or .gpkg)",
                         path=str(path))
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path=str(path))
    if not os.access(path, os.R_OK):
        raise InputError("file is not readable", path=str(path))


def open_source(path: str | Path, layer: str | None = None,
                encoding: str | None = None) -> Source:
    """Inspect a vector source; clear InputError for anything GDAL cannot open."""
    path = Path(path)
    _check_path(path)
    notes: list[str] = []
    dbf = _dbf_path(path)
    if path.suffix.lower() == ".shp":
        for ext in (".shx", ".dbf"):
            if not (path.with_suffix(ext).exists() or path.with_suffix(ext.upper()).exists()):
                raise InputError(f"the shapefile has no {ext} file beside it", path=str(path))
    if encoding is None and dbf is not None:
        encoding, why = detect_dbf_encoding(dbf)
        if encoding:
            notes.append(f"attribute encoding {encoding} ({why})")
    try:
        layers = pyogrio.list_layers(path)
        if layer is None:
            if len(layers) == 0:
                raise InputError("no vector layer in file", path=str(path))
            spatial = [row[0] for row in layers if row[1] is not None]
            layer = (spatial or [layers[0][0]])[0]
            if len(layers) > 1:
                notes.append(f"read layer {layer!r} of {len(layers)}")
        info = pyogrio.read_info(path, layer=layer, encoding=encoding)
    except InputError:
        raise
    except Exception as exc:  # GDAL errors come in many classes
        raise InputError(f"GDAL cannot read it: {exc}", path=str(path)) from exc
    crs = None
    if info.get("crs"):
        try:
            crs = pyproj.CRS.from_user_input(info["crs"])
        except pyproj.exceptions.CRSError:
            notes.append(f"unrecognised CRS {info['crs']!r} ignored")
    return Source(path=path, layer=layer, driver=info.get("driver") or "", crs=crs,
                  encoding=encoding, fields=[str(f) for f in info.get("fields", [])],
                  feature_count=int(info.get("features") or 0),
                  geometry_type=info.get("geometry_type"), notes=notes)


def iter_batches(src: Source, batch_size: int = 50_000) -> Iterator[Batch]:
    """Stream the source as batches of columns and shapely geometries."""
    row = 1
    try:
        with pyogrio.raw.open_arrow(src.path, layer=src.layer, encoding=src.encoding,
                                    batch_size=batch_size, use_pyarrow=True) as (meta, reader):
            geom_col = meta.get("geometry_name") or "wkb_geometry"
            for rb in reader:
                cols: dict[str, np.ndarray] = {}
                geoms = None
                for name in rb.schema.names:
                    arr = rb.column(name)
                    if name == geom_col:
                        geoms = shapely.from_wkb(arr.to_numpy(zero_copy_only=False),
                                                 on_invalid="ignore")
                    else:
                        cols[name] = np.asarray(arr.to_pandas(), dtype=object)
                if geoms is None:
                    geoms = np.full(rb.num_rows, None, dtype=object)
                yield Batch(first_row=row, columns=cols, geometries=geoms)
                row += rb.num_rows
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"GDAL failed while reading near row {row}: {exc}",
                         path=str(src.path), row=row) from exc

"""A text table delivered in a zip, read from a copy of it as the table itself is.

GDAL reads a zipped CSV in place (/vsizip/), so the checks that read a text table's own
bytes before GDAL does — a row of more cells than its header (GDAL drops the extra ones
without a word), NUL bytes and the encoding, and the empty lines GDAL skips and a
spreadsheet numbers (rows after one were named a row short) — did not see it: the member
is copied into a scratch folder (streamed) and opened as a table, and what is refused is
refused naming the zip and the member."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pyogrio.errors

from loaders.sources.gdal_access import list_layers, scratch_dir
from loaders.sources.precheck import TEXT_TABLE_SUFFIXES, ZIP_ERRORS


def zipped_text_table(path: Path, layer: str | None) -> Path | None:
    """A scratch copy of the text table a zip holds that GDAL reads as ``layer`` (or as its
    first layer), named as in the zip; None for any other file, or a zip whose layer is no
    text table of its own (a Shapefile's, or one a folder's several files make)."""
    if path.suffix.lower() != ".zip" or not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            tables = [i for i in members
                      if Path(i.filename).suffix.lower() in TEXT_TABLE_SUFFIXES]
            if not tables:
                return None
            if layer is None:
                layers = list_layers(path, {})
                if not len(layers):
                    return None
                layer = str(layers[0][0])
            named = [i for i in tables if Path(i.filename).stem == layer]
            stems = [Path(i.filename).stem for i in members]
            if len(named) != 1 or stems.count(layer) != 1:
                return None  # (a .dbf or .shp of the same name: GDAL's layer is that)
            out = scratch_dir("cim-zipcsv-") / Path(named[0].filename).name
            with zf.open(named[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
            return out
    except (*ZIP_ERRORS, OSError, RuntimeError, pyogrio.errors.DataSourceError):
        return None  # GDAL says what it can of the zip when it opens it

"""A text table delivered in a zip, read from a copy of it as the table itself is.

GDAL reads a zipped CSV in place (/vsizip/), so the checks that read a text table's own
bytes before GDAL does — a row of more cells than its header (GDAL drops the extra ones
without a word), NUL bytes and the encoding, and the empty lines GDAL skips and a
spreadsheet numbers (rows after one were named a row short) — did not see it: the member
(with the files of its name beside it: a .csvt's column types, a .prj's CRS) is copied into
a scratch folder, streamed, and opened as a table, and what is refused is refused naming
the zip and the member."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

import pyogrio.errors

from cim.errors import InputError
from loaders.sources.gdal_access import list_layers, remove_scratch, scratch_dir
from loaders.sources.precheck import TEXT_TABLE_SUFFIXES, ZIP_ERRORS

# room left on the scratch folder's disk beside a member's copy
_SPARE_BYTES = 256 << 20


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its writer meant it: a zip made on a Chinese Windows names its
    members in GBK without the UTF-8 flag, which ``zipfile`` reads as CP437 (建筑.shp as
    mojibake, so no layer named by convention and no role)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def _data(info: zipfile.ZipInfo) -> bool:
    """A file of the delivery: not a folder, nor macOS's resource forks (__MACOSX/, ._a.csv)."""
    p = PurePosixPath(info.filename)
    return not info.is_dir() and "__MACOSX" not in p.parts and not p.name.startswith("._")


def zipped_text_table(path: Path, layer: str | None) -> tuple[Path, str] | None:
    """(a scratch copy of the text table a zip holds that GDAL reads as ``layer`` — or as
    its first layer, or the zip's one text table where GDAL cannot open the zip —, its name
    in the zip); None for any other file, or a zip whose layer is no text table of its own
    (a Shapefile's, or one several files of one name make)."""
    if path.suffix.lower() != ".zip" or not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if _data(i)]
            tables = [i for i in members
                      if PurePosixPath(i.filename).suffix.lower() in TEXT_TABLE_SUFFIXES]
            if not tables:
                return None
            if layer is None:
                try:
                    layers = list_layers(path, {})
                except pyogrio.errors.DataSourceError:
                    layers = []  # (a folder entry GDAL trips on: the one table, if one)
                if layers:
                    layer = str(layers[0][0])
                elif len(tables) == 1:
                    layer = PurePosixPath(tables[0].filename).stem
                else:
                    return None
            named = [i for i in tables if PurePosixPath(i.filename).stem == layer]
            if len(named) != 1:
                return None
            table = named[0]
            stem = PurePosixPath(table.filename).with_suffix("")
            beside = [i for i in members if PurePosixPath(i.filename).with_suffix("") == stem]
            if len({PurePosixPath(i.filename).suffix.lower() for i in beside}) != len(beside):
                return None  # (a.csv and a.CSV: which one GDAL reads is GDAL's to say)
            if any(PurePosixPath(i.filename).suffix.lower() in (".shp", ".dbf")
                   for i in beside):
                return None  # a Shapefile's layer of that name: GDAL's reading
            return _copy(path, zf, table, beside), member_name(table)
    except (*ZIP_ERRORS, OSError, RuntimeError):
        return None  # a damaged zip, a method zipfile lacks: GDAL says what it can of it


def _copy(path: Path, zf: zipfile.ZipFile, table: zipfile.ZipInfo,
          beside: list[zipfile.ZipInfo]) -> Path:
    """The table and the files beside it copied into a scratch folder (streamed, each no
    larger than its header says: a zip bomb's member stops there); the table's copy."""
    out = scratch_dir("cim-zipcsv-")
    need = sum(i.file_size for i in beside)
    free = shutil.disk_usage(out).free
    if need + _SPARE_BYTES > free:
        remove_scratch(out)
        raise InputError(f"{member_name(table)} (in the zip) unpacks to {need >> 20:,} MB, "
                         f"more than the {free >> 20:,} MB free in {out.parent}: free some "
                         "space (or set TMPDIR), or deliver it unzipped", path=str(path))
    try:
        for info in beside:
            target = out / PurePosixPath(member_name(info)).name
            with zf.open(info) as src, open(target, "wb") as dst:
                left = info.file_size
                while chunk := src.read(min(4 << 20, left + 1)):
                    left -= len(chunk)
                    if left < 0:
                        raise InputError(f"{member_name(info)} (in the zip) unpacks to more "
                                         "than its header says: a damaged zip",
                                         path=str(path))
                    dst.write(chunk)
    except OSError as exc:  # the disk filled after all
        remove_scratch(out)
        raise InputError(f"{member_name(table)} (in the zip) could not be unpacked into "
                         f"{out.parent}: {exc.strerror or exc}", path=str(path)) from None
    except BaseException:
        remove_scratch(out)
        raise
    return out / PurePosixPath(member_name(table)).name

"""Mapping source field names to layer attributes: the one matcher of delivered field names
and table headers, the units their headers name, mapping files.

Surveyors name the same attribute many ways (建筑高度, 高度, HEIGHT …); the aliases are data in
``cim/dictionaries/field_aliases.yaml`` (units in ``field_units.yaml``) and a per-delivery
mapping file may override them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import urllib.parse
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cim.errors import ConfigError, InputError
from cim.text import header_unit, norm_key, norm_name

_norm = norm_name  # field names compare as column headers do (cim/text.py)
_BRACKET_CHARS = re.compile(r"[()\[\]【】]")


def match_fields(fields: list[str], aliases: dict[str, list[str]],
                 override: dict[str, str] | None = None, *, strict: bool = True,
                 exclusive: bool = False, where: str | None = None) -> FieldMap:
    """{attribute: source field} for the attributes found among ``fields`` — the one matcher
    of delivered field names and table headers.

    A field's name matches an alias as written first (its brackets' words kept: 容积率(上限)
    is 容积率上限, an alias of the upper bound), then without its trailing brackets
    (起点埋深(m), X(北坐标) → 起点埋深, X). Two fields that only the second way match one alias
    are refused as ambiguous: 容积率(上限) and 容积率(下限) both read as 容积率 — taking the
    last one silently stored the lower bound as the upper. A header whose brackets name a unit
    other than its attribute's (``aliases.units``, ``field_units.yaml``) is refused: 起点埋深(cm)
    is no depth in metres. An override (a mapping file) wins over the aliases; a value of
    ``None`` drops the attribute; with ``strict`` an override naming no field is an error.
    With ``exclusive`` a field serves one attribute at most (a survey table's headers); else
    one field may serve several (a parcel's 地块编码 is its key and its code). A name cut at
    a .dbf's 10 bytes is matched as the name it is the cut of (:class:`CutNames`), and the
    result's ``notes`` say so. Errors name ``where`` (the file or table)."""
    cuts = CutNames(fields, aliases)
    full: dict[str, list[str]] = {}
    bare: dict[str, list[str]] = {}
    for f in fields:  # a cut name is matched as the name it is the cut of
        full.setdefault(_norm_full(cuts.read_as.get(f, f)), []).append(f)
        bare.setdefault(_norm(cuts.read_as.get(f, f)), []).append(f)
    out = FieldMap()
    taken: set[str] = set()
    # as written; then bare, a field whose header names another unit than the attribute's
    # left for last (建筑限高(米) is the height beside 限高(层)); then bare, any
    for by, norm, any_unit in ((full, _norm_full, True), (bare, _norm, False),
                               (bare, _norm, True)):
        for attr, names in aliases.items():
            if attr in out or attr in (override or {}):  # the mapping file decides it
                continue
            for n in names:
                hits = [f for f in by.get(norm(n), []) if not (exclusive and f in taken)
                        and (any_unit or not _other_unit(f, attr, aliases))]
                if len(hits) > 1 and by is bare:
                    hits = _in_unit(hits, attr, aliases)  # 限高(m) beside 限高(层)
                if len(hits) > 1 and by is bare:
                    raise InputError(
                        f"fields {' and '.join(map(repr, hits))} both read as {n!r} "
                        f"({attr}): name the one to use in a mapping file (--mapping)",
                        path=where)
                if hits:
                    out[attr] = hits[0]
                    taken.add(hits[0])
                    break
    for attr, src in (override or {}).items():
        if src in ("", "None", "null", "~"):  # the mapping says: do not use this attribute
            out.pop(attr, None)
            continue
        hit = src if src in fields else next(iter(bare.get(_norm(src), [])), None)
        if hit is None:
            if strict:
                raise ConfigError(f"the mapping names field {src!r} for {attr!r}, which is not "
                                  f"in the source (fields: {', '.join(map(str, fields))})",
                                  path=where)
            continue
        for a, h in list(out.items()):
            if h == hit and a != attr:
                del out[a]
        out[attr] = hit
    # a field the mapping file names is taken as it is (建筑高度(H): H is no hours)
    _check_units({a: f for a, f in out.items() if a not in (override or {})}, aliases, where)
    out.notes = cuts.notes(out)
    return out


# the most bytes a dBASE field name holds: a Shapefile's longer names are cut there by the
# program that writes it, in its .dbf's encoding — UTF-8 (its .cpg says so) or GBK — and a
# character cut in two is dropped (loaders/sources/dbf.py)
DBF_NAME_BYTES = 10
_CUT_ENCODINGS = ("utf-8", "gb18030")
# the section of field_aliases.yaml naming fields no attribute reads (:func:`_other_fields`)
OTHER_FIELDS = "other_fields"


class FieldMap(dict):
    """{attribute: source field}, as :func:`match_fields` found them, and ``notes``: the
    delivered names read as the longer names they are the cut of, and those left unread
    because they could be the cut of several (for the load's report)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.notes: list[str] = []


def dbf_cut(name: str, encoding: str) -> str | None:
    """``name`` as a .dbf in ``encoding`` holds it: its first characters that fit in 10
    bytes; None when the whole name fits (or cannot be written in ``encoding``)."""
    try:
        if len(name.encode(encoding)) <= DBF_NAME_BYTES:
            return None
    except UnicodeEncodeError:
        return None
    out, size = [], 0
    for ch in name:
        size += len(ch.encode(encoding))
        if size > DBF_NAME_BYTES:
            break
        out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=1)
def _other_fields() -> tuple[str, ...]:
    """The field names deliveries carry beside an alias's field that no attribute reads
    (``other_fields`` of the platform's field_aliases.yaml): what a cut name could be besides
    an alias (最大建: the density 最大建筑密度, or the floor area 最大建筑面积?)."""
    from cim.profile import DICTIONARY_DIR, read_yaml_mapping

    data = read_yaml_mapping(DICTIONARY_DIR / "field_aliases.yaml", "the field aliases")
    section = data.get(OTHER_FIELDS) or {}
    return tuple(str(n) for names in section.values() for n in (names or []))


class CutNames:
    """The delivered names that are a longer name cut at a .dbf's 10 bytes.

    A UTF-8 Shapefile holds three Chinese characters of a name (地上层数, 12 bytes, is written
    地上层), a GBK one five (主管部门代码 → 主管部门代): the field was not recognised, and the
    storeys of every building were kept in attrs only. A name that is the cut — its first 10
    bytes in UTF-8 or GBK, at a character's end — of aliases of one meaning (地上层数;
    建成年代 and 建成年份 alike) is read as that alias; one that could be the cut of names of
    two attributes, or of a name no attribute reads (最大建: 最大建筑密度, or 最大建筑面积?),
    is not guessed, and named in the notes. A name that is an alias itself is never a cut,
    nor is a cut whose whole name the delivery holds too."""

    def __init__(self, fields: list[str], aliases: dict[str, list[str]]) -> None:
        attrs_of: dict[str, list[str]] = {}  # a known name (normalised) → its attributes
        for attr, names in aliases.items():
            for n in names:
                attrs_of.setdefault(_norm(n), []).append(attr)
        whole = {_norm(f) for f in fields} | {_norm_full(f) for f in fields}
        by_cut: dict[str, dict[str, str]] = {}  # a cut (normalised) → {known name: as written}
        for n in (*(n for names in aliases.values() for n in names), *_other_fields()):
            for enc in _CUT_ENCODINGS:
                cut = dbf_cut(str(n), enc)
                if cut is not None and _norm(cut):
                    by_cut.setdefault(_norm(cut), {}).setdefault(_norm(n), str(n))
        self.read_as: dict[str, str] = {}  # a delivered field → the alias it is read as
        self.ambiguous: dict[str, list[str]] = {}  # a delivered field → the names it may be
        self._attrs_of = attrs_of
        for f in fields:
            f = str(f)
            if _norm(f) in attrs_of or _norm_full(f) in attrs_of:
                continue  # an alias itself
            names = {k: v for k, v in by_cut.get(_norm(f), {}).items() if k not in whole}
            if not any(k in attrs_of for k in names):
                continue
            # one meaning: every name it may be is an alias of the same attributes (地块编:
            # 地块编号 or 地块编码, each a parcel's key and code)
            if len({frozenset(attrs_of.get(k, ())) for k in names}) == 1:
                self.read_as[f] = next(iter(names.values()))
            else:
                self.ambiguous[f] = sorted(names.values())

    def notes(self, mapped: dict[str, str]) -> list[str]:
        """What a load's report says of the cut names: those read, as what, and those left
        in attrs (the ambiguous ones only where an attribute they could be is not read)."""
        out = []
        used = {f: [a for a, g in mapped.items() if g == f] for f in self.read_as}
        read = [f"{f} as {self.read_as[f]} ({', '.join(used[f])})" for f in self.read_as
                if used[f]]
        if read:
            out.append("field names cut at the .dbf's 10 bytes read as the names they are the "
                       "cut of: " + ", ".join(read))
        unread = [f"{f} ({self.read_as[f]})" for f in self.read_as if not used[f]]
        if unread:
            out.append("field names cut at the .dbf's 10 bytes whose attribute is read from "
                       "another field, kept in attrs: " + ", ".join(unread))
        for f, names in self.ambiguous.items():
            could = sorted({a for n in names for a in self._attrs_of.get(_norm(n), [])})
            if any(a not in mapped for a in could):
                out.append(f"field {f} may be any of {', '.join(names)} cut at the .dbf's "
                           "10 bytes: not guessed, kept in attrs — name the attribute it "
                           "holds in a mapping file (--mapping)")
        return out


def map_fields(source_fields: list[str], aliases: dict[str, list[str]],
               override: dict[str, str] | None = None, where: str | None = None
               ) -> FieldMap:
    """{attribute: source field} for every attribute found in the source
    (:func:`match_fields`, an override naming no field an error)."""
    return match_fields(source_fields, aliases, override, strict=True, where=where)


def _unit_of(aliases: Any, attr: str) -> tuple[str | None, dict[str, str]]:
    """(the unit ``attr`` is read in, the spellings its headers are read with)."""
    want = getattr(aliases, "units", {}).get(attr)
    if want is None or not hasattr(aliases, "spellings_for"):
        return None, {}
    return want, aliases.spellings_for(attr)


def _other_unit(f: str, attr: str, aliases: Any) -> bool:
    """Whether field ``f``'s header names another unit than attribute ``attr``'s."""
    want, spellings = _unit_of(aliases, attr)
    got = header_unit(f, spellings) if want else None
    return got is not None and got != want


def _in_unit(hits: list[str], attr: str, aliases: Any) -> list[str]:
    """Those of ``hits`` whose header names the attribute's unit, if that tells one."""
    want, spellings = _unit_of(aliases, attr)
    if want is None:
        return hits
    same = [f for f in hits if header_unit(f, spellings) == want]
    return same if len(same) == 1 else hits


def _check_units(mapped: dict[str, str], aliases: Any, where: str | None) -> None:
    for attr, f in mapped.items():
        want, spellings = _unit_of(aliases, attr)
        got = header_unit(f, spellings) if want else None
        if want is not None and got is not None and got != want:
            raise InputError(f"the field is in {got} (its header says so), {attr} is read in "
                             f"{want}: convert the values to {want} and name the header so "
                             "(a mapping file naming this field takes it as it is)",
                             path=where, field=str(f))


def check_units_row(cells: list[Any], mapped: dict[str, str], headers: list[str],
                    aliases: Any, where: str | None, row: int | None = None) -> None:
    """A row of units below a table's header (起点埋深 over cm, 管径 over m) names its columns'
    units as a header's brackets do, and is held to the same rule (:func:`_check_units`): the
    row is no record and was passed over, and depths of 90 cm loaded as 90 m, sizes of 30 cm as
    30 mm. ``mapped``: {attribute: header} of the fields read by their aliases (a field a
    mapping file names is taken as it is); ``cells``: the row below the header."""
    for attr, f in mapped.items():
        want, spellings = _unit_of(aliases, attr)
        j = headers.index(f) if want is not None and f in headers else -1
        cell = cells[j] if 0 <= j < len(cells) else None
        if not isinstance(cell, str) or not cell.strip():
            continue
        text = cell.strip()
        got = header_unit(text if text[0] in "(（[【" else f"x({text})", spellings)
        if got is not None and got != want:
            raise InputError(f"the field is in {got} (the row of units below the header says "
                             f"so), {attr} is read in {want}: convert the values to {want} "
                             "(a mapping file naming this field takes it as it is)",
                             path=where, row=row, field=str(f))


def _norm_full(name: Any) -> str:
    """A field name as :func:`cim.text.norm_name` gives it, its brackets' words kept."""
    return _norm(_BRACKET_CHARS.sub("", norm_key(name)))


def all_matches(source_fields: list[str], names: list[str]) -> list[str]:
    """Every source field matching one of ``names``, in the order of ``names``."""
    by_norm = {_norm(f): f for f in source_fields}
    return [by_norm[_norm(n)] for n in names if _norm(n) in by_norm]


def load_mapping_yaml(path: str | Path, shape: str) -> dict[Any, Any]:
    """The top-level mapping of a mapping file; ConfigError naming the file otherwise
    (``shape`` says what the file must map, for the message)."""
    # imported here: cim.profile brings pyproj and NumPy (0.1 s), and this module is read by
    # the CLI's early key read (delivery_dataset) before the command's heavy imports
    from cim.profile import read_yaml_mapping

    return read_yaml_mapping(path, "mapping file", shape)


def read_mapping_file(path: str | Path) -> dict[str, str]:
    data = load_mapping_yaml(path, "attribute: source field")
    return {str(k): str(v) for k, v in data.items()}


# -- a rejects export loaded again -------------------------------------------------------------
# the columns `cim rejects --export` writes before the delivered ones (layers.rejects.PLATFORM,
# under the first prefix no delivered name takes: cim_, _cim_, …): row, reason, field and
# message in every export, the batch's dataset in those written since it was added
_EXPORT_FIELD = re.compile(r"^(_*cim_)(row|reason|field|message|dataset)$", re.IGNORECASE)
_EXPORT_MEMBERS = {"row", "reason", "field", "message"}
_DATASET_BYTES = b"cim_dataset"


def export_fields(fields: list[str]) -> tuple[str, ...]:
    """The platform's columns of a rejects export among ``fields`` (the four of every export,
    under one prefix, and its dataset column where it has one: a delivery's own ``cim_row``
    alone is its own attribute), else none."""
    by_prefix: dict[str, list[str]] = {}
    for f in fields:
        m = _EXPORT_FIELD.match(str(f))
        if m:
            by_prefix.setdefault(m.group(1).lower(), []).append(f)
    found = {p: names for p, names in by_prefix.items()
             if _EXPORT_MEMBERS <= {n.lower().rsplit("_", 1)[1] for n in names}}
    # a delivery of its own cim_ columns was exported under _cim_: the longest prefix
    return tuple(found[max(found, key=len)]) if found else ()


def _dataset_field(fields: list[str]) -> str | None:
    return next((f for f in export_fields(fields) if str(f).lower().endswith("_dataset")), None)


def refuse_export_replace(recorded: str, mode: str | None, where: str) -> None:
    """A rejects export holds the rejected features of its dataset only: loaded with ``--mode
    replace`` into that dataset (its recorded one, no ``--dataset`` given), the load retired
    every feature of the delivery the export lacks — 49 of 50 buildings for one fixed row."""
    if mode == "replace":
        raise InputError(f"a rejects export of dataset {recorded!r} holds only the features "
                         "its load rejected: --mode replace would retire every other feature "
                         "of the dataset; load it with --mode update (the default), or name "
                         "the dataset with --dataset to replace one", path=where)


def delivery_dataset(paths: str | Path | Sequence[str | Path], dataset: str | None,
                     layer: str | None = None, encoding: str | None = None,
                     mode: str | None = None) -> str:
    """The dataset a delivery's source keys are scoped by: ``--dataset``, else the dataset a
    rejects export among its files records (a fixed export reloads into the dataset its rows
    came from — as the file's name, ``rej``, it made a second feature and code beside the
    original, which a later ``--mode replace`` of the original delivery never retired), else
    the file's name (a folder's whole name), else — a delivery of several files, a pipe
    survey's point and segment tables — the names' common part (热力_管线点成果表,
    热力_管线段成果表 → 热力). The one rule of every loader with a dataset, and of the early
    key read (``loaders.cli``), which runs before the heavy modules are imported: nothing
    heavy is imported unless a file's first bytes name the export's dataset column."""
    if dataset:
        return dataset
    given = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    recorded: dict[str, Path] = {}
    for p in given:
        found = export_dataset(p, layer, encoding)
        if found:
            recorded.setdefault(found, p)
    if len(recorded) > 1:
        raise InputError("rejects exports of more than one dataset (" + ", ".join(
            f"{d} in {p.name}" for d, p in sorted(recorded.items())) + "): one dataset a "
            "load — name it with --dataset", path=", ".join(map(str, given)))
    if recorded:
        (found, p), = recorded.items()
        refuse_export_replace(found, mode, str(p))
        return found
    # a folder by its own name: `cim load pipes .` was the dataset '' (Path('.').name); the
    # path made absolute, a link not followed (a stable link to this month's delivery keeps
    # its name, and so its dataset's keys)
    stems = [Path(os.path.abspath(p)).name if p.is_dir() else p.stem for p in given]
    if len(stems) == 1:
        return stems[0]
    common = _NAME_TAIL.sub("", os.path.commonprefix(stems))
    return common or stems[0]


# what the names of a delivery's tables add to their common part: 热力_管线点成果表 → 热力
_NAME_TAIL = re.compile(r"[_\-. 点段线成果表管]+$")


def export_dataset(path: Path, layer: str | None = None,
                   encoding: str | None = None) -> str | None:
    """The dataset in the ``cim_dataset`` column of a rejects export (of ``layer`` if given,
    else of every layer or sheet), None for any other file, an export written before the
    column was, or one whose column is blank; two datasets in one file are an error (one
    dataset a load: ``--dataset`` names it). A file that cannot be read here is left to the
    load, which says why."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        values = _export_dataset_values(path, layer, encoding)
    except (OSError, InputError, ConfigError, sqlite3.Error, zipfile.BadZipFile):
        return None
    except Exception as exc:  # noqa: BLE001 - GDAL's read errors, told apart as the reader does
        from loaders.sources.read import GDAL_INPUT_ERRORS

        if isinstance(exc, GDAL_INPUT_ERRORS):
            return None
        raise
    found = sorted({str(v).strip() for v, _ in values
                    if v is not None and v == v and str(v).strip()})  # NaN: a blank cell
    if len(found) > 1:
        raise InputError("a rejects export of more than one dataset (" + ", ".join(found)
                         + "): one dataset a load — split the file, or name the dataset "
                         "with --dataset", path=str(path), field=values[0][1])
    return found[0] if found else None


def _export_dataset_values(path: Path, layer: str | None, encoding: str | None
                           ) -> list[tuple[object, str]]:
    """(value, column) of every row's dataset cell of an export: read only where the file
    holds the column's name (told cheaply first: a delivery of a million rows is no export)."""
    suffix = path.suffix.lower()
    if suffix in (".gpkg", ".sqlite"):
        return _sqlite_values(path, layer)
    if suffix in (".xlsx", ".xlsm"):
        with zipfile.ZipFile(path) as z:
            if not any(_DATASET_BYTES in z.read(n).lower() for n in z.namelist()
                       if n.startswith("xl/") and n.endswith(".xml")):
                return []
    else:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20).lower()
        if _DATASET_BYTES not in head and _DATASET_BYTES not in head.replace(b"\x00", b""):
            return []
    if suffix in (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".dbf"):
        from loaders.sources.tables import read_tables

        out: list[tuple[object, str]] = []
        known = {_norm(f"cim_{m}") for m in (*_EXPORT_MEMBERS, "dataset")}
        for t in read_tables(path, known, encoding):
            col = _dataset_field(t.headers)
            if col is not None and (layer is None or t.sheet in (None, layer)):
                out += [(v, col) for v in t.column(col)]
        return out
    return _gdal_values(path, layer)


def _sqlite_values(path: Path, layer: str | None) -> list[tuple[object, str]]:
    """A GeoPackage's export columns read with SQLite itself, opened immutable (nothing
    written beside the delivery) — no GDAL import for a file that is no export."""
    from loaders.sources.gpkg_state import settled_gpkg

    uri = ("file:" + urllib.parse.quote(str(settled_gpkg(path).resolve()))
           + "?mode=ro&immutable=1")
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM gpkg_contents "
                "WHERE data_type IN ('features', 'attributes')")]
        except sqlite3.OperationalError:  # a SpatiaLite or plain SQLite file
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
        out: list[tuple[object, str]] = []
        for t in tables:
            if layer is not None and t != layer:
                continue
            names = [r[1] for r in conn.execute(f'PRAGMA table_info("{_quoted(t)}")')]
            col = _dataset_field(names)
            if col is not None:
                out += [(v, col) for (v,) in conn.execute(
                    f'SELECT DISTINCT "{_quoted(col)}" FROM "{_quoted(t)}"')]
        return out


def _quoted(name: str) -> str:
    return name.replace('"', '""')


def _gdal_values(path: Path, layer: str | None) -> list[tuple[object, str]]:
    """Any other GDAL source (GeoJSON, FlatGeobuf … saved from QGIS): its layers' fields."""
    import pyogrio

    from loaders.sources.read import gdal_source, list_layers

    read_path, opts = gdal_source(path)
    out: list[tuple[object, str]] = []
    for name, _kind in list_layers(read_path, opts):
        if layer is not None and name != layer:
            continue
        col = _dataset_field([str(f) for f in pyogrio.read_info(read_path, layer=name,
                                                                **opts)["fields"]])
        if col is not None:
            frame = pyogrio.read_dataframe(read_path, layer=name, columns=[col],
                                           read_geometry=False, **opts)
            out += [(v, col) for v in frame[col].tolist()]
    return out

"""Building survey loader (建筑物普查): footprints with Chinese or English attributes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from cim.coding.scheme import layer_code_of
from cim.errors import InputError
from cim.layerdefs import BUILDINGS
from cim.profile import CityProfile, merged_conversions, merged_number
from cim.text import norm_key
from loaders.column_values import distinct
from loaders.common import (
    ClassLookup,
    attrs_json,
    attrs_json_arrow,
    check_attrs_batch,
    geometry_field,
    id_column,
    jsonable,
    reject_record,
    row_attrs,
    source_keys,
    unnamed_field,
)
from loaders.dates import beyond_year, years
from loaders.engine.converted import Converted
from loaders.engine.fingerprint import SourceFingerprint
from loaders.engine.pipeline import LoadContext, run_direct_load
from loaders.engine.report import LoadReport, Reject
from loaders.field_names import all_matches
from loaders.fields import arrow_texts, is_blank, numbers
from loaders.geometry import as_multi, ewkb, multi_iso_wkb, prepare
from loaders.hashing import StoredRecipe, content_hashes_wkb
from loaders.jsonb import ordered
from loaders.sources.read import Batch
from loaders.sources.wkb import as_read_wkb, ewkb_from_iso

# what make_columns produces from a source row, beyond its code (a change of this module or of
# the shared conversion modules is seen by the fingerprint's code digest): change it when the
# conversion changes otherwise, so that reloads convert every row again
# (loaders/engine/fingerprint.py)
CONVERTER_VERSION = "buildings-1"

MAX_HEIGHT_M = 1000  # a building's height range, 0–1000 m (the table's check says so too)
SOLID_WITHOUT_HEIGHT = "solid_without_height"  # a LOD1 block with no z extent (flat, or 2D)
PARSERS = {
    # texts as Arrow arrays from their distinct values: the COPY buffer takes them so
    "name": lambda c: arrow_texts(c, 200),
    "structure": lambda c: arrow_texts(c, 50),
    # a count of storeys as surveys write it too: 3层, 12F (field_units.yaml: storeys)
    "floors_above": lambda c: numbers(c, 0, 300, integer=True, storeys=True),
    "floors_below": lambda c: numbers(c, 0, 30, integer=True, storeys=True),
    "height": lambda c: numbers(c, 0, MAX_HEIGHT_M),
    "year_built": years,
}


# field_units.yaml's key for the height (m) above which a building has a storey above ground
# (2.2 m, the city's value over the platform's): a 0 storeys above ground on a taller building
# is an exporter's "unknown" (3D City DB writes 0 when it has no count, ArcGIS a Shapefile's
# missing number): stored NULL, flagged floors_above_unknown, the 0 kept in attrs as
# delivered. A 0 on a lower structure (an underground garage's entry) stays 0
MIN_STOREY_KEY = "min_storey_height_m"
# a height below its storeys above ground × that lowest storey height: flagged, kept as given
HEIGHT_BELOW_STOREYS = "height_below_storeys"
# where a unit of measure names its unit after its authority's prefix:
# urn:ogc:def:uom:UCUM::mm, #m, http://www.opengis.net/def/uom/UCUM/0/ft
_UOM_TAIL = re.compile(r"^.*[:/#]")


# the columns the content hash takes, in its order (district and grid cell: not at all)
HASHED = StoredRecipe(("name", "use_code", "use_name", "structure", "floors_above",
                       "floors_below", "height", "year_built"))


def id_fields(ctx: LoadContext) -> list[str]:
    """The mapped id field first, then any other id-like fields of the source."""
    first = [ctx.mapping["source_id"]] if "source_id" in ctx.mapping else []
    aliases = ctx.profile.field_aliases.get("buildings", {}).get("source_id", [])
    return first + [f for f in all_matches(ctx.source.fields, aliases) if f not in first]


def _attrs(cols: Mapping[str, np.ndarray], n: int, columned: set[str],
           extra: dict[int, list[str]]) -> list[str] | pa.Array:
    """JSON of the source attributes that have no column (their values are stored in the
    columns: repeating them in attrs would only widen every row); ``extra`` names, per row,
    column fields kept all the same because the column does not hold their value (a height
    replaced by the solid's, a use the dictionary does not know)."""
    kept = {f: cols[f] for f in cols if f not in columned}  # columned ones: never converted
    if not extra:  # no row of its own: Arrow's texts, no Python text a row
        return attrs_json_arrow(kept, n)
    out = attrs_json(kept, n)
    for i, names in extra.items():
        a = {f: j for f in cols if (f not in columned or f in names)
             and ((j := jsonable(cols[f][i])) is not None or not unnamed_field(f))}
        out[i] = json.dumps(ordered(a), ensure_ascii=False)  # jsonb's key order, as above
    return out


def _keys(ctx: LoadContext, batch: Batch, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(source keys, the rows without an id): the id fields' keys, else the key of the stored
    (multi) geometry — built only for the rows without an id, so that a key never depends on
    the polygon being promoted here or in :func:`loaders.geometry.prepare`. An id column is
    taken as Arrow read it where the batch holds it so (blank ids told in Arrow: 0.5 s of a
    million rows' pandas ``str.strip`` saved)."""
    id_cols = [(f, id_column(batch, f)) for f in id_fields(ctx)]
    keys = np.asarray(source_keys(ctx.dataset, id_cols, None, n=len(geoms)), dtype=object)
    rest = np.flatnonzero(pd.isna(keys))
    if len(rest):
        keys[rest] = source_keys(ctx.dataset, [(f, batch.columns[f][rest]) for f, _ in id_cols],
                                 as_multi(geoms[rest], "polygon"))
    return keys, rest


class HeightUnits:
    """A GML height's unit of measure (``measuredHeight``'s ``uom``, read by GDAL as the field
    ``measuredHeight_uom``) to metres, by ``field_units.yaml``'s spellings and conversions (the
    city's over the platform's): ``urn:ogc:def:uom:UCUM::m``, ``#m``, ``m`` are metres, ``mm``
    and ``cm`` convert, an EPSG unit code (``urn:ogc:def:uom:EPSG::9001``) goes by its name
    (metre, foot), else by its size: the unit of ``field_units.yaml`` EPSG gives the same
    factor to metres (1025 millimetre is mm, 9036 kilometre km; 9003, the US survey foot, is
    none of them); any other unit is none the reader knows and its row is refused."""

    def __init__(self, profile: CityProfile) -> None:
        aliases = profile.field_aliases.get("buildings")
        self.spellings = aliases.spellings if aliases is not None else {}
        self.want = (aliases.units if aliases is not None else {}).get("height", "m")
        self.conversions = merged_conversions(
            profile.yaml_dictionary("field_units", "the field units")).get(self.want, {})
        self._factors: dict[str, float | None] = {}

    def factor(self, uom: object) -> float | None:
        """The factor from ``uom`` to the height's unit (1.0 for none given), None if unknown."""
        if is_blank(uom) or str(uom).strip() == "":
            return 1.0
        text = str(uom).strip()
        if text not in self._factors:
            self._factors[text] = self._factor(text)
        return self._factors[text]

    def factors(self, uoms) -> tuple[np.ndarray, np.ndarray, list]:
        """A uom column (Arrow as read, or objects) as (the factor a row, NaN for a unit none
        knows; each row's index into the distinct uoms, -1 for none given; those uoms): each
        distinct unit looked up once."""
        at, uniques = distinct(uoms)
        table = np.array([np.nan if f is None else f for f in map(self.factor, uniques)]
                         + [1.0], dtype=float)  # at -1: no unit given
        return table[at], at, uniques

    def _factor(self, text: str) -> float | None:
        tail = _UOM_TAIL.sub("", text)
        metres = None  # an EPSG unit's size in metres
        if tail.isdigit() and "epsg" in text.lower():  # an EPSG unit code: its name
            import pyproj

            unit = next((u for u in pyproj.get_units_map(auth_name="EPSG").values()
                         if u.code == tail), None)
            if unit is not None:
                tail, metres = unit.name, float(unit.conv_factor)
        unit = self.spellings.get(norm_key(tail))
        if unit is None and metres is not None and self.want == "m":  # by its size
            unit = next((u for u, f in {"m": 1.0, **self.conversions}.items()
                         if np.isclose(f, metres, rtol=1e-12, atol=0.0)), None)
        if unit == self.want:
            return 1.0
        return self.conversions.get(unit) if unit is not None else None


def _height_in_metres(raw, uoms, units: HeightUnits) -> tuple[np.ndarray, dict[int, str]]:
    """A height column read with its unit of measure a row (``measuredHeight_uom``, Arrow as
    read or objects): (metres in the height's range, {row index: problem}) — a number its
    parser refuses, a unit none of ``field_units.yaml``'s (its row refused naming the field
    and the unit). In NumPy: a factor a distinct unit, one multiplication."""
    raw_values, bad = numbers(raw)
    factor, at, uniques = units.factors(uoms)
    for i in np.flatnonzero(np.isnan(factor)):
        bad.setdefault(int(i), f"its unit of measure {uniques[at[i]]!r} is none the reader "
                               f"knows (field_units.yaml); the height is read in {units.want}")
    out, out_of_range = PARSERS["height"](pa.array(_floats(raw_values) * factor,
                                                   from_pandas=True))
    for i, msg in out_of_range.items():
        bad.setdefault(i, msg)
    return out, bad


def _floats(values: np.ndarray) -> np.ndarray:
    """A parsed number column (objects, None where there is none) as floats, NaN for None."""
    out = np.full(len(values), np.nan)
    given = values != None  # noqa: E711 (NumPy's comparison a row)
    out[given] = values[given].astype(float)
    return out


def _solid_heights(prep, problem: dict[int, tuple[str, str, str | None]],
                   field: str | None) -> np.ndarray:
    """The heights the rows' LOD1 solids carry (NaN: none). A solid whose z extent rounds
    to 0 — written flat, or in 2D (GDAL gives it Z 0) — carries no height: it was stored as
    a building 0 m tall, its measuredHeight set aside; now the height attribute applies and
    the row is flagged ``solid_without_height``. One taller than the height's range (z in
    millimetres, a stray vertex) is the row's problem naming the geometry field: it failed
    the whole load on the table's check, an internal error."""
    h = prep.solid_height.copy()
    with np.errstate(invalid="ignore"):  # NaN: no solid
        flat = np.flatnonzero(np.round(h, 2) == 0)
        tall = np.flatnonzero(h > MAX_HEIGHT_M)
    for i in flat:
        h[i] = np.nan
        prep.flags[i] = prep.flags[i] + [SOLID_WITHOUT_HEIGHT]
    for i in tall:
        problem.setdefault(int(i), (
            "bad_value", f"the solid's height {h[i]:,.2f} is outside 0–{MAX_HEIGHT_M} m (its "
            "z in another unit, or a stray vertex?)", field))
    return h


def make_columns(profile: CityProfile):
    """The batch converter: source batch → :class:`loaders.engine.converted.Converted`.

    Required for a building: a polygonal geometry. Attributes are optional: a source with no
    recognised field loads with every feature keyed by its geometry, attributes kept in attrs.
    Columns are parsed whole (the column functions of loaders.fields, loaders.dates and
    loaders.column_values); rows are touched one by one only to be rejected.
    """
    uses = ClassLookup(profile, "building_use")
    height_units = HeightUnits(profile)
    min_storey = merged_number(profile.yaml_dictionary("field_units", "the field units"),
                               MIN_STOREY_KEY)
    other = next((r for r in uses.rows if r["code"] == "99"), uses.rows[-1])

    def convert(batch: Batch, ctx: LoadContext) -> Converted:
        cols, m = batch.columns, ctx.mapping
        n = len(batch.geometries)
        # polygons stay polygons here (building one-part MultiPolygons costs more than the
        # rest of the checks); the stored MultiPolygon's WKB is written around their WKB
        prep = prepare(batch.geometries, ctx.transformer, "polygon", make_multi=False)
        keys, no_id = _keys(ctx, batch, prep.geoms)
        # in Arrow from the column as read (no Python bytes a row), when the batch holds it
        iso = multi_iso_wkb(prep.geoms, "polygon",
                            as_read_wkb(batch.wkb, batch.geometries, prep.geoms,
                                        batch.wkb_arrow), arrow=batch.wkb_arrow)
        # problems per row, the first one found wins: geometry, then attributes in order
        problem: dict[int, tuple[str, str, str | None]] = {
            i: (r[0], r[1], geometry_field(ctx.source)) for i, r in enumerate(prep.reject)
            if r is not None}
        solid_height = _solid_heights(prep, problem, geometry_field(ctx.source))
        values: dict[str, np.ndarray] = {}
        for attr, parse in PARSERS.items():
            src = m.get(attr)
            if src is None:
                values[attr] = np.full(n, None, dtype=object)
                continue
            uom = f"{src}_uom"  # a GML measure's unit (CityGML measuredHeight uom="mm")
            if attr == "height" and uom in cols and uom not in m.values():
                values[attr], bad = _height_in_metres(batch.for_parser(src),
                                                      batch.for_parser(uom), height_units)
            else:
                values[attr], bad = parse(batch.for_parser(src))  # as read: no object a row
            for i, msg in bad.items():
                if attr == "height" and np.isfinite(solid_height[i]):
                    continue  # a 3D solid carries its height (below)
                problem.setdefault(i, ("bad_value", f"field {src!r}: {msg}", src))
        # LOD1 blocks: the height is the solid's; a height attribute is kept in attrs
        solid = np.flatnonzero(np.isfinite(solid_height))
        values["height"][solid] = np.round(solid_height[solid], 2).astype(object)
        extra: dict[int, list[str]] = {}
        if "height" in m:
            for i in solid:
                extra.setdefault(int(i), []).append(m["height"])
        flags = prep.flags
        if "floors_above" in m:  # 0 storeys above ground on a building a storey tall: unknown
            # — unless it has storeys below ground: a basement-only structure (an underground
            # garage) whose height is its depth has 0 storeys above ground indeed
            floors = values["floors_above"]
            with np.errstate(invalid="ignore"):  # NaN: no value, compared False
                unknown = np.flatnonzero((_floats(floors) == 0)
                                         & (_floats(values["height"]) > min_storey)
                                         & ~(_floats(values["floors_below"]) > 0))
            floors[unknown] = None
            for i in unknown:  # the rows found only
                flags[i] = flags[i] + ["floors_above_unknown"]
                extra.setdefault(int(i), []).append(m["floors_above"])
            # lower than its storeys can be (30 storeys at 10 m): one of the two is wrong, and
            # which one the survey must say — both kept as delivered, the row flagged, so that
            # a spacing or sunlight check resting on that height can be told apart. One storey
            # is not judged (a shed's height surveyed at the eaves is often under 2.2 m)
            with np.errstate(invalid="ignore"):
                nf = _floats(floors)
                low = np.flatnonzero((nf >= 2) & (_floats(values["height"]) < nf * min_storey))
            for i in low:
                flags[i] = flags[i] + [HEIGHT_BELOW_STOREYS]
        if "year_built" in m:  # a date (2005-06-01) is more than its year: kept as typed
            typed = beyond_year(batch.for_parser(m["year_built"]))
            for i in np.flatnonzero(typed & (values["year_built"] != None)):  # noqa: E711
                extra.setdefault(int(i), []).append(m["year_built"])
        for i, (f, msg) in check_attrs_batch(cols, arrow=batch.arrow).items():
            problem.setdefault(i, ("bad_value", f"field {f!r}: {msg}", f))
        # each distinct use looked up once, given to its rows by index
        at, distinct_uses = distinct(batch.for_parser(m["use"]) if "use" in m
                                     else np.full(n, None, dtype=object))
        distinct_uses.append(None)  # at -1: a missing use
        found = [uses.find(v) for v in distinct_uses]
        codes_of = [u["code"] if u else other["code"] for u in found]
        use_code = np.array(codes_of, dtype=object)[at]  # the class of the new codes
        # the columns in Arrow, taken from the distinct uses (the COPY buffer's form)
        at_use = pa.array(np.where(at < 0, len(found) - 1, at))
        use_code_column = pa.array(codes_of, pa.string()).take(at_use)
        use_name = pa.array([u["name"] if u else other["name"] for u in found],
                            pa.string()).take(at_use)
        for i in np.flatnonzero(np.array([u is None for u in found], dtype=bool)[at]):
            v = distinct_uses[at[i]]
            blank = is_blank(v) or str(v).strip() == ""
            flags[i] = flags[i] + ["use_missing" if blank else "use_unmapped"]
            if not blank:
                extra.setdefault(int(i), []).append(m["use"])
        parsed = {"name": values["name"], "use_code": use_code_column, "use_name": use_name,
                  "structure": values["structure"], "floors_above": values["floors_above"],
                  "floors_below": values["floors_below"], "height": values["height"],
                  "year_built": values["year_built"]}
        # unset on a first load: taken from the stored row when a reload compares it
        hashes = content_hashes_wkb(parsed, iso) if ctx.hash_rows else \
            np.full(n, None, dtype=object)
        keep = np.ones(n, dtype=bool)
        rejects: list[Reject] = []
        # a rejected row keeps its key (a --mode replace load then leaves its feature's
        # current version alone: it retired a building whose new geometry was rejected),
        # except a key made of a geometry that was not read
        unkeyed = np.zeros(n, dtype=bool)
        unkeyed[no_id] = True
        for i, (reason, msg, field) in sorted(problem.items()):
            keep[i] = False
            rejects.append(reject_record(
                batch.row(i), reason, msg, row_attrs(cols, i), batch.geometries[i],
                None if prep.geoms[i] is None and unkeyed[i] else keys[i], field=field))
        idx = np.flatnonzero(keep)
        columned = {m[a] for a in (*PARSERS, "use", "source_id") if a in m}
        attrs = _attrs(cols, n, columned, extra)
        wkb = ewkb_from_iso(iso if len(idx) == n else
                            iso.take(pa.array(idx)) if isinstance(iso, pa.Array) else iso[idx],
                            ctx.srid)
        if wkb is None:
            wkb = ewkb(as_multi(prep.geoms[idx], "polygon"), ctx.srid)
        return Converted(
            index=idx, source_key=keys[idx], row_hash=hashes[idx],
            attrs=attrs.take(pa.array(idx)) if isinstance(attrs, pa.Array)
            else [attrs[i] for i in idx], flags=[flags[i] for i in idx],
            geoms=prep.geoms[idx], ewkb=wkb, class_code=use_code[idx],
            columns={c: v if len(idx) == n else v.take(pa.array(idx))
                     if isinstance(v, pa.Array) else v[idx] for c, v in parsed.items()},
            rejects=rejects)

    return convert


def _dictionaries(ctx: LoadContext) -> list:
    """What the conversion reads of the city's dictionaries (the reload's fingerprint: a city
    that edits one converts its unchanged rows again): the uses, the lowest storey height and
    the height's unit spellings and factors (field_units.yaml)."""
    units = HeightUnits(ctx.profile)
    return [ClassLookup(ctx.profile, "building_use").rows,
            merged_number(ctx.profile.yaml_dictionary("field_units", "the field units"),
                          MIN_STOREY_KEY), units.spellings, units.conversions]


# geometry types (as GDAL names a layer's) a footprint is read from, and those it is not
_POLYGONAL = ("polygon", "surface", "tin")
_NOT_POLYGONAL = ("point", "line", "curve", "string")
# the files that hold several layers: a single-layer format is not opened twice (GDAL scans
# a whole GeoJSON to open it), a CityGML model's reader picks its Building layer itself
_SEVERAL_LAYERS = (".gpkg", ".sqlite", ".gdb", ".zip", ".kml", ".kmz")


def _footprint_layer(path: Path, source_layer: str | None) -> tuple[str, str] | None:
    """(the layer to read, the report's note) for a file of several layers none of which is
    named, whose first layer with geometry is of points or lines: its first polygon layer.
    The reader takes the first layer with geometry, and a GeoPackage of 道路, 注记 and 房屋
    loaded its road as a building — rejected as wrong_geometry_type, the load "succeeded"
    with nothing loaded — and left its 房屋 unread. None: the reader's own choice (a polygon
    or unknown type first, a single layer, a named one, no polygon layer at all)."""
    if source_layer is not None or not path.exists() \
            or path.suffix.lower() not in _SEVERAL_LAYERS:
        return None
    import pyogrio

    from loaders.sources.gdal_access import first_with_features
    from loaders.sources.read import GDAL_INPUT_ERRORS, gdal_source, list_layers

    try:
        read_path, opts = gdal_source(path)
        spatial = [(n, t.lower()) for n, t in list_layers(read_path, opts) if t is not None]
        if len(spatial) < 2 or any(w in spatial[0][1] for w in _POLYGONAL) \
                or not any(w in spatial[0][1] for w in _NOT_POLYGONAL):
            return None
        polygons = [n for n, t in spatial if any(w in t for w in _POLYGONAL)]
        if not polygons:
            return None
        # the first polygon layer with features (an empty template's gives way to it)
        chosen = first_with_features(read_path, opts,
                                     [(n, t) for n, t in spatial if n in polygons]) \
            or polygons[0]
    except (OSError, InputError, UnicodeDecodeError, *GDAL_INPUT_ERRORS):
        return None  # the reader says what is wrong with the file
    others = []
    for name, _t in spatial:
        if name == chosen:
            continue
        try:  # (a count is a courtesy: the layer is named anyway)
            n = pyogrio.read_info(read_path, layer=name, **opts).get("features")
        except (UnicodeDecodeError, *GDAL_INPUT_ERRORS):
            n = None
        others.append(f"{name!r}" + (f" ({n:,} feature{'s' if n != 1 else ''})"
                                     if n is not None and n >= 0 else ""))
    return chosen, (f"read layer {chosen!r}, the first of polygons with features (a "
                    f"building's footprint is one); not read: {', '.join(others)} — load each "
                    "with --layer NAME")


def load_buildings(conninfo: str, profile: CityProfile, path: str | Path, **kw) -> LoadReport:
    """Load a building survey: written directly into the layer (see
    :mod:`loaders.engine.direct`); the report's notes say which field names cut at a .dbf's
    10 bytes were read as which (:class:`loaders.field_names.CutNames`)."""
    path = Path(path)
    chosen = _footprint_layer(path, kw.get("source_layer"))
    if chosen is not None:
        kw["source_layer"] = chosen[0]
    try:
        report = run_direct_load(conninfo, profile, BUILDINGS,
                                 layer_code_of(profile, "buildings"), make_columns(profile),
                                 path, aliases=profile.field_aliases.get("buildings", {}),
                                 fingerprint=SourceFingerprint(
                                     "buildings", CONVERTER_VERSION, id_fields,
                                     _dictionaries,
                                     __name__),
                                 recipe=HASHED, **kw)
    except InputError as exc:
        if exc.path is not None:
            raise
        # a problem of the input raised where the file is not known (CRS detection, the
        # merge): name the file all the same
        raise type(exc)(exc.message, path=str(path), row=exc.row, field=exc.field) from exc
    if chosen is not None:
        report.notes.append(chosen[1])
    return report

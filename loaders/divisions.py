"""District boundaries and unit grid cells of the city profile (`cim profile apply`).

Their codes are not allocated: they are the official GB/T 2260 district codes and the city's
15-digit grid codes, checked here and recorded in the registry like any other code.
"""

from __future__ import annotations

import math
from pathlib import Path

import psycopg
import shapely
from psycopg.types.json import Jsonb

from cim.errors import ConfigError, InputError
from cim.layerdefs import ADMIN_DIVISIONS, GRID_CELLS, LayerDef
from cim.numbers import ValueProblem
from cim.profile import (
    DICTIONARY_DIR,
    CityProfile,
    District,
    check_new_city,
    read_yaml_mapping,
)
from cim.profile import create_profile as write_new_profile
from loaders.common import (
    content_hash,
    delivered_wkts,
    geometry_field,
    reject_record,
    row_attrs,
)
from loaders.engine.bulk import EWKB
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.places import current_districts
from loaders.engine.report import LoadReport, Reject
from loaders.engine.rows import StagedRows, layer_values
from loaders.excel_notation import as_id
from loaders.field_names import map_fields
from loaders.fields import as_text
from loaders.geometry import ewkb, prepare
from loaders.places_refresh import out_of_place_notes
from loaders.sources.read import Batch, iter_batches, open_source

# a grid cell less than this share of whose area lies in the district its code names is
# flagged outside_coded_district (cells are drawn within their districts; an edge's
# digitising differences stay under it)
CODED_DISTRICT_SHARE = 0.9


def _coded_converter(layer: LayerDef, length: int, profile: CityProfile,
                     district_areas: dict[str, object] | None = None):
    districts = {d.code for d in profile.districts}
    layer_name = layer.name

    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        m, cols = ctx.mapping, batch.columns
        if "code" not in m:
            raise ConfigError(f"{ctx.source.path}: no code field (fields: "
                              f"{', '.join(ctx.source.fields)})")
        prep = prepare(batch.geometries, ctx.transformer, "polygon")
        wkbs = ewkb(prep.geoms, ctx.srid)
        delivered = delivered_wkts(batch.geometries)  # what a reject of the merge keeps
        rows, rejects = StagedRows(layer, delivered=True), []
        for i in range(len(batch.geometries)):
            row_no = batch.row(i)
            attrs = row_attrs(cols, i)
            try:
                code = as_text(cols[m["code"]][i]) or ""
            except ValueProblem as exc:
                rejects.append(reject_record(row_no, "bad_code", str(exc), attrs,
                                             batch.geometries[i], None, field=m["code"]))
                continue
            if code.endswith(".0"):
                code = code[:-2]
            key = f"{layer_name}:{code}"
            try:
                name = as_text(cols[m["name"]][i]) if "name" in m else None
            except ValueProblem as exc:
                rejects.append(reject_record(row_no, "bad_value", f"field {m['name']!r}: {exc}",
                                             attrs, batch.geometries[i], key, field=m["name"]))
                continue
            problem, at = prep.reject[i], geometry_field(ctx.source)  # a geometry's problem
            if problem is None:
                at = m["code"]
            if problem is None and not (code.isdigit() and len(code) == length):
                problem = ("bad_code", f"code {code!r} is not {length} digits")
            if problem is None and code[:6] not in districts:
                problem = ("unknown_district",
                           f"district {code[:6]} is not among the profile's districts")
            if problem is not None:
                rejects.append(reject_record(row_no, problem[0], problem[1], attrs,
                                             batch.geometries[i], key, field=at))
                continue
            if layer_name == "admin_divisions":
                vals = {"name": name or profile.district_name(code), "level": 3,
                        "parent_code": profile.city_code}
            else:
                vals = {"name": name, "district_code": code[:6], "street_code": code[:9],
                        "community_code": code[:12]}
            flags = prep.flags[i]
            area = (district_areas or {}).get(code[:6])
            if area is not None and prep.geoms[i] is not None:
                cell = prep.geoms[i]
                share = shapely.area(shapely.intersection(cell, area)) / max(cell.area, 1e-9)
                if share < CODED_DISTRICT_SHARE:  # a cell of 370811 drawn in 370826
                    flags = flags + ["outside_coded_district"]
                    attrs = {**attrs, "_share_in_coded_district": round(float(share), 4)}
            values = layer_values(layer, vals)
            rows.append(row_no=row_no, source_key=key, row_hash=content_hash(values, wkbs[i]),
                        attrs=Jsonb(attrs), flags=flags, geom=EWKB(wkbs[i]), code=code,
                        delivered_wkt=delivered[i], **vals)
        return rows, rejects

    return convert


def check_zone(storage_crs: str, boundary: str | Path, profile_path: str | None = None,
               crs: str | None = None) -> None:
    """ConfigError naming ``storage_crs`` where it does not fit where the boundary lies
    (:func:`cim.profile.zone_problem`: a zone digit mistyped); nothing where the boundary's
    place cannot be told here (no CRS, a file GDAL cannot summarise: its load says why)."""
    import pyogrio

    from cim.crs import CGCS2000_GEOG, transformer
    from cim.profile import zone_problem
    from loaders.sources.read import GDAL_INPUT_ERRORS, gdal_source

    try:
        read_path, opts = gdal_source(Path(boundary))
        info = pyogrio.read_info(read_path, force_total_bounds=True, **opts)
        x0, y0, x1, y1 = (float(v) for v in info["total_bounds"])
        src = crs or info.get("crs")
    except (*GDAL_INPUT_ERRORS, OSError, KeyError, TypeError, ValueError):
        return
    if not src or not all(map(math.isfinite, (x0, y0, x1, y1))):
        return
    try:  # (the platform's one CRS module: cached, easting first)
        t = transformer(src, CGCS2000_GEOG)
    except InputError:
        return  # a CRS PROJ cannot relate: the load says so
    lon, lat = t.transform([x0, x0, x1, x1, (x0 + x1) / 2], [y0, y1, y0, y1, (y0 + y1) / 2])
    if not all(map(math.isfinite, [*lon, *lat])):
        return
    problem = zone_problem(storage_crs, lon, lat)
    if problem:
        raise ConfigError(problem, path=profile_path, field="storage_crs")


def load_districts(conninfo: str, profile: CityProfile, path: str | Path | None = None,
                   **kw) -> LoadReport:
    path = path or profile.boundaries
    if path is None:
        raise ConfigError("the profile names no boundaries file", path=str(profile.path))
    check_zone(profile.storage_crs, path, str(profile.path), kw.get("crs"))
    kw.setdefault("encoding", profile.encodings.get("boundaries"))
    report = run_load(conninfo, profile, ADMIN_DIVISIONS, None,
                      _coded_converter(ADMIN_DIVISIONS, 6, profile), path,
                      aliases=profile.field_aliases.get("admin_divisions", {}),
                      dataset="admin_divisions", **kw)
    with psycopg.connect(conninfo) as conn:
        held = {c for c, in conn.execute("SELECT code FROM admin_divisions "
                                         "WHERE valid_to IS NULL AND level = 3")}
        overlaps = conn.execute(
            "SELECT a.code, b.code, ST_Area(ST_Intersection(a.geom, b.geom)) FROM "
            "admin_divisions a JOIN admin_divisions b ON a.code < b.code "
            "AND ST_Intersects(a.geom, b.geom) WHERE a.valid_to IS NULL AND a.level = 3 "
            "AND b.valid_to IS NULL AND b.level = 3 "
            "AND ST_Area(ST_Intersection(a.geom, b.geom)) > 1").fetchall()
        # gaps the districts enclose between them (holes of their union): a feature there
        # is outside every district, rejected row by row as outside_area with no word of the
        # boundaries; the union of a city's few districts is cheap
        gaps = conn.execute(
            "WITH u AS (SELECT (ST_Dump(ST_Union(geom))).geom AS g FROM admin_divisions "
            "WHERE valid_to IS NULL AND level = 3), r AS (SELECT ST_MakePolygon("
            "ST_InteriorRingN(g, n)) AS h FROM u, generate_series(1, ST_NumInteriorRings(g)) n) "
            "SELECT ST_Area(h), ST_X(p), ST_Y(p) FROM r, ST_PointOnSurface(h) p "
            "WHERE ST_Area(h) > 1 ORDER BY ST_Area(h) DESC").fetchall()
    if overlaps:  # a feature there goes to the lower code
        report.notes.append("districts overlap (a feature in both goes to the lower code): "
                            + ", ".join(f"{a} and {b} ({area:,.0f} m²)"
                                        for a, b, area in overlaps))
    if gaps:
        more = f" and {len(gaps) - 10} more" if len(gaps) > 10 else ""
        report.notes.append(
            "districts leave gaps enclosed between them (a feature there is outside every "
            "district, rejected as outside_area): " + ", ".join(
                f"{area:,.0f} m² around X (northing) {y:,.1f}, Y (easting) {x:,.1f}"
                for area, x, y in gaps[:10]) + more)
    missing = sorted(d.code for d in profile.districts if d.code not in held)
    if missing:  # features there will be outside every district
        report.notes.append("districts of the profile with no boundary: " + ", ".join(
            f"{c} {profile.district_name(c)}" for c in missing))
    # features loaded before these boundaries keep the districts they were given (asked
    # only when the load changed a boundary: the question reads every placed layer, ~2 s of
    # CPU a million footprints, and a profile apply loads the units each time)
    if _changed(report):
        report.notes += out_of_place_notes(conninfo)
    return report


def _changed(report: LoadReport) -> bool:
    """Whether a units load wrote or retired any unit (else no feature can be out of place
    that was not before it)."""
    return bool(report.inserted or report.updated or report.retired)


def load_grid(conninfo: str, profile: CityProfile, path: str | Path | None = None,
              **kw) -> LoadReport:
    path = path or profile.grid
    if path is None:
        raise ConfigError("the profile names no grid file", path=str(profile.path))
    kw.setdefault("encoding", profile.encodings.get("grid"))
    report = run_load(conninfo, profile, GRID_CELLS, None,
                      _coded_converter(GRID_CELLS, 15, profile, _district_areas(conninfo)),
                      path, aliases=profile.field_aliases.get("grid_cells", {}),
                      dataset="grid_cells", **kw)
    # features loaded before these cells keep the cells (or none) they were given: a reload
    # of them finds their content unchanged and never places them again
    if _changed(report):
        report.notes += _grid_overlap_notes(conninfo)
        report.notes += out_of_place_notes(conninfo)
    return report


# how many overlapping pairs of grid cells a note names (the rest are counted)
OVERLAPS_NAMED = 20


def _grid_overlap_notes(conninfo: str) -> list[str]:
    """Cells sharing area: a component there goes to the lower code and the other cell loses
    it — across a district line, a component of one district gets a cell of the other. Such a
    grid loaded with no word (only a cell mostly outside its coded district was flagged).
    Pairs whose interiors meet (``ST_Relate`` 'T********'), not cells merely sharing an edge:
    the area of every touching neighbour's intersection is not computed."""
    with psycopg.connect(conninfo) as conn:
        pairs = conn.execute(
            "SELECT a.code, b.code, ST_Area(ST_Intersection(a.geom, b.geom)) AS shared "
            "FROM grid_cells a JOIN grid_cells b ON a.code < b.code "
            "AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, 'T********') "
            "WHERE a.valid_to IS NULL AND b.valid_to IS NULL ORDER BY a.code, b.code"
        ).fetchall()
    pairs = [(a, b, area) for a, b, area in pairs if area > 1]  # digitising slivers pass
    if not pairs:
        return []
    more = len(pairs) - OVERLAPS_NAMED
    return ["grid cells overlap (a component in both goes to the lower code): " + ", ".join(
        f"{a} and {b} ({area:,.0f} m²)" for a, b, area in pairs[:OVERLAPS_NAMED])
        + (f" and {more} more pairs" if more > 0 else "")]


def _district_areas(conninfo: str) -> dict[str, object]:
    """The current districts' areas by code, prepared: a grid cell is checked against the
    district its code names."""
    with psycopg.connect(conninfo) as conn:
        codes, geoms = current_districts(conn)
    shapely.prepare(geoms)
    return dict(zip(codes, geoms))


def boundary_districts(path: str | Path, *, city_code: str | None = None,
                       encoding: str | None = None) -> tuple[list[District], list[str]]:
    """The districts (code, name) a boundary file holds, for a new city's profile, read as
    the loaders read any delivery: a Shapefile's encoding detected (a GBK .dbf without .cpg
    read as Latin-1 had no field of the aliases left), the fields by their aliases, codes as
    ids (370811.0 is 370811). Returns the districts in file order and notes for the user.

    A code in two rows is refused (a district in parts: `profile apply` loads one feature a
    district), naming both rows; a row without a name is named by its code, noted; codes
    outside ``city_code``'s first four digits are noted (a county-level city under the
    province is coded so)."""
    path = Path(path)
    src = open_source(path, encoding=encoding)
    aliases = read_yaml_mapping(DICTIONARY_DIR / "field_aliases.yaml",
                                "the field aliases").get("admin_divisions", {})
    m = map_fields(src.fields, aliases, where=str(path))
    if "code" not in m:
        raise InputError(f"no district code field (one of {', '.join(aliases.get('code', []))}"
                         f"); its fields: {', '.join(src.fields) or 'none'}", path=str(path))
    notes = list(src.notes)
    found: dict[str, tuple[str | None, int]] = {}  # code: (name, first row)
    for batch in iter_batches(src, python_values=True):
        cols = batch.columns
        for i in range(len(batch)):
            row = batch.row(i)
            try:
                code = as_id(cols[m["code"]][i]) or ""
            except ValueProblem as exc:
                raise InputError(str(exc), path=str(path), row=row, field=m["code"]) from None
            if not (code.isdigit() and len(code) == 6):
                raise InputError(f"district code {code!r} is not 6 digits", path=str(path),
                                 row=row, field=m["code"])
            try:
                name = as_text(cols[m["name"]][i]) if "name" in m else None
            except ValueProblem as exc:
                raise InputError(str(exc), path=str(path), row=row, field=m["name"]) from None
            if code not in found:
                found[code] = (name, row)
                continue
            first_name, first_row = found[code]
            if name and first_name and name != first_name:
                raise InputError(f"district {code} is named {first_name!r} in row {first_row} "
                                 f"and {name!r} here", path=str(path), row=row,
                                 field=m.get("name"))
            # `profile apply` loads one feature a district (a second is a duplicate of its
            # code, rejected, its area outside every district): refused here, before a
            # profile is written over a file that cannot be applied whole
            raise InputError(f"district {code} is delivered in several features (rows "
                             f"{first_row} and {row}): dissolve its parts into one multipolygon "
                             "(QGIS: Vector ▸ Geoprocessing Tools ▸ Dissolve, by the code field)",
                             path=str(path), row=row, field=m["code"])
    if not found:
        raise InputError("the boundary file holds no district", path=str(path))
    if "name" not in m:
        notes.append("no district name field (one of "
                     f"{', '.join(aliases.get('name', []))}): districts named by their codes")
    unnamed = [c for c, (n, _r) in found.items() if not n]
    if unnamed and "name" in m:
        notes.append(f"districts without a name, named by their codes: {', '.join(unnamed)}")
    if city_code:
        foreign = [c for c in found if c[:4] != city_code[:4]]
        if foreign:
            notes.append(f"district codes outside the city's {city_code[:4]}xx: "
                         + ", ".join(foreign))
    return [District(c, n or c) for c, (n, _r) in found.items()], notes


def create_profile(out: str | Path, *, name: str, admin_code: str, storage_crs: str,
                   boundary: str | Path, grid: str | Path | None = None,
                   encoding: str | None = None, notes: list[str] | None = None
                   ) -> CityProfile:
    """A new city's profile written to ``out``, its districts read from ``boundary``
    (:func:`boundary_districts`); what the reading noted is appended to ``notes``."""
    check_new_city(admin_code, storage_crs)
    check_zone(storage_crs, boundary)
    districts, said = boundary_districts(boundary, city_code=admin_code, encoding=encoding)
    if notes is not None:
        notes.extend(said)
    return write_new_profile(Path(out), name=name, admin_code=admin_code,
                             storage_crs=storage_crs, boundary=Path(boundary),
                             districts=districts, grid=Path(grid) if grid else None,
                             encoding=encoding)

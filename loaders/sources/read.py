"""Reading any GDAL vector source in streamed batches, with the quirks of Chinese deliveries.

:func:`open_source` inspects a source (prechecks, layer, encoding, CRS, fields) and
:func:`iter_batches` streams it. Their parts live beside them: how GDAL is pointed at a
delivery without writing beside it and what it raises (:mod:`loaders.sources.gdal_access`),
the CRS a GML, GeoJSON or EWKT CSV names its own way (:mod:`loaders.sources.file_crs`), the
text encoding of a .dbf and the check that a batch's text is in it
(:mod:`loaders.sources.text_encoding`), the batches themselves (:mod:`loaders.sources.batch`).
What other modules import of them from here (``Batch``, ``GDAL_INPUT_ERRORS``,
``gdal_source``, ``list_layers``, ``scratch_dir`` …) stays importable from here.

Only the errors listed in :data:`GDAL_INPUT_ERRORS` mean "GDAL cannot read this input"; any
other exception is a bug and is left to propagate with its traceback.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow
import pyarrow.compute
import pyogrio
import pyogrio.errors
import pyproj
import shapely

from cim.crs import crs_text, epsg_of, parse_crs
from cim.errors import InputError
from loaders.field_names import export_fields  # noqa: F401 (read here by the table readers)
from loaders.sources.batch import Batch  # the reader's batches (imported from here too)
from loaders.sources.citygml import building_parts_merged as _building_parts_merged
from loaders.sources.citygml import check_one_crs
from loaders.sources.citygml import is_citygml as _is_citygml
from loaders.sources.csv_geometry import (
    ewkt_as_wkb,
    geometry_text_apart,
    geometry_text_field,
)
from loaders.sources.dbf import detect_dbf_encoding
from loaders.sources.file_crs import ewkt_crs, geojson_projected_without_crs, gml_srs_name_crs
from loaders.sources.gdal_access import (
    GDAL_INPUT_ERRORS,
    first_with_features,
    gdal_message,
    gdal_source,
    is_gml,
    layers_not_read,
    list_layers,
    named_layer,
    remove_scratch,
    scratch_dir,
    solids_as_faces,
)
from loaders.sources.precheck import TEXT_TABLE_SUFFIXES, precheck
from loaders.sources.row_numbers import blank_rows, header_rows, next_row, rows_of
from loaders.sources.table_checks import (
    check_gpkg_numbers,
    gpkg_numbers_ahead,
    is_utf8_name,
)
from loaders.sources.text_encoding import (
    check_text,
    dbf_path,
    dxf_utf8,
    encoding_advice,
    utf8_chinese,
    utf8_copy,
)
from loaders.sources.wkb import faces_wkb
from loaders.sources.zipped_table import zipped_text_table

_NO_GEOMETRY_HINTS = {
    "CSV": "a CSV needs the footprint as WKT in a column named WKT or geometry "
           "(X/Y columns give points, not footprints)",
    "XLSX": "an Excel sheet carries no geometry GDAL can read; save it as 'CSV UTF-8' with "
            "the footprint as WKT in a column named WKT",
    "ODS": "a spreadsheet carries no geometry GDAL can read; save it as 'CSV UTF-8' with "
           "the footprint as WKT in a column named WKT",
}


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
    open_options: dict[str, str] = field(default_factory=dict)  # GDAL dataset open options
    read_path: Path | None = None  # what GDAL actually reads, when not ``path`` (see _solids)
    # the column a CSV's geometry is read from as WKT (csv_geometry_options): not among the
    # fields, its text kept for the rows GDAL reads no geometry from (Batch.unread_geometries)
    geometry_field: str | None = None
    # why the file's own CRS (its .prj, srsName, "crs" member) was not taken, if it has one:
    # the load's "no CRS" error says so (loaders.engine.area) instead of "missing .prj?"
    crs_set_aside: str | None = None
    # a rejects export's own columns (cim_row, cim_reason, cim_field, cim_message and
    # cim_dataset: layers.rejects, loaders.field_names.export_fields), in a fixed export loaded
    # again: never read as the features' attributes
    export_fields: tuple[str, ...] = ()
    # a survey table read as points (loaders.sources.xy_table): its X and Y columns (the
    # geometry_field names them both, X坐标/Y坐标, for the rejects of a point's place) and the
    # column of the scratch copy holding each row's number in the delivered table
    coordinate_fields: tuple[str, str] | None = None
    row_field: str | None = None
    stored_names: dict[str, str] | None = None  # the copy's column → the delivered header
    # the SRID a CSV's geometry column names as EWKT (SRID=4527;POINT …), read as its CRS
    ewkt_srid: int | None = None
    # rows before the first feature as a spreadsheet numbers them: a text table's header
    # (its first feature is row 2, as the survey tables' reader numbers it)
    header_rows: int = 0
    # a text table's empty lines GDAL skips, a spreadsheet shows as rows: for each, how many
    # features come before it (:func:`loaders.sources.row_numbers.blank_rows`); None where there is none
    blank_rows: np.ndarray | None = None
    # a check of the file still running on a thread (open_source's checks_ahead): waited
    # for by :meth:`wait_checks`
    pending_checks: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def wait_checks(self) -> None:
        """Wait for the checks :func:`open_source` left running (``checks_ahead``); raise
        their refusal. Before a fork, and before the load's last batch is written."""
        pending, self.pending_checks = self.pending_checks, None
        if pending is not None:
            pending()


# from how many features a GeoPackage's number check runs beside the opening of a load
# (open_source's checks_ahead); a smaller file's costs less than the thread's hand-over
CHECK_AHEAD_ROWS = 100_000


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
                encoding: str | None = None, open_options: dict[str, str] | None = None,
                require_geometry: bool = True, checks_ahead: bool = False) -> Source:
    """Inspect a vector source; clear InputError for anything GDAL cannot open or use.

    Before GDAL parses anything, :func:`loaders.sources.precheck.precheck` refuses unsafe XML and
    catches broken Shapefiles, non-UTF-8 CSV and bad Excel headers. A source without a
    geometry column or without features is refused (``require_geometry``).
    ``checks_ahead``: a large GeoPackage's number check runs on a thread, its refusal
    raised by :meth:`Source.wait_checks` (which :func:`iter_batches` calls after the last
    batch, and a caller that forks before it)."""
    path = Path(path)
    _check_path(path)
    zipped = zipped_text_table(path, layer)
    if zipped is not None:
        return _zipped(path, *zipped, layer, encoding, open_options, require_geometry)
    xy = _xy_table(path, encoding, layer)
    if xy is not None:
        return xy
    text_encoding = encoding if path.suffix.lower() in TEXT_TABLE_SUFFIXES \
        and encoding is not None and not is_utf8_name(encoding) else None
    notes: list[str] = []
    if text_encoding is not None and utf8_chinese(path):
        notes.append(f"--encoding {text_encoding} not taken: the text is UTF-8 (its Chinese "
                     "characters read as UTF-8; as GBK they would be others)")
        text_encoding = encoding = None
    precheck(path, layer, text_encoding)
    if text_encoding is not None:  # GDAL reads a CSV as UTF-8 only: a copy in UTF-8
        read_path, opts = gdal_source(utf8_copy(path, text_encoding), open_options)
        notes.append(f"text encoding {text_encoding} (given)")
        encoding = None
    else:
        read_path, opts = gdal_source(path, open_options)
    if path.suffix.lower() == ".dxf" and "ENCODING" not in opts \
            and (why := dxf_utf8(path)) is not None:
        opts = {**opts, "ENCODING": "UTF-8"}
        notes.append(f"text read as UTF-8 ({why})")
    gml = path.suffix.lower() in (".gml", ".citygml") or is_gml(path)
    # the CRS its srsName names, for when GDAL gives none: GDAL takes a CRS from the
    # geometries' srsName only, and a city model names it once, on an Envelope (Potsdam's)
    named, order = gml_srs_name_crs(path, notes) if gml else (None, "xy")
    aside = notes[-1] if gml and named is None and notes else None  # an unresolvable srsName
    if gml:
        notes += check_one_crs(path)
    merged = _building_parts_merged(read_path) if gml else None
    if merged is not None:
        read_path, n_merged, n_aside, aside_names = merged
        if n_merged:
            notes.append(f"{n_merged} CityGML building(s) made of BuildingParts read as one "
                         "solid of all their parts' faces (GDAL reads one part of each)")
        if n_aside:
            notes.append(f"{n_aside} CityGML building(s) read from their LOD1 solid (else "
                         f"their lowest LOD), their other geometries set aside ({aside_names}):"
                         " GDAL reads a building's last geometry only")
    dbf = dbf_path(path, layer)
    if encoding is not None and dbf is None:
        # GeoPackage, GeoJSON, GML … declare their encoding (UTF-8); only .dbf needs telling
        notes.append(f"--encoding {encoding} ignored: it applies to Shapefile/DBF attributes")
        encoding = None
    if dbf is not None:  # --encoding checked against the bytes too
        try:
            encoding, why = detect_dbf_encoding(dbf, encoding)
        except InputError as exc:
            if path.suffix.lower() != ".zip":
                raise
            raise InputError(f"{dbf.name} (in the zip): {exc.message}", path=str(path),
                             row=exc.row, field=exc.field) from exc
        if encoding:
            notes.append(f"attribute encoding {encoding} ({why})")
        elif "cut inside a character" in why:  # its .cpg's, left to GDAL: the cuts noted
            notes.append(f"attribute encoding as its .cpg says ({why})")
    try:
        try:
            layers = list_layers(read_path, opts)
        except pyogrio.errors.GeometryError as exc:
            read_path = solids_as_faces(read_path, opts, exc)
            notes.append("3D solids (PolyhedralSurface/TIN, e.g. CityGML LOD1) read as their "
                         "faces through ogr2ogr")
            opts = {}
            layers = list_layers(read_path, opts)
        if layer is None:
            if len(layers) == 0:
                raise InputError("no vector layer in file", path=str(path))
            spatial = [row[0] for row in layers if row[1] is not None]
            layer = (spatial or [layers[0][0]])[0]
            if len(spatial) > 1 and "Building" in spatial and _is_citygml(path):
                # a city model's layers come in the order of their first object: a road
                # before the first building made the roads the layer read (as buildings)
                layer = "Building"
                notes.append(f"read layer 'Building' of {len(layers)} (a CityGML city model: "
                             "its buildings; not read: "
                             + ", ".join(n for n, _t in layers if n != layer) + ")")
            elif len(layers) > 1:
                spatial_layers = [(n, t) for n, t in layers if t is not None]
                full = first_with_features(read_path, opts, spatial_layers) \
                    if len(spatial_layers) > 1 else None
                if full not in (None, layer):
                    # a template's empty layer first (房屋 left empty, 房屋_2024 filled) was
                    # refused as "no features", the features a layer further on
                    notes.append(f"layer {layer!r} is empty: read {full!r}, the first layer "
                                 "of its kind of geometry with features")
                    layer = full
                notes.append(layers_not_read(read_path, opts, layers, layer))
        else:
            named_layer(layers, layer, path)
        info = pyogrio.read_info(read_path, layer=layer, encoding=encoding, **opts)
    except InputError:
        raise
    except pyogrio.errors.CRSError as exc:
        prj = path.with_suffix(".prj")
        what = f"its {prj.name}" if prj.exists() else "its coordinate reference system"
        raise InputError(f"{what} cannot be read as a CRS ({gdal_message(exc)}); fix or delete "
                         "it (the CRS is then taken from --crs or detected from the "
                         "coordinates)", path=str(path)) from exc
    except UnicodeDecodeError as exc:  # a field name (pyogrio decodes them)
        raise InputError(f"its field names are not {encoding or 'UTF-8'} text ({exc}): "
                         + encoding_advice(dbf is not None), path=str(path)) from exc
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot read it: {gdal_message(exc)}", path=str(path)) from exc
    driver = info.get("driver") or ""
    pending = None
    if driver == "GPKG":
        table = str(info.get("layer_name") or layer)
        own = read_path if read_path != path else None
        if checks_ahead and (info.get("features") or 0) >= CHECK_AHEAD_ROWS:
            pending = gpkg_numbers_ahead(path, table, own)
        else:
            check_gpkg_numbers(path, table, own)
    if require_geometry and info.get("geometry_type") is None:
        from loaders.sources.xy_table import xy_hint

        hint = (xy_hint() if driver in _NO_GEOMETRY_HINTS else None) or \
            _NO_GEOMETRY_HINTS.get(driver, "the features need a geometry")
        raise InputError(f"the layer {layer!r} has no geometry column; {hint}", path=str(path))
    feature_count = int(info.get("features") if info.get("features") is not None else -1)
    if feature_count == 0:
        raise InputError(f"the input has no features (layer {layer!r} is empty)", path=str(path))
    crs = None
    if info.get("crs"):
        try:
            crs = pyproj.CRS.from_user_input(info["crs"])
        except pyproj.exceptions.CRSError:
            notes.append(aside := f"unrecognised CRS {info['crs']!r} ignored")
    if crs is not None and crs.is_geographic and crs.datum.name.lower() in ("unknown", ""):
        # GDAL's stand-in for an srsName it could not resolve (CityGML 'EPSG:25833+height'…)
        if named is None:  # else read from its srsName, below
            notes.append(aside := f"the file's CRS is undefined ({crs.name!r}); ignored")
        crs = None
    if crs is not None and not (crs.is_projected or crs.is_geographic):
        notes.append(aside := f"the file's CRS {crs.name!r} ({crs.type_name}) cannot be "
                     "transformed to a survey CRS; ignored")
        crs = None
    if crs is None and named is not None:
        crs, srs = named
        if order == "yx":
            # written northing first, as the srsName's axis order says: GDAL swaps such
            # coordinates only where it reads the srsName itself, on a geometry (a solid's
            # not even with SWAP_COORDINATES=YES): read as written, x would be the northing
            raise InputError(
                f"its srsName {srs!r} names {crs_text(crs)} ({crs.name}), whose coordinates "
                "are written northing (latitude) first, and they are (they lie in its area "
                "of use only so), but GDAL reads them here as written, easting first: give "
                "the srsName on each geometry (GDAL then swaps them) or export in GIS axis "
                f"order (srsName EPSG:{epsg_of(crs) or 'n'})", path=str(path))
        if order is None:  # --crs (read easting first, as GDAL reads them), else detected
            notes.append(aside := f"its srsName {srs!r} names {crs_text(crs)} ({crs.name}), "
                         "whose axis order is northing first, but its coordinates do not tell "
                         "whether they are written so: the CRS is taken from --crs "
                         "(coordinates read easting first) or detected from the coordinates")
            crs = None
        else:
            notes.append(f"CRS {crs_text(crs)} ({crs.name}) read from its srsName {srs!r}"
                         + (" (the horizontal part of a compound CRS)"
                            if parse_crs(srs).is_compound else "")
                         + (" — its coordinates written easting first all the same, as most "
                            "exporters write them (they lie in its area of use only so)"
                            if order == "xy*" else ""))
    if crs is not None and driver == "GeoJSON" and crs.is_geographic:
        crs, note = geojson_projected_without_crs(path, layer, encoding, crs)
        if note:
            notes.append(aside := note)
    fields = [str(f) for f in info.get("fields", [])]
    exported = export_fields(fields)
    if exported:
        notes.append("a rejects export loaded again: its columns " + ", ".join(exported)
                     + " are not read as attributes")
        fields = [f for f in fields if f not in exported]
    geometry_field = geometry_text_field(fields, opts) if driver == "CSV" else None
    srid = None
    if geometry_field is not None:
        srid, crs, aside = ewkt_crs(read_path, opts, geometry_field, crs, aside, notes)
    return Source(path=path, layer=layer, driver=driver, crs=crs,
                  encoding=encoding, fields=[f for f in fields if f != geometry_field],
                  feature_count=feature_count,
                  geometry_type=info.get("geometry_type"), notes=notes, open_options=opts,
                  read_path=read_path if read_path != path else None,
                  geometry_field=geometry_field,
                  crs_set_aside=aside if crs is None else None, export_fields=exported,
                  ewkt_srid=srid, header_rows=(header := header_rows(driver, fields)),
                  blank_rows=blank_rows(read_path, header) if driver == "CSV" else None,
                  pending_checks=pending)


def _zipped(path: Path, copy: Path, name: str, layer: str | None, encoding: str | None,
            open_options: dict[str, str] | None, require_geometry: bool) -> Source:
    """The text table ``name`` a zip holds, opened from its ``copy`` as the table itself
    (:mod:`loaders.sources.zipped_table`); the source and its refusals name the zip."""
    try:
        src = open_source(copy, None, encoding, open_options, require_geometry)
    except InputError as exc:
        if exc.path != str(copy):
            raise
        raise InputError(f"{name} (in the zip): {exc.message}", path=str(path),
                         row=exc.row, field=exc.field) from exc
    notes = [f"read {name} from the zip"]
    try:
        layers = list_layers(path, {})
    except GDAL_INPUT_ERRORS:
        layers = []  # (GDAL cannot open the zip itself: the note names no others)
    if len(layers) > 1:  # the zip's other tables named, as a file's other layers are
        notes.append(layers_not_read(path, {}, layers, layer or copy.stem))
    return dataclasses.replace(src, path=path, read_path=src.read_path or copy,
                               notes=notes + src.notes)


def _xy_table(path: Path, encoding: str | None, layer: str | None) -> Source | None:
    """A survey table with X/Y columns as a source of points, where the loader reads points
    from X/Y (:mod:`loaders.sources.xy_table`); else None."""
    from loaders.sources.xy_table import ROW_FIELD, may_read, read_xy_table

    if not may_read(path):  # (no scratch folder, nor its exit handler, for every source)
        return None
    scratch = scratch_dir("cim-xy-")
    try:
        t = read_xy_table(path, encoding, scratch, layer)
    except BaseException:
        remove_scratch(scratch)
        raise
    if t is None:
        remove_scratch(scratch)
        return None
    return Source(path=path, layer=pyogrio.list_layers(t.read_path)[0][0], driver="GPKG",
                  crs=None, encoding=None, fields=t.fields, feature_count=t.count,
                  geometry_type="Point", notes=t.notes, read_path=t.read_path,
                  geometry_field=t.place_field, coordinate_fields=(t.x, t.y),
                  row_field=ROW_FIELD, stored_names=t.stored)


def iter_batches(src: Source, batch_size: int = 50_000, *, python_values: bool = False,
                 keep: Callable[[int], bool] | None = None, first_row: int = 1,
                 where: str | None = None) -> Iterator[Batch | None]:
    """Stream the source as batches of columns and geometries (decoded when first used).

    Columns are object arrays of pandas' values (NaN for a missing float, Timestamps; an
    integer column's exact integers: :func:`object_column`), which the loaders' converters
    expect; a CSV's geometry text is none of them (:meth:`Batch.unread_geometries`);
    ``python_values`` gives Arrow's plain Python values instead
    (None for any missing value, int, float, str, date), without importing pandas: the approval
    check reads one small project file in a short process (``loaders.project``). With
    ``keep``, the batches ``j`` (0-based) for which ``keep(j)`` is false come as None,
    unconverted (a converter process takes every other batch). ``where``: GDAL's attribute
    filter, the rows read numbered from ``first_row`` (a converter's own FID range of a
    GeoPackage: :mod:`loaders.engine.ranges`). A text table's rows are numbered as a
    spreadsheet shows them (its header is row 1: ``Source.header_rows``; an empty line,
    which GDAL skips, one too: ``Source.blank_rows``)."""
    if where is not None or src.row_field is not None:
        src_blank = None  # (a filtered read's rows are numbered from first_row)
    else:
        src_blank = src.blank_rows
    k = 0  # features read so far
    row = next_row(src_blank, src.header_rows, first_row, 0, first_row + src.header_rows)
    try:
        with pyogrio.raw.open_arrow(src.read_path or src.path, layer=src.layer,
                                    encoding=src.encoding,
                                    batch_size=batch_size, use_pyarrow=True,
                                    where=where, **src.open_options) as (meta, reader):
            geom_col = meta.get("geometry_name") or "wkb_geometry"
            for j, rb in enumerate(reader):
                n = rb.num_rows
                if keep is not None and not keep(j):
                    yield None
                    k, row = k + n, next_row(src_blank, src.header_rows, first_row, k + n, row + n)
                    continue
                rows = rows_of(src_blank, src.header_rows, first_row, k, n) \
                    if src_blank is not None else None
                if src.row_field is not None:  # a survey table's own row numbers
                    rows = rb.column(src.row_field).to_numpy(zero_copy_only=False)
                    rb = rb.drop_columns([src.row_field])
                if src.stored_names:  # the delivered headers again
                    rb = rb.rename_columns([src.stored_names.get(n, n)
                                            for n in rb.schema.names])
                rb, text_col = geometry_text_apart(rb, src.geometry_field, geom_col)
                names = [n for n in rb.schema.names
                         if n != geom_col and n != text_col and n not in src.export_fields]
                text = rb.column(text_col) if text_col is not None else None
                if src.ewkt_srid is not None and text is not None \
                        and geom_col in rb.schema.names:
                    at = rb.schema.get_field_index(geom_col)
                    rb = rb.set_column(at, rb.schema.field(at), ewkt_as_wkb(
                        text, rb.column(at), src.ewkt_srid))
                check_text(rb, names, src, row, rows)
                cols = {n: _objects(rb.column(n)) for n in names} if python_values else None
                attributes = None if python_values else rb.select(names)
                if geom_col not in rb.schema.names:
                    yield Batch(first_row=row, columns=cols, attributes=attributes,
                                geometries=np.full(rb.num_rows, None, dtype=object), rows=rows,
                                repeated_ids=repeated_ids(rb, src.export_fields))
                    k, row = k + n, next_row(src_blank, src.header_rows, first_row, k + n, row + n)
                    continue
                arr = rb.column(geom_col)
                # Arrow's to_numpy of a binary column goes through pandas
                wkb = _objects(arr) if python_values else arr.to_numpy(zero_copy_only=False)
                yield Batch(first_row=int(rows[0]) if rows is not None and len(rows) else row,
                            columns=cols, attributes=attributes, wkb=wkb, rows=rows,
                            arrow=rb, wkb_arrow=arr, geometry_text=text,
                            geometry_field=src.geometry_field
                            if text is not None or src.coordinate_fields else None,
                            repeated_ids=repeated_ids(rb, src.export_fields))
                k, row = k + n, next_row(src_blank, src.header_rows, first_row, k + n, row + n)
        src.wait_checks()  # every row read: a refusal before the load can finish
    except UnicodeDecodeError as exc:  # a field name (pyogrio decodes them)
        raise InputError(f"its field names are not {src.encoding or 'UTF-8'} text ({exc}): "
                         + encoding_advice(src.driver == "ESRI Shapefile"),
                         path=str(src.path)) from exc
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL failed while reading near row {row}: {gdal_message(exc)}",
                         path=str(src.path), row=row) from exc


def repeated_ids(rb: pyarrow.RecordBatch, exported: tuple[str, ...]) -> np.ndarray | None:
    """Of a rejects export loaded again, the rows rejected as a repeated source id (their
    ``cim_reason``), for the load to tell one whose id was not changed from the feature that
    id names; None for any other delivery, or an export without such a row."""
    col = next((f for f in exported if str(f).lower().endswith("_reason")), None)
    if col is None or col not in rb.schema.names:
        return None
    mask = np.array([str(v).strip() == "duplicate_source_id" if v is not None else False
                     for v in rb.column(col).to_pylist()], dtype=bool)
    return mask if mask.any() else None


def _objects(arr: pyarrow.Array) -> np.ndarray:
    """An Arrow array as an object array of Python values (None where missing), no pandas."""
    return np.fromiter(arr.to_pylist(), dtype=object, count=len(arr))


def finite_bounds(src: Source, batch_size: int = 100_000) -> tuple[float, ...] | None:
    """(xmin, ymin, xmax, ymax) over the features whose coordinates are all finite (None if
    there is none), streamed geometry only: for sources whose layer extent GDAL gives as NaN
    or inf because some features hold such coordinates (they are rejected row by row)."""
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    try:
        ewkt = [src.geometry_field] if src.ewkt_srid is not None else []
        with pyogrio.raw.open_arrow(src.read_path or src.path, layer=src.layer, columns=ewkt,
                                    encoding=src.encoding, batch_size=batch_size,
                                    use_pyarrow=True, **src.open_options) as (meta, reader):
            geom_col = meta.get("geometry_name") or "wkb_geometry"
            for rb in reader:
                if geom_col not in rb.schema.names:
                    return None
                text_col = None
                if ewkt:  # (a text column named as the geometry is renamed first)
                    rb, text_col = geometry_text_apart(rb, src.geometry_field, geom_col)
                arr = rb.column(geom_col)
                if text_col is not None:
                    arr = ewkt_as_wkb(rb.column(text_col), arr, src.ewkt_srid)
                wkb = arr.to_numpy(zero_copy_only=False)
                with np.errstate(invalid="ignore"):
                    b = shapely.bounds(shapely.from_wkb(faces_wkb(wkb, arr),
                                                        on_invalid="ignore"))
                b = b[np.all(np.isfinite(b), axis=1)]
                if len(b):
                    lo = np.minimum(lo, b[:, :2].min(axis=0))
                    hi = np.maximum(hi, b[:, 2:].max(axis=0))
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot read the extent: {gdal_message(exc)}",
                         path=str(src.path)) from exc
    if not np.all(np.isfinite(lo)):
        return None
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

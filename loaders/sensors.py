"""The sensor registry (issue 14): the vendor's list of devices, bound to the CIM's assets.

A registry is a table (CSV, Excel, a GeoPackage or DBF table) with Chinese headers — 设备编号,
设备名称, 监测类型, 计量单位, 监测对象编码, 安装日期, 状态, 上报周期(秒), 数据来源, X, Y — matched
through ``field_aliases.yaml`` (section ``sensors``) and :mod:`cim.text` like every loader.

- Type (监测类型): a code or name of ``sensor_types.csv``; the unit, when given, must be the
  type's (thresholds are written in it), blank takes it; the interval blank takes the type's.
- Watched asset (监测对象编码): a platform code, or the identifier the asset was delivered
  with as the code registry records it (``pipes:RQ:RQ0277``: a registry drawn up before the
  platform coded the survey). Resolved in SQL, in the load's transaction, against
  ``code_registry`` and the asset's current feature: its layer and class (``asset_class``:
  the pipe class code, the component subclass … — the class column of its layer) are stored,
  so thresholds per asset class need no join later. A code that names no current feature
  rejects the row naming row and field.
- Position: X/Y as surveyors write them (X = northing, Y = easting, :func:`cim.crs.
  swap_survey_xy`), in ``--crs``, else the zone-prefixed CGCS2000 CRS their eastings tell, else
  the storage CRS; with both blank, the asset's position (a point as it is, a line's midpoint
  by ``ST_LineInterpolatePoint``, a polygon's point on surface), flagged
  ``position_from_asset``.

Codes: district + ``92`` + type code + serial, from the one allocator; the source key is
``sensors:<device id>``, whatever the file is called, so a device keeps its code on every
reload and a changed row becomes a new version. Everything goes through the engine's load
session and the one bulk writer (batches, rejects with reasons, history).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb

from cim import crs as cimcrs
from cim.coding.kept import kept_code_notes
from cim.coding.places import asset_point_sql
from cim.coding.scheme import layer_code_of
from cim.errors import InputError
from cim.layerdefs import LAYERS, SENSORS
from cim.numbers import ValueProblem
from cim.profile import CityProfile
from cim.text import half_width, norm_key
from loaders.common import ClassLookup, content_hash, jsonable
from loaders.dates import as_date
from loaders.engine.bulk import EWKB
from loaders.engine.pages import small_pages
from loaders.engine.pipeline import sql_analyze
from loaders.engine.report import LoadReport, Reject, StagedFlags
from loaders.engine.rows import StagedRows, layer_values
from loaders.engine.session import LoadSession
from loaders.excel_notation import as_coordinate, as_id
from loaders.fields import as_int, as_text, is_blank
from loaders.geometry import ewkb
from loaders.sources.layer_points import X_HEADER, Y_HEADER, points_as_xy
from loaders.sources.tables import (
    Table,
    known_header_names,
    match_headers,
    norm_header,
    read_tables,
    without_export,
)
from loaders.sources.xy_table import other_zone_rows

DATASET = "sensors"  # the source keys' scope: sensors:<device id>, whatever the file name
NEAR_M = 50.0  # X/Y further than this from the watched asset is flagged far_from_asset
MAX_INTERVAL_S = 7 * 86400


class RowProblem(Exception):
    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.field = reason, message, field


def _unseen_character(device: str) -> str | None:
    """What in a device id no one sees or types, else None: a control character (a line
    break or tab, from Alt+Enter in a cell) or a format character (a zero-width space, a BOM
    pasted from a web page). Such an id was loaded, then matched no reading a vendor sends
    as the id is printed, and its sensor's HTTP routes (/iot/sensors/<id>/…) reached none."""
    import unicodedata

    for ch in device:
        if unicodedata.category(ch) in ("Cc", "Cf"):
            name = unicodedata.name(ch, None) or {"\n": "LINE FEED", "\r": "CARRIAGE RETURN",
                                                  "\t": "TAB"}.get(ch, "CONTROL")
            return f"the invisible character {name} (U+{ord(ch):04X})"
    return None


@dataclass
class Asset:
    """A watched asset as the database holds it (resolved in SQL)."""

    code: str
    layer: str
    asset_class: str | None
    point: bytes  # EWKB of the sensor position the asset gives (storage CRS, 2D)
    shape: bytes  # EWKB of the asset's geometry (2D), to measure X/Y against


def _pick_table(tables: list[Table], aliases: dict[str, list[str]],
                override: dict[str, str] | None) -> tuple[Table, dict[str, str]]:
    found = []
    for t in tables:
        m = match_headers(t.headers, aliases, override, table=t.name, strict=bool(override))
        if "device_id" in m and "type" in m:
            found.append((t, m))
    if len([t for t, _m in found if t.rows]) > 1:
        # the first alone was read: its devices loaded, the others' not, and a replace load
        # retired them though the workbook holds them
        raise InputError("several sensor registries in one file (" + ", ".join(
            t.name for t, _m in found if t.rows) + "): put the devices in one table, or "
            "load each from a file of its own", path=str(found[0][0].path))
    found = [f for f in found if f[0].rows] or found  # an empty template sheet first
    if found:
        return found[0]
    heads = "; ".join(f"{t.name}: {', '.join(t.headers)}" for t in tables) or "no table"
    raise InputError("no sensor registry found: a table needs 设备编号 (device id) and 监测类型 "
                     f"(type) columns ({heads}); name them with --mapping", path=str(
                         tables[0].path if tables else ""))


def resolve_assets(conn: psycopg.Connection, refs: list[str]) -> dict[str, Asset]:
    """{reference: Asset} for the references naming a current feature of a loaded layer.

    A reference is a platform code or a source key of ``code_registry``; the layer's current
    feature gives the class (its layer's class column) and the position, computed in PostGIS.
    """
    if not refs:
        return {}
    hits = conn.execute(
        "SELECT q.ref, r.code, r.layer FROM unnest(%s::text[]) AS q(ref) "
        "JOIN code_registry r ON r.code = q.ref OR r.source_key = q.ref "
        "WHERE r.layer <> 'sensors'", (list(refs),)).fetchall()
    by_layer: dict[str, list[str]] = {}
    found: dict[str, list[tuple[str, str]]] = {}
    for ref, code, layer in hits:
        if layer in LAYERS:
            by_layer.setdefault(layer, []).append(code)
            found.setdefault(ref, []).append((code, layer))
    rows: dict[str, tuple[str, str | None, bytes, bytes]] = {}
    for layer, codes in by_layer.items():
        d = LAYERS[layer]
        cls = sql.Identifier(d.class_column) if d.class_column else sql.SQL("NULL")
        q = sql.SQL(
            "SELECT code, c, ST_AsEWKB(" + asset_point_sql("g") + "), ST_AsEWKB(g)"
            " FROM (SELECT code, {cls}::text AS c, ST_Force2D(geom) AS g FROM {t}"
            "  WHERE valid_to IS NULL AND code = ANY(%s)) s").format(
            cls=cls, t=sql.Identifier(d.table))
        for code, c, point, shape in conn.execute(q, (codes,)):
            rows[code] = (layer, c, bytes(point), bytes(shape))
    out = {}
    for ref, cands in found.items():
        current = [(code, layer) for code, layer in cands if code in rows]
        if len(current) == 1:
            code = current[0][0]
            layer, c, point, shape = rows[code]
            out[ref] = Asset(code, layer, c, point, shape)
    return out


def _value(row: list[Any], t: Table, m: dict[str, str], attr: str) -> Any:
    h = m.get(attr)
    if h is None:
        return None
    j = t.headers.index(h)
    return row[j] if j < len(row) else None


def _text(row, t, m, attr, max_len=200) -> str | None:
    try:
        return as_text(_value(row, t, m, attr), max_len)
    except ValueProblem as exc:
        raise RowProblem("bad_value", f"field {m[attr]!r}: {exc}", m[attr]) from None


def _code_text(v: Any) -> str | None:
    """A code as typed: Excel's 1.0 or 1 for '01' becomes '01'; text stays text."""
    if is_blank(v):
        return None
    if isinstance(v, (bool, np.bool_)):  # Excel's TRUE is no code (not "01")
        return str(v)
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()):
        return str(int(v)).zfill(2)
    s = half_width(str(v)).strip()
    # a CSV's 4 is the code 04, as an Excel cell's number 4 is
    return s.zfill(2) if s.isascii() and s.isdigit() else s


def _asset_ref(v: Any, field: str) -> str | None:
    if is_blank(v):
        return None
    if isinstance(v, float):
        raise RowProblem("bad_value", f"field {field!r}: the code {v!r} is stored as a "
                         "floating-point number and may have lost digits; store codes as text",
                         field)
    return half_width(str(v)).strip()  # full-width digits (an IME's) are the code's


# headers of a position in degrees (a vendor's registry): no survey X/Y, and never read as one
# by name (a census or survey table holding them beside its X/Y keeps its X/Y)
_LATITUDE = ("纬度", "北纬", "latitude", "lat")
_LONGITUDE = ("经度", "东经", "longitude", "lon", "lng")


def _refuse_degree_columns(t: Table) -> None:
    """A registry whose position is in 经度/纬度 columns and which has no X/Y: refused naming
    them and how to load them. They were set aside as attributes, and each sensor placed at
    its asset's point (224 m from the delivered one) or rejected "X/Y are empty"."""
    def find(names: tuple[str, ...]) -> str | None:
        return next((h for h in t.headers if norm_header(h).lower() in names), None)

    lat, lon = find(_LATITUDE), find(_LONGITUDE)
    if lat and lon:
        raise InputError(f"columns {lat!r} and {lon!r} look like latitude and longitude, and "
                         "the registry has no X (northing) and Y (easting) columns: load them "
                         f"as the position with a mapping file (x: {lat}, y: {lon}) and "
                         "--crs EPSG:4490 (CGCS2000 geographic), or deliver X/Y", path=t.name,
                         field=lat)


class _Coordinates:
    """The registry's X/Y (X northing, Y easting) → storage easting/northing, one CRS per file."""

    def __init__(self, t: Table, m: dict[str, str], profile: CityProfile, crs_opt: str | None,
                 notes: list[str]) -> None:
        self.srid = profile.srid
        xs, ys, at = [], [], []  # (at: each pair's row, for an error naming rows)
        if "x" in m and "y" in m:
            for row_no, r in zip(t.row_numbers, t.rows):
                try:
                    x, y = as_coordinate(_value(r, t, m, "x")), as_coordinate(_value(r, t, m, "y"))
                except ValueProblem:
                    continue
                if x is not None and y is not None:
                    xs.append(x)
                    ys.append(y)
                    at.append(row_no)
        e, n = cimcrs.swap_survey_xy(np.array(xs), np.array(ys))
        if crs_opt:
            crs = cimcrs.parse_crs(crs_opt)
        else:
            with other_zone_rows(e, at, t.name, m.get("y")):
                code = cimcrs.detect_gk_from_eastings(e, self.srid) if e.size else None
            with other_zone_rows(n, at, t.name, m.get("x")):
                exchanged = code is None and e.size and \
                    cimcrs.detect_gk_from_eastings(n, self.srid) is not None
            if exchanged:
                raise InputError("the X column holds eastings and Y northings: survey tables "
                                 "write X = northing (北) and Y = easting (东); the columns look "
                                 "exchanged — map them with --mapping (x: <northing column>, "
                                 "y: <easting column>)", path=t.name, field=m.get("x"))
            if code is None:
                crs = cimcrs.parse_crs(f"EPSG:{self.srid}")
                if e.size:
                    notes.append(f"coordinates taken to be in the storage CRS EPSG:{self.srid} "
                                 "(no Gauss-Krüger zone prefix found; pass --crs otherwise)")
            else:
                crs = cimcrs.parse_crs(f"EPSG:{code}")
                notes.append(f"coordinates: EPSG:{code} detected from the easting magnitudes")
        if e.size:
            problem = cimcrs.check_gk_consistency(crs, e)
            if problem:
                raise InputError(problem, path=t.name)
        self.crs = crs
        self.epsg = cimcrs.epsg_of(crs)
        self.t = cimcrs.to_storage(crs, self.srid, t.name)

    def point(self, x: float, y: float) -> tuple[float, float]:
        (e,), (n,) = cimcrs.swap_survey_xy(np.array([x]), np.array([y]))
        if self.t is not None:
            e, n = self.t.transform(e, n)
        if not (np.isfinite(e) and np.isfinite(n)):
            raise RowProblem("bad_value", "X/Y cannot be transformed to the storage CRS "
                             "(wrong --crs?)")
        return float(e), float(n)


def _position(row, t, m, coords: _Coordinates, asset: Asset | None,
              flags: list[str]) -> bytes:
    """EWKB of the sensor point: from X/Y, else from the watched asset."""
    xy = []
    for attr in ("x", "y"):
        try:
            xy.append(as_coordinate(_value(row, t, m, attr)))
        except ValueProblem as exc:
            raise RowProblem("bad_value", f"field {m[attr]!r}: {exc}", m[attr]) from None
    x, y = xy
    if x is None and y is None:
        if asset is None:
            raise RowProblem("missing_position", "no position: X/Y are empty and no watched "
                             "asset (监测对象编码) gives one", m.get("x") or m.get("asset_code"))
        flags.append("position_from_asset")
        return asset.point
    if x is None or y is None:
        f, other = (m.get("x"), m.get("y")) if x is None else (m.get("y"), m.get("x"))
        raise RowProblem("missing_value", f"field {f!r}: empty while {other!r} is given", f)
    e, n = coords.point(x, y)
    pt = shapely.Point(e, n)
    if asset is not None and shapely.distance(pt, shapely.from_wkb(asset.shape)) > NEAR_M:
        flags.append("far_from_asset")
    return bytes(ewkb(np.array([pt], dtype=object), coords.srid)[0])


@small_pages
def load_sensors(conninfo: str, profile: CityProfile, path: str | Path, *,
                 crs: str | None = None, mode: str = "update",
                 mapping: dict[str, str] | None = None, encoding: str | None = None,
                 quiet: bool = True) -> LoadReport:
    """Load a sensor registry into ``sensors``; one transaction, one load batch."""
    path = Path(path)
    aliases = profile.field_aliases.get("sensors", {})
    tables = [without_export(t) for t in read_tables(
        path, known_header_names(profile.field_aliases, ["sensors"]), encoding)]
    t, m = _pick_table(tables, aliases, mapping)
    if not t.rows:
        raise InputError("the registry has no rows", path=t.name)
    layer_crs, from_points = None, t.geometry_type is not None and not ({"x", "y"} & set(m))
    if not from_points and not ({"x", "y"} & set(m)):
        _refuse_degree_columns(t)
    if from_points:  # a GIS layer without X/Y columns: its points are the positions
        t, layer_crs = points_as_xy(t)
        m = {**m, "x": X_HEADER, "y": Y_HEADER}
    report = LoadReport(layer=SENSORS.name, path=str(path), mode=mode, encoding=t.encoding,
                        notes=list(t.notes))
    if len(tables) > 1:
        report.notes.append(f"read table {t.name!r} of {len(tables)}")
    report.notes.append("fields: " + ", ".join(f"{k}←{v}" for k, v in m.items()))
    if from_points:
        report.notes.append(f"positions: the points of {t.name} (no X/Y columns)")
        declared = cimcrs.parse_crs(layer_crs) if crs and layer_crs else None
        if declared is not None and not declared.equals(cimcrs.parse_crs(crs),
                                                         ignore_axis_order=True):
            # said as every load says it (loaders.engine.area.resolve_source_crs)
            report.notes.append(f"--crs {crs} overrides the file's CRS ({declared.name})")
    coords = _Coordinates(t, m, profile, crs or layer_crs, report.notes)
    report.source_crs = cimcrs.crs_text(coords.crs)
    types = ClassLookup(profile, "sensor_types")
    statuses = ClassLookup(profile, "sensor_status")
    opts = {"crs": crs, "mode": mode, "dataset": DATASET, "table": t.name}
    with LoadSession(conninfo, SENSORS.name, path, mode, opts, report) as session:
        conn = session.begin()
        refs = {r for r in (_asset_ref_or_none(row, t, m) for row in t.rows) if r}
        assets = resolve_assets(conn, sorted(refs))
        rows, rejects = StagedRows(SENSORS, delivered=True), []
        # a row's attrs keep what no column holds (as buildings', components' and pipes'):
        # the delivered asset reference stays (the column holds the code it resolves to), the
        # rest is in columns — and the same registry as Excel (numbers as numbers) is then
        # the same row. Staged with every field (a reject of the merge keeps them all); the
        # writer leaves the columned ones out of the layer's rows (attrs_skip)
        columned = {h for a, h in m.items() if a != "asset_code"}
        for row_no, row in zip(t.row_numbers, t.rows):
            attrs = {h: jsonable(row[j]) if j < len(row) else None
                     for j, h in enumerate(t.headers)}
            key = None
            try:
                try:
                    device = as_id(_value(row, t, m, "device_id"), 64)
                except ValueProblem as exc:
                    raise RowProblem("bad_value", f"field {m['device_id']!r}: {exc}",
                                     m["device_id"]) from None
                if device is None:
                    raise RowProblem("missing_value", f"field {m['device_id']!r}: no device id",
                                     m["device_id"])
                hidden = _unseen_character(device)
                if hidden is not None:
                    raise RowProblem("bad_value", f"field {m['device_id']!r}: the device id "
                                     f"{device!r} holds {hidden}, which no reading or address "
                                     "can be matched by as typed (Alt+Enter in an Excel "
                                     "cell?); write the id without it", m["device_id"])
                key = f"{DATASET}:{device}"
                vals, flags, geom, cls = _convert(row, t, m, types, statuses, assets, coords,
                                                  device)
            except RowProblem as p:
                rejects.append(Reject(row_number=row_no, reason=p.reason, message=p.message,
                                      field=p.field, source_key=key, attrs=attrs,
                                      geom_wkt=_delivered_wkt(row, t, m)))
                continue
            rows.append(row_no=row_no, source_key=key,
                        row_hash=content_hash(layer_values(SENSORS, vals), geom),
                        attrs=Jsonb(attrs),
                        flags=flags, geom=EWKB(geom), class_code=cls,
                        # the X/Y as typed (None for a sensor placed at its asset), which a
                        # reject of the merge keeps, as a reject of the converter does
                        delivered_wkt=_delivered_wkt(row, t, m), **vals)
        report.read = len(t.rows)
        w = session.writer(SENSORS, profile.srid, layer_code_of(profile, SENSORS.name))
        w.attrs_skip = tuple(columned)  # (rows loaded before kept every field in attrs)
        w.id_field = m["device_id"]
        # what placed a sensor outside the city's areas: its X/Y columns (a sensor without
        # them stands at its asset)
        w.place_field = f"{m['x']}/{m['y']}" if "x" in m and "y" in m else \
            m.get("asset_code") or "geometry"
        w.create_staging()
        w.copy_rows(rows)
        w.copy_rejects(rejects)
        flagged = StagedFlags()  # counted for the rows the merge stores only
        flagged.add(rows)
        w.finalize(mode, dataset=DATASET).apply_to(report, w)
        flagged.count(report, session.conn)
        session.succeed()
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute(sql_analyze(SENSORS.table))
        if report.updated and report.batch_id is not None:
            report.notes += kept_code_notes(c, SENSORS, report.batch_id, class_word="type",
                                            class_label="type ")
    return report


def _asset_ref_or_none(row, t, m) -> str | None:
    try:
        return _asset_ref(_value(row, t, m, "asset_code"), m.get("asset_code", ""))
    except RowProblem:
        return None


def _delivered_wkt(row, t, m) -> str | None:
    try:
        x, y = as_coordinate(_value(row, t, m, "x")), as_coordinate(_value(row, t, m, "y"))
    except ValueProblem:
        return None
    if x is None or y is None:
        return None
    return f"POINT ({y!r} {x!r})"  # easting first, as GIS files hold it


def _convert(row, t, m, types: ClassLookup, statuses: ClassLookup,
             assets: dict[str, Asset], coords: _Coordinates, device: str):
    """(values, flags, EWKB, class code) of one registry row, or RowProblem."""
    raw_type = _value(row, t, m, "type")
    typ = types.find(_code_text(raw_type))
    if typ is None:
        if is_blank(raw_type):
            raise RowProblem("missing_class", f"field {m['type']!r}: no sensor type", m["type"])
        raise RowProblem("unknown_class", f"field {m['type']!r}: {str(raw_type).strip()!r} is "
                         "not a sensor type (sensor_types.csv: "
                         + " ".join(r["name"] for r in types.rows) + ")", m["type"])
    flags: list[str] = []
    unit = _text(row, t, m, "unit", 32)
    if unit is not None and norm_key(unit) != norm_key(typ["unit"]):
        raise RowProblem("unit_mismatch", f"field {m['unit']!r}: {unit!r} is not the unit of "
                         f"{typ['name']} ({typ['unit']}, sensor_types.csv), in which its "
                         "thresholds are written", m["unit"])
    ref = _asset_ref(_value(row, t, m, "asset_code"), m.get("asset_code", ""))
    asset = None
    if ref is not None:
        asset = assets.get(ref)
        if asset is None:
            raise RowProblem("unknown_asset", f"field {m['asset_code']!r}: {ref!r} is no current "
                             "feature of the CIM (neither a platform code nor a registered "
                             "source id)", m["asset_code"])
    raw_status = _value(row, t, m, "status")
    st = statuses.find(raw_status)
    if st is None and not is_blank(raw_status):
        raise RowProblem("bad_value", f"field {m['status']!r}: {str(raw_status).strip()!r} is "
                         "not a status (" + " ".join(r["name"] for r in statuses.rows) + ")",
                         m["status"])
    if st is None:
        st = statuses.rows[0]
        flags.append("status_assumed")
    try:
        interval = as_int(_value(row, t, m, "interval_s"), 1, MAX_INTERVAL_S)
    except ValueProblem as exc:
        raise RowProblem("bad_value", f"field {m['interval_s']!r}: {exc}",
                         m["interval_s"]) from None
    try:
        installed = as_date(_value(row, t, m, "install_date"))
    except ValueProblem as exc:
        raise RowProblem("bad_value", f"field {m['install_date']!r}: {exc}",
                         m["install_date"]) from None
    geom = _position(row, t, m, coords, asset, flags)
    vals = {"device_id": device, "name": _text(row, t, m, "name"),
            "type_code": typ["code"], "type_name": typ["name"], "unit": typ["unit"],
            "asset_layer": asset.layer if asset else None,
            "asset_code": asset.code if asset else None,
            "asset_class": asset.asset_class if asset else None,
            "install_date": installed, "status": st["name"],
            "interval_s": interval if interval is not None else int(typ["interval_s"]),
            "reading_source": _text(row, t, m, "reading_source", 100)}
    return vals, flags, geom, typ["code"]

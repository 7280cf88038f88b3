"""The one-map QGIS project (.qgs XML), written without QGIS.

Groups and per-class sublayers follow the styles' tree (规划底图, 建筑, 地下管线 by class, 城市部件
by major class); each map layer is a PostGIS layer reached through a pg service name (no
password in the file), reads current features only (``sql=valid_to IS NULL`` plus the class
filter) — a layer with unpublished columns (cases) from its view in ``cim_map``, which holds
only the published columns and the map's rows (cim/db/map_views.py) — is in the storage CRS, and
carries its style (the QML's elements embedded). Only the classes present in the database get
a sublayer, so the project is written after loading.
"""

from __future__ import annotations

import uuid
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import psycopg
from pyproj import CRS

from cim.db.map_views import MAP_VIEW_SCHEMA, map_views
from cim.errors import ConfigError
from cim.layerdefs import GEOMETRY_COLUMN
from cim.profile import CityProfile
from layers.catalog import layer_defs, live_layers, map_where
from layers.styles.expr import qgis_filter
from layers.styles.model import Filter, LayerStyle, Styles, load_styles
from layers.styles.qml import QGIS_VERSION, qml_element

WKB = {"MULTIPOLYGON": "MultiPolygon", "POLYGON": "Polygon", "POINTZ": "PointZ",
       "POINT": "Point", "LINESTRINGZ": "LineStringZ", "LINESTRING": "LineString",
       "MULTILINESTRING": "MultiLineString"}
MIXED = {"point": ("Point", ("POINT", "MULTIPOINT"), "点"),
         "line": ("LineString", ("LINESTRING", "MULTILINESTRING"), "线"),
         "fill": ("Polygon", ("POLYGON", "MULTIPOLYGON"), "面")}
GEOMETRY_NAME = {"point": "Point", "line": "Line", "fill": "Polygon"}
CURRENT = "valid_to IS NULL"
# how often QGIS redraws a live layer (sensors, alarms, cases: layers.catalog.live_layers) on
# its own: the web map reloads them as their data moves (every 12 s it asks), while QGIS
# showed an alarm cleared or a case closed an hour ago until the planner moved the map
LIVE_REFRESH_MS = 15000


@dataclass
class MapLayer:
    id: str
    name: str
    table: str
    subset: str
    wkb: str
    kind: str  # point|line|fill
    style: LayerStyle
    category: str | None
    # where QGIS reads it: a layer with unpublished columns (a case's text) through the
    # planners' view of its published columns and map rows (cim.db.map_views.map_views)
    schema: str = "public"


def _kind_of(wkb: str) -> str:
    w = wkb.lower()
    return "point" if "point" in w else "line" if "line" in w else "fill"


def _present(conn: psycopg.Connection, table: str, by: str, mixed: bool) -> set[tuple]:
    """(value, geometry kind) of the current features of ``table``."""
    if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is None:
        return set()
    gt = f"GeometryType({GEOMETRY_COLUMN})" if mixed else "NULL"
    rows = conn.execute(f'SELECT DISTINCT "{by}", {gt} FROM public."{table}" '
                        f"WHERE {CURRENT}").fetchall()
    out = set()
    for value, g in rows:
        kind = next((k for k, (_, names, _) in MIXED.items() if g in names), None)
        out.add((str(value), kind))
    return out


def _kinds(conn: psycopg.Connection, table: str) -> list[str]:
    """The geometry kinds (point, line, fill: points on top) of the current features of a
    mixed table; point alone when it has none (an empty layer, as before any load)."""
    present = {k for _, k in _present_kinds(conn, table)}
    return [k for k in ("point", "line", "fill") if k in present] or ["point"]


def _present_kinds(conn: psycopg.Connection, table: str) -> set[tuple]:
    if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is None:
        return set()
    rows = conn.execute(f"SELECT DISTINCT GeometryType({GEOMETRY_COLUMN}) FROM "
                        f'public."{table}" WHERE {CURRENT}').fetchall()
    return {(g, next((k for k, (_, names, _) in MIXED.items() if g in names), None))
            for g, in rows}


def plan(conn: psycopg.Connection, styles: Styles) -> list[tuple[str, list]]:
    """The project's tree: [(group, [MapLayer | (subgroup, [MapLayer])])], top first."""
    tree = []
    for g in styles.tree:
        items: list = []
        if g.split:
            present = {n: _present(conn, n, g.split.by, styles.layer(n).kind == "mixed")
                       for n in g.split.layers}
            for value, label in g.split.categories:
                sub = []
                for n in g.split.layers:
                    st = styles.layer(n)
                    order = {"point": 0, "line": 1, "fill": 2, None: 3}  # points on top
                    for v, kind in sorted(present[n], key=lambda p: (p[0], order[p[1]])):
                        if v == value:
                            sub.append(_map_layer(st, label, Filter(g.split.by, (value,)), kind))
                if sub:
                    items.append((label + g.split.suffix, sub))
        else:
            for n in g.layers:
                st = styles.layer(n)
                # a mixed table (control lines, population): one layer per geometry kind
                kinds = _kinds(conn, n) if st.kind == "mixed" else [None]
                items += [_map_layer(st, "", None, k) for k in kinds]
        if items:
            tree.append((g.group, items))
    viewed = {t for t in map_views() if conn.execute(
        "SELECT to_regclass(%s)", (f'{MAP_VIEW_SCHEMA}."{t}"',)).fetchone()[0] is not None}
    for _, items in tree:
        for item in items:
            for ml in [item] if isinstance(item, MapLayer) else item[1]:
                if ml.table in viewed:
                    ml.schema = MAP_VIEW_SCHEMA
    return tree


def _map_layer(st: LayerStyle, prefix: str, cat: Filter | None, kind: str | None) -> MapLayer:
    # current rows, a result layer's rows on the map (the health check's latest year), the
    # style's `where` (one indicator) and the sublayer's class
    extra = [w for w in (map_where(st.name), qgis_filter(st.where) if st.where else None,
                         qgis_filter(cat) if cat else None) if w]
    subset = " AND ".join([CURRENT, *extra])
    if st.kind == "mixed":
        wkb, names, zh = MIXED[kind or "point"]
        subset += (f" AND GeometryType({GEOMETRY_COLUMN}) IN "
                   f"({', '.join(repr(n) for n in names)})")
        name = f"{prefix}（{zh}）" if prefix else f"{st.title}（{zh}）"
    else:
        wkb = WKB.get(layer_defs()[st.name].geometry_type.upper(), "Unknown")
        name = prefix + st.title if prefix else st.title
    suffix = "_".join(p for p in (cat.values[0] if cat else "", kind or "") if p)
    lid = f"{st.name}{'_' + suffix if suffix else ''}_{uuid.uuid4().hex[:8]}"
    return MapLayer(lid, name, st.name, subset, wkb, kind or _kind_of(wkb), st,
                    cat.values[0] if cat else None)


def datasource(service: str, srid: int, ml: MapLayer) -> str:
    """A QGIS PostGIS data source that names the pg service only (no user, no password); a
    view needs the key QGIS reads features by (``key='id'``: a view has no primary key)."""
    subset = ml.subset.replace("\\", "\\\\")
    return (f"service='{service}' key='id' estimatedmetadata=true srid={srid} type={ml.wkb} "
            f"checkPrimaryKeyUnicity='0' table=\"{ml.schema}\".\"{ml.table}\" ({GEOMETRY_COLUMN}) "
            f"sql={subset}")


def _srs(parent: ET.Element, crs: CRS, srid: int) -> None:
    s = ET.SubElement(parent, "spatialrefsys", nativeFormat="Wkt")
    ET.SubElement(s, "wkt").text = crs.to_wkt()
    with warnings.catch_warnings():  # PROJ strings are lossy; QGIS reads the WKT first
        warnings.simplefilter("ignore")
        ET.SubElement(s, "proj4").text = crs.to_proj4()
    ET.SubElement(s, "srsid").text = "0"
    ET.SubElement(s, "srid").text = str(srid)
    ET.SubElement(s, "authid").text = f"EPSG:{srid}"
    ET.SubElement(s, "description").text = crs.name
    ET.SubElement(s, "projectionacronym").text = "tmerc"
    ET.SubElement(s, "ellipsoidacronym").text = ""
    ET.SubElement(s, "geographicflag").text = "false"


def _extent(parent: ET.Element, tag: str, box: tuple[float, float, float, float]) -> None:
    e = ET.SubElement(parent, tag)
    for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box):
        ET.SubElement(e, k).text = repr(float(v))


def extent(conn: psycopg.Connection) -> tuple[float, float, float, float] | None:
    """The districts' extent (the whole city), else that of any current layer."""
    for table in ("admin_divisions", "grid_cells", "buildings", "pipe_segments", "components"):
        if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is None:
            continue
        row = conn.execute(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                           f"(SELECT ST_Extent({GEOMETRY_COLUMN}) e FROM public.{table} "
                           f"WHERE {CURRENT}) x").fetchone()
        if row and row[0] is not None:
            return row
    return None


def check_storage_crs(conn: psycopg.Connection, profile: CityProfile) -> None:
    """Refuse a profile whose storage CRS is not the database's: every layer names the
    profile's SRID, and QGIS reads a PostGIS layer only where the geometries have it, so the
    project opened valid layers in the wrong CRS, each with no feature — an empty map, without
    a word (the default profile, the sample city's, run against another city's database)."""
    from layers.query.sqlparts import storage_srid

    stored = storage_srid(conn)
    if stored != profile.srid:
        raise ConfigError(f"the database stores its layers in EPSG:{stored}, the profile's "
                          f"storage CRS is {profile.storage_crs}: run with the profile the "
                          "database was created with (--profile or CIM_PROFILE)",
                          path=str(profile.path), field="storage_crs")


def project_xml(conninfo: str, profile: CityProfile, *, service: str = "cim",
                title: str | None = None) -> tuple[str, list[MapLayer]]:
    """The .qgs text and its map layers (top of the tree first)."""
    styles = load_styles(profile)
    srid = profile.srid
    crs = CRS.from_user_input(profile.storage_crs)
    with psycopg.connect(conninfo) as conn:
        check_storage_crs(conn, profile)
        tree = plan(conn, styles)
        box = extent(conn)
    title = title or f"{profile.city_name} CIM 一张图"
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    _srs(ET.SubElement(root, "projectCrs"), crs, srid)
    lt = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(lt, "customproperties")
    layers: list[MapLayer] = []

    def tree_layer(parent: ET.Element, ml: MapLayer) -> None:
        e = ET.SubElement(parent, "layer-tree-layer", id=ml.id, name=ml.name,
                          source=datasource(service, srid, ml), providerKey="postgres",
                          checked="Qt::Checked", expanded="0", legend_exp="")
        ET.SubElement(e, "customproperties")
        layers.append(ml)

    def group(parent: ET.Element, name: str) -> ET.Element:
        g = ET.SubElement(parent, "layer-tree-group", name=name, checked="Qt::Checked",
                          expanded="1")
        ET.SubElement(g, "customproperties")
        return g

    for gname, items in tree:
        g = group(lt, gname)
        for item in items:
            if isinstance(item, MapLayer):
                tree_layer(g, item)
            else:
                sub = group(g, item[0])
                for ml in item[1]:
                    tree_layer(sub, ml)
    pl = ET.SubElement(root, "projectlayers")
    for ml in layers:
        style = qml_element(ml.style, styles, geometry=ml.kind, category=ml.category)
        live = ml.table in live_layers()
        m = ET.SubElement(pl, "maplayer", {**style.attrib, "type": "vector",
                                           "geometry": GEOMETRY_NAME[ml.kind],
                                           "wkbType": ml.wkb,
                                           "autoRefreshEnabled": "1" if live else "0",
                                           "autoRefreshTime": str(LIVE_REFRESH_MS if live else 0),
                                           "readOnly": "1", "refreshOnNotifyEnabled": "0"})
        m.attrib.pop("version", None)
        if box:
            _extent(m, "extent", box)
        ET.SubElement(m, "id").text = ml.id
        ET.SubElement(m, "datasource").text = datasource(service, srid, ml)
        ET.SubElement(m, "layername").text = ml.name
        _srs(ET.SubElement(m, "srs"), crs, srid)
        ET.SubElement(m, "provider", encoding="").text = "postgres"
        m.extend(list(style))
    # QGIS reads <projectCrs> only when the project says projections are enabled
    props = ET.SubElement(ET.SubElement(root, "properties"), "SpatialRefSys")
    ET.SubElement(props, "ProjectionsEnabled", type="int").text = "1"
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "meters"
    if box:
        _extent(canvas, "extent", box)
    ET.SubElement(canvas, "rotation").text = "0"
    _srs(ET.SubElement(canvas, "destinationsrs"), crs, srid)
    ET.indent(root, space=" ")
    text = ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode") + "\n")
    return text, layers

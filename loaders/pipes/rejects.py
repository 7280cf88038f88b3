"""What a rejected pipe record keeps: its attributes and geometry as delivered.

A GIS record's geometry is the delivered one (the delivery's CRS, never the storage-CRS copy);
a survey point is rebuilt from its X (northing) and Y (easting) as typed, a survey segment from
its end points', easting first as GIS files hold it — so that the engineer can fix the rows and
load them again.
"""

from __future__ import annotations

import numpy as np
import shapely

from cim import crs as cimcrs
from loaders.engine.report import Reject
from loaders.pipes.records import LINE_ENDS, PointRec, SegRec, column_name


def reject(rec, reason: str, message: str, key: str | None, fieldname=None, wkt=None) -> Reject:
    """A reject keeps its geometry as delivered (the delivery's CRS and axis order) and its row
    as its own table numbers it (a survey table's row as a person finds it in the file, a GIS
    layer's feature number: the row of QA findings too; attrs ``_table`` names the table); a
    node the loader made at a line end has no row of its own (None: its attrs name the line)."""
    if wkt is None:
        wkt = point_wkt(rec) if isinstance(rec, PointRec) else delivered_wkt(rec)
    return Reject(row_number=None if made_node(rec) else rec.row, reason=reason,
                  message=message, field=fieldname, source_key=key, attrs=dict(rec.attrs),
                  geom_wkt=wkt)


def made_node(rec) -> bool:
    """Whether the record is a node the loader made at a line end (no delivered row)."""
    return rec.table == LINE_ENDS and not rec.row


def where(rec) -> str:
    """Where a record came from, as a person finds it: its table and row (a node made at a line
    end: the line's)."""
    if made_node(rec):
        a = rec.attrs
        return f"{LINE_ENDS} of {a.get('_derived_from')} row {a.get('_row')}"
    return f"{rec.table} row {rec.row}"


def located(rec, message: str) -> str:
    """The message, led by where the record came from (unless it is already)."""
    w = where(rec)
    return message if message.startswith(w) else f"{w}: {message}"


# -- the field a reject names: the delivered column at fault -------------------------------
def ends_field(s: SegRec, columns) -> str:
    """A segment's two ends: their columns (起点号/终点号), or the geometry where the ends come
    from it (a GIS layer without node ids: snapping)."""
    cols = columns.get(s.table) or {}
    if ("start_no" in cols and "end_no" in cols) or s.delivered is None:
        return column_name(columns, s, "start_no", "end_no")
    return "geometry"


def end_field(s: SegRec, which: str, columns) -> str:
    """One end's column (``which``: start or end), or the geometry (see :func:`ends_field`)."""
    attr = f"{which}_no"
    if attr in (columns.get(s.table) or {}) or s.delivered is None:
        return column_name(columns, s, attr)
    return "geometry"


def key_field(rec, columns) -> str:
    """The columns a record's source key is made of: a point's number, a segment's id, else
    its ends."""
    if isinstance(rec, PointRec):
        return "geometry" if made_node(rec) else column_name(columns, rec, "point_no")
    if rec.source_id:
        return column_name(columns, rec, "source_id")
    return ends_field(rec, columns)


def place_field(rec, columns) -> str:
    """What places a record: a survey point's X/Y, a survey segment's end points, a GIS
    feature's (or a made node's) geometry."""
    if isinstance(rec, PointRec):
        if rec.delivered is not None or made_node(rec):
            return "geometry"
        return column_name(columns, rec, "x", "y")
    return ends_field(rec, columns) if rec.delivered is None else "geometry"


def writer_field(rec, reason: str, columns) -> str | None:
    """The field a reject of the direct writer names (:mod:`loaders.engine.direct`)."""
    if reason in ("outside_area", "no_grid_cell"):
        return place_field(rec, columns)
    if reason == "duplicate_source_id":
        return key_field(rec, columns)
    return None


def delivered_wkt(rec: PointRec | SegRec) -> str | None:
    """WKT of a GIS record's geometry as delivered (never the storage-CRS copy); GDAL's text
    of one GEOS refuses (a line of one point) as it is."""
    g = rec.delivered
    if isinstance(g, str):
        return g
    if g is None or shapely.is_missing(g):
        return None
    return shapely.to_wkt(g, rounding_precision=-1)


def point_wkt(p: PointRec) -> str | None:
    """GIS: the delivered geometry; survey: the point at X (northing), Y (easting) as typed,
    easting first as GIS files hold it, in the delivery's CRS."""
    if p.delivered is not None:
        return delivered_wkt(p)
    if p.x is None or p.y is None:
        return None
    e, n = cimcrs.swap_survey_xy(np.array([p.x]), np.array([p.y]))
    xyz = (e[0], n[0]) if p.ground is None else (e[0], n[0], p.ground)
    return shapely.to_wkt(shapely.Point(xyz), rounding_precision=-1)


def finding_message(f) -> str:
    return f"{f.table} row {f.row}: {f.message_zh} / {f.message_en}"


def seg_wkt(s: SegRec, node_by_key) -> str | None:
    """GIS: the delivered line; survey: from the end points' X/Y as typed (easting first)."""
    if s.delivered is not None:
        return delivered_wkt(s)
    ps, pe = node_by_key.get(s.key("start")), node_by_key.get(s.key("end"))
    if ps is None or pe is None or ps.x is None or pe.x is None:
        return None
    return shapely.to_wkt(shapely.LineString([(ps.y, ps.x), (pe.y, pe.x)]),
                          rounding_precision=-1)

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
from loaders.pipes.records import PointRec, SegRec


def reject(rec, reason: str, message: str, key: str | None, fieldname=None, wkt=None) -> Reject:
    """A reject keeps its geometry as delivered (the delivery's CRS and axis order)."""
    if wkt is None:
        wkt = point_wkt(rec) if isinstance(rec, PointRec) else delivered_wkt(rec)
    return Reject(row_number=rec.seq, reason=reason, message=message, field=fieldname,
                  source_key=key, attrs=dict(rec.attrs), geom_wkt=wkt)


def delivered_wkt(rec: PointRec | SegRec) -> str | None:
    """WKT of a GIS record's geometry as delivered (never the storage-CRS copy)."""
    g = rec.delivered
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

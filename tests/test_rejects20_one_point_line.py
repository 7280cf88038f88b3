"""A line of one point (a degenerate CAD line): GDAL reads it, GEOS refuses it, and it was
rejected as "the feature has no geometry (null)", the delivered line gone from the reject and
its export — the surveyor had nothing to fix. Now an ``invalid_geometry`` naming the geometry's
field, the line kept as delivered (GDAL's WKT) in the reject and its CSV export. Files written
by GDAL (ogr2ogr from CSV WKT into a GeoPackage) and loaded into a fresh PostGIS."""

from __future__ import annotations

import csv
import subprocess

from layers.rejects import export_rejects
from loaders.city_base import load_base


def _csv(path, x: float, y: float) -> None:
    path.write_text("WKT,编号,道路等级\n"
                    f'"LINESTRING ({x} {y},{x + 100} {y})",R1,主干路\n'
                    f'"LINESTRING ({x} {y + 200})",R2,主干路\n', encoding="utf-8")


def _check(fresh_db, r, field: str, row_no: int, x: float, y: float, tmp_path) -> None:
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1), r.text()
    ((row, reason, f, wkt),) = fresh_db.rows(
        "SELECT row_number, reason, field, geom_wkt FROM load_rejects WHERE batch_id = %s",
        (r.batch_id,))
    assert (row, reason, f) == (row_no, "invalid_geometry", field)
    assert wkt == f"LINESTRING ({x:.0f} {y + 200:.0f})"
    out = tmp_path / f"rej_{r.batch_id}.csv"
    export_rejects(fresh_db.conninfo, r.batch_id, out)
    with open(out, encoding="utf-8-sig") as fh:
        (rec,) = list(csv.DictReader(fh))
    assert rec["wkt"] == wkt and rec["编号"] == "R2"


def test_a_one_point_line_in_a_csv_is_kept_in_its_reject(fresh_db, tmp_path):
    _cell, x, y = fresh_db.big_cell()
    x, y = round(x), round(y)
    path = tmp_path / "roads.csv"
    _csv(path, x, y)
    r = load_base(fresh_db.conninfo, fresh_db.profile, "roads", path, crs="EPSG:4527")
    _check(fresh_db, r, "WKT", 3, x, y, tmp_path)  # the header is row 1


def test_a_one_point_line_in_a_geopackage_is_kept_in_its_reject(fresh_db, tmp_path):
    _cell, x, y = fresh_db.big_cell()
    x, y = round(x) + 20, round(y) + 10
    src = tmp_path / "roads_src.csv"
    _csv(src, x, y)
    gpkg = tmp_path / "roads.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(gpkg), str(src), "-oo",
                    "GEOM_POSSIBLE_NAMES=WKT", "-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs",
                    "EPSG:4527", "-nln", "roads"], check=True, capture_output=True)
    r = load_base(fresh_db.conninfo, fresh_db.profile, "roads", gpkg)
    _check(fresh_db, r, "geometry", 2, x, y, tmp_path)  # its second feature


def test_naming_the_rejects_decodes_only_their_rows():
    """A batch a reload skips is never decoded (docs/benchmarks.md): naming its few rejects
    reads their WKB alone — it decoded the whole batch's geometries."""
    import struct

    import numpy as np
    import pyarrow
    import shapely

    from loaders.common import name_unread_geometries
    from loaders.engine.report import Reject
    from loaders.sources.batch import Batch

    good = [shapely.to_wkb(shapely.LineString([(i, 0), (i + 1, 0)])) for i in range(1000)]
    one = struct.pack("<BII2d", 1, 2, 1, 5.0, 6.0)  # a line of one point
    wkb = np.array(good[:501] + [one] + good[502:], dtype=object)
    attrs = pyarrow.record_batch({"id": pyarrow.array(range(1000))})
    b = Batch(first_row=1, columns=None, wkb=wkb, attributes=attrs)
    rejects = [Reject(502, "empty_geometry", "the feature has no geometry (null)"),
               Reject(7, "bad_value", "field 'x': …")]
    name_unread_geometries(b, rejects)
    assert b._geometries is None  # nothing decoded
    assert (rejects[0].reason, rejects[0].geom_wkt) == ("invalid_geometry", "LINESTRING (5 6)")
    assert rejects[1].reason == "bad_value" and rejects[1].geom_wkt is None

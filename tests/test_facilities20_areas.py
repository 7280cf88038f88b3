"""Facilities delivered as areas are judged as every polygon loader judges an area before
their point is taken: a ring enclosing nothing (three points, all on one line) or a hole
outside its shell is rejected naming the row and the geometry — it became its first vertex,
flagged only ``point_from_area``; a part drawn inside another is a courtyard, and the point is
not taken in it. Coordinates by construction; a CSV with WKT into a fresh PostGIS."""

from __future__ import annotations

import shapely

from loaders.city_base import load_base


def test_areas_enclosing_nothing_are_rejected_and_courtyards_hold_no_point(fresh_db, tmp_path):
    _cell, x, y = fresh_db.big_cell()
    x, y = round(x), round(y)
    sq = f"{x} {y},{x + 40} {y},{x + 40} {y + 40},{x} {y + 40},{x} {y}"
    inner = f"{x + 5} {y + 5},{x + 35} {y + 5},{x + 35} {y + 35},{x + 5} {y + 35},{x + 5} {y + 5}"
    rows = [
        ("F1", f"POLYGON (({sq}))"),  # a plain area: its point inside
        ("F2", f"POLYGON (({x} {y},{x + 20} {y},{x} {y}))"),  # three points
        ("F3", f"POLYGON (({x} {y},{x + 10} {y},{x + 20} {y},{x} {y}))"),  # on one line
        ("F4", f"POLYGON (({sq}),({x + 100} {y},{x + 110} {y},{x + 110} {y + 10},"
               f"{x + 100} {y + 10},{x + 100} {y}))"),  # a hole outside its shell
        ("F5", f"MULTIPOLYGON ((({sq})),(({inner})))"),  # a part inside the other
    ]
    path = tmp_path / "fac.csv"
    path.write_text("WKT,编号,设施类型\n" + "".join(f'"{w}",{k},小学\n' for k, w in rows),
                    encoding="utf-8")
    r = load_base(fresh_db.conninfo, fresh_db.profile, "facilities", path, crs="EPSG:4527")
    assert (r.read, r.loaded, r.rejected) == (5, 2, 3), r.text()
    rej = fresh_db.rows("SELECT row_number, reason, field FROM load_rejects WHERE "
                        "batch_id = %s ORDER BY row_number", (r.batch_id,))
    assert rej == [(3, "invalid_geometry", "WKT"), (4, "invalid_geometry", "WKT"),
                   (5, "invalid_geometry", "WKT")]
    got = {k: (shapely.from_wkt(w), flags) for k, w, flags in fresh_db.rows(
        "SELECT source_key, ST_AsText(geom), flags FROM facilities WHERE batch_id = %s",
        (r.batch_id,))}
    outer = shapely.from_wkt(f"POLYGON (({sq}))")
    court = shapely.from_wkt(f"POLYGON (({inner}))")
    (f1, f1_flags), (f5, _f5) = got["fac:F1"], got["fac:F5"]
    assert outer.contains(f1) and "point_from_area" in f1_flags
    assert outer.contains(f5) and not court.intersects(f5)


def test_an_area_in_degrees_is_judged_in_metres(fresh_db, tmp_path):
    """An area delivered in CGCS2000 lon/lat (EPSG:4490, a GeoJSON's CRS84 alike) is judged in
    the storage CRS: its limits (a 0.01 m² minimum) are square metres, and in degrees every
    100 m square had "(almost) no area"."""
    import pyproj

    _cell, x, y = fresh_db.big_cell()
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True)
    ring = [(x, y), (x + 100, y), (x + 100, y + 100), (x, y + 100), (x, y)]
    ll = [to_ll.transform(e, n) for e, n in ring]
    wkt = "POLYGON ((" + ",".join(f"{lon!r} {lat!r}" for lon, lat in ll) + "))"
    path = tmp_path / "fac_ll.csv"
    path.write_text(f'WKT,编号,设施类型\n"{wkt}",D1,小学\n', encoding="utf-8")
    r = load_base(fresh_db.conninfo, fresh_db.profile, "facilities", path, crs="EPSG:4490")
    assert (r.read, r.loaded, r.rejected) == (1, 1, 0), r.text()
    (pt,) = [shapely.from_wkt(w) for (w,) in fresh_db.rows(
        "SELECT ST_AsText(geom) FROM facilities WHERE batch_id = %s", (r.batch_id,))]
    assert shapely.Polygon(ring).buffer(0.01).contains(pt)

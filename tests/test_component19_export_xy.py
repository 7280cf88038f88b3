"""A census read from X/Y, its rejects exported, fixed in X/Y and loaded again: the CSV export
wrote the point each row was rejected with (``wkt``) beside X/Y, and the reload read that
point — a corrected X was ignored (the old place loaded, or the row refused again as outside
the city, or a filled-in blank Y rejected as "no geometry [wkt]"). A CSV export of such a
batch now holds X/Y only; a GeoPackage export keeps its points for the map and is marked
(its layer's description): a row whose point and X/Y disagree — a point moved in QGIS, or X/Y
typed — is refused naming the row, as which was fixed cannot be told; so is an unmarked
export (an older one, a GIS census's) where some rows agree and others not. Places by
construction: offsets from a grid cell's centre."""

from __future__ import annotations

import csv

import geopandas as gpd
import pytest
import shapely

from cim.errors import InputError
from cim.exports import XY_EXPORT_MARK
from layers.rejects import export_rejects
from loaders.components import load_components
from tests.test_component_xy_table import _loaded, _mm, _outside_northing


def _census(d, tmp_path):
    _code, e, n = d.big_cell()
    far = _outside_northing(d, e, n)
    path = tmp_path / "census.csv"
    path.write_bytes(("部件编码,部件小类,X坐标,Y坐标\r\n"
                      f"K1,0101,{n},{e}\r\n"
                      f"K2,9999,{n + 1},{e + 1}\r\n"      # unknown class: a point
                      f"K3,0101,{n + 2},\r\n"             # Y blank: no point
                      f"K4,0101,{far},{e + 4}\r\n").encode("gbk"))  # X mistyped: outside
    r = load_components(d.conninfo, d.profile, path, processes=0)
    assert (r.loaded, r.rejected) == (1, 3), r.text()
    return r, e, n


def _rows(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _write(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _fix(rows, e, n, x4_col="X坐标"):
    head = rows[0]
    col = {h: i for i, h in enumerate(head)}
    for row in rows[1:]:
        k = row[col["部件编码"]]
        if k == "K2":
            row[col["部件小类"]] = "0101"
        if k == "K3":
            row[col["Y坐标"]] = str(e + 3)
        if k == "K4":
            row[col[x4_col]] = str(n + 4)
    return rows


def test_a_csv_export_of_an_x_y_census_holds_x_y_only_and_reloads_from_them(fresh_db,
                                                                           tmp_path):
    r, e, n = _census(fresh_db, tmp_path)
    out = tmp_path / "rejects.csv"
    assert export_rejects(fresh_db.conninfo, r.batch_id, out) == 3
    rows = _rows(out)
    assert "wkt" not in [h.lower() for h in rows[0]]
    _write(out, _fix(rows, e, n))
    fixed = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    assert (fixed.read, fixed.loaded, fixed.rejected) == (3, 3, 0), fixed.text()
    got = {k: (x, y) for k, (_c, x, y, _a) in _loaded(fresh_db, fixed.batch_id).items()}
    assert got == {"K2": (_mm(e + 1), _mm(n + 1)), "K3": (_mm(e + 3), _mm(n + 2)),
                   "K4": (_mm(e + 4), _mm(n + 4))}


def test_an_older_csv_export_with_its_wkt_is_refused_naming_the_rows_that_disagree(
        fresh_db, tmp_path):
    """An export written before the mark (its wkt beside X/Y): some rows' point and X/Y
    agree, the fixed ones' not — which is the fix cannot be told (a GIS census's X/Y
    attributes may be stale): refused naming them; without its wkt column it loads."""
    r, e, n = _census(fresh_db, tmp_path)
    out = tmp_path / "rejects_old.csv"
    export_rejects(fresh_db.conninfo, r.batch_id, out)
    # as the export wrote it before: the point each row was rejected with, last, as wkt
    wkts = dict(fresh_db.rows("SELECT attrs->>'部件编码', coalesce(geom_wkt, '') "
                              "FROM load_rejects WHERE batch_id = %s", (r.batch_id,)))
    rows = _rows(out)
    k = rows[0].index("部件编码")
    rows = [rows[0] + ["wkt"]] + [row + [wkts[row[k]]] for row in rows[1:]]
    assert rows[-1][-1].startswith("POINT")  # K4's point, where it was mistyped
    _write(out, _fix(rows, e, n))
    # (K2: class fixed, point and X/Y agree; K4: X fixed — the export's row 4)
    with pytest.raises(InputError, match=r"row 4: the point and X坐标/Y坐标 disagree.*"
                                         r"delete its wkt column"):
        load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    _write(out, [row[:-1] for row in _rows(out)])
    fixed = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    assert (fixed.read, fixed.loaded, fixed.rejected) == (3, 3, 0), fixed.text()
    got = {k: (x, y) for k, (_c, x, y, _a) in _loaded(fresh_db, fixed.batch_id).items()}
    assert got["K4"] == (_mm(e + 4), _mm(n + 4)) and got["K3"] == (_mm(e + 3), _mm(n + 2))


def test_a_gis_census_export_keeps_its_points_though_its_x_y_say_otherwise(fresh_db,
                                                                           tmp_path):
    """A GIS census (real points) whose X/Y attributes lie elsewhere (stale): its CSV export
    reloads from its points (review of session 19: it had loaded the X/Y)."""
    _c, e, n = fresh_db.big_cell()
    gdf = gpd.GeoDataFrame({"部件编码": ["G1", "G2", "G3"], "小类代码": ["0101", "9999", "9999"],
                            "X坐标": [n + 50] * 3, "Y坐标": [e + 50] * 3},
                           geometry=[shapely.Point(e, n + 10 * i) for i in range(3)],
                           crs="EPSG:4527")
    path = tmp_path / "gis_census.gpkg"
    gdf.to_file(path, engine="pyogrio")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.loaded, r.rejected) == (1, 2), r.text()
    out = tmp_path / "gis_rejects.csv"
    export_rejects(fresh_db.conninfo, r.batch_id, out)
    rows = _rows(out)
    assert rows[0][-1].lower() == "wkt"
    k = rows[0].index("小类代码")
    for row in rows[1:]:
        row[k] = "0101"
    _write(out, rows)
    fixed = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    assert (fixed.loaded, fixed.rejected) == (2, 0), fixed.text()
    got = {k: (x, y) for k, (_c, x, y, _a) in _loaded(fresh_db, fixed.batch_id).items()}
    assert got == {"G2": (_mm(e), _mm(n + 10)), "G3": (_mm(e), _mm(n + 20))}


def test_a_geopackage_export_whose_point_and_x_y_disagree_is_refused_naming_the_row(
        fresh_db, tmp_path):
    r, e, n = _census(fresh_db, tmp_path)
    out = tmp_path / "rejects.gpkg"
    export_rejects(fresh_db.conninfo, r.batch_id, out)
    [layer] = gpd.list_layers(out)["name"]
    df = gpd.read_file(out, layer=layer)
    df["部件小类"] = ["0101"] * len(df)
    at = {k: i for i, k in enumerate(df["部件编码"])}
    df.loc[at["K4"], "X坐标"] = str(n + 4)  # X typed, the point left where it was

    def save(frame):
        out.unlink()
        # (as QGIS saves a layer: its description kept)
        frame.to_file(out, layer=layer, engine="pyogrio",
                      layer_options={"DESCRIPTION": XY_EXPORT_MARK})

    save(df)
    # (a GeoPackage's rows are its features' FIDs: K2 1, K3 2, K4 3)
    with pytest.raises(InputError, match=r"row 3: the point and X坐标/Y坐标 disagree.*"
                                         r"set X/Y where the point was moved"):
        load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    # only K4, its X fixed in the attribute table: refused too — none of its rows agrees,
    # but the export says its place is X/Y (it had loaded the old point, outside the city)
    save(df.iloc[[at["K4"]]])
    with pytest.raises(InputError, match=r"row 1: the point and X坐标/Y坐标 disagree"):
        load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    # the point moved too: loads from X/Y
    geoms = df.geometry.copy()
    geoms.iloc[at["K4"]] = shapely.Point(e + 4, n + 4)
    save(df.set_geometry(geoms))
    fixed = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    assert (fixed.read, fixed.loaded) == (3, 2), fixed.text()  # K3: Y still blank
    got = {k: (x, y) for k, (_c, x, y, _a) in _loaded(fresh_db, fixed.batch_id).items()}
    assert got["K4"] == (_mm(e + 4), _mm(n + 4))


def test_the_geopackage_export_of_an_x_y_census_is_marked(fresh_db, tmp_path):
    import pyogrio

    r, _e, _n = _census(fresh_db, tmp_path)
    out = tmp_path / "marked.gpkg"
    export_rejects(fresh_db.conninfo, r.batch_id, out)
    [layer] = gpd.list_layers(out)["name"]
    assert pyogrio.read_info(out, layer=layer)["layer_metadata"]["DESCRIPTION"] == \
        XY_EXPORT_MARK

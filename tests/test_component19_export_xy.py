"""A census read from X/Y, its rejects exported, fixed in X/Y and loaded again: the CSV export
wrote the point each row was rejected with (``wkt``) beside X/Y, and the reload read that
point — a corrected X was ignored (the old place loaded, or the row refused again as outside
the city, or a filled-in blank Y rejected as "no geometry [wkt]"). A CSV export of such a
batch now holds X/Y only; an older one with ``wkt`` reloads from X/Y where they were fixed
(noted). A GeoPackage export keeps its points for the map: a row whose point and X/Y
disagree — a point moved in QGIS, or X/Y typed — is refused naming the row, as which was
fixed cannot be told. Places by construction: offsets from a grid cell's centre."""

from __future__ import annotations

import csv

import geopandas as gpd
import pytest
import shapely

from cim.errors import InputError
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


def test_an_older_csv_export_with_its_wkt_reloads_from_the_fixed_x_y(fresh_db, tmp_path):
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
    fixed = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    assert (fixed.read, fixed.loaded, fixed.rejected) == (3, 3, 0), fixed.text()
    got = {k: (x, y) for k, (_c, x, y, _a) in _loaded(fresh_db, fixed.batch_id).items()}
    assert got["K4"] == (_mm(e + 4), _mm(n + 4)) and got["K3"] == (_mm(e + 3), _mm(n + 2))
    assert any("set aside" in note and "X坐标/Y坐标" in note for note in fixed.notes), \
        fixed.notes


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
    out.unlink()
    df.to_file(out, layer=layer, engine="pyogrio")
    # (a GeoPackage's rows are its features' FIDs: K2 1, K3 2, K4 3)
    with pytest.raises(InputError, match=r"row 3: the point and X坐标/Y坐标 disagree"):
        load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    # the point moved too: loads from X/Y
    geoms = df.geometry.copy()
    geoms.iloc[at["K4"]] = shapely.Point(e + 4, n + 4)
    df = df.set_geometry(geoms)
    out.unlink()
    df.to_file(out, layer=layer, engine="pyogrio")
    fixed = load_components(fresh_db.conninfo, fresh_db.profile, out, processes=0)
    assert (fixed.read, fixed.loaded) == (3, 2), fixed.text()  # K3: Y still blank
    got = {k: (x, y) for k, (_c, x, y, _a) in _loaded(fresh_db, fixed.batch_id).items()}
    assert got["K4"] == (_mm(e + 4), _mm(n + 4))

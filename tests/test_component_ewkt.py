"""A census CSV whose geometry column holds EWKT (``SRID=4527;POINT (…)``, as PostGIS's
ST_AsEWKT and database exports write it): GDAL reads no geometry from it, and every row was
rejected as unreadable. The SRID is the file's CRS, as a .prj is; a malformed one is still
rejected naming the column, its text kept; two SRIDs in one file are refused naming the
column. Expected values by construction: the points written here from a grid cell's centre,
its longitude and latitude computed by PROJ from the storage CRS."""

from __future__ import annotations

import pyproj
import pytest

from cim.errors import InputError
from loaders.components import load_components


def _mm(v: float):
    """A coordinate to the millimetre (pytest.approx alone is relative: ±39 m of an easting)."""
    return pytest.approx(v, abs=1e-3)


def _points(d, batch_id: int) -> dict[str, tuple[float, float]]:
    return {k.split(":", 1)[1]: (x, y) for k, x, y in d.rows(
        "SELECT source_key, ST_X(geom), ST_Y(geom) FROM components WHERE batch_id = %s",
        (batch_id,))}


def test_ewkt_of_the_storage_crs_loads_and_a_malformed_one_is_named(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,WKT\n"
                    f"E1,0101,SRID=4527;POINT ({x} {y})\n"
                    f"E2,0101,SRID=4527;POINT ({x + 5} {y}\n"      # its bracket missing
                    f"E3,0101,POINT ({x + 7} {y})\n",             # plain WKT beside: the same CRS
                    encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1), r.text()
    assert r.source_crs == "EPSG:4527"
    assert _points(fresh_db, r.batch_id) == {"E1": (_mm(x), _mm(y)),
                                             "E3": (_mm(x + 7), _mm(y))}
    [(row, reason, field, attrs)] = fresh_db.rows(
        "SELECT row_number, reason, field, attrs FROM load_rejects WHERE batch_id = %s",
        (r.batch_id,))
    assert (row, reason, field) == (3, "invalid_geometry", "WKT")  # line 3, header = row 1
    assert attrs["WKT"] == f"SRID=4527;POINT ({x + 5} {y}" and attrs["部件编码"] == "E2"
    again = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (again.unchanged, again.inserted, again.updated) == (2, 0, 0), again.text()


def test_ewkt_in_longitude_and_latitude_is_transformed(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    lon, lat = pyproj.Transformer.from_crs(4527, 4490, always_xy=True).transform(x, y)
    path = tmp_path / "census.csv"
    # a column named geometry, as GDAL names its own geometry column
    path.write_text(f"部件编码,部件小类,geometry\nL1,0101,SRID=4490;POINT ({lon!r} {lat!r})\n",
                    encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded) == (1, 1), r.text()
    assert _points(fresh_db, r.batch_id) == {"L1": (_mm(x),
                                                    _mm(y))}


def test_two_srids_in_one_file_are_refused_naming_the_column(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,WKT\n"
                    f"A1,0101,SRID=4527;POINT ({x} {y})\n"
                    f"A2,0101,SRID=4548;POINT ({x - 39_000_000} {y})\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert exc.value.field == "WKT" and "4527, 4548" in exc.value.message
    assert fresh_db.scalar("SELECT count(*) FROM components") == 0

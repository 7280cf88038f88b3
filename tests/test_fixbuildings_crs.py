"""A CityGML whose srsName is a northing-first code (``urn:ogc:def:crs:EPSG::4527``,
``http://www.opengis.net/def/crs/EPSG/0/4547``: the CGCS2000 Gauss-Krüger CRSs of Chinese
deliveries, northing first by EPSG's definition) written once, on the Envelopes, while its
coordinates are written easting first, as most exporters write them: it was refused inside
open_source, --crs EPSG:4527 or not (it loaded with --crs before the srsName was read). The
coordinates tell the order (a zone-prefixed easting is no northing); --crs is taken.

Buildings known by construction: boxes in EPSG:4527 (the storage CRS: stored coordinates are
the file's), a 4547 file's expected position computed by pyproj from its own coordinates."""

from __future__ import annotations

import json

import geopandas as gpd
import pyproj
import pytest
import shapely

from cim.db.engine import drop_database
from tests.conftest import make_db, profile_around, run_cli, server_url
from tests.test_citygml_srs_units import _building, _flat, _solid, _write

E, N = 39_463_000.0, 3_920_000.0  # EPSG:4527 (zone 39, near Jining)
URN = "urn:ogc:def:crs:EPSG::4527"
HTTP_4547 = "http://www.opengis.net/def/crs/EPSG/0/4547"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    work = tmp_path_factory.mktemp("fbcrs")
    area = work / "area.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(E - 500, N - 500, E + 500, N + 500)],
                     crs="EPSG:4527").to_file(area)
    profile = profile_around(area, None, work, name="GK (test)", admin_code="990700",
                             crs="EPSG:4527", src_crs="EPSG:4527")
    d = make_db("fbcrs", profile)
    yield d
    drop_database(server_url(), d.name)


def _stored(db, key):
    rows = db.rows("SELECT ST_AsBinary(geom), height FROM buildings "
                   "WHERE source_key = %s AND valid_to IS NULL", (key,))
    assert len(rows) == 1, rows
    return shapely.from_wkb(bytes(rows[0][0])), rows[0][1]


@pytest.mark.parametrize("crs", [["--crs", "EPSG:4527"], []], ids=["crs", "nocrs"])
def test_a_gk_urn_srsname_with_easting_first_coordinates_loads(db, tmp_path, crs):
    src = _write(tmp_path / f"gk{len(crs)}.gml", _building(
        "B1", _solid(E, N, E + 10, N + 8, 40, 52), E, N, E + 10, N + 8, srs=URN))
    p = run_cli(["load", "buildings", str(src), "--json", *crs], db.env())
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["source_crs"] == "EPSG:4527" and report["loaded"] == 1
    g, h = _stored(db, f"gk{len(crs)}:B1")
    assert shapely.equals_exact(shapely.normalize(g), shapely.normalize(
        shapely.MultiPolygon([shapely.box(E, N, E + 10, N + 8)])), 1e-6)
    assert h == pytest.approx(12.0)


@pytest.mark.parametrize("crs", [["--crs", "EPSG:4547"], []], ids=["crs", "nocrs"])
def test_an_http_4547_srsname_with_easting_first_coordinates_loads(db, tmp_path, crs):
    to4547 = pyproj.Transformer.from_crs(4527, 4547, always_xy=True)
    x, y = to4547.transform(E + 100, N + 100)  # the file's coordinates (CM 114°E, no prefix)
    src = _write(tmp_path / f"cm{len(crs)}.gml", _building(
        "B1", _flat(x, y, x + 10, y + 8), x, y, x + 10, y + 8, srs=HTTP_4547, height=9))
    p = run_cli(["load", "buildings", str(src), "--json", *crs], db.env())
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["source_crs"] == "EPSG:4547"
    g, h = _stored(db, f"cm{len(crs)}:B1")
    back = pyproj.Transformer.from_crs(4547, 4527, always_xy=True)
    want = shapely.transform(shapely.box(x, y, x + 10, y + 8), lambda c: __import__(
        "numpy").column_stack(back.transform(c[:, 0], c[:, 1])))
    assert shapely.hausdorff_distance(g, want) < 0.001
    assert h == pytest.approx(9.0)


def test_gk_coordinates_written_northing_first_are_refused_clearly(db, tmp_path):
    """Written northing first, as the URN says: GDAL reads an Envelope-only srsName's
    coordinates as written, so x would be the northing; refused, saying why."""
    src = _write(tmp_path / "ne.gml", _building(
        "B1", _flat(N, E, N + 8, E + 10), N, E, N + 8, E + 10, srs=URN, height=9))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 3 and "ne.gml" in p.stderr, p.stderr
    assert "written northing (latitude) first" in p.stderr, p.stderr
    assert db.scalar("SELECT count(*) FROM buildings WHERE source_key LIKE 'ne:%%'") == 0


def test_an_undecidable_srsname_is_named_in_the_no_crs_error(db, tmp_path):
    """A world-wide northing-first srsName (EPSG:4326 as a URN) over degrees that fit both
    orders: the CRS is set aside, nothing else tells one, and the error says why — the
    srsName — instead of guessing at a missing .prj."""
    src = _write(tmp_path / "ww.gml", _building(
        "B1", _flat(30.0, 40.0, 30.0001, 40.0001), 30.0, 40.0, 30.0001, 40.0001,
        srs="urn:ogc:def:crs:EPSG::4326", height=9))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 3 and "ww.gml" in p.stderr, p.stderr
    assert "urn:ogc:def:crs:EPSG::4326" in p.stderr and "--crs" in p.stderr, p.stderr
    assert "missing .prj" not in p.stderr, p.stderr
    assert db.scalar("SELECT count(*) FROM buildings WHERE source_key LIKE 'ww:%%'") == 0

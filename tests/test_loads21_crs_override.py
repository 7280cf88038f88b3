"""`--crs` over a file's .prj that puts the features elsewhere (session 21's CRS probe): a .prj
a tool wrote wrongly is what --crs is for, but a UTM 50N file read as GK 117°E (EPSG:4548)
moved every footprint 1.5 km with a note that said nothing of it. The note now says how far;
the distance expected from pyproj on the written coordinates."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from loaders.buildings import load_buildings


def test_an_override_that_moves_the_features_says_how_far(fresh_db, tmp_path):
    _cell, x, y = fresh_db.big_cell()
    truth = [shapely.box(x + 10 + 30 * i, y + 10, x + 30 + 30 * i, y + 30) for i in range(2)]
    utm = pyproj.Transformer.from_crs(4527, 32650, always_xy=True)
    written = [shapely.transform(g, lambda c: np.column_stack(utm.transform(c[:, 0], c[:, 1])))
               for g in truth]
    path = tmp_path / "utm.shp"
    gpd.GeoDataFrame({"编号": ["U1", "U2"]}, geometry=written, crs=32650).to_file(path)
    # independent: the same numbers read as UTM 50N and as EPSG:4548, in the storage CRS
    pts = [(g.centroid.x, g.centroid.y) for g in written]
    a = pyproj.Transformer.from_crs(32650, 4527, always_xy=True)
    b = pyproj.Transformer.from_crs(4548, 4527, always_xy=True)
    want = max(((a.transform(*p)[0] - b.transform(*p)[0]) ** 2
                + (a.transform(*p)[1] - b.transform(*p)[1]) ** 2) ** 0.5 for p in pts)
    assert 1000 < want < 2000  # premise: the two CRSs are 1.5 km apart here
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, crs="EPSG:4548")
    (note,) = [n for n in r.notes if "overrides the file's CRS" in n]
    assert f"up to {want:,.1f} m" in note, note


def test_a_file_mixing_zones_counts_its_features(fresh_db, tmp_path):
    """Two squares in zone 39 and two in zone 40, no .prj: refused, counting features (it
    counted vertices, "zone 40 (10 rows)" of two squares)."""
    import pytest

    from cim.errors import InputError

    squares = [shapely.box(39_464_000 + 50 * i, 3_915_000, 39_464_020 + 50 * i, 3_915_020)
               for i in range(2)]
    squares += [shapely.box(40_300_000 + 50 * i, 3_915_000, 40_300_020 + 50 * i, 3_915_020)
                for i in range(2)]
    path = tmp_path / "mixed.shp"
    gpd.GeoDataFrame({"编号": ["A", "B", "C", "D"]}, geometry=squares).to_file(path)
    assert not path.with_suffix(".prj").exists()  # premise
    with pytest.raises(InputError) as e:
        load_buildings(fresh_db.conninfo, fresh_db.profile, path)
    assert "zone 39 (2 features), zone 40 (2 features)" in e.value.message, e.value.message


def test_a_wgs84_delivery_is_said_to_be_taken_as_cgcs2000(fresh_db, tmp_path):
    """WGS 84 (GNSS, a web export) is taken as CGCS2000 without a shift — no note said it;
    ~0.7 m at today's epoch (the CRS probe's plate-motion estimate). A CGCS2000 file: none."""
    _cell, x, y = fresh_db.big_cell()
    box = shapely.box(x + 10, y + 10, x + 30, y + 30)
    to84 = pyproj.Transformer.from_crs(4527, 4326, always_xy=True)
    lonlat = shapely.transform(box, lambda c: np.column_stack(to84.transform(c[:, 0], c[:, 1])))
    for crs, geom, said in ((4326, lonlat, True), (4527, box, False)):
        path = tmp_path / f"b{crs}.gpkg"
        gpd.GeoDataFrame({"编号": ["W1"]}, geometry=[geom], crs=crs).to_file(path)
        r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset=f"w{crs}")
        notes = [n for n in r.notes if "taken as CGCS2000 without a shift" in n]
        assert bool(notes) is said, r.notes


def test_a_file_without_a_crs_is_told_what_its_coordinates_look_like(fresh_db, tmp_path):
    """No .prj: a 6° zone's prefixed eastings and coordinates written northing first were
    refused with only "pass --crs EPSG:n" (the CRS probe)."""
    import pytest

    from cim.errors import InputError

    # by construction: zone 20 eastings (20,4xx,xxx) and a northing-first square
    six = shapely.box(20_460_000, 3_915_000, 20_460_020, 3_915_020)
    swapped = shapely.box(3_915_000, 464_000, 3_915_020, 464_020)
    for name, geom, said in (("six", six, "--crs EPSG:4498"), ("swapped", swapped, "swapped")):
        path = tmp_path / f"{name}.shp"
        gpd.GeoDataFrame({"编号": ["A"]}, geometry=[geom]).to_file(path)
        with pytest.raises(InputError) as e:
            load_buildings(fresh_db.conninfo, fresh_db.profile, path)
        assert said in e.value.message, e.value.message

"""Invalid outlines in a project: an outline crossing itself (two corners swapped: a bowtie)
was made valid without a word, and the FAR and density counted an area nobody drew (a 20 ×
30 m footprint read as two triangles of 300 m²). It is now an input problem naming the file,
layer, feature and field; an invalid outline whose repair keeps its area (a CAD spike, parts
of one feature overlapping) is read as its valid outline and said so in the notes. Areas
expected are worked by hand from the drawn coordinates."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
import shapely.geometry
from shapely.geometry import MultiPolygon, Polygon, box

from cim.errors import InputError
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import SRID, collection, feature, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE = box(0, 0, 100, 100)
BOWTIE = Polygon([(10, 10), (30, 40), (30, 10), (10, 40)])  # the box 10..30 × 10..40, corners swapped
BOWTIE_REPAIRED_M2 = 2 * (0.5 * 30 * 10)  # two triangles, base 30 m on x = 10 and x = 30, apex (20, 25)
SPIKE = Polygon([(10, 10), (30, 10), (30, 40), (20, 40), (20, 60), (20, 40), (10, 40)])


def _project(*features):
    return build_project(records_from_geojson(collection(*features)), source="p.geojson",
                         name="p", crs=f"EPSG:{SRID}", storage_srid=SRID)


def test_a_self_crossing_footprint_is_refused_naming_feature_and_field(adb, tmp_path):
    gpkg = tmp_path / "bowtie.gpkg"
    for layer, g, attrs in (("用地红线", SITE, {"名称": "site"}),
                            ("建筑", BOWTIE, {"名称": "1号楼", "地上层数": 3, "建筑高度": 10.0})):
        gpd.GeoDataFrame([attrs], geometry=[to_storage(g)], crs=SRID).to_file(
            gpkg, layer=layer, driver="GPKG")
    proc = run_cli(["check", str(gpkg), "--json", "--no-record"], adb.env())
    assert proc.returncode == 2, proc.stdout[-800:]
    err = proc.stderr
    assert f"{gpkg}, layer '建筑', feature 1, field 'geometry'" in err, err
    assert "0.00 m² as drawn" in err and f"{BOWTIE_REPAIRED_M2:,.2f} m² as repaired" in err, err
    assert "Traceback" not in err


def test_a_self_crossing_site_is_refused_too():
    with pytest.raises(InputError) as e:
        _project(feature("site", Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])),
                 feature("building", box(10, 10, 30, 40), floors_above=3, height=10))
    assert "feature 1, field 'geometry'" in str(e.value) and "crosses itself" in str(e.value)


def test_a_spike_keeps_its_area_and_is_noted():
    p = _project(feature("site", SITE),
                 feature("building", SPIKE, name="s", floors_above=3, height=10))
    assert p.buildings[0].footprint.area == pytest.approx(20 * 30)
    assert any("feature 2: the polygon is not valid" in n and "600.00 m²" in n
               for n in p.notes), p.notes


def test_overlapping_parts_of_one_site_feature_cover_their_union_once():
    parts = MultiPolygon([box(0, 0, 60, 100), box(40, 0, 100, 100)])  # overlap 20 × 100
    p = _project(feature("site", parts),
                 feature("building", box(10, 10, 30, 40), floors_above=3, height=10))
    assert p.site.area == pytest.approx(100 * 100)
    assert any("feature 1: the polygon is not valid" in n for n in p.notes), p.notes



def test_a_crs_without_an_epsg_code_is_named_by_its_authority():
    """The report's header gave OGC:CRS84 as a page of WKT."""
    t = pyproj.Transformer.from_crs(SRID, "OGC:CRS84", always_xy=True)

    def lonlat(role, g, **props):
        ll = shapely.transform(to_storage(g), lambda xy: np.column_stack(
            t.transform(xy[:, 0], xy[:, 1])))
        return {"type": "Feature", "properties": {"role": role, **props},
                "geometry": shapely.geometry.mapping(ll)}

    fc = collection(lonlat("site", SITE), lonlat("building", box(10, 10, 30, 40), height=10))
    p = build_project(records_from_geojson(fc), source="p", name="p", crs="OGC:CRS84",
                      storage_srid=SRID)
    assert p.source_crs == "OGC:CRS84"
    assert p.site.area == pytest.approx(SITE.area, rel=1e-6)

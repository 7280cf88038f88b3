"""Real third-party data (../shared/data/real): the loaders must cope with what nobody here made."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely

from loaders.buildings import load_buildings
from tests.conftest import make_db, profile_around, real_file, server_url


@pytest.fixture(scope="module")
def li_db(tmp_path_factory):
    """A test profile covering Liechtenstein in EPSG:2056 with two synthetic districts."""
    from cim.db.engine import drop_database

    src = real_file("li_buildings.gpkg")
    profile = profile_around(src, "buildings", tmp_path_factory.mktemp("li"),
                             name="Liechtenstein (test)", admin_code="990100")
    db = make_db("li", profile)
    yield db
    drop_database(server_url(), db.name)


def test_osm_buildings_of_liechtenstein_load_or_are_rejected_with_a_reason(li_db):
    src = real_file("li_buildings.gpkg")
    r = load_buildings(li_db.conninfo, li_db.profile, src, source_layer="buildings")
    assert r.read == 3723
    assert r.read == r.loaded + r.rejected
    assert r.source_crs == "EPSG:4326"
    reasons = li_db.rows("SELECT reason, count(*) FROM load_rejects WHERE batch_id = %s "
                         "GROUP BY 1", (r.batch_id,))
    assert sum(n for _, n in reasons) == r.rejected
    assert all(reason for reason, _ in reasons)
    assert li_db.scalar("SELECT count(*) FROM buildings WHERE NOT ST_IsValid(geom)") == 0
    # every feature keeps its code on reload, whether keyed by an OSM id or by its geometry
    codes = dict(li_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
    r2 = load_buildings(li_db.conninfo, li_db.profile, src, source_layer="buildings")
    assert r2.unchanged == r.loaded and r2.inserted == 0
    assert dict(li_db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL")) \
        == codes
    # OSM building=* values are mapped to the use dictionary
    uses = dict(li_db.rows("SELECT use_name, count(*) FROM buildings GROUP BY 1"))
    assert uses.get("住宅", 0) > 0
    # the footprints land where OSM has them (metres in EPSG:2056)
    osm = pyogrio.read_dataframe(src, layer="buildings", max_features=1).to_crs("EPSG:2056")
    assert osm["osm_id"].notna().iloc[0]
    key = f"li_buildings:{int(osm['osm_id'].iloc[0])}"
    stored = li_db.scalar("SELECT ST_AsBinary(geom) FROM buildings WHERE source_key = %s "
                          "AND valid_to IS NULL", (key,))
    assert shapely.hausdorff_distance(osm.geometry.iloc[0], shapely.from_wkb(bytes(stored))) \
        < 0.01
    assert np.isfinite(li_db.scalar("SELECT sum(ST_Area(geom)) FROM buildings"))

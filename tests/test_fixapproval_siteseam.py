"""The seam closed between a site's parts is the rules file's number (approval_rules.yaml
``site_seam_m``, beside ``line_join_tolerance_m``), not a constant in code: a city's copy
changes it, a city's older copy without the key takes the platform's. The expected site and
outside areas are computed here from the drawn boxes."""

from __future__ import annotations

import pytest
import yaml
from shapely.geometry import box

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR
from layers.approval.check import check
from layers.approval.config import load_config
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import SRID, collection, feature

adb = approval_fixture.adb  # the hand-drawn planning situation, a database per module

GAP = 0.003  # 3 mm between the parts: closed by a 5 mm seam, not by a 1 mm one
WEST, EAST = box(60, 10, 100, 90), box(100 + GAP, 10, 160, 90)
B = box(90, 20, 110, 40)  # across the seam
PLATFORM = yaml.safe_load((DICTIONARY_DIR / "approval_rules.yaml").read_text(encoding="utf-8"))


def _copy(tmp_path, **top):
    raw = yaml.safe_load((DICTIONARY_DIR / "approval_rules.yaml").read_text(encoding="utf-8"))
    for k, v in top.items():
        if v is None:
            raw.pop(k)
        else:
            raw[k] = v
    p = tmp_path / "rules.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_config(None, p)


def _fc():
    return collection(feature("site", WEST), feature("site", EAST),
                      feature("building", B, name="B", floors_above=3, height=10))


def _project(cfg):
    return build_project(records_from_geojson(_fc()), source="t", name="t",
                         crs=f"EPSG:{SRID}", storage_srid=SRID, config=cfg)


def test_the_seam_is_the_rules_files_number(tmp_path):
    assert 2 * PLATFORM["site_seam_m"] > GAP > 2 * 0.001  # the premise of the cases below
    whole, parts = box(60, 10, 160, 90).area, WEST.area + EAST.area
    assert whole - parts == pytest.approx(80 * GAP)
    platform = load_config(None)
    assert platform.site_seam_m == PLATFORM["site_seam_m"]
    assert _project(platform).site.area == pytest.approx(whole, abs=1e-6)
    city = _copy(tmp_path, site_seam_m=0.001)  # a city that closes 2 mm gaps only
    assert city.site_seam_m == 0.001
    site = _project(city).site
    assert site.area == pytest.approx(parts, abs=1e-6) and site.geom_type == "MultiPolygon"
    # a city's copy made before the key takes the platform's value
    older = _copy(tmp_path, site_seam_m=None)
    assert older.site_seam_m == PLATFORM["site_seam_m"]
    assert _project(older).site.area == pytest.approx(whole, abs=1e-6)
    with pytest.raises(ConfigError, match="site_seam_m"):
        _copy(tmp_path, site_seam_m="1 cm")


def test_a_city_seam_changes_the_inside_site_outcome(adb, tmp_path):
    outside = B.difference(WEST.union(EAST)).area
    assert outside == pytest.approx(20 * GAP)  # 0.06 m², above the 0.01 m² area tolerance
    for cfg, want in ((load_config(None), ("pass", 0.0)),
                      (_copy(tmp_path, site_seam_m=0.001), ("fail", outside))):
        res = check(adb.conninfo, _project(cfg), adb.profile, cfg)[0]
        r = next(r for r in res["results"] if r["id"] == "inside_site")
        assert (r["status"], r["measured"]) == (want[0], pytest.approx(want[1], abs=1e-4))

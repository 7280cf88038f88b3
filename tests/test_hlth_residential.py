"""Homes for the health check are the uses building_use.csv marks residential (住宅 01 and
商住混合 08), the list the population loader takes residents by, not a code kept in the
computations: a 商住混合 block beside a park was no residential land for 公园绿地服务半径覆盖率
and a new 90 m 商住 tower no 80 m 以上新建住宅 (a helper's probe), while its residents counted in
人均公园绿地面积. A city's building_use.csv decides; a catalog copy without
pipe_design_life_years takes the platform file's value."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
import yaml

from cim.db.engine import drop_database
from cim.profile import DICTIONARY_DIR
from layers.health.catalog import catalog_path, load_catalog
from layers.health.compute import compute
from tests import health_fixture as hf
from tests.conftest import make_db, server_url
from tests.test_health import _by_unit, _ind


@pytest.fixture()
def city(jining_profile):
    d = make_db("hres", jining_profile, apply_profile=False)
    hf.build(d.conninfo)
    # 商住混合 blocks: M300 at x 300 (network 230 m from P1: covered), M700 at x 700 (630 m
    # from P1, 430 m from P2, 300 m tier: not), both on the fixture's row 20 m north of road A;
    # M700 a 90 m tower of the check year
    hf.add_building(d.conninfo, "M300", hf.block(300, 560), hf.D1, "08")
    hf.add_building(d.conninfo, "M700", hf.block(700), hf.D1, "08")
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE buildings SET height = 90, year_built = 2026 WHERE code = 'M700'")
    yield d
    drop_database(server_url(), d.name)


def _expected(homes: dict) -> float:
    covered = (hf.COVERED | {"M300"}) & set(homes)
    return 100 * sum(homes[c].area for c in covered) / sum(g.area for g in homes.values())


def test_mixed_residential_buildings_are_homes(city, tmp_path):
    d1 = {c: g for c, (g, d, use) in hf.BUILDINGS.items() if d == hf.D1 and use == "01"}
    mixed = {"M300": hf.block(300, 560), "M700": hf.block(700)}
    # M300's centroid (300, 560) is 60 m north of road A: 10 + 200 + 60 = 270 m from P1
    assert _expected({**d1, **mixed}) == pytest.approx(100 * 4 / 7)
    result = compute(city.conninfo, 2026, city.profile, store=False)
    park = _by_unit(_ind(result, "park_service_coverage"))
    assert park[hf.D1]["value"] == pytest.approx(_expected({**d1, **mixed}), abs=1e-6)
    high = _by_unit(_ind(result, "new_high_rise_residential"))
    assert high[hf.D1]["value"] == 1 and high["city"]["status"] == "not_met"

    # a city whose building_use.csv marks 住宅 only: the 商住 blocks are no homes; a catalog
    # copy without the pipe design lives answers as the platform file
    raw = yaml.safe_load(catalog_path(None).read_text(encoding="utf-8"))
    uses = (DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8")
    assert uses.count(",yes\n") == 2
    only = tmp_path / "building_use.csv"
    only.write_text(uses.replace("混合|mixed|mixed_use,yes", "混合|mixed|mixed_use,"),
                    encoding="utf-8")
    prof = dataclasses.replace(city.profile, dictionaries={**city.profile.dictionaries,
                                                           "building_use": only})
    assert prof.residential_uses() == ("01",)
    r = compute(city.conninfo, 2026, prof, store=False)
    assert _by_unit(_ind(r, "park_service_coverage"))[hf.D1]["value"] == pytest.approx(
        _expected(d1), abs=1e-6)
    assert _by_unit(_ind(r, "new_high_rise_residential"))[hf.D1]["value"] == 0
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump({k: v for k, v in raw.items() if k not in (
        "pipe_design_life_years",)}, allow_unicode=True), encoding="utf-8")
    cat = load_catalog(path=bare)
    assert cat.settings["pipe_design_life_years"] == raw["pipe_design_life_years"]
    r = compute(city.conninfo, 2026, city.profile, cat, store=False)
    for ind in ("park_service_coverage", "pipe_aging_rate", "new_high_rise_residential"):
        assert _ind(r, ind)["city"]["value"] == _ind(result, ind)["city"]["value"], ind

"""City health check (issue 13 items 2-3): known answers on a hand-built city
(tests/health_fixture.py), storage per year, the comparison with the previous year."""

from __future__ import annotations

import json

import psycopg
import pytest
import shapely

from cim.db.engine import drop_database
from layers.health.catalog import load_catalog
from layers.health.compute import compute
from tests import health_fixture as hf
from tests.conftest import make_db, run_cli, server_url


@pytest.fixture()
def city(jining_profile, request):
    d = make_db(f"h{abs(hash(request.node.name)) % 10**6}", jining_profile, apply_profile=False)
    hf.build(d.conninfo)
    yield d
    drop_database(server_url(), d.name)


def _ind(result: dict, ind_id: str) -> dict:
    return next(i for i in result["indicators"] if i["id"] == ind_id)


def _by_unit(ind: dict) -> dict:
    return {"city": ind["city"], **{e["unit_code"]: e for e in ind["districts"]}}


def test_catalog_has_the_issue_indicators():
    cat = load_catalog()
    names = {i.name_zh for i in cat.indicators}
    for n in ("公园绿地服务半径覆盖率", "人均公园绿地面积", "城市道路网密度", "建成区绿地率",
              "区域开发强度", "建筑密度", "80 m 以上新建住宅数量", "社区服务设施步行覆盖率",
              "地下管网老化率", "雨污合流管长占比", "城市部件完好率", "应急避难场所服务覆盖率"):
        assert n in names
    assert len(cat.dimensions) == 8


def test_park_coverage_by_the_road_network(city):
    result = compute(city.conninfo, 2026, city.profile, store=False)
    park = _by_unit(_ind(result, "park_service_coverage"))
    expected = hf.expected_coverage()
    for unit, value in expected.items():
        assert park[unit]["value"] == pytest.approx(value, abs=1e-6), unit
    assert park[hf.D1]["method"] == "network" and "straight_line" not in park[hf.D1]["flags"]
    assert park[hf.D2]["method"] == "straight_line" and "straight_line" in park[hf.D2]["flags"]
    assert park["city"]["value"] == pytest.approx(100 * 4 / 7)  # 4 of 7 equal blocks
    assert park["city"]["status"] == "not_met"  # target 90 %


def _share(covered: set[str], unit: str) -> float:
    res = {c: (g, d) for c, (g, d, use) in hf.BUILDINGS.items() if use == "01"}
    mine = {c: g for c, (g, d) in res.items() if unit in ("city", d)}
    return sum(g.area for c, g in mine.items() if c in covered) / sum(g.area for g in
                                                                      mine.values())


def test_life_circle_and_shelter_coverage(city):
    from cim.profile import read_csv_dictionary

    result = compute(city.conninfo, 2026, city.profile, store=False)
    walk = _by_unit(_ind(result, "community_facility_walk_coverage"))
    types = [t for t in read_csv_dictionary(city.profile.dictionary_path("facility_types"))
             if t["life_circle_minutes"] in ("5", "10", "15") and t["type_code"] != "shelter"]
    kg = walk[hf.D1]["detail"]["types"]["kindergarten"]
    assert kg["walk_distance_m"] == 300 and kg["life_circle_minutes"] == 5
    assert kg["covered_m2"] / kg["residential_m2"] == pytest.approx(
        _share(hf.KINDERGARTEN_COVERED, hf.D1))
    # only the kindergarten exists: the mean over the types is its share / number of types
    assert walk[hf.D1]["value"] == pytest.approx(
        100 * _share(hf.KINDERGARTEN_COVERED, hf.D1) / len(types), abs=1e-5)
    shelter = _by_unit(_ind(result, "shelter_service_coverage"))
    for unit in (hf.D1, hf.D2, "city"):
        assert shelter[unit]["value"] == pytest.approx(
            100 * _share(hf.SHELTER_COVERED, unit), abs=1e-5), unit


def test_road_density(city):
    result = compute(city.conninfo, 2026, city.profile, store=False)
    roads = _by_unit(_ind(result, "road_network_density"))
    expected = hf.expected_road_density()
    assert expected[hf.D1] == pytest.approx(1.5 / 2)  # the fixture as drawn
    for unit, value in expected.items():
        assert roads[unit]["value"] == pytest.approx(value, abs=1e-6), unit  # stored to 6 places


def test_pipes_by_design_life_and_combined_sewers(city):
    result = compute(city.conninfo, 2026, city.profile, store=False)
    lives = load_catalog().settings["pipe_design_life_years"]
    known = {c: v for c, v in hf.PIPES.items() if v[3] is not None}
    aged = sum(g.length for g, cls, _, y in known.values() if 2026 - y > lives[cls])
    aging = _by_unit(_ind(result, "pipe_aging_rate"))
    assert aging[hf.D1]["value"] == pytest.approx(100 * aged / sum(v[0].length
                                                                   for v in known.values()))
    assert aging[hf.D1]["value"] == pytest.approx(100 * 150 / 350, abs=1e-5)  # as drawn
    assert "year_built_unknown" in aging[hf.D1]["flags"]
    assert aging[hf.D1]["detail"]["by_class"]["01"]["unknown_year_m"] == pytest.approx(80)
    assert aging[hf.D2]["value"] is None and aging[hf.D2]["status"] == "no_data"
    combined = _by_unit(_ind(result, "combined_sewer_share"))
    assert combined["city"]["value"] == pytest.approx(100 * 100 / 300, abs=1e-5)


def test_an_unloaded_layer_is_no_data_not_zero(city):
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE roads SET valid_to = now()")
    result = compute(city.conninfo, 2026, city.profile, store=False)
    roads = _by_unit(_ind(result, "road_network_density"))
    assert roads["city"]["value"] is None and roads["city"]["status"] == "no_data"
    assert "no_roads" in roads["city"]["flags"]
    # the network gone, park coverage falls back to straight lines, flagged everywhere
    park = _by_unit(_ind(result, "park_service_coverage"))
    assert park[hf.D1]["method"] == "straight_line" and "straight_line" in park[hf.D1]["flags"]
    assert park[hf.D1]["value"] == pytest.approx(100.0)  # H590 and H800 are within 500 m of P1


def test_rerunning_a_year_replaces_it_and_keeps_earlier_years(city):
    r25 = compute(city.conninfo, 2025, city.profile)
    assert r25["previous_year"] is None
    n = city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL")
    assert n > 0
    compute(city.conninfo, 2026, city.profile)
    compute(city.conninfo, 2026, city.profile)
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL "
                       "AND year = 2026") == n
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NOT NULL "
                       "AND year = 2026") == n  # the first 2026 run, retired
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL "
                       "AND year = 2025") == n
    assert city.scalar("SELECT count(*) FROM health_runs") == 3
    geom_ok = city.scalar("SELECT bool_and(geom IS NOT NULL AND NOT ST_IsEmpty(geom)) "
                          "FROM health_indicators")
    assert geom_ok


def test_comparison_with_the_previous_year(city):
    compute(city.conninfo, 2025, city.profile)
    before = hf.expected_coverage()
    hf.add_building(city.conninfo, "H400", hf.block(400), hf.D1)  # 330 m from P1: covered
    hf.COVERED.add("H400")
    try:
        after = hf.expected_coverage({**hf.BUILDINGS, "H400": (hf.block(400), hf.D1, "01")})
    finally:
        hf.COVERED.discard("H400")
    result = compute(city.conninfo, 2026, city.profile)
    assert result["previous_year"] == 2025
    park = _by_unit(_ind(result, "park_service_coverage"))
    assert park[hf.D1]["value"] == pytest.approx(after[hf.D1])
    assert park[hf.D1]["previous_value"] == pytest.approx(before[hf.D1])
    assert park[hf.D1]["change"] == pytest.approx(after[hf.D1] - before[hf.D1], abs=1e-5)
    assert park[hf.D1]["trend"] == "improved"
    assert park[hf.D2]["trend"] == "unchanged"
    stored = city.scalar("SELECT previous_value FROM health_indicators WHERE valid_to IS NULL"
                         " AND year = 2026 AND indicator_id = 'park_service_coverage'"
                         " AND unit_code = 'city'")
    assert stored == pytest.approx(before["city"])


def test_cli_json_and_report(city, tmp_path):
    out = tmp_path / "health.html"
    r = run_cli(["health", "compute", "--year", "2026", "--json", "--report", str(out)],
                city.env())
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["year"] == 2026 and result["index"]["units"]["city"]["value"] is not None
    html = out.read_text(encoding="utf-8")
    assert "公园绿地服务半径覆盖率" in html and "生态宜居" in html
    assert html.count("data:image/png;base64,") >= 1


def _process_client(d, writer_url):
    from flask import Flask

    from cim.db.engine import psycopg_conninfo
    from cim.db.roles import serving_url
    from layers.processes import all_processes
    from services.processes import register

    app = Flask("t")
    register(app, psycopg_conninfo(serving_url(d.url)), "http://x",
             {"health-compute": all_processes()["health-compute"]}, writer_url)
    return app.test_client()


def test_process_answers_like_the_cli(city, monkeypatch):
    monkeypatch.setenv("CIM_PROFILE", str(city.profile.path))
    cli = json.loads(run_cli(["health", "compute", "--year", "2026", "--json"], city.env(),
                             check=True).stdout)
    r = _process_client(city, city.url).post("/processes/health-compute/execution",
                                             json={"inputs": {"year": 2026}})
    assert r.status_code == 200, r.get_data(as_text=True)
    answer = r.get_json()
    assert answer["stored"] is True
    assert answer["indicators"] == cli["indicators"] and answer["index"] == cli["index"]
    # served read-only: computed, not stored, no error
    r = _process_client(city, None).post("/processes/health-compute/execution",
                                         json={"inputs": {"year": 2027, "future_year": True}})
    assert r.status_code == 200 and r.get_json()["stored"] is False
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE year = 2027") == 0
    r = _process_client(city, None).post("/processes/health-compute/execution",
                                         json={"inputs": {"year": "x"}})
    assert r.status_code == 400


def test_results_are_an_ogc_collection(city):
    from layers.catalog import catalog
    from services.config import pygeoapi_config

    # served before anything is computed (empty): a server started then serves the results
    # computed later without a restart (its collections are fixed when it starts)
    before = next(e for e in catalog(city.conninfo) if e.layer.name == "health_indicators")
    assert before.count == 0
    compute(city.conninfo, 2026, city.profile)
    entry = next(e for e in catalog(city.conninfo) if e.layer.name == "health_indicators")
    assert entry.count == city.scalar("SELECT count(*) FROM health_indicators")
    cfg = pygeoapi_config(city.url, city.conninfo, city.profile, "http://x")
    assert cfg["resources"]["health_indicators"]["providers"][0]["table"] == "health_indicators"
    from services.providers import CimProvider

    prov = CimProvider(cfg["resources"]["health_indicators"]["providers"][0])
    from pygeofilter.parsers.cql2_text import parse

    fc = prov.query(limit=50, filterq=parse(
        "indicator_id = 'park_service_coverage' AND unit_kind = 'district'"))
    assert fc["numberMatched"] == 2
    by_unit = {f["properties"]["unit_code"]: f for f in fc["features"]}
    assert by_unit[hf.D1]["properties"]["value"] == pytest.approx(hf.expected_coverage()[hf.D1])
    assert by_unit[hf.D1]["geometry"]["type"] == "MultiPolygon"


def test_the_collection_is_served(city, tmp_path):
    import requests

    from tests.conftest import start_api

    compute(city.conninfo, 2025, city.profile)
    compute(city.conninfo, 2026, city.profile)
    proc, base = start_api(city.url, city.profile, tmp_path)
    try:
        ids = {c["id"] for c in requests.get(f"{base}/collections?f=json", timeout=30)
               .json()["collections"]}
        assert "health_indicators" in ids
        r = requests.get(f"{base}/collections/health_indicators/items", timeout=30, params={
            "f": "json", "filter": "year=2026 AND indicator_id='park_service_coverage' AND "
                                  "unit_kind='district'", "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"})
        assert r.status_code == 200, r.text
        fc = r.json()
        assert fc["numberMatched"] == 2
        props = {f["properties"]["unit_code"]: f["properties"] for f in fc["features"]}
        assert props[hf.D1]["value"] == pytest.approx(hf.expected_coverage()[hf.D1])
        assert props[hf.D1]["previous_value"] == pytest.approx(hf.expected_coverage()[hf.D1])
        assert props[hf.D1]["trend"] == "unchanged"
        code = fc["features"][0]["id"]
        one = requests.get(f"{base}/collections/health_indicators/items/{code}?f=json",
                           timeout=30)
        assert one.status_code == 200 and one.json()["geometry"]["type"] == "MultiPolygon"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("change, words", [
    (("template: road_network_density", "template: os_system"), ["road_network_density",
                                                                "unknown template 'os_system'"]),
    (("dimension: transport", "dimension: traffic"), ["road_network_density", "'dimension'",
                                                      "traffic"]),
])
def test_a_bad_catalog_is_refused_naming_file_and_indicator(city, tmp_path, change, words):
    from layers.health.catalog import catalog_path

    text = catalog_path(None).read_text(encoding="utf-8")
    assert change[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    r = run_cli(["health", "compute", "--year", "2026", "--indicators", str(bad)], city.env())
    assert r.returncode != 0
    msg = r.stderr.strip()
    assert msg.startswith("error:") and str(bad) in msg and "Traceback" not in r.stderr
    for w in words:
        assert w in msg
    assert city.scalar("SELECT count(*) FROM health_runs") == 0


def test_area_ratios_per_capita_and_high_rise(city):
    """建成区绿地率, 建筑密度, 人均公园绿地面积 and 80 m 以上新建住宅 by arithmetic on the fixture."""
    with psycopg.connect(city.conninfo) as conn:
        for d, n in ((hf.D1, 1000), (hf.D2, 500)):
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, geom) SELECT %s, 'grid', %s, %s, 2025, code, geom"
                         " FROM admin_divisions WHERE code = %s", (f"POP{d}", d, n, d))
        conn.execute("UPDATE buildings SET height = 85, year_built = 2026 WHERE code = 'H800'")
        conn.execute("UPDATE buildings SET height = 95, year_built = 2020 WHERE code = 'H850'")
        conn.execute("UPDATE buildings SET height = 85, year_built = 2026, use_code = '02' "
                     "WHERE code = 'OFFICE'")
    result = compute(city.conninfo, 2026, city.profile, store=False)
    # clipped to the district: P1 lies 1,000 m² outside the city, counted nowhere
    parks = {d: sum(g.intersection(poly).area for g, _ in hf.PARKS.values())
             for d, poly in hf.DISTRICTS.items()}
    assert parks[hf.D1] == 9000 + 2500
    per_capita = _by_unit(_ind(result, "park_area_per_capita"))
    assert per_capita[hf.D1]["value"] == pytest.approx(parks[hf.D1] / 1000)
    assert per_capita["city"]["value"] == pytest.approx(sum(parks.values()) / 1500)
    assert "population_of_earlier_year" in per_capita["city"]["flags"]  # 2025 for 2026
    green = _by_unit(_ind(result, "green_space_ratio"))
    for d, poly in hf.DISTRICTS.items():  # P1 lies partly outside D1: clipped
        inside = sum(g.intersection(poly).area for g, _ in hf.PARKS.values())
        assert green[d]["value"] == pytest.approx(100 * inside / poly.area, abs=1e-5)
    density = _by_unit(_ind(result, "building_density"))
    footprints = sum(g.area for g, d, _ in hf.BUILDINGS.values() if d == hf.D1)
    assert density[hf.D1]["value"] == pytest.approx(
        100 * footprints / hf.DISTRICTS[hf.D1].area, abs=1e-5)
    high = _by_unit(_ind(result, "new_high_rise_residential"))
    # H800 only: H850 was built before the year, OFFICE is not residential
    assert high[hf.D1]["value"] == 1 and high["city"]["value"] == 1
    assert high["city"]["status"] == "not_met"  # target 0, direction down


def _insert(conninfo: str, table: str, rows: list[tuple]) -> None:
    """Extra fixture features: roads (code, line) or parks (code, polygon, district)."""
    with psycopg.connect(conninfo) as conn:
        for code, g, *rest in rows:
            if table == "roads":
                conn.execute("INSERT INTO roads (code, road_class, road_class_code, geom) VALUES"
                             " (%s, '支路', '04', ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                             (code, hf._wkb(g)))
            else:
                conn.execute("INSERT INTO green_spaces (code, green_type, green_type_code,"
                             " area_m2, is_park, district_code, geom) VALUES (%s, '综合公园',"
                             " 'G11', %s, true, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                             (code, g.area, rest[0], hf._wkb(g)))


def test_a_road_on_the_shared_boundary_counts_half_in_each_district(city):
    """Every metre of road counts once across the districts: a road along the D1/D2 boundary
    (x = 2000) half in each, one on the city's outer edge (y = 0) wholly in its district; the
    city value is all road length in the city over the city's area."""
    from shapely.geometry import LineString

    extra = {"RS": LineString([(2000, 200), (2000, 800), (2300, 800)]),  # 600 m on, 300 in D2
             "RO": LineString([(2200, 0), (2500, 0)])}                   # outer edge of D2
    _insert(city.conninfo, "roads", list(extra.items()))
    d1, d2 = hf.DISTRICTS[hf.D1], hf.DISTRICTS[hf.D2]
    shared = d1.boundary.intersection(d2.boundary)
    lines = {**hf.ROADS, **extra}
    km = {d: sum(r.intersection(p).length - 0.5 * r.intersection(shared).length
                 for r in lines.values()) / 1000 for d, p in hf.DISTRICTS.items()}
    assert (km[hf.D1], km[hf.D2]) == pytest.approx((1.5 + 0.3, 0.1 + 0.3 + 0.3 + 0.3))
    total_km = sum(r.length for r in lines.values()) / 1000  # all of it inside the city
    assert sum(km.values()) == pytest.approx(total_km)
    result = compute(city.conninfo, 2026, city.profile, store=False)
    roads = _by_unit(_ind(result, "road_network_density"))
    for d, p in hf.DISTRICTS.items():
        assert roads[d]["value"] == pytest.approx(km[d] / (p.area / 1e6), abs=1e-6), d
    area_km2 = sum(p.area for p in hf.DISTRICTS.values()) / 1e6
    assert roads["city"]["value"] == pytest.approx(total_km / area_km2, abs=1e-6)


def test_a_park_across_two_districts_counts_its_part_in_each(city):
    """人均公园绿地面积: park area inside each district (clipped, like 建成区绿地率) per
    resident; P4 lies 5,000 m² in D1, 15,000 m² in D2 although the loader gave it D1."""
    from shapely.geometry import box

    p4 = box(1950, 700, 2150, 800)
    _insert(city.conninfo, "green_spaces", [("P4", p4, hf.D1)])
    residents = {hf.D1: 1000, hf.D2: 500}
    with psycopg.connect(city.conninfo) as conn:
        for d, n in residents.items():
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, geom) SELECT %s, 'grid', %s, %s, 2026, code, geom"
                         " FROM admin_divisions WHERE code = %s", (f"POP{d}", d, n, d))
    parks = [g for g, _ in hf.PARKS.values()] + [p4]
    inside = {d: sum(g.intersection(poly).area for g in parks)
              for d, poly in hf.DISTRICTS.items()}
    assert (p4.intersection(hf.DISTRICTS[hf.D1]).area, inside[hf.D2]) == (5000, 17500)
    result = compute(city.conninfo, 2026, city.profile, store=False)
    per_capita = _by_unit(_ind(result, "park_area_per_capita"))
    for d in hf.DISTRICTS:
        assert per_capita[d]["value"] == pytest.approx(inside[d] / residents[d]), d
    assert per_capita["city"]["value"] == pytest.approx(sum(inside.values()) / 1500)


def _kindergarten_m2(city, district: str) -> float:
    result = compute(city.conninfo, 2026, city.profile, store=False)
    walk = _by_unit(_ind(result, "community_facility_walk_coverage"))
    kg = walk[district]["detail"]["types"]["kindergarten"]
    assert kg["walk_distance_m"] == 300
    return kg["covered_m2"], kg["method"]


@pytest.mark.parametrize("ox, oy, over", [(300.3, 700.7, 0.0), (300.0, 700.0, 0.0005)])
def test_a_home_at_the_walking_distance_by_road_is_covered(city, ox, oy, over):
    """Within 1 mm of the limit counts as within. A road y = oy in D1 off the fixture's roads;
    a kindergarten 20 m south of it at ox + 360; home A's centroid 20 m north at
    ox + 100 − over: 20 + 260 + over + 20 = 300 m + over, covered (decimal coordinates gave
    300.00000000047 m); home B at 300.002 m (east, ox + 620.002), not."""
    from shapely.geometry import LineString

    _insert(city.conninfo, "roads", [("RK", LineString([(ox, oy), (ox + 1000, oy)]))])
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("INSERT INTO facilities (code, facility_type, facility_type_code, geom)"
                     " VALUES ('K2', '幼儿园', 'kindergarten', ST_GeomFromWKB(%s, 4527))",
                     (hf._wkb(shapely.Point(ox + 360, oy - 20)),))
    a, b = hf.block(ox + 100 - over, oy + 20), hf.block(ox + 620.002, oy + 20)
    hf.add_building(city.conninfo, "HA", a, hf.D1)
    hf.add_building(city.conninfo, "HB", b, hf.D1)
    expected = sum(hf.BUILDINGS[c][0].area for c in hf.KINDERGARTEN_COVERED) + a.area
    covered, method = _kindergarten_m2(city, hf.D1)
    assert method == "network"
    assert covered == pytest.approx(expected, abs=0.01)


def test_a_home_at_the_walking_distance_in_a_straight_line_is_covered(city):
    """D2 is off the roads: a kindergarten at (2600, 850); home A 300.0005 m east of it
    (within 1 mm: covered), home B 300.002 m west (not)."""
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("INSERT INTO facilities (code, facility_type, facility_type_code, geom)"
                     " VALUES ('K3', '幼儿园', 'kindergarten', ST_GeomFromWKB(%s, 4527))",
                     (hf._wkb(shapely.Point(2600, 850)),))
    a = shapely.box(2900.0005, 840, 2920, 860)
    b = shapely.box(2280, 840, 2299.998, 860)
    hf.add_building(city.conninfo, "HA", a, hf.D2)
    hf.add_building(city.conninfo, "HB", b, hf.D2)
    covered, method = _kindergarten_m2(city, hf.D2)
    assert method == "straight_line"
    assert covered == pytest.approx(a.area, abs=0.01)

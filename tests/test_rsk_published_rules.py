"""The published rules and matrix (cim/dictionaries/risk_rules.yaml, risk_matrix.yaml) on
pipes whose answers are worked out here from the files' tables — on the bands' cut points:
20 and 30 years exactly, 10 and 30 buildings, 500 and 2000 residents — with the inputs the
rules name when missing (no material, no year: material_default, age_unknown), a retired
pipe and a 废弃 one never scored, and a re-assessment after a pipe's year changed keeping
the point's code and history. Storage metres (EPSG:4527) in 任城区, pipes 500 m apart."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import shapely
import yaml
from shapely.geometry import LineString, Point

X0, Y0 = 39_462_000.0, 3_915_000.0
YEAR, TODAY = 2026, dt.date(2026, 12, 5)


def _yaml(name):
    with open(f"cim/dictionaries/{name}.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


RULES = {r["id"]: r for r in _yaml("risk_rules")["rules"]}
MATRIX = _yaml("risk_matrix")


def _first(rows, value, key):
    return next((r["add"] for r in rows if value >= r[key]), 0)


def likelihood(rule_id, material, built, pressure_add):
    lk = RULES[rule_id]["likelihood"]
    m = lk["material"].get(material, lk["material_default"]) if material else \
        lk["material_default"]
    a = _first(lk["age"], YEAR - built, "min_years") if built else lk["age_unknown"]
    return max(1, min(5, lk["base"] + m + a + pressure_add + lk["status"]["0"]))


def consequence(buildings, residents):
    c = MATRIX["consequence"]
    return min(c["max"], c["base"] + _first(c["buildings"], buildings, "min")
               + _first(c["population"], residents, "min"))


def level(lk, cons):
    lv = MATRIX["matrix"][lk][cons - 1]
    return lv, MATRIX["levels"][lv]["color"]


# code: x, class, material, year, pressure text, its add by hand, status, buildings, residents
PIPES = {
    "PA": (0, "03", "PE", YEAR - 20, "中压A", 1, "0", 10, 500),
    "PB": (500, "03", None, None, None, 0, "0", 9, 499),
    "PG": (1000, "01", "QM", YEAR - 30, "0.6MPa", 1, "0", 30, 2000),
    "PR": (1500, "03", "ZT", 1980, "中压A", 1, "0", 0, 0),  # retired
    "PF": (2000, "03", "ZT", 1980, "中压A", 1, "1", 0, 0),  # 废弃
}


def _pipe(conn, code, x, cls, mat, year, pressure, status):
    line = shapely.affinity.translate(LineString([(x, 0), (x + 100, 0)]), X0, Y0)
    conn.execute(
        "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
        "feature_code, start_point_code, end_point_code, material_code, year_built, "
        "pressure, status_code, geom) VALUES (%s, %s, 'x', '01', '53000000', %s, %s, %s, %s, "
        "%s, %s, ST_GeomFromWKB(%s, 4527))",
        (code, cls, code + "a", code + "b", mat, year, pressure, status,
         shapely.to_wkb(shapely.force_3d(line, 30.0))))


def _around(conn, code, x, buildings, residents):
    """Homes 4 m wide 10–40 m off the pipe's side (all within the radius), one unit of
    ``residents`` wholly inside it."""
    r = MATRIX["consequence"]["radius_m"]
    pipe = LineString([(x, 0), (x + 100, 0)])
    for i in range(buildings):
        p = Point(x + 10 * (i % 10), 10 + 15 * (i // 10)).buffer(2, quad_segs=1)
        assert max(Point(c).distance(pipe) for c in p.exterior.coords) < r
        conn.execute("INSERT INTO buildings (code, geom) VALUES (%s, ST_Multi(ST_GeomFromWKB("
                     "%s, 4527)))", (f"{code}B{i}", shapely.to_wkb(
                         shapely.affinity.translate(p, X0, Y0))))
    if residents:
        u = Point(x + 50, 5).buffer(2, quad_segs=1)
        conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year, "
                     "district_code, geom) VALUES (%s, 'building', %s, %s, 2026, '370811', "
                     "ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                     (f"{code}U", f"{code}U", residents,
                      shapely.to_wkb(shapely.affinity.translate(u, X0, Y0))))


def _points(d):
    with psycopg.connect(d.conninfo, row_factory=psycopg.rows.dict_row) as conn:
        return {r["asset_code"]: r for r in conn.execute(
            "SELECT * FROM risk_points WHERE valid_to IS NULL")}


@pytest.fixture()
def assessed(fresh_db):
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    with psycopg.connect(fresh_db.conninfo) as conn:
        for code, (x, cls, mat, year, pr, _, st, nb, nr) in PIPES.items():
            _pipe(conn, code, x, cls, mat, year, pr, st)
            _around(conn, code, x, nb, nr)
        conn.execute("UPDATE pipe_segments SET valid_to = now() WHERE code = 'PR'")
    cfg = load_config(fresh_db.profile)
    out = assess(fresh_db.conninfo, cfg, YEAR, TODAY)
    return fresh_db, cfg, out


def test_scores_and_levels_as_the_tables_give(assessed):
    d, _, out = assessed
    pts = _points(d)
    assert set(pts) == {"PA", "PB", "PG"}  # PR retired, PF 废弃
    rule = {"03": "gas_pipes", "01": "water_pipes"}
    for code in ("PA", "PB", "PG"):
        x, cls, mat, year, _, padd, _, nb, nr = PIPES[code]
        lk, cons = likelihood(rule[cls], mat, year, padd), consequence(nb, nr)
        p = pts[code]
        assert (p["likelihood"], p["consequence"]) == (lk, cons), code
        assert (p["level"], p["color"]) == level(lk, cons), code
        days = MATRIX["levels"][p["level"]]["deadline_days"]
        assert p["deadline"] == TODAY + dt.timedelta(days=days), code
    # the cut points: on each, the higher band
    assert pts["PA"]["attrs"]["likelihood"]["age_years"] == 20
    assert pts["PA"]["attrs"]["consequence"]["buildings"] > 0
    assert pts["PB"]["attrs"]["consequence"]["buildings"] == 0
    assert pts["PG"]["level"] == "重大"


def test_reassessment_after_the_year_changed_keeps_code_and_history(assessed):
    from layers.risk.assess import assess
    from layers.risk.listing import history

    d, cfg, first = assessed
    code = _points(d)["PA"]["code"]
    with psycopg.connect(d.conninfo) as conn:  # PA's year corrected: 30 years old
        conn.execute("UPDATE pipe_segments SET valid_to = now() WHERE code = 'PA'")
        _pipe(conn, "PA", 0, "03", "PE", YEAR - 30, "中压A", "0")
    second = assess(d.conninfo, cfg, YEAR, TODAY + dt.timedelta(days=7))
    pa = _points(d)["PA"]
    lk = likelihood("gas_pipes", "PE", YEAR - 30, 1)
    assert pa["code"] == code and pa["likelihood"] == lk
    assert [(h["run_id"], h["likelihood"]) for h in history(d.conninfo, code)] == [
        (first["run_id"], likelihood("gas_pipes", "PE", YEAR - 20, 1)),
        (second["run_id"], lk)]
    assert second["changes"]["updated"] == 1

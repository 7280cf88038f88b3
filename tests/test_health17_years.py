"""`cim health years` stopped with an internal error (formatting a None change) once a stored
year's city index had no value but a previous year (a catalog whose weights are all 0, or a
year without residents), and listed no year at all. The state is made here: two years
computed, the earlier given an index, the later's comparison pointing at it without one."""

from __future__ import annotations

import psycopg
import yaml

from tests.conftest import PROJECT_ROOT, run_cli


def test_years_lists_a_year_whose_index_has_no_value(fresh_db, tmp_path):
    env = fresh_db.env()
    catalog = yaml.safe_load((PROJECT_ROOT / "cim/dictionaries/health_indicators.yaml")
                             .read_text(encoding="utf-8"))
    for dim in catalog["dimensions"]:
        dim["weight"] = 0  # accepted (weights >= 0): the index has no value
    zero = tmp_path / "zero.yaml"
    zero.write_text(yaml.safe_dump(catalog, allow_unicode=True), encoding="utf-8")
    run_cli(["health", "compute", "--year", "2024"], env, check=True)
    run_cli(["health", "compute", "--year", "2025", "--indicators", str(zero)], env, check=True)
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("UPDATE health_indicators SET value = 61.4 WHERE year = 2024 AND "
                     "indicator_id = 'health_index' AND unit_kind = 'city' AND valid_to IS NULL")
        n = conn.execute("UPDATE health_indicators SET previous_year = 2024, previous_value = "
                         "61.4, change = NULL WHERE year = 2025 AND indicator_id = "
                         "'health_index' AND unit_kind = 'city' AND valid_to IS NULL").rowcount
        assert n == 1
    out = run_cli(["health", "years"], env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [x.split()[0] for x in lines] == ["2024", "2025"], lines
    assert "index 61.4" in lines[0] and "index -" in lines[1], lines


def test_a_citys_catalog_without_dimensions_takes_the_platforms(tmp_path):
    """README: a city's copy without a setting takes the platform file's value. Its
    indicators of 'ecological' were refused as "not one of " (an empty list)."""
    from layers.health.catalog import load_catalog

    platform = yaml.safe_load((PROJECT_ROOT / "cim/dictionaries/health_indicators.yaml")
                              .read_text(encoding="utf-8"))
    city = tmp_path / "c1.yaml"
    city.write_text(yaml.safe_dump({"indicators": [
        {"id": "g", "name_zh": "绿地率", "dimension": "ecological", "unit": "%",
         "direction": "up", "target": 38, "scale": 100,
         "computation": {"template": "green_space_ratio"}}]}, allow_unicode=True),
        encoding="utf-8")
    cat = load_catalog(None, city)
    assert [(d.id, d.weight) for d in cat.dimensions] == [
        (d["id"], d.get("weight", 1)) for d in platform["dimensions"]]
    assert [i.id for i in cat.indicators] == ["g"]

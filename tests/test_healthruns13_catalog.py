"""A stored year's report prints the catalog the year was computed with (session 13), through
the real CLI on the hand-built city of tests/health_fixture.py.

The rows keep values, not the catalog's text: ``cim health report --year Y`` read the run's
catalog file again, so a definition, source or dimension name edited since was printed as
today's beside values computed under the old one (only an edited weight was caught). The run
now stores the catalog as used (``health_runs.params.catalog_used``) and the file's path
resolved (a relative ``--indicators`` named a file only from the directory it was typed in).
"""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg

from tests.conftest import PROJECT_ROOT, run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`

DIM = "{id: ecological, name_zh: 生态宜居, name_en: Ecological and liveable, weight: 0.15}"
SOURCE = "《城市体检指标体系》(住建部 2023) 生态宜居; GB/T 51346-2019 城市绿地规划标准 4.1.3"
DEFINITION_START = "Residential land (footprints of current buildings of a residential use"


def _platform_catalog() -> str:
    from cim.profile import DICTIONARY_DIR

    text = (DICTIONARY_DIR / "health_indicators.yaml").read_text("utf-8")
    assert DIM in text and SOURCE in text and DEFINITION_START in text
    return text


def test_the_report_prints_the_catalog_as_computed_not_as_edited_since(city, tmp_path):
    text = _platform_catalog()
    used = (text.replace(DIM, DIM.replace("0.15", "0.6"))
            .replace(SOURCE, "来源 甲 (as computed)")
            .replace(DEFINITION_START, "定义 甲 (as computed): " + DEFINITION_START))
    cat = tmp_path / "cat.yaml"
    cat.write_text(used, "utf-8")
    env = city.env()
    first = tmp_path / "computed.html"
    # typed relative, from the catalog's own directory
    proc = subprocess.run([sys.executable, "-m", "cim", "health", "compute", "--year", "2026",
                           "--indicators", "cat.yaml", "--report", str(first)],
                          env={**env, "PYTHONPATH": str(PROJECT_ROOT)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    computed = first.read_text("utf-8")
    assert "定义 甲 (as computed)" in computed and "来源 甲 (as computed)" in computed
    assert "<td>生态宜居 Ecological and liveable</td><td>0.60</td>" in computed

    with psycopg.connect(city.conninfo) as conn:
        params = conn.execute("SELECT params FROM health_runs").fetchone()[0]
    assert params["catalog"] == str(cat.resolve())
    ecological = next(d for d in params["catalog_used"]["dimensions"]
                      if d["id"] == "ecological")
    assert ecological["weight"] == 0.6

    # the file edited after the year was stored: its definition, source, dimension name and
    # weight
    cat.write_text(used.replace("定义 甲", "定义 乙").replace("来源 甲", "来源 乙")
                   .replace("name_zh: 生态宜居", "name_zh: 生态宜居乙")
                   .replace("weight: 0.6", "weight: 0.3"), "utf-8")
    again = tmp_path / "again.html"
    r = run_cli(["health", "report", "--year", "2026", "--out", str(again)], env, check=True)
    html = again.read_text("utf-8")
    assert "定义 乙" not in html and "来源 乙" not in html and "生态宜居乙" not in html
    assert "weights were edited since" not in html and "weights" not in r.stderr, r.stderr
    assert html == computed

    # the file gone: the report is still the one computed
    cat.unlink()
    run_cli(["health", "report", "--year", "2026", "--out", str(again)], env, check=True)
    assert again.read_text("utf-8") == computed


def test_the_count_computations_are_those_whose_values_are_counts(city):
    """templates.COUNT_TEMPLATES (what a run stored without its catalog is printed whole by)
    names the computations whose values the computation itself counts."""
    from layers.health.templates import COUNT_TEMPLATES

    computed = json.loads(run_cli(["health", "compute", "--year", "2026", "--json"],
                                  city.env(), check=True).stdout)
    inds = computed["indicators"]
    assert {i["computation"] for i in inds if i["count"]} == \
        COUNT_TEMPLATES & {i["computation"] for i in inds}
    assert "new_high_rise_residential" in COUNT_TEMPLATES

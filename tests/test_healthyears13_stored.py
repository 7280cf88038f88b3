"""A stored year listed and its report drawn again as it was stored (session 13), through the
real CLI on the hand-built city of tests/health_fixture.py.

There was no command listing the stored years, nor one drawing a stored year's report: the
report of last year was had only by recomputing it (``cim health compute --year Y
--report``), on today's features, which replaced the stored year — city-operations staff
must file the report as it was.
"""

from __future__ import annotations

import json
import re

import psycopg

from tests import health_fixture as hf
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`

PARK = "park_service_coverage"


def _versions(d) -> tuple[int, int, int]:
    """(rows of every version, current rows, runs): what a read must leave as it was."""
    return (d.scalar("SELECT count(*) FROM health_indicators"),
            d.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL"),
            d.scalar("SELECT count(*) FROM health_runs"))


def _park_city_row(html: str) -> str:
    section = html[html.index("公园绿地服务半径覆盖率"):]
    section = section[:section.index("</table>")]
    return next(r for r in section.split("<tr>") if r.startswith("<td>全市 city</td>"))


def test_a_stored_years_report_is_the_stored_one_not_recomputed(city, tmp_path):
    env = city.env()
    run_cli(["health", "compute", "--year", "2020"], env, check=True)
    first = tmp_path / "computed.html"
    proc = run_cli(["health", "compute", "--year", "2026", "--json", "--report", str(first)],
                   env, check=True)
    computed = json.loads(proc.stdout)
    park = next(i for i in computed["indicators"] if i["id"] == PARK)
    # the fixture's answer by construction: H300, H550, H850, H2a covered of the homes
    expected = hf.expected_coverage()
    assert abs(park["city"]["value"] - expected["city"]) < 1e-6

    # the city changes: a home 650 m along road A, reached by neither park (P1 580 m, P2
    # 480 m by road) — the coverage recomputed now would be lower
    extra = {**hf.BUILDINGS, "H650": (hf.block(650), hf.D1, "01")}
    changed = hf.expected_coverage(extra)
    assert f"{changed['city']:,.2f}" != f"{expected['city']:,.2f}"
    hf.add_building(city.conninfo, "H650", hf.block(650), hf.D1)
    before = _versions(city)

    again = tmp_path / "again.html"
    r = run_cli(["health", "report", "--year", "2026", "--out", str(again)], env, check=True)
    assert str(again) in r.stdout
    assert _versions(city) == before  # nothing computed, stored or versioned
    html = again.read_text(encoding="utf-8")
    row = _park_city_row(html)
    assert row.startswith(f"<td>全市 city</td><td>{expected['city']:,.2f}</td>"), row
    assert f"{changed['city']:,.2f}" not in row
    # the compute's own report, drawn by the same renderer from what was stored: the same page
    assert html == first.read_text(encoding="utf-8")

    # a year not stored: exit 2 naming it, no file written
    missing = tmp_path / "none.html"
    r = run_cli(["health", "report", "--year", "2019", "--out", str(missing)], env)
    assert r.returncode == 2 and "2019" in r.stderr and "--year" in r.stderr, r.stderr
    assert not missing.exists()
    assert _versions(city) == before

    # the years stored, with the index each was stored with (read from the table here)
    r = run_cli(["health", "years", "--json"], env, check=True)
    years = json.loads(r.stdout)
    assert [y["year"] for y in years] == [2020, 2026]
    with psycopg.connect(city.conninfo) as conn:
        stored = dict(conn.execute(
            "SELECT year, value FROM health_indicators WHERE valid_to IS NULL"
            " AND indicator_id = 'health_index' AND unit_code = 'city'").fetchall())
    assert {y["year"]: y["index"] for y in years} == stored
    assert years[1]["index"] == computed["index"]["units"]["city"]["value"]
    y26 = years[1]
    assert y26["previous_year"] == 2020 and y26["trend"] == \
        computed["index"]["units"]["city"]["trend"]
    n_with_data = sum(1 for i in computed["indicators"] if i["city"]["value"] is not None)
    assert (y26["indicators_with_data"], y26["indicators"]) == \
        (n_with_data, len(computed["indicators"]))
    assert _versions(city) == before

    # the text lists both, times on the city's clock (China: +08:00)
    r = run_cli(["health", "years"], env, check=True)
    lines = r.stdout.splitlines()
    assert [x.split()[0] for x in lines] == ["2020", "2026"], r.stdout
    assert re.search(r"computed \S+\+08:00 \(\S+\+00:00\)", lines[1]), lines[1]
    assert f"indicators with data {n_with_data}/{len(computed['indicators'])}" in lines[1]


def test_a_year_whose_comparison_was_renewed_is_reported_with_it(city, tmp_path):
    """2026 stored, then 2020 stored after it: 2026's rows are compared anew with 2020 (new
    versions, the same run). The report of 2026 shows that comparison, the rows in the
    computation's order, and `years` says when the comparison was renewed."""
    env = city.env()
    computed = json.loads(run_cli(["health", "compute", "--year", "2026", "--json"], env,
                                  check=True).stdout)
    hf.add_building(city.conninfo, "H650", hf.block(650), hf.D1)  # 2020 sees one home more
    run_cli(["health", "compute", "--year", "2020"], env, check=True)
    out = tmp_path / "r.html"
    run_cli(["health", "report", "--year", "2026", "--out", str(out)], env, check=True)
    expected = hf.expected_coverage()
    earlier = hf.expected_coverage({**hf.BUILDINGS, "H650": (hf.block(650), hf.D1, "01")})
    html = out.read_text(encoding="utf-8")
    # the rows renewed (those with a value in both years) got new ids: still in the order
    # computed, the catalog's, each table the city then the districts
    h3 = re.findall(r"<h3>(.*?)</h3>", html)
    order = [i for d in computed["dimensions"] for i in computed["indicators"]
             if i["dimension"] == d["id"]]
    assert len(h3) == len(order) and all(
        h.startswith(f"{i['name_zh']} {i['name_en']} (") for h, i in zip(h3, order)), h3
    assert all(t.split("<tr>")[1].startswith("<td>全市 city</td>")
               for t in html.split("<th>单元 unit</th>")[1:])
    row = _park_city_row(html)
    # value (2026's as stored), previous (2020's), change: stored to 6 places
    assert row.startswith(f"<td>全市 city</td><td>{expected['city']:,.2f}</td>"), row
    assert f"<td>{earlier['city']:,.2f}</td>" in row, row
    r = run_cli(["health", "years"], env, check=True)
    line = next(x for x in r.stdout.splitlines() if x.startswith("2026"))
    # the index's stored comparison, its trend in the city's words (value_labels.yaml)
    trend, change = city.scalar("SELECT array[trend, change::text] FROM health_indicators"
                                " WHERE valid_to IS NULL AND year = 2026"
                                " AND indicator_id = 'health_index' AND unit_code = 'city'")
    word = {"improved": "改善", "worsened": "变差", "unchanged": "持平"}[trend]
    assert "compared anew" in line and f"{word} {float(change):+g} on 2020" in line, line


def test_the_report_reads_the_catalog_the_year_was_computed_with(city, tmp_path):
    """A run stored before its catalog as used was kept (``health_runs.params`` with only
    ``catalog``; tests/test_healthruns13_catalog.py for a run of now): definitions and
    weights are not in the rows, the run's catalog file (--indicators) is read again; once
    its weights are edited, the report prints none beside the stored index (and says why)
    rather than weights the index was not computed with."""
    from cim.profile import DICTIONARY_DIR

    text = (DICTIONARY_DIR / "health_indicators.yaml").read_text("utf-8")
    line = "{id: ecological, name_zh: 生态宜居, name_en: Ecological and liveable, weight: 0.15}"
    assert line in text
    cat = tmp_path / "cat.yaml"
    cat.write_text(text.replace(line, line.replace("0.15", "0.6")), "utf-8")
    env = city.env()
    first = tmp_path / "computed.html"
    run_cli(["health", "compute", "--year", "2026", "--indicators", str(cat), "--report",
             str(first)], env, check=True)
    with psycopg.connect(city.conninfo) as conn:  # as a run stored before catalog_used
        conn.execute("UPDATE health_runs SET params = jsonb_build_object('catalog',"
                     " params->'catalog')")
    again = tmp_path / "again.html"
    r = run_cli(["health", "report", "--year", "2026", "--out", str(again)], env, check=True)
    assert again.read_text("utf-8") == first.read_text("utf-8")  # the 0.6, not the profile's
    assert "<td>生态宜居 Ecological and liveable</td><td>0.60</td>" in first.read_text("utf-8")

    cat.write_text(text, "utf-8")  # the weight edited back: no longer what 2026 was made with
    r = run_cli(["health", "report", "--year", "2026", "--out", str(again)], env, check=True)
    html = again.read_text("utf-8")
    assert "<td>生态宜居 Ecological and liveable</td><td>—</td>" in html
    assert "weights were edited since" in html and "weights" in r.stderr
    assert _park_city_row(html) == _park_city_row(first.read_text("utf-8"))

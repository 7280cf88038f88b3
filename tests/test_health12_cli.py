"""`cim health compute` inputs as city staff type them (session 12), on the hand-built city of
tests/health_fixture.py."""

from __future__ import annotations

from tests import health_fixture as hf
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`


def test_a_report_with_nowhere_to_go_is_refused_before_computing(city, tmp_path):
    """`--report` into a folder that does not exist (or naming a folder) computed and stored
    the year, then failed writing the file as an internal error: the year was replaced though
    the command said it failed. Refused up front as a bad option, as `cim risk assess` does."""
    for bad, words in ((tmp_path / "no_such_folder" / "h.html", "no folder"),
                       (tmp_path, "is a folder")):
        proc = run_cli(["health", "compute", "--year", "2026", "--report", str(bad)],
                       city.env())
        assert proc.returncode == 2, proc.stderr
        assert "--report" in proc.stderr and words in proc.stderr, proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert city.scalar("SELECT count(*) FROM health_indicators") == 0
    assert city.scalar("SELECT count(*) FROM health_runs") == 0
    out = tmp_path / "h.html"
    run_cli(["health", "compute", "--year", "2026", "--report", str(out)], city.env(),
            check=True)
    assert city.scalar("SELECT count(*) FROM health_runs") == 1
    assert "公园绿地服务半径覆盖率" in out.read_text(encoding="utf-8")


def test_a_city_with_nothing_loaded_prints_no_python_none(fresh_db):
    """Districts only: every indicator has no data, so there is no index. The summary line
    printed Python's ``None`` for it ("city index None")."""
    proc = run_cli(["health", "compute", "--year", "2026"], fresh_db.env(), check=True)
    assert "None" not in proc.stdout, proc.stdout
    assert "city index - (previous year -: -)" in proc.stdout, proc.stdout
    import yaml

    from cim.profile import DICTIONARY_DIR

    catalog = yaml.safe_load((DICTIONARY_DIR / "health_indicators.yaml").read_text("utf-8"))
    assert proc.stdout.count("no_data") == len(catalog["indicators"]), proc.stdout


def test_a_count_is_printed_and_reported_whole(city, tmp_path):
    """80 m 以上新建住宅数量 counts buildings (栋): the summary printed "1.00 栋" and the
    report 1.00 and a target of 0.00. One home of 95 m built in the check year in D1."""
    import psycopg

    with psycopg.connect(city.conninfo) as conn:
        conn.execute("INSERT INTO buildings (code, district_code, use_code, height, year_built,"
                     " geom) VALUES ('T95', %s, '01', 95, 2026,"
                     " ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                     (hf.D1, hf._wkb(hf.block(1500, 800))))
    out = tmp_path / "h.html"
    proc = run_cli(["health", "compute", "--year", "2026", "--report", str(out)], city.env(),
                   check=True)
    line = next(x for x in proc.stdout.splitlines() if "80 m 以上新建住宅数量" in x)
    assert " 1 栋" in line and "1.00" not in line, line
    assert " target 0 " in line and "0.0" not in line, line  # its target too (session 13)
    html = out.read_text(encoding="utf-8")
    section = html[html.index("80 m 以上新建住宅数量"):]
    section = section[:section.index("</table>")]
    assert "<tr><td>全市 city</td><td>1</td><td>0</td>" in section, section
    assert f"<tr><td>区{hf.D2}</td><td>0</td><td>0</td>" in section, section
    assert ".00" not in section, section


def test_the_report_shows_each_facility_types_share(city, tmp_path):
    """社区服务设施步行覆盖率 is the mean of the facility types' shares; the report showed the
    mean only. The fixture's one kindergarten (300 m) covers H300 and H550 by road, nothing in
    D2; shelters are not of this indicator."""
    res = {c: (g, d) for c, (g, d, use) in hf.BUILDINGS.items() if use == "01"}

    def share(unit: str) -> str:
        mine = {c: g for c, (g, d) in res.items() if unit in ("city", d)}
        covered = sum(g.area for c, g in mine.items() if c in hf.KINDERGARTEN_COVERED)
        return f"{100 * covered / sum(g.area for g in mine.values()):,.2f}"

    out = tmp_path / "h.html"
    run_cli(["health", "compute", "--year", "2026", "--report", str(out)], city.env(),
            check=True)
    html = out.read_text(encoding="utf-8")
    section = html[html.index("社区服务设施步行覆盖率"):]
    section = section[:section.index("<h2>")]
    assert "设施类型 facility type" in section
    row = next(r for r in section.split("<tr>") if r.startswith("<td>幼儿园</td>"))
    assert row.startswith(f"<td>幼儿园</td><td>5 分钟</td><td>300 m</td><td>{share('city')}"
                          f"</td><td>{share(hf.D1)}</td><td>{share(hf.D2)}</td>"), row
    assert share(hf.D1) != share(hf.D2) and "<td>应急避难场所</td>" not in section

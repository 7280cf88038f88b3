"""The report's words for a status are the city's (session 13): value_labels.yaml's
``health_indicators.status``, the dictionary the web map's feature info reads, a city's copy
named in its profile (``dictionaries: {value_labels: …}``). The report kept its own copy of
the labels, so a city that reworded 未达标 saw its word on the map and the platform's in the
report. Expected words are written here; the statuses by construction
(tests/health_fixture.py: 地下管网老化率 42.86 % in D1 against at most 10 %, not met; 建筑密度
met)."""

from __future__ import annotations

import re

import yaml

from cim.profile import DICTIONARY_DIR
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`


def _status_cells(html: str, indicator: str) -> list[str]:
    section = html[html.index(f"<h3>{indicator}"):]
    section = section[:section.index("</table>")]
    return re.findall(r'<td style="color:[^"]+">([^<]*)</td>', section)


def _trend_cells(html: str, indicator: str) -> list[str]:
    """The trend column (the 7th) of an indicator's table, city first."""
    section = html[html.index(f"<h3>{indicator}"):]
    section = section[:section.index("</table>")]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row)[6]
            for row in re.findall(r"<tr><td>.*?</tr>", section)]


def _city_profile(city, tmp_path, labels: dict, column: str = "status") -> str:
    """A copy of the test's profile naming its own value_labels.yaml."""
    raw = yaml.safe_load(city.profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):  # relative to the sample profile's folder
        if raw.get(key):
            raw[key] = str((city.profile.path.parent / raw[key]).resolve())
    own = yaml.safe_load((DICTIONARY_DIR / "value_labels.yaml").read_text(encoding="utf-8"))
    own["values"]["health_indicators"][column].update(labels)
    (tmp_path / "value_labels.yaml").write_text(yaml.safe_dump(own, allow_unicode=True),
                                                encoding="utf-8")
    raw["dictionaries"] = {**(raw.get("dictionaries") or {}),
                           "value_labels": str(tmp_path / "value_labels.yaml")}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_the_report_shows_the_citys_status_words(city, tmp_path):
    out = tmp_path / "platform.html"
    run_cli(["health", "compute", "--year", "2026", "--report", str(out)], city.env(),
            check=True)
    html = out.read_text(encoding="utf-8")
    assert _status_cells(html, "地下管网老化率")[:2] == ["未达标", "未达标"]  # city, D1
    assert _status_cells(html, "建筑密度")[0] == "达标"

    profile = _city_profile(city, tmp_path, {"not_met": "未达到目标", "met": "达到 <目标>"})
    out = tmp_path / "city.html"
    run_cli(["--profile", profile, "health", "compute", "--year", "2026", "--report",
             str(out)], city.env(), check=True)
    html = out.read_text(encoding="utf-8")
    assert _status_cells(html, "地下管网老化率")[:2] == ["未达到目标", "未达到目标"]
    assert _status_cells(html, "建筑密度")[0] == "达到 &lt;目标&gt;"  # escaped as text
    assert "未达标" not in html


def test_the_report_shows_the_citys_trend_words(city, tmp_path):
    """Trend words are value_labels.yaml's ``health_indicators.trend`` too (they were a
    constant of the report). By construction 地下管网老化率 rises from 0 % (2020) to 42.86 %
    (2026) in the city and D1: worsened; D2 has no pipes, no trend."""
    run_cli(["health", "compute", "--year", "2020"], city.env(), check=True)
    out = tmp_path / "platform.html"
    run_cli(["health", "compute", "--year", "2026", "--report", str(out)], city.env(),
            check=True)
    assert _trend_cells(out.read_text(encoding="utf-8"), "地下管网老化率")[:3] == \
        ["变差 ↓", "变差 ↓", "—"]

    profile = _city_profile(city, tmp_path, {"worsened": "恶化"}, column="trend")
    out = tmp_path / "city.html"
    run_cli(["--profile", profile, "health", "compute", "--year", "2026", "--report",
             str(out)], city.env(), check=True)
    html = out.read_text(encoding="utf-8")
    assert _trend_cells(html, "地下管网老化率")[:2] == ["恶化 ↓", "恶化 ↓"]
    assert "变差" not in html

"""GDAL's date literal ``'2026-01-01T'`` (its OAPIF driver writes a date so, with
``filter-lang=cql-text``) is read as the date only where it is compared with a date or
date-time property: it was rewritten against a text property too, so ``name =
'2026-01-01T'`` selected the building named 2026-01-01. Real app over HTTP on a database of
the test's own; the expected codes by construction (the names loaded)."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import run_cli, scratch_db, start_api


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    with scratch_db("api15date", jining_profile) as d:
        tmp = tmp_path_factory.mktemp("date")
        rows = ["编号,名称,地上层数,WKT"]
        for i, name in enumerate(["2026-01-01", "2026-01-01T", "甲楼"]):
            a = d.x0 + 30 * i
            rows.append(f'D{i},{name},3,"POLYGON(({a} {d.y0},{a + 20} {d.y0},{a + 20} '
                        f'{d.y0 + 20},{a} {d.y0 + 20},{a} {d.y0}))"')
        csv = tmp / "dated.csv"
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        proc = run_cli(["load", "buildings", str(csv), "--dataset", "dated"], d.env())
        assert proc.returncode == 0, proc.stderr
        codes = dict(d.rows("SELECT name, code FROM buildings WHERE valid_to IS NULL"))
        api, base = start_api(d.url, d.profile, tmp)
        try:
            yield base, codes
        finally:
            api.terminate()
            api.wait(10)


def _selected(base: str, text: str) -> set[str]:
    r = requests.get(base + "/collections/buildings/items",
                     params={"filter": text, "filter-lang": "cql-text"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return {f["id"] for f in r.json()["features"]}


def test_a_gdal_date_against_a_text_property_is_the_text(served):
    base, codes = served
    assert _selected(base, "name = '2026-01-01T'") == {codes["2026-01-01T"]}
    assert _selected(base, "name = '2026-01-01'") == {codes["2026-01-01"]}


def test_a_gdal_date_against_a_date_time_property_is_the_date(served):
    base, codes = served
    assert _selected(base, "valid_from > '2000-01-01T'") == set(codes.values())
    assert _selected(base, "valid_from < '2000-01-01T' OR name = '甲楼'") == {codes["甲楼"]}

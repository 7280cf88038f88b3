"""``q`` as a Chinese planner types it (review 9): terms separated by a full-width comma (，, a
Chinese input method's) were one term, ``q=住宅，办公`` found nothing. Expected codes come from
SQL over the layer's text columns on the session database."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from tests.test_api13_errors import said


def _expected(db, terms: list[str]) -> set[str]:
    cols = [c for c, in db.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'buildings' "
        "AND table_schema = current_schema() AND data_type IN ('text', 'character varying') "
        "AND column_name NOT IN ('source_key', 'row_hash')")]
    cond = " OR ".join(f"{c} ILIKE %s" for c in cols for _ in terms)
    return {c for c, in db.rows(f"SELECT code FROM buildings WHERE valid_to IS NULL AND "
                                f"({cond})", tuple(f"%{t}%" for _ in cols for t in terms))}


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_full_width_commas_separate_search_terms(api, db, fmt):
    expected = _expected(db, ["住宅", "办公"])
    assert expected > _expected(db, ["住宅"]) and expected > _expected(db, ["办公"])
    r = requests.get(f"{api}/collections/buildings/items", timeout=60,
                     params={"f": fmt, "q": "住宅，办公", "limit": 10000})
    assert r.status_code == 200, r.text[:300]
    got = ({f["id"] for f in r.json()["features"]} if fmt == "json" else
           {row["code"] for row in csv.DictReader(io.StringIO(r.content.decode()))})
    assert got == expected


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
@pytest.mark.parametrize("flt", ["建筑用途 = '住宅'", "use_name = 住宅", "use_name = ‘住宅’"])
def test_a_chinese_name_or_unquoted_text_in_a_filter_says_how_to_write_it(api, fmt, flt):
    """A Chinese property name (the survey's header), a Chinese value without quotes or in
    an input method's quotes: neither CQL2 (as the platform reads it) nor pygeoapi's ECQL,
    which answered "Bad CQL text" (an HTML error page for HTML) naming nothing."""
    r = requests.get(f"{api}/collections/buildings/items", timeout=60,
                     params={"f": fmt, "filter": flt})
    assert r.status_code == 400
    text = said(r)  # (f=html: the error page saying the same)
    assert "character" in text and "use_name" in text and "single quotes" in text
    if flt.startswith("建筑用途"):  # a name CQL2 Text reads (unquoted, any script): which key
        assert "'建筑用途' is the name shown for the property use_name" in text, text


def test_a_name_without_its_unit_still_gets_the_hint(api):
    """The shown name holds its unit (建筑高度(m)); the survey's header does not: ``建筑高度 >
    10`` is still told to filter by height."""
    r = requests.get(f"{api}/collections/buildings/items", timeout=60,
                     params={"f": "json", "filter": "建筑高度 > 10"})
    assert r.status_code == 400
    assert "'建筑高度' is the name shown for the property height" in said(r), said(r)

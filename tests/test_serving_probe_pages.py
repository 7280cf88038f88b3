"""pygeoapi's pages (HTML, CSV, JSON-LD) go on by the keyset cursor as the GeoJSON pages do
(review 9), and ``q`` finds the texts of an object property (an alarm's ``detail``).

HTML, CSV and JSON-LD pages went on by ``offset``: a feature retired between two pages made
the next page skip one, each deeper page sorted every row before it, the walk was refused
past ``CIM_ITEMS_MAX_OFFSET``, and a ``cursor`` (a GeoJSON next link opened as CSV) was
ignored: the first page again. Expected orders come from SQL on the test's own database (the
sample survey loaded once), never from the server."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import psycopg
import pytest
import requests

from tests.conftest import (
    SAMPLE_BUILDINGS,
    load_network_samples,
    load_sensor_samples,
    make_db,
    replay_sample_day,
    server_url,
    start_api,
)

ITEMS = "/collections/{}/items"
MAX_OFFSET = 200
REASON = "设备停用检修"  # why the silent sensor's alarm was cleared (detail.cleared_reason)


@pytest.fixture(scope="module")
def served(tmp_path_factory, jining_profile):
    from cim.db.engine import drop_database
    from layers.iot.alarms import clear
    from layers.iot.thresholds import load_config
    from loaders.buildings import load_buildings

    d = make_db("srvpages", jining_profile)
    try:
        load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
        load_network_samples(d, jining_profile)
        load_sensor_samples(d, jining_profile)
        replay_sample_day(d, jining_profile)
        with psycopg.connect(d.conninfo) as conn:  # the gap alarm cleared with a reason
            aid, code = conn.execute("SELECT id, code FROM alarms WHERE kind = 'gap' AND "
                                     "status = 'active' ORDER BY id LIMIT 1").fetchone()
            clear(conn, load_config(jining_profile), aid,
                  dt.datetime(2026, 6, 16, 9, 0, tzinfo=dt.UTC), None, reason=REASON)
            conn.commit()
        proc, base = start_api(d.url, jining_profile, tmp_path_factory.mktemp("srvpages"),
                               items_max_offset=MAX_OFFSET)
    except BaseException:
        drop_database(server_url(), d.name)
        raise
    try:
        yield {"base": base, "db": d, "cleared": code}
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


def _page(r: requests.Response, fmt: str, header: bool = True) -> tuple[list[str], str | None]:
    """(feature codes, the next page's URL or None) of one page in ``fmt``; ``header``: an
    HTML page's next anchor must be its ``Link`` header's too."""
    assert r.status_code == 200, r.text[:300]
    if fmt == "json":
        fc = r.json()
        nxt = [lk["href"] for lk in fc["links"] if lk["rel"] == "next"]
        assert len(nxt) <= 1
        return [f["id"] for f in fc["features"]], nxt[0] if nxt else None
    if fmt == "csv":
        ids = [row["code"] for row in csv.DictReader(io.StringIO(r.content.decode()))]
    elif fmt == "jsonld":
        ids = [f["@id"].rsplit("/", 1)[1] for f in r.json()["features"]]
    else:
        page = r.content.decode()
        body = page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""
        ids = re.findall(r'<a href="[^"]*/items/([^"]+)" title=', body)
        buttons = [(html.unescape(h), t.strip()) for h, t in
                   re.findall(r'<a role="button" href="([^"]+)">([^<]+)</a>', page)]
        nxt = [h for h, t in buttons if t in ("Next", "下一页")]
        assert len(nxt) <= 1
        # the anchor a browser follows is the page's Link header's next too
        if header:
            assert (nxt[0] if nxt else None) == r.links.get("next", {}).get("url")
        return ids, nxt[0] if nxt else None
    return ids, r.links.get("next", {}).get("url")


def _walk(base: str, fmt: str, coll: str = "buildings", **params) -> tuple[list[str], list]:
    r = requests.get(base + ITEMS.format(coll), params={"f": fmt, **params}, timeout=60)
    ids, nexts = [], []
    while True:
        got, nxt = _page(r, fmt)
        ids += got
        if nxt is None:
            return ids, nexts
        nexts.append(nxt)
        assert len(nexts) < 100, "next links do not end"
        r = requests.get(nxt, timeout=60)


ORDERS = {None: "id", "height": "height NULLS LAST, id",
          "-height,name": "height DESC NULLS LAST, name NULLS LAST, id",
          "use_name": "use_name NULLS LAST, id"}


@pytest.mark.parametrize("fmt", ["html", "csv", "jsonld"])
@pytest.mark.parametrize("sortby", list(ORDERS))
def test_every_format_walks_its_pages_by_the_keyset_cursor(served, fmt, sortby):
    """Past the offset limit, every feature once, in the sort's order (SQL's), by cursors."""
    d = served["db"]
    expected = [c for c, in d.rows("SELECT code FROM buildings WHERE valid_to IS NULL "
                                   f"ORDER BY {ORDERS[sortby]}")]
    params = {"limit": 97} | ({"sortby": sortby} if sortby else {})
    assert len(expected) > MAX_OFFSET + 97  # offset paging was refused on the way
    ids, nexts = _walk(served["base"], fmt, **params)
    assert ids == expected
    assert nexts and all("cursor=" in h and "offset=" not in h for h in nexts)
    assert all(f"f={fmt}" in h for h in nexts)  # the next page is of the same format


@pytest.mark.parametrize("fmt", ["html", "csv"])
def test_a_feature_retired_between_two_pages_skips_nothing(served, fmt):
    """Page 1 read, one of its features retired (as a replace load retires it), page 2: it
    begins right after page 1's last feature. By offset it began one further (skipped)."""
    d, base = served["db"], served["base"]
    r = requests.get(base + ITEMS.format("buildings"),
                     params={"f": fmt, "sortby": "-height", "limit": 40}, timeout=60)
    first, nxt = _page(r, fmt, header=False)
    order = [c for c, in d.rows("SELECT code FROM buildings WHERE valid_to IS NULL "
                                "ORDER BY height DESC NULLS LAST, id")]
    assert first == order[:40]
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE code = %s "
                     "AND valid_to IS NULL", (first[5],))
    try:
        second, _ = _page(requests.get(nxt, timeout=60), fmt, header=False)
    finally:
        with psycopg.connect(d.conninfo) as conn:
            conn.execute("UPDATE buildings SET valid_to = NULL WHERE code = %s", (first[5],))
    assert second == order[40:80]


@pytest.mark.parametrize("fmt", ["html", "csv", "jsonld"])
def test_a_geojson_cursor_opened_in_another_format_gives_that_page(served, fmt):
    """A cursor was ignored by pygeoapi's pages: the first page again."""
    base = served["base"]
    params = {"sortby": "height", "limit": 30}
    ids, nxt = _page(requests.get(base + ITEMS.format("buildings"),
                                  params={"f": "json", **params}, timeout=60), "json")
    want, _ = _page(requests.get(nxt, timeout=60), "json")
    got, _ = _page(requests.get(nxt.replace("f=json", f"f={fmt}"), timeout=60), fmt)
    assert got == want and not set(got) & set(ids)


def test_the_last_page_of_pygeoapis_geojson_has_no_offset_link(served):
    """An ECQL filter's GeoJSON page is pygeoapi's: its last page, exactly full, had a next
    link by offset (pygeoapi adds one to a full page) to an empty page and beyond."""
    d, base = served["db"], served["base"]
    n = d.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    flt = "BBOX(geometry,115,34,118,37)"  # ECQL, no CQL2: pygeoapi parses it
    limit = next(k for k in range(n // 3, 1, -1) if n % k == 0)  # the last page is full
    ids, nexts = _walk(base, "json", filter=flt, limit=limit, sortby="height")
    assert sorted(ids) == sorted(c for c, in d.rows("SELECT code FROM buildings "
                                                    "WHERE valid_to IS NULL"))
    assert len(ids) == len(set(ids)) and all("offset=" not in h for h in nexts)
    r = requests.get(base + ITEMS.format("buildings"),
                     params={"f": "json", "filter": flt, "limit": n}, timeout=60)
    assert r.json()["numberReturned"] == n
    assert [lk for lk in r.json()["links"] if lk["rel"] == "next"] == []


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_q_finds_an_alarms_detail_text(served, fmt):
    """``q`` searched string properties only; an alarm's detail (jsonb, an object in the
    catalog since review 8) was no longer searched: why an alarm cleared could not be found.
    It finds the texts inside, not the keys."""
    base, code = served["base"], served["cleared"]
    found, _ = _walk(base, fmt, coll="alarms", q="停用")
    assert found == [code]
    none, _ = _walk(base, fmt, coll="alarms", q="cleared_reason")  # a key, no text
    assert none == []

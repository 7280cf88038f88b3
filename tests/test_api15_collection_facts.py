"""A collection's document as the data is, not as it was when the server started: pygeoapi
read its configuration once, so after a load ``/collections/buildings`` still said
"现势要素 0 个" and its extent stayed the city's box (what QGIS zooms to). The server here
starts on an empty layer, a load follows over the CLI; expected counts and boxes by
construction (the footprints written), the box projected by pyproj."""

from __future__ import annotations

import time

import pytest
import requests
from pyproj import Transformer

from tests.conftest import run_cli, scratch_db, start_api


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    with scratch_db("api15facts", jining_profile) as d:
        tmp = tmp_path_factory.mktemp("facts")
        api, base = start_api(d.url, d.profile, tmp, tiles_version_ttl=0)
        try:
            yield d, base, tmp
        finally:
            api.terminate()
            api.wait(10)


def _doc(base: str, lang: str) -> dict:
    r = requests.get(f"{base}/collections/buildings", params={"f": "json", "lang": lang},
                     timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def test_a_load_after_the_start_is_in_the_collections_document(served):
    d, base, tmp = served
    before = _doc(base, "zh")
    assert "现势要素 0 个" in before["description"], before["description"]  # premise
    boxes = [(d.x0 + 30 * i, d.y0, d.x0 + 30 * i + 20, d.y0 + 20) for i in range(3)]
    rows = ["编号,名称,地上层数,WKT"] + [
        f'F{i},楼{i},3,"POLYGON(({a} {b},{c} {b},{c} {e},{a} {e},{a} {b}))"'
        for i, (a, b, c, e) in enumerate(boxes)]
    csv = tmp / "facts.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    proc = run_cli(["load", "buildings", str(csv), "--dataset", "facts"], d.env())
    assert proc.returncode == 0, proc.stderr
    after = _doc(base, "zh")
    assert "现势要素 3 个" in after["description"], after["description"]
    assert "(3 current features)" in _doc(base, "en")["description"]
    to_ll = Transformer.from_crs(d.profile.srid, 4490, always_xy=True)
    xs, ys = to_ll.transform([d.x0, d.x0 + 80, d.x0, d.x0 + 80],
                             [d.y0, d.y0, d.y0 + 20, d.y0 + 20])
    want = [min(xs), min(ys), max(xs), max(ys)]
    got = after["extent"]["spatial"]["bbox"][0]
    assert got != before["extent"]["spatial"]["bbox"][0]
    assert all(abs(g - w) < 1e-6 for g, w in zip(got, want)), (got, want)
    listed = requests.get(f"{base}/collections", params={"f": "json"}, timeout=60).json()
    one = next(c for c in listed["collections"] if c["id"] == "buildings")
    assert one["extent"]["spatial"]["bbox"][0] == got


def test_the_documents_stay_with_the_database_away(jining_profile, tmp_path):
    """The facts are refreshed before a collections request; the database out of reach, the
    document is served as last known (it was config only before), not a 503."""
    from tests.test_api14_database_down import _close

    with scratch_db("api15away", jining_profile) as d:
        api, base = start_api(d.url, d.profile, tmp_path, tiles_version_ttl=0)
        try:
            assert _doc(base, "en")["id"] == "buildings"
            _close(d.name, False)
            try:
                items = requests.get(f"{base}/collections/buildings/items", timeout=60)
                assert items.status_code == 503, items.text[:300]  # premise: it is away
                time.sleep(1.2)  # (the versions a worker reuses for a second: read again)
                r = requests.get(f"{base}/collections/buildings",
                                 params={"f": "json", "lang": "en"}, timeout=60)
                assert r.status_code == 200, r.text[:300]
                assert "(0 current features)" in r.json()["description"]
            finally:
                _close(d.name, True)
        finally:
            api.terminate()
            api.wait(10)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log, log[-3000:]
